"""Bad input and silent no-ops of `glassdyn gen fit / sample` (issue 12): one clear line, exit 2,
nothing written or overwritten; and the first checkpoint format still loads."""

import hashlib

import numpy as np
import pytest
import torch
from glassdyn.data.store import Store
from glassdyn.gen.checkpoints import load_run

from glassdyn.cli import main

from .helpers import FLOW

pytestmark = pytest.mark.bad_input  # part of the bad-input suite (`pytest -m bad_input`)


def _one_line(capsys, text):
    err = capsys.readouterr().err
    lines = [w for w in err.splitlines() if "error" in w]
    assert len(lines) == 1 and text in lines[0] and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--lr", "-1"], "--lr must be a positive number"),
        (["--epochs", "0"], "--epochs must be >= 1 (nothing would be fitted), got 0"),
        (["--epochs", "-1"], "--epochs must be >= 1"),
    ],
)
def test_numbers_no_fit_can_use_are_refused(flow_fit, tmp_path, capsys, args, message):
    _, store, _ = flow_fit
    out = tmp_path / "r"
    assert main(["gen", "fit", "--data", str(store), "--out", str(out), *FLOW, *args]) == 2
    _one_line(capsys, message)
    assert not out.exists()


def _truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def test_damaged_checkpoints_are_one_clear_line(flow_fit, tmp_path, capsys):
    import shutil

    _, store, run = flow_fit
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    _truncate(broken / "last.pt")
    assert (
        main(
            [
                "gen",
                "fit",
                "--data",
                str(store),
                "--out",
                str(broken),
                "--epochs",
                "2",
                "--batch-size",
                "4",
                *FLOW,
            ]
        )
        == 2
    )
    _one_line(capsys, "last.pt is not a readable checkpoint")
    _truncate(broken / "best.pt", 0.3)
    assert (
        main(
            [
                "gen",
                "sample",
                str(broken),
                "--n",
                "2",
                "--temperature",
                "0.8",
                "--out",
                str(tmp_path / "x.extxyz"),
            ]
        )
        == 2
    )
    _one_line(capsys, "best.pt is not a readable checkpoint")
    assert not (tmp_path / "x.extxyz").exists()


def test_sample_never_overwrites_without_being_asked(flow_fit, tmp_path, capsys):
    _, store, run = flow_fit

    def sample(out, T="0.8", n="2", *extra):
        return main(
            [
                "gen",
                "sample",
                str(run),
                "--n",
                n,
                "--temperature",
                T,
                "--quiet",
                "--out",
                str(out),
                *extra,
            ]
        )

    xyz = tmp_path / "s.extxyz"
    xyz.write_text("precious\n")
    assert sample(xyz) == 2
    _one_line(capsys, "exists; pass --overwrite")
    assert xyz.read_text() == "precious\n"
    assert sample(xyz, "0.8", "2", "--overwrite") == 0 and xyz.read_text() != "precious\n"
    # an MD store is refused before anything in it is touched (attrs included)
    digest = {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in store.rglob("*") if p.is_file()}
    for T in ("0.8", "0.7"):
        assert sample(store, T) == 2
        _one_line(capsys, "is a store of MD data (T0.800)")
    assert digest == {
        p: hashlib.sha1(p.read_bytes()).hexdigest() for p in store.rglob("*") if p.is_file()
    }
    # a store of samples: a second temperature is added, the same one needs --overwrite
    samples = tmp_path / "samples.zarr"
    assert sample(samples) == 0 and sample(samples, "0.7") == 0
    assert sample(samples) == 2
    _one_line(capsys, "already holds generated samples at T=0.8")
    assert sample(samples, "0.8", "3", "--overwrite") == 0
    assert Store.open(samples).state(0.8).n_configs == 3 and Store.open(samples).temperatures == [
        0.7,
        0.8,
    ]


def _columns(records: list[dict]) -> dict:
    """A history as the formats up to glassdyn.gen/3 kept it: one list per field."""
    return {k: [r[k] for r in records] for k in ("epoch", "train_loss", "val_loss", "seconds")}


