"""Time origins and lags: which frame pairs (origin i, target j > i) enter each lag of a
time-origin average.

A lag is an exact difference t_j - t_i of frame times present in the trajectory (times are
compared on a grid of 1e-6 of the smallest frame spacing, so TIMESTEP x dt is exact).  Lags are
never mixed: pooling t and 1.2 t in one bin would add the spread of Q(t) over the bin to chi4.
Linear schedules give every multiple of the dump interval; block-periodic log schedules (the same
log-spaced offsets repeated every period P, as ``glassdyn simulate --trajectory`` writes) give
the offsets s_k and m P + s_k - s_l.  When more lags are present than asked for, they are grouped
into ``max_lags`` log-spaced bins and each bin is represented by its lag with the most origins.

Origins: ``"blocks"`` (the first frame of each period of a block-periodic schedule: every frame
of a linear one), ``"all"`` frames, or ``"auto"`` (blocks when the schedule repeats, else all
frames), thinned to at most ``max_origins`` by a fixed stride.
Several trajectories (independent runs of one state point) pool their pairs lag by lag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from glassdyn.data.errors import InputError


@dataclass(frozen=True)
class LagPlan:
    """The frame pairs of a time-origin average.

    lags (L,) LJ time of each lag, increasing; n_origins (L,) pairs per lag; per pair (P,):
    trajectory index, origin frame, target frame, lag index, block (jackknife block of its
    origin, 0..n_blocks-1).  Pairs are sorted by (trajectory, target, origin).
    """

    lags: np.ndarray
    n_origins: np.ndarray
    trajectory: np.ndarray
    origin: np.ndarray
    target: np.ndarray
    lag: np.ndarray
    block: np.ndarray
    n_blocks: int
    origins: str

    @property
    def n_pairs(self) -> int:
        return int(self.origin.shape[0])


# Times are compared on a grid of RESOLUTION x the smallest frame spacing; values within
# MERGE x that spacing are the same time (ITEM: TIME accumulates rounding: 128.4799999999995).
RESOLUTION, MERGE = 1e-6, 1e-3


def schedule_period(times: np.ndarray, resolution: float) -> int:
    """Frames per period of a block-periodic dump schedule: the smallest K with
    t[k + K] - t[k] the same for every k (1 for a linear schedule; len(times) if none)."""
    key = np.round(np.asarray(times) / resolution).astype(np.int64)
    tol = MERGE / RESOLUTION
    F = len(key)
    for K in range(1, F // 2 + 1):
        d = key[K:] - key[:-K]
        if np.all(np.abs(d - d[0]) <= tol):
            return K
    return F


def _merge_close(keys: np.ndarray, tol: float) -> np.ndarray:
    """Each key replaced by the smallest key of its run of sorted unique keys with gaps <= tol."""
    u = np.unique(keys)
    start = np.concatenate([[True], np.diff(u) > tol])
    first = u[start][np.cumsum(start) - 1]
    return first[np.searchsorted(u, keys)]


def candidate_origins(times: np.ndarray, origins: str, resolution: float) -> np.ndarray:
    """Frames usable as time origins: "all" (every frame but the last), "blocks" (the first
    frame of each period), "auto" (blocks when the schedule repeats, else all)."""
    F = len(times)
    if origins not in ("all", "blocks", "auto"):
        raise InputError(f"origins must be 'auto', 'all' or 'blocks', got {origins!r}")
    period = schedule_period(times, resolution) if origins != "all" else 1
    if origins == "all" or (origins == "auto" and period == F):
        return np.arange(F - 1)
    return np.arange(0, F - 1, period)


def plan_lags(
    times: Sequence[np.ndarray],
    *,
    origins: str = "auto",
    max_origins: int | None = None,
    max_lags: int = 40,
    lags: Sequence[float] | None = None,
    min_origins: int = 5,
    n_blocks: int = 10,
) -> LagPlan:
    """The pairs of ``times`` (one (F,) array of frame times per trajectory, increasing).

    ``lags`` explicit lag times (each must be a frame-time difference present); else the lags
    with at least ``min_origins`` origins, at most ``max_lags`` of them (log-spaced bins).
    """
    times = [np.asarray(t, dtype=np.float64) for t in times]
    if not times or any(t.ndim != 1 or len(t) < 2 for t in times):
        raise InputError("a time-origin analysis needs at least 2 frames per trajectory")
    if any(np.any(np.diff(t) <= 0) for t in times):
        raise InputError("frame times must increase within each trajectory")
    if max_origins is not None and max_origins < 1:
        raise InputError(f"max_origins must be >= 1, got {max_origins}")
    if max_lags < 1 or min_origins < 1 or n_blocks < 2:
        raise InputError("need max_lags >= 1, min_origins >= 1 and n_blocks >= 2")
    resolution = RESOLUTION * min(float(np.diff(t).min()) for t in times)
    rows = []  # (trajectory, origin, target, key)
    for n, t in enumerate(times):
        key = np.round((t - t[0]) / resolution).astype(np.int64)
        cand = candidate_origins(t, origins, resolution)
        if max_origins is not None and len(cand) > max_origins:
            cand = cand[:: -(-len(cand) // max_origins)]
        counts = len(t) - 1 - cand
        o = np.repeat(cand, counts)
        j = o + 1 + (np.arange(len(o)) - np.repeat(np.cumsum(counts) - counts, counts))
        rows.append((np.full(len(o), n), o, j, key[j] - key[o]))
    traj, origin, target, keys = (np.concatenate(c) for c in zip(*rows))
    keys = _merge_close(keys, MERGE / RESOLUTION)
    uniq, counts = np.unique(keys, return_counts=True)
    chosen = _choose(uniq, counts, resolution, lags, max_lags, min_origins)
    keep = np.isin(keys, chosen)
    traj, origin, target, keys = traj[keep], origin[keep], target[keep], keys[keep]
    lag = np.searchsorted(chosen, keys)
    order = np.lexsort((origin, target, traj))
    traj, origin, target, lag = traj[order], origin[order], target[order], lag[order]
    # jackknife blocks: origins in (trajectory, frame) order cut into n_blocks runs
    pairs_origin = traj.astype(np.int64) * (1 << 40) + origin
    uo, inv = np.unique(pairs_origin, return_inverse=True)
    block = (inv.reshape(-1) * min(n_blocks, len(uo))) // len(uo)
    _, first = np.unique(lag, return_index=True)
    lag_times = np.array([times[traj[a]][target[a]] - times[traj[a]][origin[a]] for a in first])
    return LagPlan(
        lag_times,
        np.bincount(lag, minlength=len(chosen)),
        traj,
        origin,
        target,
        lag,
        block.astype(np.int64),
        int(min(n_blocks, len(uo))),
        origins,
    )


def _choose(uniq, counts, resolution, lags, max_lags, min_origins) -> np.ndarray:
    """The lag keys to compute (sorted)."""
    values = uniq * resolution
    if lags is not None:
        out = []
        for want in lags:
            if not (np.isfinite(want) and want > 0):
                raise InputError(f"lags must be positive times, got {want}")
            i = int(np.argmin(np.abs(values - want)))
            if abs(values[i] - want) > 1e-4 * want + resolution:
                near = values[max(i - 2, 0) : i + 3]
                raise InputError(
                    f"lag {want:g} is not a difference of frame times of the trajectory; nearest "
                    f"present: {', '.join(f'{v:.6g}' for v in near)}"
                )
            out.append(uniq[i])
        return np.unique(out)
    ok = counts >= min_origins
    if not np.any(ok):
        raise InputError(
            f"no lag has {min_origins} time origins (the most any lag has is {counts.max()}); "
            "use a longer trajectory, or lower the minimum (--min-origins)"
        )
    uniq, counts, values = uniq[ok], counts[ok], values[ok]
    if len(uniq) <= max_lags:
        return uniq
    edges = np.geomspace(values[0], values[-1] * (1 + 1e-9), max_lags + 1)
    which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max_lags - 1)
    out = []
    for b in np.unique(which):
        idx = np.flatnonzero(which == b)
        out.append(uniq[idx[np.argmax(counts[idx])]])  # argmax: first (shortest) of the most
    return np.asarray(out)
