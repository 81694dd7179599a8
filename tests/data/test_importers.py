"""Importers: BOTAN / GlassBench npz data sets and structure files into the store schema."""

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.box import box_length, wrap
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.extxyz import write_extxyz
from glassdyn.data.frame import Frame
from glassdyn.data.importers import import_structures
from glassdyn.data.lammps_io import write_lammps_data, write_lammps_dump
from glassdyn.data.npz_datasets import (
    BOTAN_TIMES_T044,
    export_botan,
    import_botan,
    import_glassbench,
    scan,
)
from glassdyn.data.store import Store

from glassdyn.cli import main
from glassdyn.testing import random_ka_configuration, write_synthetic_store

N, R = 40, 3


def _config(cid: int):
    """A KA configuration in BOTAN's box L = (N/1.2)^(1/3), deterministic per id."""
    conf = random_ka_configuration(N, seed=cid)
    return conf.positions.astype(np.float64), conf.types


def _botan_positions(cid: int, tc: int, x0: np.ndarray) -> np.ndarray:
    """(R, N, 3) unwrapped positions: random walks that leave the box at late times."""
    rng = np.random.default_rng(1000 * cid + tc)
    return x0[None] + rng.normal(scale=0.3 * (tc + 1), size=(R, N, 3))


def write_botan(root, T=0.44, ids=(1, 2, 10), tcs=(1, 4, 7), split="train", skip=()):
    """Files in BOTAN's layout ``T0.44/train/isoconfig_N40T0.44_{id}_tc{KK}.npz``."""
    d = root / f"T{T:.2f}" / split
    d.mkdir(parents=True, exist_ok=True)
    for cid in ids:
        x0, types = _config(cid)
        for tc in tcs:
            if (cid, tc) in skip:
                continue
            np.savez(
                d / f"isoconfig_N{N}T{T:.2f}_{cid}_tc{tc:02d}.npz",
                types=types,
                initial_positions=x0,
                positions=_botan_positions(cid, tc, x0),
            )
    return d


def write_glassbench(root, T=0.44, ids=(401, 402), K=10, cage=True, split="test"):
    """Files in GlassBench's layout ``T0.44/test/N40T0.44_{id}.npz`` (types 1/2, md_prop (K, N))."""
    d = root / f"T{T:.2f}" / split
    d.mkdir(parents=True, exist_ok=True)
    for cid in ids:
        x0, types = _config(cid)
        rng = np.random.default_rng(cid)
        arrays = dict(
            types=types.astype(np.int64) + 1,
            initial_positions=x0,
            initial_positions_inherent=x0 + rng.normal(scale=0.02, size=x0.shape),
            md_prop=rng.random((K, N)),
            bb_prop=rng.random((K, N)),
        )
        if cage:
            arrays["initial_positions_cage"] = x0 + rng.normal(scale=0.05, size=x0.shape)
        np.savez(d / f"N{N}T{T:.2f}_{cid}.npz", **arrays)
    return d


# ----------------------------------------------------------------------------------- BOTAN


