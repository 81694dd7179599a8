"""Physics-inspired local descriptors of a KA configuration (numpy), for the ridge baseline.

Per particle i (all from periodic neighbour lists, never N x N arrays):

- radial shell densities per species s: ``G_s(r_k) = sum_{j in s} exp(-(r_ij - r_k)^2 / (2 w^2))``,
  r_k = 0.8, 1.0, ..., 2.4, w = 0.1 (the "structure functions" of Cubuk et al. 2015);
- coarse-grained local density per species: neighbour counts within a = 1.2, 1.6, 2.0, 2.5;
- local potential energy ``e_i = 1/2 sum_j V_ab(r_ij)`` of the thermal and of the inherent
  structure, KA pair potential (eps AA/AB/BB = 1/1.5/0.5, sigma 1/0.8/0.88, cut at 2.5 sigma_ab,
  shifted to 0 there), and their averages over particles within 1.5 (i included);
- TS-to-IS displacement |r_i^IS - r_i^TS| (minimum image) and its average within 1.5.
"""

from __future__ import annotations

import numpy as np

from glassdyn.data.box import minimum_image
from glassdyn.data.graph import radius_graph

KA_EPSILON = np.array([[1.0, 1.5], [1.5, 0.5]])
KA_SIGMA = np.array([[1.0, 0.8], [0.8, 0.88]])
KA_CUTOFF = 2.5  # in units of sigma_ab
SHELLS = np.arange(0.8, 2.41, 0.2)
SHELL_WIDTH = 0.1
COUNT_RADII = (1.2, 1.6, 2.0, 2.5)
CG_RADIUS = 1.5
R_MAX = 2.5  # largest radius any descriptor needs (2.5 sigma_AA)


def _pairs(positions: np.ndarray, box: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Directed pairs within ``cutoff`` and their distances; every periodic image in small boxes."""
    all_images = cutoff >= 0.5 * float(np.min(box))
    ei, vec = radius_graph(positions, box, cutoff, all_images=all_images)
    return ei, np.linalg.norm(vec, axis=1)


def ka_pair_energy(r: np.ndarray, ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
    """KA pair energy V_ab(r), truncated at 2.5 sigma_ab and shifted: r (P,), types (P,) -> (P,)."""
    eps = KA_EPSILON[ti, tj]
    sig = KA_SIGMA[ti, tj]
    rc = KA_CUTOFF * sig
    sr6 = (sig / r) ** 6
    src6 = (1.0 / KA_CUTOFF) ** 6
    v = 4 * eps * (sr6 * sr6 - sr6) - 4 * eps * (src6 * src6 - src6)
    return np.where(r < rc, v, 0.0)


def ka_particle_energy(positions: np.ndarray, types: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Potential energy per particle (N,) of the KA mixture, ``e_i = 1/2 sum_j V(r_ij)``."""
    ei, r = _pairs(positions, box, KA_CUTOFF * KA_SIGMA.max())
    t = np.asarray(types, dtype=np.int64)
    v = ka_pair_energy(r, t[ei[0]], t[ei[1]])
    return 0.5 * np.bincount(ei[0], weights=v, minlength=len(t))


def _cg_mean(values: np.ndarray, ei: np.ndarray, r: np.ndarray, radius: float) -> np.ndarray:
    """Average of ``values`` (N,) over i and its neighbours within ``radius``."""
    m = r < radius
    n = len(values)
    total = values + np.bincount(ei[0][m], weights=values[ei[1][m]], minlength=n)
    count = 1.0 + np.bincount(ei[0][m], minlength=n)
    return total / count


def descriptor_names(inherent: bool = True) -> list[str]:
    names = [f"G_{s}({r:.1f})" for s in "AB" for r in SHELLS]
    names += [f"n_{s}(<{a})" for s in "AB" for a in COUNT_RADII]
    names += ["e_TS", f"<e_TS>_{CG_RADIUS}"]
    if inherent:
        names += ["e_IS", f"<e_IS>_{CG_RADIUS}", "|r_IS-r_TS|", f"<|r_IS-r_TS|>_{CG_RADIUS}"]
    return names


def local_descriptors(
    positions: np.ndarray, types: np.ndarray, box: np.ndarray, inherent: np.ndarray | None = None
) -> np.ndarray:
    """Descriptor matrix (N, F) in the order of :func:`descriptor_names`; float64."""
    t = np.asarray(types, dtype=np.int64)
    N = len(t)
    ei, r = _pairs(positions, box, R_MAX)
    tj = t[ei[1]]
    cols = []
    for s in (0, 1):
        sel = tj == s
        for rk in SHELLS:
            w = np.exp(-((r[sel] - rk) ** 2) / (2 * SHELL_WIDTH**2))
            cols.append(np.bincount(ei[0][sel], weights=w, minlength=N))
    for s in (0, 1):
        for a in COUNT_RADII:
            sel = (tj == s) & (r < a)
            cols.append(np.bincount(ei[0][sel], minlength=N).astype(np.float64))
    e_ts = ka_particle_energy(positions, t, box)
    cols += [e_ts, _cg_mean(e_ts, ei, r, CG_RADIUS)]
    if inherent is not None:
        e_is = ka_particle_energy(inherent, t, box)
        dis = np.linalg.norm(
            minimum_image(
                np.asarray(inherent, np.float64) - np.asarray(positions, np.float64),
                np.asarray(box),
            ),
            axis=1,
        )
        cols += [e_is, _cg_mean(e_is, ei, r, CG_RADIUS), dis, _cg_mean(dis, ei, r, CG_RADIUS)]
    return np.stack(cols, axis=1)
