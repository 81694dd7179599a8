"""Ridge regression of propensity on local descriptors (the baseline a user would fit first).

One linear model per species (A, B) and per time: features standardised with the training
mean / std, ``w = (X^T X + alpha n I)^{-1} X^T (y - <y>)``, the ridge strength ``alpha`` chosen per
(species, time) from a grid by the mean squared error on the validation configurations (never
the test ones).  Saved as ``ridge.npz`` in the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store

ALPHAS = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


@dataclass
class RidgeModel:
    """Fitted ridge predictor; ``weights`` (S, K, F), ``intercept`` (S, K), ``alpha`` (S, K)."""

    feature_names: list[str]
    feature_mean: np.ndarray
    feature_std: np.ndarray
    weights: np.ndarray
    intercept: np.ndarray
    alpha: np.ndarray
    inherent: bool

    def predict(self, features: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Propensity (N, K) from descriptors (N, F) and types (N,)."""
        if features.shape[1] != len(self.feature_names):
            raise InputError(
                f"ridge model expects {len(self.feature_names)} descriptors, got {features.shape[1]}"
            )
        z = (features - self.feature_mean) / self.feature_std
        t = np.asarray(types, dtype=np.int64)
        return np.einsum("nf,nkf->nk", z, self.weights[t]) + self.intercept[t]

    def save(self, path: str | os.PathLike) -> None:
        np.savez(
            path,
            feature_names=np.array(self.feature_names),
            feature_mean=self.feature_mean,
            feature_std=self.feature_std,
            weights=self.weights,
            intercept=self.intercept,
            alpha=self.alpha,
            inherent=np.array(self.inherent),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> RidgeModel:
        p = Path(path)
        if not p.exists():
            raise InputError(
                f"no ridge model at {p}: train one with `glassdyn train --model ridge`"
            )
        z = np.load(p)
        return cls(
            feature_names=[str(s) for s in z["feature_names"]],
            feature_mean=z["feature_mean"],
            feature_std=z["feature_std"],
            weights=z["weights"],
            intercept=z["intercept"],
            alpha=z["alpha"],
            inherent=bool(z["inherent"]),
        )


def _fit_one(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Ridge with an unpenalised intercept: (w (F,), c) with prediction X w + c."""
    n, F = X.shape
    xm, ym = X.mean(0), y.mean()
    Xc = X - xm
    w = np.linalg.solve(Xc.T @ Xc + alpha * n * np.eye(F), Xc.T @ (y - ym))
    return w, float(ym - xm @ w)


def fit_ridge(
    train: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    val: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    feature_names: list[str],
    inherent: bool,
    alphas: tuple[float, ...] = ALPHAS,
) -> RidgeModel:
    """Fit from lists of (features (N, F), types (N,), propensity (N, K)) per configuration."""
    X = np.concatenate([f for f, _, _ in train])
    T = np.concatenate([t for _, t, _ in train])
    Y = np.concatenate([y for _, _, y in train])
    mean = X.mean(0)
    std = X.std(0)
    std[std == 0] = 1.0
    Z = (X - mean) / std
    S, K, F = 2, Y.shape[1], X.shape[1]
    W = np.zeros((S, K, F))
    b = np.zeros((S, K))
    A = np.zeros((S, K))
    if val:
        Zv = (np.concatenate([f for f, _, _ in val]) - mean) / std
        Tv = np.concatenate([t for _, t, _ in val])
        Yv = np.concatenate([y for _, _, y in val])
    for s in range(S):
        sel = T == s
        if sel.sum() < 2:
            continue
        for k in range(K):
            best = None
            for a in alphas if val else (1e-2,):
                w, c = _fit_one(Z[sel], Y[sel, k], a)
                score = 0.0
                if val and (Tv == s).sum() > 1:  # validation MSE (Pearson ignores shrinkage)
                    score = -float(np.mean((Zv[Tv == s] @ w + c - Yv[Tv == s, k]) ** 2))
                if best is None or score > best[0]:
                    best = (score, w, c, a)
            _, W[s, k], b[s, k], A[s, k] = best
    return RidgeModel(feature_names, mean, std, W, b, A, inherent)


def ridge_samples(store: Store, split: dict, part: str, spec, inherent: bool) -> list:
    """(descriptors (N, F), types (N,), propensity (N, K)) of every configuration of ``part``."""
    from glassdyn.nn.descriptors import local_descriptors

    samples = []
    for T, s in split.items():
        sp = store.state(float(T))
        for c in s[part]:
            idx = spec.time_indices(len(sp.times))
            feats = local_descriptors(
                sp.read(keys.THERMAL_POSITIONS, c),
                sp.read(keys.TYPES, c),
                sp.read(keys.BOX, c),
                sp.read(keys.INHERENT_POSITIONS, c) if inherent else None,
            )
            y = sp.read(keys.ISO_PROPENSITY, c)[idx].T  # (N, K)
            samples.append((feats, sp.read(keys.TYPES, c), y))
    return samples


def train_ridge(store: Store, config, split: dict, out: Path) -> Path:
    """Fit the ridge baseline on the ``train`` configurations of ``split`` (alpha chosen on ``val``)
    and write ``out/ridge.npz``; ``config`` is the run's :class:`glassdyn.training.TrainConfig`."""
    from glassdyn.nn.descriptors import descriptor_names

    spec = config.graph_spec()
    inherent = all(store.state(float(T)).has(keys.INHERENT_POSITIONS) for T in split)
    train_s = ridge_samples(store, split, "train", spec, inherent)
    val_s = ridge_samples(store, split, "val", spec, inherent)
    model = fit_ridge(train_s, val_s, descriptor_names(inherent), inherent)
    model.save(out / "ridge.npz")
    return out