def test_botan_import(tmp_path):
    write_botan(tmp_path / "botan")
    write_botan(tmp_path / "botan", ids=(401,), split="test")
    (rep,) = import_botan(tmp_path / "botan", tmp_path / "s.zarr")
    assert rep.written == [0, 1, 2, 3] and not rep.incomplete and not rep.notes
    sp = Store.open(tmp_path / "s.zarr").state(0.44)
    assert (sp.n_configs, sp.n_particles, sp.n_replicas) == (4, N, R)
    np.testing.assert_array_equal(sp.times, [BOTAN_TIMES_T044[k] for k in (0, 3, 6)])
    assert sp.times[-1] == 4120.0  # tc07 is BOTAN's alpha time
    imp = sp.attrs["import"]
    assert imp["ids"] == [1, 2, 10, 401] and imp["splits"] == ["train"] * 3 + [
        "test"
    ]  # natural order
    assert imp["time_indices"] == [1, 4, 7]
    L = box_length(N, 1.2)
    for c, cid in enumerate(imp["ids"]):
        x0, types = _config(cid)
        np.testing.assert_array_equal(sp.read(keys.TYPES, c), types)
        np.testing.assert_array_equal(sp.read(keys.BOX, c), [L, L, L])
        np.testing.assert_allclose(
            sp.read(keys.THERMAL_POSITIONS, c), wrap(x0, np.full(3, L)), atol=1e-6
        )
        disp = sp.read(keys.ISO_DISPLACEMENTS, c)  # (R, K, N, 3)
        for k, tc in enumerate((1, 4, 7)):
            want = _botan_positions(cid, tc, x0) - x0[None]
            np.testing.assert_allclose(disp[:, k], want, rtol=1e-6, atol=1e-5)
        # propensity = replica mean |r(t) - r(0)|, computed independently
        np.testing.assert_allclose(
            sp.read(keys.ISO_PROPENSITY, c), np.linalg.norm(disp, axis=-1).mean(0), rtol=1e-6
        )
    assert np.abs(disp).max() > L  # unwrapped displacements survive


def test_botan_times_other_temperature(tmp_path):
    write_botan(tmp_path / "b", T=0.5, ids=(1,), tcs=(1, 4))
    (rep,) = import_botan(tmp_path / "b", tmp_path / "idx.zarr")
    assert "time INDICES" in rep.notes[0]
    sp = Store.open(tmp_path / "idx.zarr").state(0.5)
    np.testing.assert_array_equal(sp.times, [0.0, 3.0])  # 0-based indices of tc01, tc04
    assert sp.attrs["times_are_indices"] is True
    times = [0.1 * 10**k for k in range(5)]
    import_botan(tmp_path / "b", tmp_path / "t.zarr", times=times)
    np.testing.assert_allclose(
        Store.open(tmp_path / "t.zarr").state(0.5).times, [times[0], times[3]]
    )
    with pytest.raises(InputError, match="needs at least 4 --times"):
        import_botan(tmp_path / "b", tmp_path / "u.zarr", times=[1.0, 2.0])
    with pytest.raises(InputError, match="no files at T=0.44"):
        import_botan(tmp_path / "b", tmp_path / "u.zarr", temperature=0.44)


def test_botan_missing_time_then_resume(tmp_path):
    """A configuration lacking a time file is written but not done; adding it and rerunning
    the same import finishes it and keeps the others."""
    root = tmp_path / "b"
    write_botan(root, skip={(2, 4)})
    (rep,) = import_botan(root, tmp_path / "s.zarr")
    assert rep.incomplete == {1: "id 2 lacks tc04"}
    assert "NOT complete" in "\n".join(rep.lines())
    sp = Store.open(tmp_path / "s.zarr").state(0.44)
    assert list(sp.completed) == [0, 2]
    with pytest.raises(StoreError, match="not complete"):
        sp.read(keys.ISO_DISPLACEMENTS, 1)
    write_botan(root, ids=(2,))
    (rep,) = import_botan(root, tmp_path / "s.zarr")
    assert rep.skipped == [0, 2] and rep.written == [1] and not rep.incomplete
    sp = Store.open(tmp_path / "s.zarr").state(0.44)
    assert list(sp.completed) == [0, 1, 2]
    x0, _ = _config(2)
    np.testing.assert_allclose(
        sp.read(keys.ISO_DISPLACEMENTS, 1)[:, 1], _botan_positions(2, 4, x0) - x0, atol=1e-5
    )


