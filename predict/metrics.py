"""Accuracy of mobility predictions, per (temperature, time), as BOTAN / T-BOTAN report it.

- node Pearson: correlation of predicted and true propensity over A particles of one
  configuration, averaged over configurations (``node_pearson``), and over all A particles of
  all configurations at once (``node_pearson_pooled``);
- edge Pearson: the same over AA pairs with thermal r0 < 1.35 (``edge_pearson[_pooled]``);
- the spread (std over A particles and configurations) and mean of predicted vs true
  propensity: the ensemble-averaged mobility and its fluctuations (a collapsed predictor has a
  much smaller ``std_pred`` than ``std_true``);
- temperature MAE of T-BOTAN's temperature decoder;
- the replica-noise ceiling (:func:`noise_ceiling`): the largest node Pearson any predictor can
  reach against a propensity averaged over R replicas.

>>> m = MobilityMetrics(0.44)                                                   # doctest: +SKIP
>>> for c in configs: m.compute(pred_node, true_node, node_mask, pred_edge, true_edge, edge_mask)
>>> m.result()["node_pearson"]       # one value per time
"""

from __future__ import annotations

import numpy as np


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays; NaN when either is constant or has < 2 entries."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2:
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    den = np.sqrt((da * da).sum() * (db * db).sum())
    return float((da * db).sum() / den) if den > 0 else float("nan")


def spearman_brown(r: np.ndarray | float, k: float) -> np.ndarray | float:
    """Reliability of a mean over ``k`` times as many replicas as one of reliability ``r``:
    k r / (1 + (k - 1) r) (Spearman-Brown prophecy formula)."""
    r = np.asarray(r, dtype=np.float64)
    return k * r / (1.0 + (k - 1.0) * r)


def split_half(
    displacements: np.ndarray, mask: np.ndarray, n_splits: int = 16, seed: int = 0
) -> np.ndarray:
    """Split-half correlation (K,) of the propensity of one configuration: the replicas
    ``displacements`` (R, K, N, 3) split into two random halves of h = R // 2, the two half-means
    of |r(t) - r(0)| correlated over the particles of ``mask`` (N,) bool, averaged over
    ``n_splits`` random splits (NaN for R < 2)."""
    d = np.asarray(displacements, dtype=np.float64)
    R, K = d.shape[:2]
    if R < 2:
        return np.full(K, np.nan)
    mob = np.linalg.norm(d, axis=-1)[:, :, np.asarray(mask, dtype=bool)]  # (R, K, n)
    h = R // 2
    rng = np.random.default_rng(seed)
    r_half = np.zeros(K)
    for _ in range(n_splits):
        perm = rng.permutation(R)
        a, b = mob[perm[:h]].mean(axis=0), mob[perm[h : 2 * h]].mean(axis=0)  # (K, n)
        r_half += [pearson(a[k], b[k]) for k in range(K)]
    return r_half / n_splits


