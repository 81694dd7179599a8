import json

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.box import minimum_image, wrap
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.store import Store

from glassdyn.cli import main
from glassdyn.testing import random_ka_configuration, write_synthetic_store


def test_roundtrip_and_done_flag(tmp_path):
    store = Store.create(tmp_path / "s.zarr", note="x")
    sp = store.create_state(0.44, n_configs=3, n_particles=10, n_replicas=2, times=[1.0, 2.0])
    conf = random_ka_configuration(10, seed=1)
    sp.write(
        1, **{keys.TYPES: conf.types, keys.BOX: conf.box, keys.THERMAL_POSITIONS: conf.positions}
    )
    disp = np.random.default_rng(0).normal(size=(2, 10, 3)).astype(np.float32)
    sp.write_replica(1, 0, disp)
    sp.write_replica(1, 1, 2 * disp)
    prop = sp.update_propensity(1)
    np.testing.assert_allclose(prop, 1.5 * np.linalg.norm(disp, axis=-1), rtol=1e-6)
    assert list(sp.completed) == []
    with pytest.raises(StoreError, match="not complete"):
        sp.read(keys.THERMAL_POSITIONS, 1)
    sp.mark_done(1)
    again = Store.open(tmp_path / "s.zarr").state(0.44)
    assert list(again.completed) == [1]
    np.testing.assert_array_equal(again.read(keys.THERMAL_POSITIONS), conf.positions[None])
    np.testing.assert_array_equal(again.times, [1.0, 2.0])
    assert again.configuration(1).n_particles == 10


def test_reopen_with_other_sizes_is_refused(tmp_path):
    store = Store.create(tmp_path / "s.zarr")
    store.create_state(0.5, n_configs=2, n_particles=10)
    store.create_state(0.5, n_configs=2, n_particles=10)  # same sizes: resume
    with pytest.raises(StoreError, match="exists with"):
        store.create_state(0.5, n_configs=3, n_particles=10)


def test_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="no store"):
        Store.open(tmp_path / "nothing.zarr")
    store = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=[0.8], n_configs=1, n_particles=16, n_replicas=1
    )
    with pytest.raises(StoreError, match="no state point T=0.44"):
        store.state(0.44)
    store.root.attrs["schema"] = "other/9"
    with pytest.raises(StoreError, match="schema"):
        Store.open(tmp_path / "s.zarr")
    s2 = Store.create(tmp_path / "n.zarr")
    sp = s2.create_state(1.0, n_configs=1, n_particles=4)
    with pytest.raises(StoreError, match="no isoconfig/displacements"):
        sp.array(keys.ISO_DISPLACEMENTS)
    with pytest.raises(StoreError, match="expected shape"):
        sp.write(0, **{keys.BOX: np.ones(4)})
    sp.write(0, **{keys.THERMAL_POSITIONS: np.full((4, 3), np.nan)})
    sp.mark_done(0)
    with pytest.raises(StoreError, match="NaN"):
        sp.read(keys.THERMAL_POSITIONS)


def test_minimum_image_and_wrap():
    box = np.array([2.0, 3.0, 4.0])
    d = minimum_image(np.array([[1.9, -2.9, 2.1]]), box)
    np.testing.assert_allclose(d, [[-0.1, 0.1, -1.9]])
    w = wrap(np.array([[-0.5, 3.5, 8.0]]), box)
    np.testing.assert_allclose(w, [[1.5, 0.5, 0.0]])


def test_info_command(tmp_path, capsys):
    write_synthetic_store(tmp_path / "s.zarr", n_configs=2, n_particles=16, n_replicas=2)
    assert main(["info", str(tmp_path / "s.zarr"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["temperatures"] == [0.64, 0.8]
    assert info["states"][0]["completed"] == 2 and info["states"][0]["n_replicas"] == 2
    assert main(["info", str(tmp_path / "s.zarr")]) == 0
    assert "T=0.64" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "missing.zarr")]) == 2
    assert "no store" in capsys.readouterr().err


