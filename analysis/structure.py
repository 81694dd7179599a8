"""Static structure: partial radial distribution functions g_ab(r) and partial structure factors.

Pair counts come from vesin neighbour lists (cell lists, O(N)), never from N x N distance
matrices.  For the KA mixture the partials are AA, AB (= BA), BB and the total; each is
normalised by its ideal-gas expectation so that an uncorrelated system gives g = 1:

    g_ab(r) = n_ab(r) / (P_ab * V_shell(r) / V),

with n_ab the number of unordered pairs whose distance falls in the shell and
P_aa = N_a (N_a - 1) / 2, P_ab = N_a N_b (a != b) the number of unordered pairs of that kind
(using N_a - 1 makes the ideal-gas expectation exactly 1).  Several frames are combined by
summing counts and expectations, so frames with different boxes or compositions mix correctly.
"""

from __future__ import annotations

import numpy as np

from glassdyn.data.box import wrap
from glassdyn.data.errors import InputError

PAIRS = ("AA", "AB", "BB", "total")


def _frames(positions, types, box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast to positions (M, N, 3) float64, types (M, N) int, box (M, 3) float64."""
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim == 2:
        pos = pos[None]
    if pos.ndim != 3 or pos.shape[-1] != 3:
        raise InputError(f"positions must have shape (N, 3) or (M, N, 3), got {np.shape(positions)}")
    M, N, _ = pos.shape
    typ = np.asarray(types)
    if typ.ndim == 1 and typ.shape[0] == N:
        typ = np.broadcast_to(typ, (M, N))
    if typ.shape != (M, N):
        raise InputError(f"types must have shape ({N},) or ({M}, {N}), got {np.shape(types)}")
    bx = np.asarray(box, dtype=np.float64)
    if bx.shape == (3,):
        bx = np.broadcast_to(bx, (M, 3))
    if bx.shape != (M, 3):
        raise InputError(f"box must have shape (3,) or ({M}, 3), got {np.shape(box)}")
    if not np.all(np.isfinite(pos)):
        raise InputError("positions contain NaN or inf; check the configuration you passed")
    if not np.all(bx > 0):
        raise InputError(f"box lengths must be positive, got {bx[~np.all(bx > 0, axis=1)][0]}")
    if not np.all((typ == 0) | (typ == 1)):
        raise InputError("types must be 0 (A) or 1 (B)")
    return pos, typ.astype(np.int64), bx


def pair_distances(positions: np.ndarray, box: np.ndarray, r_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unordered pairs (i < j once each, all periodic images) closer than ``r_max``.

    positions (N, 3), box (3,) orthorhombic lengths.  Returns i (P,), j (P,), d (P,) float64.
    Uses a vesin half neighbour list: O(N) time and memory, no N x N matrix.
    """
    import vesin

    box = np.asarray(box, dtype=np.float64)
    if r_max >= box.min():
        raise InputError(
            f"r_max={r_max:g} is not below the smallest box side {box.min():g}; "
            "choose r_max < L (g(r) beyond L/2 already counts periodic images)"
        )
    pos = wrap(np.asarray(positions, dtype=np.float64), box)
    nl = vesin.NeighborList(cutoff=float(r_max), full_list=False)
    i, j, d = nl.compute(pos, np.diag(box), True, "ijd")
    return i.astype(np.int64), j.astype(np.int64), np.asarray(d, dtype=np.float64)


def partial_rdf(
    positions: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    *,
    r_max: float = 3.0,
    bins: int = 150,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Partial radial distribution functions of a binary mixture, averaged over frames.

    positions (M, N, 3) or (N, 3) (any periodic image; wrapped here); types (N,) or (M, N) with
    0 = A, 1 = B; box (3,) or (M, 3) orthorhombic lengths (LJ units, sigma_AA).
    Returns r (B,) bin centres and g: {"AA", "AB", "BB", "total"} -> (B,) float64, each normalised
    by its ideal-gas pair count (see the module docstring), so an ideal gas gives 1.  AB counts each
    unordered A-B pair once with P_AB = N_A N_B.  A partial whose species is absent is all NaN.
    """
    pos, typ, bx = _frames(positions, types, box)
    if not (r_max > 0 and bins >= 1):
        raise InputError(f"need r_max > 0 and bins >= 1, got r_max={r_max}, bins={bins}")
    edges = np.linspace(0.0, float(r_max), int(bins) + 1)
    shell = 4.0 / 3.0 * np.pi * np.diff(edges**3)  # (B,)
    counts = {k: np.zeros(bins) for k in PAIRS}
    expect = {k: np.zeros(bins) for k in PAIRS}
    for m in range(pos.shape[0]):
        i, j, d = pair_distances(pos[m], bx[m], r_max)
        ti, tj = typ[m][i], typ[m][j]
        kind = ti + tj  # 0 = AA, 1 = AB, 2 = BB
        b = np.minimum((d / r_max * bins).astype(np.int64), bins - 1)
        hist = np.bincount(kind * bins + b, minlength=3 * bins).reshape(3, bins)
        n_a = int(np.sum(typ[m] == 0))
        n_b = typ.shape[1] - n_a
        volume = float(np.prod(bx[m]))
        n_pairs = {"AA": n_a * (n_a - 1) / 2, "AB": n_a * n_b, "BB": n_b * (n_b - 1) / 2}
        n_pairs["total"] = n_a + n_b
        n_pairs["total"] = n_pairs["total"] * (n_pairs["total"] - 1) / 2
        for k, h in zip(("AA", "AB", "BB"), hist):
            counts[k] += h
        counts["total"] += hist.sum(axis=0)
        for k in PAIRS:
            expect[k] += n_pairs[k] * shell / volume
    r = 0.5 * (edges[1:] + edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        g = {k: np.where(expect[k] > 0, counts[k] / np.where(expect[k] > 0, expect[k], 1.0), np.nan) for k in PAIRS}
    return r, g
