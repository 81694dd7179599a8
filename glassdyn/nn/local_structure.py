"""Per-particle structural descriptors of one configuration: pure numpy kernels on pair lists.

Every kernel takes a periodic pair list from :func:`pairs` (directed pairs (i, j), both
directions, vectors r_j - r_i and distances; every periodic image within the cutoff, so small
boxes are exact) and returns one row per particle; nothing forms an N x N array and no Python
loop runs over particles.

- :func:`radial_densities`: G_i^s(r_k) = sum_{j of species s} exp(-(r_ij - r_k)^2 / (2 w^2)),
  per species s and shell r_k (Behler-Parrinello / Cubuk radial structure functions);
- :func:`bond_order`: Steinhardt's q_l(i) = sqrt(4 pi / (2l + 1) sum_m |q_lm(i)|^2),
  q_lm(i) = (1 / n_i) sum_{j: r_ij < r_b} Y_lm(r_ij / |r_ij|), l = 1 .. l_max;
- :func:`particle_energy`: e_i = 1/2 sum_j V_ab(r_ij), the KA potential of
  :mod:`glassdyn.simulate.ka` (truncated and shifted at 2.5 sigma_ab);
- :func:`coarse_grain`: x_bar_i(a) = sum_j w_ij x_j / sum_j w_ij with w_ij = exp(-r_ij / a) for
  r_ij < c a, the particle itself included with w = 1 (Boattini, Smallenburg, Filion, PRL 127,
  088007 (2021), first-generation averages).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import sph_harm_y

from glassdyn.data.box import wrap
from glassdyn.data.neighbors import neighbor_pairs
from glassdyn.simulate.ka import KAParameters, pair_energy


@dataclass(frozen=True)
class Pairs:
    """Directed periodic pairs of one configuration: ``i``, ``j`` (P,) int64, ``vectors`` (P, 3)
    r_j - r_i, ``r`` (P,) distances, ``n`` particles."""

    i: np.ndarray
    j: np.ndarray
    vectors: np.ndarray
    r: np.ndarray
    n: int

    def within(self, cutoff: float) -> Pairs:
        m = self.r < cutoff
        return Pairs(self.i[m], self.j[m], self.vectors[m], self.r[m], self.n)


def pairs(positions: np.ndarray, box: np.ndarray, cutoff: float) -> Pairs:
    """All directed pairs within ``cutoff``, every periodic image (vesin cell list, unsorted)."""
    box = np.asarray(box, dtype=np.float64)
    pos = wrap(np.asarray(positions, dtype=np.float64), box)
    i, j, shifts = neighbor_pairs(pos, box, cutoff, full=True)
    vec = pos[j] - pos[i] + shifts * box
    r = np.sqrt(np.einsum("ij,ij->i", vec, vec))
    keep = r > 1e-12  # i == j at zero shift (none expected)
    return Pairs(i[keep], j[keep], vec[keep], r[keep], len(pos))


def radial_densities(p: Pairs, types: np.ndarray, shells: np.ndarray, width: float) -> np.ndarray:
    """(N, 2 S): G^A(r_1..r_S) then G^B(r_1..r_S) for shells (S,) of Gaussian ``width``."""
    t = np.asarray(types, dtype=np.int64)
    shells = np.asarray(shells, dtype=np.float64)
    q = p.within(float(shells.max()) + 5 * width)  # beyond: exp(-12.5) < 4e-6 of a shell
    out = np.zeros((p.n, 2, len(shells)))
    w = np.exp(-((q.r[:, None] - shells[None, :]) ** 2) / (2 * width**2))  # (P, S)
    for s in (0, 1):
        m = t[q.j] == s
        _scatter_rows(out[:, s], q.i[m], w[m])
    return out.reshape(p.n, -1)


def _scatter_rows(out: np.ndarray, index: np.ndarray, rows: np.ndarray) -> None:
    """out[index[k]] += rows[k] for (P, F) rows, column by column with bincount (fast)."""
    for f in range(rows.shape[1]):
        out[:, f] += np.bincount(index, weights=rows[:, f], minlength=out.shape[0])


def bond_order(p: Pairs, l_max: int, cutoff: float) -> np.ndarray:
    """(N, l_max) Steinhardt q_1 .. q_lmax over the neighbours within ``cutoff`` (0 if none)."""
    q = p.within(cutoff)
    n = np.bincount(q.i, minlength=p.n).astype(np.float64)
    u = q.vectors / q.r[:, None]
    theta = np.arccos(np.clip(u[:, 2], -1.0, 1.0))  # polar angle
    phi = np.arctan2(u[:, 1], u[:, 0])  # azimuth
    inv_n = np.divide(1.0, n, out=np.zeros_like(n), where=n > 0)
    out = np.zeros((p.n, l_max))
    for l in range(1, l_max + 1):
        total = np.zeros(p.n)
        for m in range(l + 1):
            y = sph_harm_y(l, m, theta, phi)
            re = np.bincount(q.i, weights=y.real, minlength=p.n) * inv_n
            im = np.bincount(q.i, weights=y.imag, minlength=p.n) * inv_n
            # |q_{l,-m}| = |q_{l,m}|: negative m counted twice
            total += (1.0 if m == 0 else 2.0) * (re * re + im * im)
        out[:, l - 1] = np.sqrt(4 * np.pi / (2 * l + 1) * total)
    return out


def particle_energy(
    p: Pairs, types: np.ndarray, params: KAParameters = KAParameters()
) -> np.ndarray:
    """(N,) KA potential energy per particle, half of each pair energy (pairs to >= r_cut needed)."""
    t = np.asarray(types, dtype=np.int64)
    q = p.within(params.max_cutoff)
    v = pair_energy(q.r, t[q.i], t[q.j], params)
    return 0.5 * np.bincount(q.i, weights=v, minlength=p.n)


def coarse_grain(values: np.ndarray, p: Pairs, length: float, cutoff: float) -> np.ndarray:
    """(N, F) averages of ``values`` (N, F) with weights exp(-r / length) for r < ``cutoff``,
    self included (weight 1)."""
    q = p.within(cutoff)
    w = np.exp(-q.r / length)
    W = sparse.csr_matrix((w, (q.i, q.j)), shape=(p.n, p.n)) + sparse.identity(p.n, format="csr")
    norm = np.asarray(W.sum(axis=1)).ravel()
    return (W @ values) / norm[:, None]