def test_predictions_roundtrip(tmp_path):
    from glassdyn.data.predictions import Predictions, read_predictions, write_predictions

    p = Predictions(
        0.44, np.array([0, 2]), np.array([1.0, 10.0]), np.random.rand(2, 2, 5).astype(np.float32)
    )
    write_predictions(tmp_path / "p.zarr", [p], model="botan")
    back = read_predictions(tmp_path / "p.zarr")[0.44]
    np.testing.assert_array_equal(back.mobility, p.mobility)
    assert back.predicted_temperature is None
    with pytest.raises(StoreError, match="no predictions file"):
        read_predictions(tmp_path / "none.zarr")


def _snapshot(path):
    """Every file under ``path`` with its bytes (to prove nothing on disk changed)."""
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def test_create_over_another_writers_store_touches_nothing(tmp_path):
    from glassdyn.gen.writers import write_samples

    md = write_synthetic_store(
        tmp_path / "md.zarr", temperatures=(0.8,), n_configs=2, n_particles=16
    )
    before = _snapshot(md.path)
    with pytest.raises(
        StoreError,
        match="written by glassdyn.testing.write_synthetic_store, not 'glassdyn gen sample'",
    ):
        Store.create(md.path, source="glassdyn gen sample")
    conf = random_ka_configuration(16, seed=3)
    # what `glassdyn gen sample --out md.zarr` does, at a temperature the store lacks: refused by
    # gen.writers.check_output before Store.create is reached
    with pytest.raises(InputError, match="is a store of MD data"):
        write_samples(md.path, conf.positions[None], conf.types, conf.box, 0.64)
    assert _snapshot(md.path) == before
    # the same writer reopens its own store to resume or add a state point
    again = Store.create(md.path, source="glassdyn.testing.write_synthetic_store", seed=0)
    with pytest.raises(StoreError, match="its 'seed' is 0, not 1"):
        Store.create(md.path, source="glassdyn.testing.write_synthetic_store", seed=1)
    assert again.temperatures == [0.8]
    with pytest.raises(StoreError, match="not a store directory"):
        (tmp_path / "file").write_text("x")
        Store.create(tmp_path / "file")


