import json

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.predictions import Predictions, write_predictions

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cmd") / "s.zarr"
    write_synthetic_store(
        path,
        temperatures=(0.64, 0.8),
        n_configs=3,
        n_particles=64,
        n_replicas=3,
        times=(0.1, 1.0, 10.0),
    )
    return path


def test_analyze_end_to_end(store_path, tmp_path, capsys):
    from glassdyn.data.store import Store

    sp = Store.open(store_path).state(0.8)
    rng = np.random.default_rng(0)
    prop = sp.read(keys.ISO_PROPENSITY)
    preds = tmp_path / "preds.zarr"
    write_predictions(
        preds,
        [
            Predictions(
                0.8,
                sp.completed,
                sp.times,
                prop + rng.normal(scale=0.05, size=prop.shape).astype(np.float32),
            )
        ],
    )
    out = tmp_path / "out"
    assert (
        main(
            [
                "analyze",
                str(store_path),
                "--out",
                str(out),
                "--predictions",
                str(preds),
                "--q-max",
                "3.0",
            ]
        )
        == 0
    )
    rep = json.loads((out / "heterogeneity.json").read_text())
    assert set(rep["temperatures"]) == {"0.640", "0.800"}
    r = rep["temperatures"]["0.800"]
    for key in ("Q", "Fs", "MSD", "alpha2", "chi4", "tau_alpha"):
        assert key in r["species"]["A"] and key in r["species"]["total"]
    assert len(r["times"]) == 3 and len(r["s4"]["chi4_OZ"]) == 3 and len(r["s4"]["xi4_err"]) == 3
    assert "predictions" in r and "predictions" not in rep["temperatures"]["0.640"]
    assert set(r["structure"]["g"]) == {"AA", "AB", "BB", "total"}
    for name in (
        "chi4.png",
        "dynamics.png",
        "s4_T0.800.png",
        "s4_T0.640.png",
        "s4_predicted_T0.800.png",
        "structure_T0.800.png",
    ):
        assert (out / name).stat().st_size > 10_000, name
    err = capsys.readouterr().err
    assert "tau_alpha(A)" in err and "no predictions at this temperature" in err


def test_analyze_subset_no_plots(store_path, tmp_path):
    out = tmp_path / "o"
    assert (
        main(
            [
                "analyze",
                str(store_path),
                "--out",
                str(out),
                "--temperatures",
                "0.8",
                "--max-configs",
                "2",
                "--no-plots",
                "--no-structure",
                "--float32",
                "--s4-species",
                "A",
            ]
        )
        == 0
    )
    rep = json.loads((out / "heterogeneity.json").read_text())
    assert list(rep["temperatures"]) == ["0.800"]
    assert rep["temperatures"]["0.800"]["n_configs"] == 2
    assert not list(out.glob("*.png"))


def test_analyze_bad_input(store_path, tmp_path, capsys):
    from glassdyn.data.store import Store

    from glassdyn.testing import random_ka_configuration

    assert main(["analyze", str(store_path), "--out", str(tmp_path / "x"), "--q-max", "0.1"]) == 2
    assert "first wave-vector shell" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "x")]) == 2
    assert "no store" in capsys.readouterr().err
    assert (
        main(["analyze", str(store_path), "--out", str(tmp_path / "x"), "--temperatures", "0.3"])
        == 2
    )
    assert "no state point" in capsys.readouterr().err
    static = Store.create(tmp_path / "static.zarr")
    sp = static.create_state(0.5, n_configs=1, n_particles=32, inherent=False)
    conf = random_ka_configuration(32)
    sp.write(
        0,
        **{
            keys.TYPES: conf.types,
            keys.BOX: conf.box,
            keys.THERMAL_POSITIONS: conf.positions,
            keys.THERMAL_ENERGY: -6.0,
        },
    )
    sp.mark_done(0)
    assert main(["analyze", str(tmp_path / "static.zarr"), "--out", str(tmp_path / "x")]) == 2
    assert "has no isoconfig/displacements" in capsys.readouterr().err
    # NaN in a completed configuration
    nan_path = tmp_path / "nan.zarr"
    s = write_synthetic_store(
        nan_path, temperatures=(0.8,), n_configs=2, n_particles=32, n_replicas=2, times=(1.0,)
    )
    arr = s.state(0.8).array(keys.ISO_DISPLACEMENTS)
    bad = arr[1, 0]
    bad[0, 0, 0] = np.nan
    arr[1, 0] = bad
    assert main(["analyze", str(nan_path), "--out", str(tmp_path / "x"), "--no-structure"]) == 2
    assert "NaN" in capsys.readouterr().err
