"""Fine-tuning (``init``) and the moving average of the weights (``ema``) of generative fits."""

import numpy as np
import pytest
import torch
from glassdyn.data.errors import InputError
from glassdyn.data.run_engine import ema_decay
from glassdyn.data.run_engine import update_average as _ema_update
from glassdyn.gen.checkpoints import load_run
from glassdyn.gen.config import FitConfig
from glassdyn.gen.diffusion import DiffusionConfig
from glassdyn.gen.options import build_generative_model as build_model
from glassdyn.gen.training import fit

from glassdyn.testing import write_synthetic_store

ARCH = dict(hidden=16, heads=2, blocks=1, n_freq=2, pair_channels=4, steps=4)
QUIET = dict(log=lambda *a: None)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("ft") / "s.zarr"
    write_synthetic_store(
        path, temperatures=(0.8,), n_configs=10, n_particles=10, n_replicas=1, times=(1.0,)
    )
    return path


def _equal(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_ema_update_is_the_moving_average():
    model = torch.nn.Linear(3, 2)
    ema = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    _ema_update(ema, model, 0.9)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(ema[k], 0.1 * v)
    _ema_update(ema, model, 0.9)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(ema[k], 0.19 * v)


def test_ema_decay_warms_up():
    assert ema_decay(0.999, 1) == pytest.approx(2 / 11) and ema_decay(0.999, 10**6) == 0.999
    assert all(ema_decay(0.99, k) <= ema_decay(0.99, k + 1) for k in range(1, 2000))


def test_ema_fit_keeps_the_average_and_resumes_exactly(store, tmp_path):
    cfg = FitConfig(
        model="diffusion", epochs=3, batch_size=4, lr=3e-3, arch=ARCH, ema=0.9, val_fraction=0.2
    )
    fit(store, tmp_path / "once", cfg, **QUIET)
    fit(store, tmp_path / "twice", FitConfig(**{**cfg.__dict__, "epochs": 2}), **QUIET)
    fit(store, tmp_path / "twice", cfg, **QUIET)  # resume for the third epoch
    a = torch.load(tmp_path / "once" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "twice" / "last.pt", weights_only=False)
    best = torch.load(tmp_path / "once" / "best.pt", weights_only=False)
    assert _equal(a["ema_state_dict"], b["ema_state_dict"]) and _equal(
        a["state_dict"], b["state_dict"]
    )
    assert not _equal(a["ema_state_dict"], a["state_dict"])  # the average lags the raw weights
    # the kept (best) weights are averaged ones: one of the epochs' EMA states, not a raw state
    val = [h["val_loss"] for h in a["history"]]
    assert a["best_val"] == min(val) == best["best_val"]
    # the history starts with the untrained network, validated as epoch -1
    epochs = [h["epoch"] for h in a["history"]]
    assert epochs == [-1, 0, 1, 2] and a["history"][0]["train_loss"] is None
    assert best["epoch"] == a["best_epoch"] == epochs[int(np.argmin(val))]
    if val[-1] == a["best_val"]:
        assert _equal(best["state_dict"], a["ema_state_dict"])
    with pytest.raises(InputError, match="ema"):
        fit(store, tmp_path / "bad", FitConfig(**{**cfg.__dict__, "ema": 1.0}), **QUIET)


def test_init_starts_from_the_other_runs_best_weights(store, tmp_path):
    cfg = FitConfig(model="diffusion", epochs=2, batch_size=4, lr=3e-3, arch=ARCH)
    fit(store, tmp_path / "base", cfg, **QUIET)
    base, _ = load_run(tmp_path / "base")
    # lr 1e-12: one epoch moves no weight by more than ~1e-12, so the fine-tuned weights are the
    # base run's best ones (a fit that ignored init would be a fresh network, far from them)
    logs = []
    ft = FitConfig(
        **{
            **cfg.__dict__,
            "epochs": 1,
            "lr": 1e-12,
            "init": str(tmp_path / "base"),
            "arch": {**ARCH, "prior_sigma": 0.07},
        }
    )
    fit(store, tmp_path / "ft", ft, log=logs.append)
    tuned, ck = load_run(tmp_path / "ft", best=False)
    a, b = tuned.state_dict(), base.state_dict()
    assert set(a) == set(b) and all(torch.allclose(a[k], b[k], rtol=0, atol=1e-9) for k in a)
    assert ck["train_config"]["init"] == str(tmp_path / "base") and tuned.cfg.prior_sigma == 0.07
    assert any(f"prior_sigma {DiffusionConfig.prior_sigma} -> 0.07" in line for line in logs)
    # resuming a fine-tuned run does not need --init again
    fit(store, tmp_path / "ft", FitConfig(**{**ft.__dict__, "epochs": 2, "init": None}), **QUIET)
    assert load_run(tmp_path / "ft", best=False)[1]["epoch"] == 1
    # a network of another shape is refused before any data is read
    with pytest.raises(InputError, match="another shape"):
        fit(
            store,
            tmp_path / "ft2",
            FitConfig(**{**ft.__dict__, "arch": {**ARCH, "hidden": 8}}),
            **QUIET,
        )
    with pytest.raises(InputError, match="no checkpoint"):
        fit(
            store,
            tmp_path / "ft3",
            FitConfig(**{**ft.__dict__, "init": str(tmp_path / "nowhere")}),
            **QUIET,
        )
    assert build_model("diffusion", ARCH) is not None
