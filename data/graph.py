"""Periodic neighbour graphs and BOTAN's isoconfigurational targets (pure numpy kernels).

The graph of a configuration has one node per particle and one *directed* edge per ordered pair
``(i, j)`` with ``|r_ij| < cutoff`` under the minimum-image convention, both directions present.
Edge vectors are ``r_ij = r_j - r_i`` mapped to the nearest periodic image.  Pairs come from
vesin's cell list, so memory and time are O(N) -- no N x N array is ever formed.

Targets (Shiba et al., J. Chem. Phys. 158, 084503 (2023), "BOTAN"):

- node propensity ``m_i(t) = < |d_i(t)| >_R``, the replica mean of the absolute displacement;
- edge target ``e_ij(t) = < |r_ij(0) + d_j(t) - d_i(t)| - |r_ij(0)| >_R``, the replica mean of
  the change of the pair distance, with the minimum image taken on ``r_ij(0)`` only (the
  displacements ``d`` are unwrapped, so ``r_ij(0) + d_j - d_i`` is the true separation even when
  the particles have crossed the box).
"""

from __future__ import annotations

import numpy as np
from glassdyn.data.box import minimum_image, wrap
from glassdyn.data.errors import InputError
from glassdyn.data.neighbors import neighbor_pairs

DEFAULT_CUTOFF = 2.0  # sigma_AA, as in BOTAN and Bapst et al.


def _check_inputs(positions: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(positions, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise InputError(f"positions must have shape (N, 3), got {pos.shape}")
    if box.shape != (3,) or not np.all(box > 0):
        raise InputError(f"box must be 3 positive orthorhombic lengths, got {box}")
    if not np.all(np.isfinite(pos)):
        raise InputError(
            "positions contain NaN or inf; check the store or importer that produced them"
        )
    return pos, box


def radius_graph(
    positions: np.ndarray,
    box: np.ndarray,
    cutoff: float = DEFAULT_CUTOFF,
    *,
    all_images: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Directed periodic radius graph of one configuration.

    positions: (N, 3) in any periodic image (wrapped here); box: (3,) orthorhombic lengths.
    Returns ``edge_index`` (2, E) int64 with rows (i, j), sorted by i then j, both directions
    present and no self loops, and ``vectors`` (E, 3) float64 = r_j - r_i (nearest image).

    With ``all_images=False`` (the graph of BOTAN) the cutoff must be below half the shortest box
    side, so each pair has exactly one image within reach.  ``all_images=True`` returns every
    periodic image of every pair within ``cutoff`` (an (i, j) pair may then appear more than once,
    and i == j with a non-zero shift); use it for pair sums such as energies in small boxes.
    """
    pos, box = _check_inputs(positions, box)
    if cutoff <= 0:
        raise InputError(f"cutoff must be positive, got {cutoff}")
    if not all_images and cutoff >= 0.5 * box.min():
        raise InputError(
            f"cutoff {cutoff:g} is not below half the shortest box side {box.min():g}: the minimum "
            "image is not unique; use a larger system, a smaller cutoff or all_images=True"
        )
    pos = wrap(pos, box)
    i, j, shifts = neighbor_pairs(pos, box, cutoff, full=True)
    D = pos[j] - pos[i] + shifts * box
    keep = np.einsum("ij,ij->i", D, D) > 1e-24  # drop i == j at zero shift (none expected)
    i, j, D = i[keep], j[keep], D[keep]
    order = np.lexsort((D[:, 2], D[:, 1], D[:, 0], j, i))
    return np.stack([i[order], j[order]]), D[order]


def pair_vectors(positions: np.ndarray, box: np.ndarray, edge_index: np.ndarray) -> np.ndarray:
    """Minimum-image vectors r_j - r_i (E, 3) float64 for given pairs ``edge_index`` (2, E).

    Use it for a second structure on the same graph (e.g. inherent-structure vectors of the
    thermal graph's pairs).
    """
    pos, box = _check_inputs(positions, box)
    ei = np.asarray(edge_index)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise InputError(f"edge_index must have shape (2, E), got {ei.shape}")
    return minimum_image(pos[ei[1]] - pos[ei[0]], box)


def node_propensity(displacements: np.ndarray) -> np.ndarray:
    """Replica mean of |d_i(t)|: (R, K, N, 3) -> (K, N), or (R, N, 3) -> (N,), float64."""
    d = np.asarray(displacements)
    if d.ndim not in (3, 4) or d.shape[-1] != 3:
        raise InputError(f"displacements must have shape (R, K, N, 3) or (R, N, 3), got {d.shape}")
    out = np.zeros(d.shape[1:-1], dtype=np.float64)
    for r in range(d.shape[0]):  # one replica at a time: memory stays O(K N)
        out += np.linalg.norm(np.asarray(d[r], dtype=np.float64), axis=-1)
    return out / d.shape[0]


def edge_targets(
    vectors0: np.ndarray, edge_index: np.ndarray, displacements: np.ndarray
) -> np.ndarray:
    """BOTAN's edge target: replica mean of |r_ij(0) + d_j - d_i| - |r_ij(0)|.

    vectors0: (E, 3) minimum-image r_ij(0) (from :func:`radius_graph` or :func:`pair_vectors`);
    edge_index: (2, E); displacements: (R, K, N, 3) unwrapped -> (E, K), or (R, N, 3) -> (E,).
    Float64.  Memory is O(E) per (replica, time): the full (R, K, E, 3) tensor is never formed.
    """
    d = np.asarray(displacements)
    r0 = np.asarray(vectors0, dtype=np.float64)
    ei = np.asarray(edge_index)
    if d.ndim not in (3, 4) or d.shape[-1] != 3:
        raise InputError(f"displacements must have shape (R, K, N, 3) or (R, N, 3), got {d.shape}")
    if r0.ndim != 2 or r0.shape[1] != 3 or ei.shape != (2, r0.shape[0]):
        raise InputError(
            f"vectors0 (E, 3) and edge_index (2, E) disagree: {r0.shape} vs {ei.shape}"
        )
    single = d.ndim == 3
    if single:
        d = d[:, None]
    R, K = d.shape[:2]
    dist0 = np.linalg.norm(r0, axis=1)
    out = np.zeros((r0.shape[0], K), dtype=np.float64)
    src, dst = ei[0], ei[1]
    for r in range(R):
        for k in range(K):
            dk = np.asarray(d[r, k], dtype=np.float64)
            out[:, k] += np.linalg.norm(r0 + dk[dst] - dk[src], axis=1)
    out = out / R - dist0[:, None]
    return out[:, 0] if single else out
