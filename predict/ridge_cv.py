"""Ridge regression with its strength chosen by leave-one-configuration-out cross-validation.

For one species and one time: standardised descriptors X (n, F), targets y (n,), samples grouped
by configuration.  The model is y = X w + b with an unpenalised intercept,
``w = (Xc^T Xc + alpha n I)^{-1} Xc^T (y - <y>)`` (Xc: X minus its mean).  For every fold (one
configuration held out) the solution for *all* alphas comes from one eigendecomposition of the
fold's centred Gram matrix, built from per-configuration sums (no data copied); the score of an
alpha is the mean over folds of the held-out configuration's Pearson correlation (the metric
the field reports).  The chosen alpha is then refit on every configuration.
"""

from __future__ import annotations

import numpy as np

ALPHAS = tuple(float(a) for a in 10.0 ** np.arange(-6.0, 1.01, 0.5))


def _stats(X: np.ndarray, Y: np.ndarray) -> tuple:
    return len(X), X.sum(0), Y.sum(0), X.T @ X, X.T @ Y


def _solve(n, sx, sy, sxx, sxy, alphas) -> tuple[np.ndarray, np.ndarray]:
    """Weights (A, F, K) and intercepts (A, K) for every alpha from summed statistics."""
    xm, ym = sx / n, sy / n
    A = sxx - n * np.outer(xm, xm)
    B = sxy - n * np.outer(xm, ym)
    lam, Q = np.linalg.eigh(A)
    QB = Q.T @ B  # (F, K)
    W = np.stack([Q @ (QB / (lam + a * n)[:, None]) for a in alphas])  # (A, F, K)
    return W, ym[None, :] - np.einsum("f,afk->ak", xm, W)


def _pearson_columns(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson of each column pair (n, K) x (n, K) -> (K,); NaN for constant columns."""
    dp, dy = p - p.mean(0), y - y.mean(0)
    den = np.sqrt((dp * dp).sum(0) * (dy * dy).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (dp * dy).sum(0) / den, np.nan)


def fit_ridge_loo(
    groups: list[tuple[np.ndarray, np.ndarray]], alphas: tuple[float, ...] = ALPHAS
) -> dict:
    """Fit from ``groups`` = [(X (n_c, F), Y (n_c, K)) per configuration], standardised X.

    Returns ``weights`` (F, K), ``intercept`` (K,), ``alpha`` (K,) chosen per time, and
    ``cv_pearson`` (len(alphas), K): the mean held-out Pearson of each alpha (NaN without
    two or more configurations, when alpha = 1e-2 is used).
    """
    stats = [_stats(X, Y) for X, Y in groups]
    total = [sum(s[k] for s in stats) for k in range(5)]
    K = groups[0][1].shape[1]
    if len(groups) >= 2:
        scores = np.zeros((len(alphas), K))
        for (X, Y), s in zip(groups, stats):
            fold = [t - x for t, x in zip(total, s)]
            W, b = _solve(*fold, alphas)
            for a in range(len(alphas)):
                scores[a] += _pearson_columns(X @ W[a] + b[a], Y)
        scores /= len(groups)
        best = np.nanargmax(np.where(np.isnan(scores), -np.inf, scores), axis=0)  # (K,)
    else:
        scores = np.full((len(alphas), K), np.nan)
        alphas = (1e-2,)
        best = np.zeros(K, dtype=int)
    W, b = _solve(*total, alphas)
    k = np.arange(K)
    return {
        "weights": W[best, :, k].T,  # (F, K)
        "intercept": b[best, k],
        "alpha": np.asarray(alphas)[best],
        "cv_pearson": scores,
    }