def ceiling_from_split_half(r_half: np.ndarray, n_replicas: int) -> np.ndarray:
    """sqrt of the reliability of the R-replica mean, Spearman-Brown from the split-half
    correlation of halves of R // 2: sqrt(spearman_brown(r_half, R / (R // 2)))."""
    r = np.clip(np.asarray(r_half, dtype=np.float64), 0.0, 1.0)
    if n_replicas < 2:
        return np.full(r.shape, np.nan)
    return np.sqrt(spearman_brown(r, n_replicas / (n_replicas // 2)))


def noise_ceiling(
    displacements: np.ndarray, mask: np.ndarray, n_splits: int = 16, seed: int = 0
) -> np.ndarray:
    """Replica-noise ceiling (K,) of the node Pearson of one configuration.

    ``displacements`` (R, K, N, 3): the replicas' r(t) - r(0); ``mask`` (N,) bool (A particles).
    The propensity is the mean over R replicas of |r(t) - r(0)|: true propensity plus replica
    noise.  Its reliability rho (the share of its variance over particles that is not noise) is
    estimated from the split-half correlation r_half (:func:`split_half`) stepped up to R
    replicas by Spearman-Brown, rho = spearman_brown(r_half, R / (R // 2)).  Since the noise is
    independent of any predictor p, corr(p, propensity) = corr(p, truth) x sqrt(rho) <=
    sqrt(rho): the ceiling returned is sqrt(rho) (NaN for R < 2).
    """
    R = np.shape(displacements)[0]
    return ceiling_from_split_half(split_half(displacements, mask, n_splits, seed), R)


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _standard_error(values) -> float:
    """std / sqrt(n) of the finite values (ddof 1); NaN with fewer than two."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1) / np.sqrt(v.size)) if v.size >= 2 else float("nan")


class MobilityMetrics:
    """Accumulates configurations of one temperature; :meth:`result` gives per-time lists."""

    def __init__(self, temperature: float):
        self.temperature = float(temperature)
        self._node: list[tuple[np.ndarray, np.ndarray]] = []
        self._edge: list[tuple[np.ndarray, np.ndarray]] = []
        self._temps: list[np.ndarray] = []

    def compute(
        self,
        pred_node: np.ndarray,
        true_node: np.ndarray,
        node_mask: np.ndarray,
        pred_edge: np.ndarray | None = None,
        true_edge: np.ndarray | None = None,
        edge_mask: np.ndarray | None = None,
        pred_temperature: float | np.ndarray | None = None,
    ) -> MobilityMetrics:
        """Add one configuration: node arrays (N, K), edge arrays (E, K), masks (N,) / (E,) bool."""
        pn, tn = np.asarray(pred_node), np.asarray(true_node)
        if pn.shape != tn.shape or pn.ndim != 2:
            raise ValueError(
                f"node predictions {pn.shape} and targets {tn.shape} must both be (N, K)"
            )
        mask = np.asarray(node_mask, dtype=bool)
        self._node.append((pn[mask], tn[mask]))
        if pred_edge is not None and true_edge is not None:
            emask = np.asarray(edge_mask, dtype=bool)
            self._edge.append((np.asarray(pred_edge)[emask], np.asarray(true_edge)[emask]))
        if pred_temperature is not None:
            self._temps.append(np.atleast_1d(np.asarray(pred_temperature, dtype=np.float64)))
        return self

    def __len__(self) -> int:
        """Configurations accumulated so far."""
        return len(self._node)

    @staticmethod
    def _pearsons(pairs: list[tuple[np.ndarray, np.ndarray]]):
        """(mean over configurations, its standard error, pooled) per time, lists of K; the
        standard error is std / sqrt(n) over the configurations (NaN with fewer than two)."""
        K = pairs[0][0].shape[1]
        each = np.array([[pearson(p[:, k], t[:, k]) for k in range(K)] for p, t in pairs])
        per = [_nanmean(each[:, k]) for k in range(K)]
        se = [_standard_error(each[:, k]) for k in range(K)]
        P = np.concatenate([p for p, _ in pairs])
        T = np.concatenate([t for _, t in pairs])
        pooled = [pearson(P[:, k], T[:, k]) for k in range(K)]
        return per, se, pooled

    def result(self) -> dict:
        """Per-time lists (length K) and scalars; NaN where undefined."""
        if not self._node:
            raise ValueError(f"no configurations accumulated at T={self.temperature:g}")
        out: dict = {"n_configs": len(self._node)}
        out["node_pearson"], out["node_pearson_se"], out["node_pearson_pooled"] = self._pearsons(
            self._node
        )
        K = self._node[0][0].shape[1]
        out["node_pearson_per_config"] = [  # (C, K): the values node_pearson averages
            [pearson(p[:, k], t[:, k]) for k in range(K)] for p, t in self._node
        ]
        P = np.concatenate([p for p, _ in self._node])
        T = np.concatenate([t for _, t in self._node])
        out["mean_pred"], out["mean_true"] = P.mean(0).tolist(), T.mean(0).tolist()
        out["std_pred"], out["std_true"] = P.std(0).tolist(), T.std(0).tolist()
        if self._edge:
            out["edge_pearson"], out["edge_pearson_se"], out["edge_pearson_pooled"] = (
                self._pearsons(self._edge)
            )
        else:
            out["edge_pearson"] = out["edge_pearson_se"] = out["edge_pearson_pooled"] = None
        if self._temps:
            t = np.concatenate(self._temps)
            out["temperature_pred"] = float(t.mean())
            out["temperature_mae"] = float(np.abs(t - self.temperature).mean())
        else:
            out["temperature_pred"] = out["temperature_mae"] = None
        return out


def temperature_reading_floor(
    temperatures, energies, at: float, n_particles: int
) -> tuple[float, float]:
    """(c_v, floor): the least expected |error| of an unbiased temperature reading from one
    configuration of ``n_particles`` at temperature ``at``.

    In the canonical ensemble the potential energy is a sufficient statistic for T, with Fisher
    information N c_v / T^2 per configuration (c_v = d<u>/dT, the configurational heat capacity
    per particle, k_B = 1), so by Cramér-Rao no unbiased reading of T from a structure can
    fluctuate by less than sigma = T / sqrt(N c_v); for Gaussian errors the mean |error| is then
    sqrt(2 / pi) sigma.  ``c_v`` is the slope of the energies per particle against the
    temperatures they were drawn at (one pair per configuration, at least two temperatures):
    the mean energies, not their fluctuations (with k configurations per temperature, two
    temperatures dT apart, c_v is uncertain by about sqrt(2 / k) T sqrt(c_v / N) / dT, the floor
    by half that relatively: ~10% on the demo's store).  A biased reader (one that snaps to the
    temperatures it was trained on) can do better there and worse everywhere else."""
    t = np.asarray(temperatures, dtype=np.float64)
    e = np.asarray(energies, dtype=np.float64)
    if t.shape != e.shape or len(np.unique(t)) < 2:
        raise ValueError("the floor needs energies at two temperatures or more")
    c_v = float(np.polyfit(t, e, 1)[0])
    if not c_v > 0:
        return c_v, float("nan")
    sigma = at / np.sqrt(n_particles * c_v)
    return c_v, float(np.sqrt(2.0 / np.pi) * sigma)
