"""Leaks between a generative fit and its evaluation (issue 12): each test failed before the run
toolkit (a fit resumed on any store; ``gen evaluate`` compared with every configuration of the
store, the fitted ones included)."""

import json
import shutil

from glassdyn.data import keys
from glassdyn.data.store import Store

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

from .helpers import FLOW


def _evaluate(run, store, tmp, capsys):
    js = tmp / "e.json"
    rc = main(
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
            "--json",
            str(js),
            "--overwrite",  # the report of the previous call
        ]
    )
    err = capsys.readouterr().err
    return rc, (json.loads(js.read_text())["evaluations"][0] if rc == 0 else None), err


def test_fit_refuses_to_resume_on_another_store(flow_fit, tmp_path, capsys):
    _, store, run = flow_fit
    other = tmp_path / "other.zarr"
    write_synthetic_store(
        other, temperatures=(0.8,), n_configs=10, n_particles=16, n_replicas=1, times=(1.0,), seed=4
    )
    assert (
        main(
            [
                "gen",
                "fit",
                "--data",
                str(other),
                "--out",
                str(run),
                "--epochs",
                "2",
                "--batch-size",
                "4",
                *FLOW,
            ]
        )
        == 2
    )
    assert "trained on other data than" in capsys.readouterr().err
    moved = tmp_path / "moved.zarr"
    shutil.copytree(store, moved)
    assert (
        main(
            [
                "gen",
                "fit",
                "--data",
                str(moved),
                "--out",
                str(tmp_path / "r2"),
                "--epochs",
                "1",
                "--batch-size",
                "4",
                *FLOW,
            ]
        )
        == 0
    )
    # the same data elsewhere resumes the run (epoch 1 after epoch 0)
    shutil.copytree(run, tmp_path / "r3")
    assert (
        main(
            [
                "gen",
                "fit",
                "--data",
                str(moved),
                "--out",
                str(tmp_path / "r3"),
                "--epochs",
                "2",
                "--batch-size",
                "4",
                *FLOW,
            ]
        )
        == 0
    )
    assert "resuming" in capsys.readouterr().out


def test_evaluate_compares_with_the_test_split_and_says_so(flow_fit, capsys):
    tmp, store, run = flow_fit
    rc, rep, _ = _evaluate(run, store, tmp, capsys)
    assert (
        rc == 0 and rep["n_reference"] == 2
    )  # the test split, not the 10 configurations of the store
    test = json.loads((run / "run.json").read_text())["split"]["0.8"]["test"]
    assert rep["reference"] == {
        "store": str(store),
        "from": "split",
        "configs": test,
        "n": 2,
        "unchecked": False,
    }
    # a copy of the store is the same data: the same held-out configurations
    copy = tmp / "copy.zarr"
    shutil.copytree(store, copy)
    rc, rep2, _ = _evaluate(run, copy, tmp, capsys)
    assert rc == 0 and rep2["reference"]["configs"] == test


def test_evaluate_refuses_a_store_holding_fitted_configurations(flow_fit, tmp_path, capsys):
    tmp, store, run = flow_fit
    sp = Store.open(store).state(0.8)
    mixed = tmp_path / "mixed.zarr"  # the store's configurations re-assembled in reverse order
    dst = Store.create(mixed).create_state(
        0.8, n_configs=10, n_particles=16, n_replicas=1, times=sp.times
    )
    fields = [
        f for f in keys.FIELDS if keys.FIELDS[f].axes[0] == "C" and f != keys.DONE and sp.has(f)
    ]
    for k in range(10):
        dst.write(k, **{f: sp.read(f, 9 - k) for f in fields})
        dst.mark_done(k)
    rc, _, err = _evaluate(run, mixed, tmp, capsys)
    assert rc == 2 and "8 of its configurations are ones the fit trained or validated on" in err
    # a store of unseen configurations is taken whole
    fresh = tmp_path / "fresh.zarr"
    write_synthetic_store(
        fresh, temperatures=(0.8,), n_configs=3, n_particles=16, n_replicas=1, times=(1.0,), seed=8
    )
    rc, rep, _ = _evaluate(run, fresh, tmp, capsys)
    assert (
        rc == 0 and rep["reference"]["from"] == "store" and rep["reference"]["configs"] == [0, 1, 2]
    )