def test_unreadable_chunk_names_array_and_configuration(tmp_path, capsys):
    store = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=(0.8,), n_configs=3, n_particles=16
    )
    sp = store.state(0.8)
    good = sp.read(keys.THERMAL_POSITIONS, [0, 2])
    chunk = tmp_path / "s.zarr" / "T0.800" / "thermal" / "positions" / "c" / "1" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:5])  # truncated
    with pytest.raises(StoreError) as err:
        sp.read(keys.THERMAL_POSITIONS)
    msg = str(err.value)
    assert "s.zarr/T0.800/thermal/positions: configuration 1 cannot be read" in msg
    assert "glassdyn simulate" in msg and "\n" not in msg
    np.testing.assert_array_equal(sp.read(keys.THERMAL_POSITIONS, [0, 2]), good)  # the rest reads
    assert sp.damage(1).startswith("thermal/positions cannot be read") and sp.damage(0) is None
    (tmp_path / "s.zarr" / "T0.800" / "isoconfig" / "propensity" / "c" / "2" / "0" / "0").unlink()
    assert sp.damage(2) == "isoconfig/propensity holds NaN or inf (a missing or damaged chunk)"
    # a damaged `done` chunk: that configuration counts as not done, the others still are
    (tmp_path / "s.zarr" / "T0.800" / "done" / "c" / "0").write_bytes(b"junk")
    assert list(Store.open(tmp_path / "s.zarr").state(0.8).done) == [False, True, True]
    # the command line prints the one line, exit 2
    assert (
        main(["analyze", str(tmp_path / "s.zarr"), "--out", str(tmp_path / "a"), "--no-plots"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1].startswith("glassdyn analyze: error: ")
        and "configuration 1 cannot be read" in err[-1]
    )


def test_training_on_a_damaged_chunk_is_one_line_and_writes_no_run(tmp_path, capsys):
    """The data fingerprint and the graph targets read through the same check as `read`."""
    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=6, n_particles=16)
    disp = path / "T0.800" / "isoconfig" / "displacements" / "c"
    chunk = next(p for p in sorted(disp.rglob("*")) if p.is_file() and p.parts[-5] == "3")
    chunk.write_bytes(b"garbage")
    out = tmp_path / "run"
    assert main(["train", "--data", str(path), "--out", str(out), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("glassdyn train: error: ")
    assert "T0.800/isoconfig/displacements: configuration 3 cannot be read" in err[0]
    assert not out.exists()


def test_unquenched_inherent_structures_are_not_damage(tmp_path):
    """NaN inherent arrays of a configuration `glassdyn quench` has not converged are by design;
    a resumed `simulate` must not recompute it for them, while real damage is still found."""
    store = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=(0.8,), n_configs=3, n_particles=16
    )
    old = store.state(0.8)
    sp = store.create_state(
        0.8,
        n_configs=3,
        n_particles=16,
        n_replicas=old.n_replicas,
        times=old.times,
        fields=[keys.INHERENT_DONE],
    )
    sp.array(keys.INHERENT_DONE)[:] = [True, False, True]
    sp.array(keys.INHERENT_POSITIONS)[1] = np.nan  # configuration 1: quench did not converge
    assert sp.damage(1) is None and sp.damage(0) is None
    sp.array(keys.INHERENT_POSITIONS)[2] = np.nan  # configuration 2 claims a converged IS: damage
    assert sp.damage(2) == "inherent/positions holds NaN or inf (a missing or damaged chunk)"
    sp.array(keys.THERMAL_POSITIONS)[1] = np.nan  # thermal data of an unquenched one: still damage
    assert sp.damage(1) == "thermal/positions holds NaN or inf (a missing or damaged chunk)"


def _arrays(group, prefix=""):
    """Every array under a zarr group: {path: array}."""
    out = {}
    for name, arr in group.arrays():
        out[prefix + name] = arr
    for name, sub in group.groups():
        out.update(_arrays(sub, f"{prefix}{name}/"))
    return out


def test_every_array_carries_its_dimension_names(tmp_path):
    """Zarr v3 ``dimension_names`` on every array of a store and of a predictions file, so
    xarray (and any zarr v3 reader) sees labelled axes, consistent in size within each group."""
    import zarr
    from glassdyn.data.predictions import Predictions, write_predictions

    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=2, n_particles=16, n_replicas=2)
    preds = tmp_path / "p.zarr"
    mob = np.zeros((2, 3, 16), dtype=np.float32)
    write_predictions(preds, [Predictions(0.8, np.arange(2), np.array([0.5, 5, 50.0]), mob)])
    for where, expect_some in ((path, keys.ISO_DISPLACEMENTS), (preds, "mobility")):
        arrays = _arrays(zarr.open_group(str(where), mode="r"))
        assert any(p.endswith(expect_some) for p in arrays)
        sizes = {}
        for p, arr in arrays.items():
            names = arr.metadata.dimension_names
            assert names is not None and len(names) == arr.ndim, p
            group = p.rsplit("/", 1)[0]
            for n, size in zip(names, arr.shape, strict=True):
                assert sizes.setdefault((group, n), size) == size, (p, n)
        if where == path:
            disp = arrays[f"T0.800/{keys.ISO_DISPLACEMENTS}"]
            assert disp.metadata.dimension_names == ("config", "replica", "time", "particle", "xyz")
    try:
        import xarray as xr
    except ImportError:
        return  # the zarr metadata above is what xarray reads
    ds = xr.open_zarr(path, group="T0.800/isoconfig", consolidated=False)
    assert ds["propensity"].dims == ("config", "time", "particle")
