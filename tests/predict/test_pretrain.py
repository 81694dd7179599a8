"""BOTAN's two-phase recipe (edge pre-training, then p = 0.4) and starting a run from another's weights."""

import json

import pytest
import torch
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store
from glassdyn.predict import gnn
from glassdyn.predict.checkpoints import load_checkpoint
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.gnn import batch_loss
from glassdyn.predict.training import train
from glassdyn.predict.warm_start import init_weights

from glassdyn.cli import main
from glassdyn.nn.dataset import GraphSpec, build_graph
from glassdyn.nn.models import ModelConfig, build_model
from glassdyn.testing import write_synthetic_store

SMALL = {"hidden": 16, "steps": 2, "progress": False}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("pre") / "s.zarr"
    write_synthetic_store(path, temperatures=(0.64, 0.8), n_configs=4, n_particles=128)
    return str(path)


def _initial_model(ckpt: dict):
    """The model exactly as training built it before the first step (same seed, same config)."""
    torch.manual_seed(ckpt["train_config"]["seed"])
    model = build_model(ModelConfig(**ckpt["model_config"]))
    if model.config.skip and not (model.config.shared_decoder and model.config.edge_head):
        with torch.no_grad():
            model.node_decoder.fc3.weight.zero_()
            model.node_decoder.fc3.bias.zero_()
    return model


def test_pretraining_loss_has_no_node_term(store_path):
    """Phase 1 is the edge MSE alone: node-only weights get no gradient, edge ones do."""
    g = build_graph(Store.open(store_path).state(0.8), 0, GraphSpec(times=(1, 2)))
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(kind="botan", n_outputs=2, hidden=16, steps=2, shared_decoder=False)
    )
    gnn._normalization([g], model)
    cfg = TrainConfig(data=store_path, out="unused", pretrain_epochs=1, heterogeneity_weight=1.0)
    pre = cfg.for_phase("pretrain")
    assert (pre.node_weight, pre.heterogeneity_weight, pre.temperature_weight) == (0.0, 0.0, 0.0)
    assert cfg.for_phase("train") is cfg
    loss, parts, out = batch_loss(model, g, pre)
    ye = (g.y_edge - model.edge_mean) / model.edge_std
    torch.testing.assert_close(loss, torch.mean((out["edge"] - ye) ** 2))
    assert set(parts) == {"mobility"}  # no heterogeneity (node) term in phase 1
    loss.backward()
    for p in model.node_decoder.parameters():
        assert p.grad is None or not p.grad.any()
    assert any(p.grad is not None and p.grad.any() for p in model.edge_decoder.parameters())


def test_two_phase_run_records_both_phases(store_path, tmp_path):
    run = train(
        TrainConfig(
            data=store_path,
            out=str(tmp_path / "r"),
            model="botan",
            pretrain_epochs=3,
            epochs=2,
            shared_decoder=False,
            **SMALL,
        )
    )
    hist = json.loads((run / "history.json").read_text())
    assert [h["phase"] for h in hist] == ["pretrain"] * 3 + ["train"] * 2
    assert [h["epoch"] for h in hist] == [0, 1, 2, 3, 4]
    assert all("val_edge_pearson" in h for h in hist)
    info = json.loads((run / "run.json").read_text())
    assert info["phases"] == [
        {"phase": "pretrain", "epochs": [0, 3], "node_weight": 0.0},
        {"phase": "train", "epochs": [3, 5], "node_weight": 0.4},
    ]
    pre = load_checkpoint(run / "pretrain_best.pt")
    best = load_checkpoint(run / "best.pt")
    last = load_checkpoint(run / "last.pt")
    assert pre["phase"] == "pretrain" and pre["best_epoch"] < 3
    assert best["phase"] == "train" and best["best_epoch"] >= 3
    assert last["pretrain"]["best_epoch"] == pre["best_epoch"]
    # phase-1 validation loss is the edge MSE: its best value is a pre-training val_loss
    assert pre["best_val"] == min(h["val_loss"] for h in hist[:3])
    # the edge loss really trained in phase 1, the node-only decoder did not move at all
    assert hist[2]["train_loss"] < hist[0]["train_loss"]
    init = _initial_model(pre).state_dict()
    for k, v in pre["state_dict"].items():
        if k.startswith("node_decoder."):
            assert torch.equal(v, init[k]), k
    assert any(
        not torch.equal(v, init[k])
        for k, v in pre["state_dict"].items()
        if k.startswith("edge_decoder.")
    )
    # the end of phase 1 can be evaluated on its own
    from glassdyn.predict.evaluation import evaluate_run

    res = evaluate_run(run, store_path, checkpoint="pretrain_best", latent_png=None)
    assert len(res["edge_pearson"]["0.8"]) == 3
    # phase 2 trains the node head, starting from phase 1's weights
    assert any(
        not torch.equal(v, init[k])
        for k, v in best["state_dict"].items()
        if k.startswith("node_decoder.")
    )