def test_third_format_runs_load_and_resume(flow_fit, tmp_path):
    """A run as glassdyn.gen/3 wrote it (before the run engine: history as columns in the
    checkpoints, no random-generator states): it samples the same weights and resumes; the
    resumed run's history is one record per epoch and its checkpoints are today's format."""
    import json
    import shutil

    _, store, run = flow_fit
    old = tmp_path / "v3"
    shutil.copytree(run, old)
    for name in ("last.pt", "best.pt"):
        ck = torch.load(old / name, weights_only=False)
        ck = {k: v for k, v in ck.items() if k not in ("rng", "ema_state_dict")}
        if name == "last.pt":
            ck["ema_state_dict"] = None
        torch.save(
            {**ck, "format": "glassdyn.gen/3", "history": _columns(ck["history"])}, old / name
        )
    info = json.loads((old / "run.json").read_text())
    (old / "run.json").write_text(json.dumps({**info, "format": "glassdyn.gen/3"}))
    model, ck = load_run(old)
    ref, ref_ck = load_run(run)
    assert ck["format"] == "glassdyn.gen/3" and ck["history"] == ref_ck["history"]
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values())
    )
    args = ["gen", "fit", "--data", str(store), "--out", str(old), "--epochs", "2"]
    assert main([*args, "--batch-size", "4", *FLOW]) == 0
    last = torch.load(old / "last.pt", weights_only=False)
    assert last["format"] == "glassdyn.gen/4" and last["epoch"] == 1
    assert [h["epoch"] for h in last["history"]] == [0, 1]
    assert last["history"][0] == ref_ck["history"][0]
    hist = json.loads((old / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [0, 1]


def test_first_format_runs_load_and_sample_but_never_resume(flow_fit, tmp_path, capsys):
    """A run as glassdyn.gen/1 wrote it (one checkpoint.pt, no split)."""
    _, store, run = flow_fit
    last = torch.load(run / "last.pt", weights_only=False)
    best = torch.load(run / "best.pt", weights_only=False)
    old = tmp_path / "old"
    old.mkdir()
    torch.save(
        {
            "format": "glassdyn.gen/1",
            "kind": last["kind"],
            "arch": last["model_config"],
            "fit": last["train_config"],
            "fit_key": {},
            "state_dict": last["state_dict"],
            "best_state_dict": best["state_dict"],
            "best_val": last["best_val"],
            "ema_state_dict": None,
            "optimizer": last["optimizer_state"],
            "epoch": last["epoch"],
            "history": _columns(last["history"]),
            "data": last["data"],
            "versions": last["versions"],
        },
        old / "checkpoint.pt",
    )
    model, ck = load_run(old)
    ref, _ = load_run(run)
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values())
    )
    assert ck["split"] is None and ck["data"]["n_particles"] == 16
    assert (
        main(
            [
                "gen",
                "sample",
                str(old),
                "--n",
                "2",
                "--temperature",
                "0.8",
                "--quiet",
                "--out",
                str(tmp_path / "o.extxyz"),
            ]
        )
        == 0
    )
    assert (
        main(["gen", "fit", "--data", str(store), "--out", str(old), "--epochs", "2", *FLOW]) == 2
    )
    _one_line(capsys, "holds a fit in the first format (glassdyn.gen/1")
    # it trained on (nearly) every configuration of its store, so that store is no reference
    assert (
        main(
            [
                "gen",
                "evaluate",
                str(old),
                "--data",
                str(store),
                "--n",
                "2",
                "--n-quench",
                "0",
                "--no-baselines",
                "--quiet",
            ]
        )
        == 2
    )
    _one_line(capsys, "format glassdyn.gen/1, no recorded split")
    assert np.isfinite(ck["best_val"])


def test_second_format_runs_load_and_resume(flow_fit, tmp_path):
    """A run as glassdyn.gen/2 wrote it (keys arch / fit / optimizer / val_loss): it samples the
    same weights and resumes; its next checkpoints are written in today's format."""
    import shutil

    _, store, run = flow_fit
    old = tmp_path / "v2"
    shutil.copytree(run, old)
    back = {"model_config": "arch", "train_config": "fit", "optimizer_state": "optimizer"}
    for name in ("last.pt", "best.pt"):
        ck = torch.load(old / name, weights_only=False)
        ck = {back.get(k, k): v for k, v in ck.items()}
        if name == "best.pt":
            ck["val_loss"] = ck.pop("best_val")
            ck.pop("best_epoch")
        torch.save({**ck, "format": "glassdyn.gen/2"}, old / name)
    model, ck = load_run(old)
    ref, ref_ck = load_run(run)
    assert ck["format"] == "glassdyn.gen/2" and ck["best_val"] == ref_ck["best_val"]
    assert ck["train_config"] == ref_ck["train_config"]
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values())
    )
    args = [
        "gen",
        "fit",
        "--data",
        str(store),
        "--out",
        str(old),
        "--epochs",
        "2",
        "--batch-size",
        "4",
    ]
    assert main([*args, *FLOW]) == 0
    last = torch.load(old / "last.pt", weights_only=False)
    assert last["format"] == "glassdyn.gen/4" and last["epoch"] == 1
    assert [h["epoch"] for h in last["history"]] == [0, 1]
