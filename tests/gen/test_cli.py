"""``glassdyn gen fit|sample|evaluate`` end to end on a small synthetic store, and bad input."""

import json

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.extxyz import read_extxyz
from glassdyn.data.store import Store

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

ARCH = ["--hidden", "16", "--layers", "3", "--blocks", "1"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gencli")
    store = tmp / "s.zarr"
    write_synthetic_store(
        store, temperatures=(0.6, 0.8), n_configs=6, n_particles=16, n_replicas=1, times=(1.0,)
    )
    run = tmp / "run"
    rc = main(
        [
            "gen",
            "fit",
            "--data",
            str(store),
            "--model",
            "flow",
            "--out",
            str(run),
            "--epochs",
            "2",
            "--batch-size",
            "4",
            "--seed",
            "1",
            "--device",
            "cpu",
            *ARCH,
        ]
    )
    assert rc == 0 and all(
        (run / f).exists() for f in ("run.json", "best.pt", "last.pt", "history.json")
    )
    return tmp, store, run


def test_sample_to_store_and_extxyz(fitted, capsys):
    tmp, store, run = fitted
    out = tmp / "samples.zarr"
    assert (
        main(
            [
                "gen",
                "sample",
                str(run),
                "--n",
                "5",
                "--temperature",
                "0.7",
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    sp = Store.open(out).state(0.7)
    x = sp.read(keys.THERMAL_POSITIONS)
    box = sp.read(keys.BOX)
    assert x.shape == (5, 16, 3) and (x >= 0).all() and (x < box[:, None, :]).all()
    assert len(sp.attrs["log_q"]) == 5
    xyz = tmp / "samples.extxyz"
    assert (
        main(["gen", "sample", str(run), "--n", "3", "--temperature", "0.8", "--out", str(xyz)])
        == 0
    )
    frames = read_extxyz(xyz)
    assert len(frames) == 3 and frames[0].n_particles == 16 and "log_q" in frames[0].info
    assert "samples/s" in capsys.readouterr().out


def test_evaluate_json(fitted, capsys):
    tmp, store, run = fitted
    js = tmp / "eval.json"
    rc = main(
        [
            "gen",
            "evaluate",
            str(run),
            "--data",
            str(store),
            "--temperatures",
            "0.8",
            "--n",
            "4",
            "--n-quench",
            "1",
            "--minimiser",
            "torch",
            "--json",
            str(js),
        ]
    )
    assert rc == 0
    rep = json.loads(js.read_text())["evaluations"][0]
    # the reference is the run's test split of its own store, and the JSON says so
    test = json.loads((run / "run.json").read_text())["split"]["0.8"]["test"]
    assert rep["reference"]["from"] == "split" and rep["reference"]["configs"] == test == [test[0]]
    assert rep["minimiser"].startswith("torch FIRE") and rep["results"]["model"]["quench"]["n"] == 1
    assert set(rep["results"]) == {"model", "uniform", "lattice"}
    r = rep["results"]["model"]
    for k in (
        "rdf_l2",
        "energy_w1",
        "close_contact_fraction",
        "ess_per_sample",
        "mh_acceptance",
        "is_energy_mean",
        "is_energy_w1",
        "samples_per_second",
    ):
        assert k in r
    assert set(r["rdf_l2"]) >= {"AA", "AB", "BB"}
    assert 0 < r["ess_per_sample"] <= 1
    assert "ESS/n" in capsys.readouterr().out


def test_bad_input(fitted, tmp_path, capsys):
    tmp, store, run = fitted
    assert (
        main(["gen", "fit", "--data", str(tmp_path / "none.zarr"), "--out", str(tmp_path / "r")])
        == 2
    )
    assert "no store" in capsys.readouterr().err
    assert (
        main(
            [
                "gen",
                "fit",
                "--data",
                str(store),
                "--out",
                str(tmp_path / "r"),
                "--temperatures",
                "0.3",
            ]
        )
        == 2
    )
    assert "no state point T=0.3" in capsys.readouterr().err
    assert (
        main(
            [
                "gen",
                "fit",
                "--data",
                str(store),
                "--out",
                str(tmp_path / "r"),
                "--model",
                "diffusion",
                "--source",
                "inherent",
                "--score-target",
                "target",
            ]
        )
        == 2
    )
    assert "Boltzmann" in capsys.readouterr().err
    assert (
        main(
            [
                "gen",
                "sample",
                str(run),
                "--n",
                "2",
                "--temperature",
                "0.8",
                "--out",
                str(tmp_path / "x.xyz"),
                "--steps",
                "0",
            ]
        )
        == 2
    )
    assert "--steps" in capsys.readouterr().err
    assert (
        main(
            [
                "gen",
                "sample",
                str(tmp_path / "norun"),
                "--n",
                "2",
                "--temperature",
                "0.8",
                "--out",
                str(tmp_path / "x.xyz"),
            ]
        )
        == 2
    )
    assert "no checkpoint" in capsys.readouterr().err
    other = tmp_path / "other.zarr"
    write_synthetic_store(
        other, temperatures=(0.8,), n_configs=2, n_particles=20, n_replicas=1, times=(1.0,)
    )
    assert main(["gen", "evaluate", str(run), "--data", str(other), "--n", "2"]) == 2
    assert "N=20" in capsys.readouterr().err
    assert (
        main(
            ["gen", "evaluate", str(run), "--data", str(store), "--temperatures", "0.5", "--n", "2"]
        )
        == 2
    )
    assert "T=0.5" in capsys.readouterr().err
    assert (
        main(
            [
                "gen",
                "sample",
                str(run),
                "--n",
                "0",
                "--temperature",
                "0.8",
                "--out",
                str(tmp_path / "x.xyz"),
            ]
        )
        == 2
    )


def test_diffusion_fit_sample_evaluate(fitted, capsys):
    """The diffusion model end to end: fit (target score matching), SDE samples (no density),
    ODE samples with log q, evaluation JSON with ESS n/a for the SDE sampler."""
    tmp, store, _ = fitted
    run = tmp / "diffusion"
    assert (
        main(
            [
                "gen",
                "fit",
                "--data",
                str(store),
                "--model",
                "diffusion",
                "--out",
                str(run),
                "--epochs",
                "1",
                "--batch-size",
                "6",
                "--hidden",
                "16",
                "--temperatures",
                "0.8",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert "target score matching" in capsys.readouterr().out
    xyz = tmp / "diff.extxyz"
    assert (
        main(
            [
                "gen",
                "sample",
                str(run),
                "--n",
                "2",
                "--temperature",
                "0.8",
                "--out",
                str(xyz),
                "--steps",
                "4",
                "--correctors",
                "1",
                "--final-correctors",
                "2",
            ]
        )
        == 0
    )
    assert "ESS/n n/a" in capsys.readouterr().out
    assert (
        main(
            [
                "gen",
                "sample",
                str(run),
                "--n",
                "2",
                "--temperature",
                "0.8",
                "--out",
                str(tmp / "ode.extxyz"),
                "--sampler",
                "ode",
                "--steps",
                "2",
            ]
        )
        == 0
    )
    assert np.isfinite(read_extxyz(tmp / "ode.extxyz")[0].info["log_q"])
    js = tmp / "diff.json"
    assert (
        main(
            [
                "gen",
                "evaluate",
                str(run),
                "--data",
                str(store),
                "--n",
                "2",
                "--n-quench",
                "0",
                "--no-baselines",
                "--steps",
                "3",
                "--correctors",
                "0",
                "--json",
                str(js),
            ]
        )
        == 0
    )
    r = json.loads(js.read_text())["evaluations"][0]["results"]["model"]
    assert (
        r["ess_per_sample"] is None and r["mh_acceptance"] is None and r["samples_per_second"] > 0
    )
    assert (
        main(
            [
                "gen",
                "sample",
                str(tmp / "run"),
                "--n",
                "2",
                "--temperature",
                "0.8",
                "--out",
                str(tmp / "new.xyz"),
                "--sampler",
                "ode",
            ]
        )
        == 2
    )
    assert "diffusion runs" in capsys.readouterr().err