def test_pretrain_only_run_is_usable(store_path, tmp_path):
    run = train(
        TrainConfig(data=store_path, out=str(tmp_path / "p"), pretrain_epochs=1, epochs=0, **SMALL)
    )
    a, b = load_checkpoint(run / "best.pt"), load_checkpoint(run / "pretrain_best.pt")
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k])


def _interrupt_at(monkeypatch, n_validations: int):
    """Make training stop (as a kill would) inside epoch ``n_validations`` before its checkpoints."""
    real, calls = gnn.validate, {"n": 0}

    def validate(*a, **k):
        if calls["n"] == n_validations:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(gnn, "validate", validate)


def _timeless(history: list[dict]) -> list[dict]:
    """The records without their wall time (``seconds``), the one entry a resumption changes."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


# the boundary and mid-pretrain stops run in the slow tier (make test-all); mid-train stays fast
@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(1, marks=pytest.mark.slow),
        pytest.param(3, marks=pytest.mark.slow),
        4,
    ],
    ids=["mid-pretrain", "at-boundary", "mid-train"],
)
def test_resume_in_either_phase_is_bitwise_equal(store_path, tmp_path, monkeypatch, stop):
    cfg = dict(data=store_path, model="botan", pretrain_epochs=3, epochs=2, **SMALL)
    full = train(TrainConfig(out=str(tmp_path / "full"), **cfg))
    part = tmp_path / "part"
    with monkeypatch.context() as m:
        _interrupt_at(m, stop)
        with pytest.raises(KeyboardInterrupt):
            train(TrainConfig(out=str(part), **cfg))
    assert load_checkpoint(part / "last.pt")["epoch"] == stop - 1
    train(TrainConfig(out=str(part), **cfg))  # the same command again
    for name in ("last.pt", "best.pt", "pretrain_best.pt"):
        a, b = load_checkpoint(full / name), load_checkpoint(part / name)
        assert _timeless(a["history"]) == _timeless(b["history"])
        assert a["best_epoch"] == b["best_epoch"]
        for k in a["state_dict"]:
            assert torch.equal(a["state_dict"][k], b["state_dict"][k]), (name, k)
    a, b = load_checkpoint(full / "last.pt"), load_checkpoint(part / "last.pt")
    assert a["pretrain"] == b["pretrain"]


@pytest.mark.slow
def test_extending_a_pretrain_only_run_continues_into_phase_two(store_path, tmp_path):
    cfg = dict(data=store_path, model="botan", pretrain_epochs=2, **SMALL)
    full = train(TrainConfig(out=str(tmp_path / "full"), epochs=2, **cfg))
    part = str(tmp_path / "part")
    train(TrainConfig(out=part, epochs=0, **cfg))
    train(TrainConfig(out=part, epochs=2, **cfg))
    a, b = load_checkpoint(full / "last.pt"), load_checkpoint(tmp_path / "part" / "last.pt")
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    # pre-training length is part of the run: changing it is refused, not silently mixed
    with pytest.raises(InputError, match="different settings.*pretrain_epochs"):
        train(TrainConfig(out=part, epochs=2, **{**cfg, "pretrain_epochs": 3}))


@pytest.mark.slow
def test_init_from_another_run(store_path, tmp_path, capsys):
    src = train(TrainConfig(data=store_path, out=str(tmp_path / "src"), epochs=1, **SMALL))
    ckpt = load_checkpoint(src / "best.pt")
    model = build_model(ModelConfig(**ckpt["model_config"]))
    model.node_mean.fill_(7.0)  # this run's statistics stay
    assert init_weights(model, src) == src / "best.pt"
    state = model.state_dict()
    for name, _ in model.named_parameters():
        if name.startswith("skip_"):  # the skip is each run's own ridge fit: never copied
            assert not torch.equal(state[name], ckpt["state_dict"][name])
            continue
        assert torch.equal(state[name], ckpt["state_dict"][name])
    assert (model.node_mean == 7.0).all()
    # command line: --init and --pretrain-epochs, recorded in the checkpoint
    run = tmp_path / "dst"
    args = ["train", "--data", store_path, "--model", "botan", "--hidden", "16", "--steps", "2"]
    assert main([*args, "--out", str(run), "--init", str(src), "--epochs", "1", "--quiet"]) == 0
    assert load_checkpoint(run / "last.pt")["init"] == str(src / "best.pt")
    assert (
        main(
            [
                *args,
                "--out",
                str(tmp_path / "pt"),
                "--pretrain-epochs",
                "1",
                "--epochs",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    assert (tmp_path / "pt" / "pretrain_best.pt").exists()
    capsys.readouterr()
    # another architecture: a clear error naming what differs
    bad = ["train", "--data", store_path, "--model", "botan", "--hidden", "8", "--steps", "2"]
    assert main([*bad, "--out", str(tmp_path / "bad"), "--init", str(src), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "does not match" in err and "hidden: 16 there, 8 here" in err
    with pytest.raises(InputError, match="no best.pt yet"):
        init_weights(model, tmp_path)
    with pytest.raises(InputError, match="no checkpoint at"):
        init_weights(model, tmp_path / "missing.pt")
    with pytest.raises(InputError, match="--pretrain-epochs trains on the edge target"):
        TrainConfig(data=store_path, out="x", model="bapst", pretrain_epochs=5)
    with pytest.raises(InputError, match="ridge has none"):
        TrainConfig(data=store_path, out="x", model="ridge", init=str(src))


def test_cosine_schedule_restarts_at_the_phase_change():
    from glassdyn.predict.gnn import learning_rate

    cfg = TrainConfig(
        data="s", out="o", lr=1e-3, pretrain_epochs=4, epochs=10, lr_schedule="cosine"
    )
    assert learning_rate(cfg, 0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 2) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert learning_rate(cfg, 4) == pytest.approx(1e-3)
    assert learning_rate(cfg, 9) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))


@pytest.mark.slow
def test_two_phase_recipe_under_torchrun(tmp_path):
    """Two DDP processes: rank 0 writes pretrain_best.pt, both ranks start phase 2 from it."""
    import os
    import subprocess
    import sys

    store = tmp_path / "s.zarr"
    write_synthetic_store(store, temperatures=[0.8], n_configs=6, n_particles=128, n_replicas=2)
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "glassdyn.cli", "train", "--data", str(store), "--model", "botan", "--out", str(run),
        "--pretrain-epochs", "2", "--epochs", "1", "--device", "cpu", "--quiet",
        "--hidden", "16", "--steps", "2",
    ]  # fmt: skip
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hist = json.loads((run / "history.json").read_text())
    assert [h["phase"] for h in hist] == ["pretrain", "pretrain", "train"]
    assert (run / "pretrain_best.pt").exists() and (run / "best.pt").exists()