def _botan_file(root):
    return next(root.rglob("*.npz"))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: a.pop("positions"), r"missing array\(s\) \['positions'\]"),
        (
            lambda a: a.update(initial_positions=a["initial_positions"][:, :2]),
            "'initial_positions' has shape",
        ),
        (lambda a: a.update(positions=a["positions"][:, :-1]), "'positions' has shape"),
        (lambda a: a["positions"].__setitem__((0, 5, 1), np.nan), "NaN"),
        (lambda a: a.update(types=a["types"] + 3), "neither 0/1 nor 1/2"),
        (lambda a: a.update(initial_positions=a["initial_positions"] + 0.1), "differ from"),
        (lambda a: a.update(positions=np.mod(a["positions"], box_length(N, 1.2))), "look wrapped"),
    ],
)
def test_botan_bad_files(tmp_path, change, match):
    root = tmp_path / "b"
    write_botan(root, ids=(1,), tcs=(1, 9))
    path = sorted(root.rglob("*.npz"))[-1]  # the tc09 file
    arrays = dict(np.load(path))
    change(arrays)
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=match) as exc:
        import_botan(root, tmp_path / "s.zarr")
    assert path.name in str(exc.value)


def test_botan_foreign_input(tmp_path):
    root = tmp_path / "b"
    write_botan(root, ids=(1,), tcs=(1,))
    path = _botan_file(root)
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(InputError, match="not a readable .npz"):
        import_botan(root, tmp_path / "s.zarr")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "other.npz").write_bytes(b"")
    with pytest.raises(InputError, match="expected names like isoconfig_N4096T0.44_401_tc07.npz"):
        scan(tmp_path / "e", "botan")
    with pytest.raises(InputError, match="no directory"):
        import_botan(tmp_path / "nowhere", tmp_path / "s.zarr")
    # N in the file name disagrees with the arrays
    write_botan(tmp_path / "n", ids=(1,), tcs=(1,))
    p = _botan_file(tmp_path / "n")
    p.rename(p.with_name(p.name.replace(f"N{N}", "N64")))
    with pytest.raises(InputError, match="has shape"):
        import_botan(tmp_path / "n", tmp_path / "s2.zarr")
    # mismatched N across files of one temperature
    write_botan(tmp_path / "m", ids=(1, 2), tcs=(1,))
    p = sorted((tmp_path / "m").rglob("*.npz"))[0]
    p.rename(p.with_name(p.name.replace(f"N{N}", "N64")))
    with pytest.raises(InputError, match="other files at T=0.44 have N="):
        scan(tmp_path / "m", "botan")


def test_store_conflicts(tmp_path):
    """Another schema, another source at the same temperature: refused; --overwrite replaces."""
    write_botan(tmp_path / "b", ids=(1, 2), tcs=(1,))
    foreign = write_synthetic_store(
        tmp_path / "f.zarr", temperatures=[0.8], n_configs=1, n_particles=16, n_replicas=1
    )
    foreign.root.attrs["schema"] = "glassdyn/0"
    with pytest.raises(StoreError, match="schema 'glassdyn/0'"):
        import_botan(tmp_path / "b", tmp_path / "f.zarr")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("x")
    with pytest.raises(InputError, match="junk is a directory, not a data store"):
        import_botan(tmp_path / "b", tmp_path / "junk")
    sim = write_synthetic_store(
        tmp_path / "sim.zarr",
        temperatures=[0.44],
        n_configs=2,
        n_particles=N,
        n_replicas=R,
        times=[1.0],
    )
    before = sim.state(0.44).read(keys.THERMAL_POSITIONS)
    with pytest.raises(StoreError, match="from a simulation or another tool"):
        import_botan(tmp_path / "b", tmp_path / "sim.zarr")
    np.testing.assert_array_equal(
        Store.open(tmp_path / "sim.zarr").state(0.44).read(keys.THERMAL_POSITIONS), before
    )
    import_botan(tmp_path / "b", tmp_path / "sim.zarr", overwrite=True)
    sp = Store.open(tmp_path / "sim.zarr").state(0.44)
    assert sp.attrs["import"]["format"] == "botan" and list(sp.completed) == [0, 1]
    assert not np.array_equal(sp.read(keys.THERMAL_POSITIONS), before)
    # a data set that grew: same temperature, other ids -> refused rather than mixed
    write_botan(tmp_path / "b", ids=(3,), tcs=(1,))
    with pytest.raises(StoreError, match="--overwrite"):
        import_botan(tmp_path / "b", tmp_path / "sim.zarr")


