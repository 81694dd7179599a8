"""A small MLP on coarse-grained descriptors, in the spirit of GlassMLP (Jung, Biroli, Berthier,
PRL 130, 238202 (2023)): standardised descriptors and the one-hot species in, the propensity at
all K times out (one multi-time head), trained on all particles with an MSE on per-time
standardised targets; the epoch kept (early stopping) and the hyper-parameters are chosen by the
mean Pearson on A particles of the *validation* configurations, never the test ones.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class MLPSettings:
    """hidden: widths of the hidden layers (ELU); dropout after each; Adam with weight decay."""

    hidden: tuple[int, ...] = (64, 32)
    dropout: float = 0.0
    weight_decay: float = 1e-4
    lr: float = 1e-3
    batch_size: int = 512
    max_epochs: int = 200
    patience: int = 20

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d


#: the hyper-parameters tried by default (chosen on validation)
GRID = (
    MLPSettings(),
    MLPSettings(hidden=(128, 64), dropout=0.1, weight_decay=1e-3),
    MLPSettings(hidden=(32,), dropout=0.2, weight_decay=1e-2, lr=3e-4),
)


class DescriptorMLP(nn.Module):
    """``Linear -> ELU [-> Dropout]`` per hidden width, then ``Linear(K)``.

    Input (N, F + 2): standardised descriptors then the one-hot type; output (N, K) standardised
    propensity (the caller holds target means / stds)."""

    def __init__(
        self, n_in: int, n_out: int, hidden: tuple[int, ...] = (64, 32), dropout: float = 0.0
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ELU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)
        self.n_in, self.n_out, self.hidden, self.dropout = n_in, n_out, tuple(hidden), dropout

    def reset_parameters(self) -> None:
        for m in self.net:
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def __repr__(self) -> str:
        return f"DescriptorMLP({self.n_in} -> {list(self.hidden)} -> {self.n_out}, dropout={self.dropout})"


def inputs(Z: np.ndarray, types: np.ndarray) -> Tensor:
    """(N, F + 2) float32: standardised descriptors Z (N, F) and the one-hot type."""
    onehot = np.eye(2, dtype=np.float32)[np.asarray(types, dtype=np.int64)]
    return torch.from_numpy(np.concatenate([Z.astype(np.float32), onehot], axis=1))


def _val_pearson(model: DescriptorMLP, val: list[tuple[Tensor, np.ndarray, np.ndarray]]) -> float:
    """Mean over validation configurations and times of the Pearson on A particles."""
    from glassdyn.predict.metrics import pearson

    model.eval()
    rs = []
    with torch.no_grad():
        for x, y, mask in val:
            p = model(x).numpy()
            rs += [pearson(p[mask, k], y[mask, k]) for k in range(y.shape[1])]
    model.train()
    return float(np.nanmean(rs)) if rs else -math.inf


def fit_mlp(
    train: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    val: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    settings: MLPSettings,
    seed: int = 0,
) -> tuple[DescriptorMLP, dict]:
    """Train on ``train`` = [(Z (N, F) standardised, types (N,), y (N, K) standardised)] per
    configuration; keep the epoch with the best validation Pearson (the last one without
    validation data).  Returns (model in eval mode, record of the run)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    X = torch.cat([inputs(Z, t) for Z, t, _ in train])
    Y = torch.from_numpy(np.concatenate([y for _, _, y in train]).astype(np.float32))
    vset = [(inputs(Z, t), y, np.asarray(t) == 0) for Z, t, y in val]
    model = DescriptorMLP(X.shape[1], Y.shape[1], settings.hidden, settings.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    best, best_state, best_epoch, since = -math.inf, None, -1, 0
    history = []
    for epoch in range(settings.max_epochs):
        perm = torch.randperm(len(X), generator=gen)
        total = 0.0
        for start in range(0, len(X), settings.batch_size):
            idx = perm[start : start + settings.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.mse_loss(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        score = _val_pearson(model, vset) if vset else float(epoch)
        history.append(
            {"epoch": epoch, "train_mse": total / len(X), "val_pearson": score if vset else None}
        )
        if score > best:
            best, best_state, best_epoch, since = score, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            since += 1
            if since >= settings.patience:
                break
    model.load_state_dict(best_state)
    record = {
        "settings": settings.to_dict(),
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "val_pearson": best if vset else None,
        "history": history,
    }
    return model.eval(), record
