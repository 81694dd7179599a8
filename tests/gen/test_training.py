"""Fitting really lowers the loss; checkpoints resume and load on CPU; bad input is refused."""

import numpy as np
import pytest
import torch
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.run_engine import read_history
from glassdyn.gen.checkpoints import load_run
from glassdyn.gen.config import FitConfig
from glassdyn.gen.dataset import load_data
from glassdyn.gen.losses import evaluate_loss, random_reference
from glassdyn.gen.options import build_generative_model as build_model
from glassdyn.gen.training import fit

from glassdyn.testing import write_synthetic_store

TINY_FLOW = dict(n_layers=3, n_bins=6, hidden=16, heads=2, blocks=1, n_freq=2)
TINY_CNF = dict(hidden=16, heads=2, blocks=1, n_freq=2, pair_channels=4, steps=4)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "s.zarr"
    write_synthetic_store(
        path, temperatures=(0.6, 0.8), n_configs=12, n_particles=12, n_replicas=1, times=(1.0,)
    )
    return path


def test_flow_fit_lowers_nll_and_resumes(store, tmp_path):
    run = tmp_path / "run"
    data = load_data(store)
    assert data.positions.shape == (24, 12, 3) and data.n_particles == 12
    model = build_model("flow", TINY_FLOW).double()
    idx = np.arange(24)
    data.positions = data.positions.double()
    before = evaluate_loss(model, data, idx, 8)
    assert before == pytest.approx(np.log(float(np.prod(data.box.numpy()))), rel=1e-6)  # uniform
    cfg = FitConfig(model="flow", epochs=6, batch_size=6, lr=3e-3, arch=TINY_FLOW, val_fraction=0.2)
    hist = read_history(fit(store, run, cfg, log=lambda *a: None))
    assert len(hist) == 6
    assert min(h["val_loss"] for h in hist) < before - 0.05  # a really better density than uniform
    # resume: more epochs continue from the checkpoint
    hist2 = read_history(fit(store, run, FitConfig(**{**cfg.__dict__, "epochs": 7}), log=print))
    assert [h["epoch"] for h in hist2] == list(range(7)) and hist2[:6] == hist
    m, ck = load_run(run)
    assert ck["data"]["n_particles"] == 12 and ck["data"]["temperatures"] == [0.6, 0.8]
    assert all(v.device.type == "cpu" for v in m.state_dict().values())
    assert set(ck["versions"]) >= {"glassdyn", "torch", "normflows", "torchdiffeq"}
    with pytest.raises(InputError, match="different settings.*lr: 0.003 there, 0.01 now"):
        fit(store, run, FitConfig(**{**cfg.__dict__, "lr": 1e-2}), log=lambda *a: None)


def test_cnf_fit_lowers_flow_matching_loss(store, tmp_path):
    cfg = FitConfig(
        model="cnf", epochs=8, batch_size=8, lr=3e-3, arch=TINY_CNF, temperatures=(0.8,)
    )
    loss = [h["train_loss"] for h in read_history(fit(store, tmp_path / "cnf", cfg, log=print))]
    assert min(loss[-3:]) < loss[0]
    m, ck = load_run(tmp_path / "cnf")
    assert ck["kind"] == "cnf" and ck["data"]["temperatures"] == [0.8]


def test_diffusion_fit_lowers_denoising_loss_and_resumes(store, tmp_path):
    arch = dict(hidden=16, heads=2, blocks=1, n_freq=2, pair_channels=4, steps=4)
    cfg = FitConfig(
        model="diffusion", epochs=8, batch_size=8, lr=3e-3, arch=arch, temperatures=(0.8,)
    )
    loss = [h["train_loss"] for h in read_history(fit(store, tmp_path / "diff", cfg, log=print))]
    assert min(loss[-3:]) < loss[0]
    run = fit(store, tmp_path / "diff", FitConfig(**{**cfg.__dict__, "epochs": 9}), log=print)
    hist2 = read_history(run)
    assert [h["epoch"] for h in hist2] == list(range(9))
    assert [h["train_loss"] for h in hist2[:8]] == loss
    m, ck = load_run(tmp_path / "diff")
    assert ck["kind"] == "diffusion" and m.cfg == m.cfg.__class__(**{**m.cfg.as_dict(), **arch})


def test_energy_term_runs(store, tmp_path):
    cfg = FitConfig(
        model="flow", epochs=1, batch_size=12, arch=TINY_FLOW, energy_weight=0.1, max_configs=6
    )
    hist = read_history(fit(store, tmp_path / "e", cfg, log=lambda *a: None))
    assert np.isfinite(hist[0]["train_loss"])


def test_bad_input(store, tmp_path):
    with pytest.raises(StoreError, match="no store"):
        load_data(tmp_path / "missing.zarr")
    with pytest.raises(StoreError, match="T=0.5"):
        load_data(store, temperatures=[0.5])
    with pytest.raises(InputError, match="unknown model"):
        build_model("gan")
    with pytest.raises(InputError, match="no checkpoint"):
        load_run(tmp_path / "nothing")


def test_random_reference_picks_a_particles():
    types = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 1]])
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        ref = random_reference(types, g)
        assert (types[torch.arange(2), ref] == 0).all()


def test_fit_never_reads_test_configurations_and_trains_on_train_only(store, tmp_path, monkeypatch):
    import json

    from glassdyn.data import keys
    from glassdyn.data.store import StatePoint
    from glassdyn.gen.training import Fitter

    reads, orders = set(), []
    real_read, real_batches = StatePoint.read, Fitter.batches

    def read(self, path, configs=None):
        if path == keys.THERMAL_POSITIONS:
            reads.update((f"{self.temperature:g}", int(c)) for c in np.atleast_1d(configs))
        return real_read(self, path, configs)

    def batches(self, state, epoch):
        seen = set()
        for b in real_batches(self, state, epoch):
            seen |= set(self.data.part[b.cpu().numpy()])
            yield b
        orders.append(seen)

    monkeypatch.setattr(StatePoint, "read", read)
    monkeypatch.setattr(Fitter, "batches", batches)
    cfg = FitConfig(model="flow", epochs=2, batch_size=6, arch=TINY_FLOW)
    fit(store, tmp_path / "r", cfg, log=lambda *a: None)
    split = json.loads((tmp_path / "r" / "run.json").read_text())["split"]
    for T, s in split.items():
        parts = [set(s[p]) for p in ("train", "val", "test")]
        assert (
            set().union(*parts) == set(range(12))
            and sum(map(len, parts)) == 12
            and len(s["test"]) == 2
        )
    assert reads == {(T, c) for T, s in split.items() for c in s["train"] + s["val"]}
    assert orders == [{"train"}, {"train"}]