def test_failed_import_leaves_nothing_and_the_retry_works(tmp_path, capsys):
    """A bad first configuration: no skeleton store, and the retry after the fix is not refused."""
    root = tmp_path / "b"
    write_botan(root, ids=(1, 2), tcs=(1, 4))
    bad = sorted(root.rglob("isoconfig_*_1_tc04.npz"))[0]
    arrays = dict(np.load(bad))
    np.savez(bad, **{**arrays, "initial_positions": arrays["initial_positions"] + 0.1})
    out = tmp_path / "s.zarr"
    assert main(["import", "botan", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differ from" in err[0] and bad.name in err[0]
    assert not out.exists() and not (tmp_path / "s.zarr.lock").exists()
    for f in root.rglob("isoconfig_*_1_tc*.npz"):  # the fix: drop configuration 1
        f.unlink()
    (rep,) = import_botan(root, out)
    assert rep.written == [0] and Store.open(out).state(0.44).attrs["import"]["ids"] == [2]
    # into an existing store: the state point it created goes, the rest stays as it was
    other = write_synthetic_store(
        tmp_path / "o.zarr", temperatures=[0.8], n_configs=1, n_particles=16, n_replicas=1
    )
    write_botan(tmp_path / "c", ids=(1,), tcs=(1, 4))
    bad = sorted((tmp_path / "c").rglob("*_tc04.npz"))[0]
    np.savez(bad, **{**arrays, "types": arrays["types"] + 3})
    with pytest.raises(InputError, match="neither 0/1 nor 1/2"):
        import_botan(tmp_path / "c", other.path)
    assert Store.open(other.path).temperatures == [0.8]
    assert list(Store.open(other.path).state(0.8).completed) == [0]


def test_import_refuses_a_store_another_process_writes(tmp_path, capsys):
    """Two real processes: one holds the store's write lock, `glassdyn import` is refused."""
    import subprocess
    import sys

    write_botan(tmp_path / "b", ids=(1,), tcs=(1,))
    out = tmp_path / "busy.zarr"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom glassdyn.data.lock import write_lock\n"
            "with write_lock(sys.argv[1], what='store'):\n    print('held', flush=True)\n    time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["import", "botan", str(tmp_path / "b"), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert f"store {out} is being written by another process (pid {holder.pid}" in err
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone (kill -9 leaves its lock file behind): the lock is stale, the import runs
    assert main(["import", "botan", str(tmp_path / "b"), "--out", str(out)]) == 0


# ------------------------------------------------------------------------------- GlassBench


def test_glassbench_import(tmp_path):
    write_glassbench(tmp_path / "gb")
    write_glassbench(tmp_path / "gb", ids=(7,), split="train")
    (rep,) = import_glassbench(tmp_path / "gb", tmp_path / "s.zarr")
    assert rep.written == [0, 1, 2]
    sp = Store.open(tmp_path / "s.zarr").state(0.44)
    assert (
        sp.n_replicas == 0
        and not sp.has(keys.ISO_DISPLACEMENTS)
        and sp.has(keys.CAGE_POSITIONS)
        and sp.cage_done.all()
    )
    assert not sp.has(keys.THERMAL_ENERGY)  # nothing that would stay NaN
    np.testing.assert_array_equal(sp.times, BOTAN_TIMES_T044)
    assert sp.attrs["import"]["ids"] == [7, 401, 402]
    box = np.full(3, box_length(N, 1.2))
    for c, cid in enumerate([7, 401, 402]):
        z = np.load(
            tmp_path / "gb" / "T0.44" / ("train" if cid == 7 else "test") / f"N{N}T0.44_{cid}.npz"
        )
        np.testing.assert_array_equal(sp.read(keys.TYPES, c), z["types"] - 1)
        np.testing.assert_allclose(
            sp.read(keys.INHERENT_POSITIONS, c),
            wrap(z["initial_positions_inherent"], box),
            atol=1e-5,
        )
        np.testing.assert_allclose(
            sp.read(keys.CAGE_POSITIONS, c),
            wrap(z["initial_positions_cage"], box),
            atol=1e-5,
        )
        np.testing.assert_allclose(sp.read(keys.ISO_PROPENSITY, c), z["md_prop"], rtol=1e-6)
    assert sp.configuration(0, "inherent").n_particles == N
    assert any("bb_prop" in n for n in rep.notes)
    (again,) = import_glassbench(tmp_path / "gb", tmp_path / "s.zarr")
    assert again.skipped == [0, 1, 2] and not again.written


def test_glassbench_variants_and_errors(tmp_path):
    write_glassbench(tmp_path / "a", T=0.5, K=4, cage=False)
    import_glassbench(tmp_path / "a", tmp_path / "a.zarr")
    sp = Store.open(tmp_path / "a.zarr").state(0.5)
    assert not sp.has(keys.CAGE_POSITIONS) and sp.attrs["times_are_indices"]
    np.testing.assert_array_equal(sp.times, [0, 1, 2, 3])
    import_glassbench(tmp_path / "a", tmp_path / "b.zarr", times=[1, 2, 3, 4])
    np.testing.assert_array_equal(Store.open(tmp_path / "b.zarr").state(0.5).times, [1, 2, 3, 4])
    with pytest.raises(InputError, match="md_prop has 4 times, --times gives 2"):
        import_glassbench(tmp_path / "a", tmp_path / "c.zarr", times=[1, 2])
    # (N, K) md_prop is transposed
    p = sorted((tmp_path / "a").rglob("*.npz"))[1]
    z = dict(np.load(p))
    z["md_prop"] = z["md_prop"].T
    np.savez(p, **z)
    import_glassbench(tmp_path / "a", tmp_path / "d.zarr")
    z["md_prop"] = z["md_prop"][:, :3]
    np.savez(p, **z)
    with pytest.raises(InputError, match="md_prop has shape"):
        import_glassbench(tmp_path / "a", tmp_path / "e.zarr")
    z.pop("initial_positions_inherent")
    np.savez(p, **z)
    with pytest.raises(InputError, match="initial_positions_inherent"):
        import_glassbench(tmp_path / "a", tmp_path / "f.zarr")
    write_glassbench(tmp_path / "g", ids=(1, 2))
    p = sorted((tmp_path / "g").rglob("*.npz"))[1]
    z = dict(np.load(p))
    z.pop("initial_positions_cage")
    np.savez(p, **z)
    with pytest.raises(InputError, match="initial_positions_cage"):
        import_glassbench(tmp_path / "g", tmp_path / "g.zarr")


# -------------------------------------------------------------------------- structure files


def _frames(n=N, count=2, T=None):
    out = []
    for s in range(count):
        conf = random_ka_configuration(n, seed=s)
        info = {"temperature": T} if T is not None else {}
        out.append(
            Frame(
                conf.positions + conf.box * (s % 2),
                conf.types,
                conf.box,
                {"c_pe": np.ones(n)},
                info,
            )
        )
    return out


def test_import_structures(tmp_path):
    frames = _frames(count=3, T=0.6)
    write_extxyz(tmp_path / "a.xyz", frames[:2])
    write_extxyz(tmp_path / "b.xyz", frames[2:])
    rep = import_structures(
        [tmp_path / "a.xyz", tmp_path / "b.xyz"], tmp_path / "s.zarr", format="extxyz"
    )
    assert rep.temperature == 0.6 and rep.written == [0, 1, 2]  # temperature from the files
    assert any("c_pe" in n for n in rep.notes)
    sp = Store.open(tmp_path / "s.zarr").state(0.6)
    for c, fr in enumerate(frames):
        np.testing.assert_allclose(
            sp.read(keys.THERMAL_POSITIONS, c), wrap(fr.positions, fr.box), atol=1e-6
        )
        np.testing.assert_array_equal(sp.read(keys.TYPES, c), fr.types)
    assert sp.attrs["import"]["ids"] == ["a.xyz:0", "a.xyz:1", "b.xyz:0"]
    again = import_structures(
        [tmp_path / "a.xyz", tmp_path / "b.xyz"], tmp_path / "s.zarr", format="extxyz"
    )
    assert again.skipped == [0, 1, 2]
    # a directory of dumps, ordered naturally
    d = tmp_path / "dumps"
    d.mkdir()
    write_lammps_dump(d / "c_10.dump", frames[0])
    write_lammps_dump(d / "c_2.dump", frames[1])
    rep = import_structures([d], tmp_path / "d.zarr", format="lammps-dump", temperature=0.6)
    assert Store.open(tmp_path / "d.zarr").state(0.6).attrs["import"]["ids"] == [
        "c_2.dump:0",
        "c_10.dump:0",
    ]
    write_lammps_data(tmp_path / "one.data", frames[1])
    import_structures(
        [tmp_path / "one.data"], tmp_path / "l.zarr", format="lammps-data", temperature=1.0
    )
    np.testing.assert_allclose(
        Store.open(tmp_path / "l.zarr").state(1.0).read(keys.THERMAL_POSITIONS, 0),
        wrap(frames[1].positions, frames[1].box),
        atol=1e-6,
    )


def test_import_structures_errors(tmp_path):
    write_lammps_dump(tmp_path / "a.dump", _frames(count=1))
    with pytest.raises(InputError, match="--temperature"):
        import_structures([tmp_path / "a.dump"], tmp_path / "s.zarr", format="lammps-dump")
    write_lammps_dump(tmp_path / "b.dump", _frames(n=2 * N, count=1))
    with pytest.raises(
        InputError, match=f"b.dump:0 \\(file:frame\\) has {2 * N} particles, a.dump:0 has {N}"
    ):
        import_structures(
            [tmp_path / "a.dump", tmp_path / "b.dump"],
            tmp_path / "s.zarr",
            format="lammps-dump",
            temperature=1.0,
        )
    with pytest.raises(InputError, match="no file or directory"):
        import_structures(
            [tmp_path / "zz.dump"], tmp_path / "s.zarr", format="lammps-dump", temperature=1.0
        )
    with pytest.raises(InputError, match="unknown format"):
        import_structures([tmp_path / "a.dump"], tmp_path / "s.zarr", format="pdb", temperature=1.0)
    assert not (tmp_path / "s.zarr").exists()  # nothing written on bad input


# ---------------------------------------------------------------------------------- command


def test_import_command(tmp_path, capsys):
    write_botan(tmp_path / "b", ids=(1, 2), tcs=(1, 2), skip={(2, 2)})
    assert main(["import", "botan", str(tmp_path / "b"), "--out", str(tmp_path / "s.zarr")]) == 0
    io = capsys.readouterr()
    assert "config 1: id 2 lacks tc02" in io.out and "rerun the same command" in io.err
    write_glassbench(tmp_path / "g", T=0.5, K=3)
    assert (
        main(
            [
                "import",
                "glassbench",
                str(tmp_path / "g"),
                "--out",
                str(tmp_path / "s.zarr"),
                "--times",
                "1,10,100",
            ]
        )
        == 0
    )
    assert Store.open(tmp_path / "s.zarr").temperatures == [0.44, 0.5]
    write_extxyz(tmp_path / "c.xyz", _frames())
    assert (
        main(
            [
                "import",
                "extxyz",
                str(tmp_path / "c.xyz"),
                "--out",
                str(tmp_path / "x.zarr"),
                "--temperature",
                "0.7",
            ]
        )
        == 0
    )
    assert main(["info", str(tmp_path / "x.zarr"), "--json"]) == 0
    assert '"completed": 2' in capsys.readouterr().out
    bad = [
        (
            ["botan", str(tmp_path / "nothing"), "--out", str(tmp_path / "n.zarr")],
            "no directory or file",
        ),
        (["extxyz", str(tmp_path / "c.xyz"), "--out", str(tmp_path / "n.zarr")], "--temperature"),
        (
            [
                "extxyz",
                str(tmp_path / "c.xyz"),
                "--out",
                str(tmp_path / "n.zarr"),
                "--temperature",
                "1",
                "--times",
                "1",
            ],
            "botan/glassbench imports only",
        ),
        (
            ["botan", str(tmp_path / "b"), str(tmp_path / "g"), "--out", str(tmp_path / "n.zarr")],
            "one data set directory",
        ),
        (
            [
                "extxyz",
                str(tmp_path / "c.xyz"),
                "--out",
                str(tmp_path / "s.zarr"),
                "--temperature",
                "0.44",
            ],
            "--overwrite",
        ),
    ]
    for args, match in bad:
        assert main(["import", *args]) == 2
        assert match in capsys.readouterr().err


# ---------------------------------------------------------------------------- BOTAN export


def test_export_botan_round_trip(tmp_path, capsys):
    """store -> BOTAN files -> store gives the same arrays; a BOTAN import keeps its ids / tcs."""
    src = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=[0.8], n_configs=3, n_particles=N, n_replicas=R
    )
    sp = src.state(0.8)
    files = export_botan(sp, tmp_path / "out")
    assert len(files) == 3 * len(sp.times)
    assert files[0].name == f"isoconfig_N{N}T0.80_1_tc01.npz"
    with np.load(files[0]) as z:
        assert z["positions"].shape == (R, N, 3) and z["types"].dtype == np.int8
    import_botan(tmp_path / "out", tmp_path / "back.zarr", times=list(sp.times))
    back = Store.open(tmp_path / "back.zarr").state(0.8)
    np.testing.assert_array_equal(back.times, sp.times)
    for path in (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS):
        np.testing.assert_array_equal(back.read(path), sp.read(path))
    np.testing.assert_allclose(
        back.read(keys.ISO_DISPLACEMENTS), sp.read(keys.ISO_DISPLACEMENTS), atol=2e-6
    )
    np.testing.assert_allclose(
        back.read(keys.ISO_PROPENSITY), sp.read(keys.ISO_PROPENSITY), atol=2e-6
    )
    # BOTAN ids and time indices survive import -> export
    write_botan(tmp_path / "b", ids=(5, 12), tcs=(2, 7))
    import_botan(tmp_path / "b", tmp_path / "b.zarr")
    names = sorted(
        p.name for p in export_botan(Store.open(tmp_path / "b.zarr").state(0.44), tmp_path / "b2")
    )
    assert names == sorted(p.name for p in (tmp_path / "b").rglob("*.npz"))
    # command line
    assert (
        main(
            [
                "export",
                str(src.path),
                "--format",
                "botan",
                "--config",
                "all",
                "--out",
                str(tmp_path / "cli"),
            ]
        )
        == 0
    )
    assert "wrote 9 BOTAN files" in capsys.readouterr().out
    gb = tmp_path / "gb.zarr"
    write_glassbench(tmp_path / "gb")
    import_glassbench(tmp_path / "gb", gb)
    assert main(["export", str(gb), "--format", "botan", "--out", str(tmp_path / "x")]) == 2
    assert "no isoconfig/displacements" in capsys.readouterr().err
    s2 = write_synthetic_store(
        tmp_path / "d.zarr", temperatures=[0.8], n_configs=1, n_particles=N, n_replicas=1
    )
    s2.state(0.8).write(0, **{keys.BOX: np.full(3, 5.0)})
    with pytest.raises(InputError, match="is not the cube"):
        export_botan(s2.state(0.8), tmp_path / "y")
