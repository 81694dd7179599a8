"""Periodic neighbour pairs with vesin (cell lists, no N x N arrays)."""

from __future__ import annotations

import numpy as np


def neighbor_pairs(
    positions: np.ndarray, box: np.ndarray, cutoff: float, *, full: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs closer than ``cutoff`` in an orthorhombic periodic box.

    positions (N, 3), box (3,) lengths.  Returns i (P,), j (P,) int64 and shifts (P, 3) int
    such that the separation is ``r_j - r_i + shifts * box``.  Every periodic image within the
    cutoff is a pair of its own, so cutoffs beyond half the box are handled.  ``full=False``
    lists each unordered pair once; ``full=True`` lists both directions.
    """
    from vesin import NeighborList  # vesin imports torch when present: keep glassdyn.data light

    pos = np.ascontiguousarray(positions, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    nl = NeighborList(cutoff=float(cutoff), full_list=full)
    i, j, s = nl.compute(points=pos, box=np.diag(box), periodic=True, quantities="ijS")
    return i.astype(np.int64), j.astype(np.int64), s.astype(np.int64)
