"""The four-point dynamic structure factor S4(q, t) for every stored time at once.

    S4(q, t) = (1/N) [ <|W(q, t)|^2> - |<W(q, t)>|^2 ],   W(q, t) = sum_j w_j(t) exp(i q . r_j(0)),

averaged over samples (configurations x replicas) and then over the wave vectors of each shell
|q| (Lacevic, Starr, Schroder, Glotzer, J. Chem. Phys. 119, 7372 (2003); Toninelli et al.,
Phys. Rev. E 71, 041505 (2005)).  w_j(t) is a real per-particle field: the self overlap
Theta(a - |r_j(t) - r_j(0)|) of one replica, or a propensity / predicted mobility field.  At q = 0,
W = N q(t) and S4 = chi4; S4(q -> 0) approaches chi4 when density fluctuations are small.

Fast path: per configuration the (S K, N) weights of all S samples (replicas share r(0)) and K
times multiply the (N, M) phases exp(i q . r(0)) in ONE real matrix product: the phases are stored
as complex and viewed as an (N, 2M) real matrix, so W = w @ view(E) costs 2 S K N M
real multiply-adds (half a complex product, because w is real).  Only half of the +-q pairs are
used (S4 is even in q).  Phases are built from per-axis powers (``wavevectors.fourier_phases``).
"""

from __future__ import annotations

import numpy as np
from glassdyn.analysis.wavevectors import (
    WaveVectors,
    collective_amplitudes,
    column_blocks,
    fourier_phases,
    wave_vectors,
)
from glassdyn.data.errors import InputError


def _check_weights(weights: np.ndarray, n: int) -> np.ndarray:
    w = np.asarray(weights)
    if np.iscomplexobj(w):
        raise InputError("S4 weights must be a real per-particle field")
    if w.shape[-1] != n:
        raise InputError(f"weights have {w.shape[-1]} particles, positions have {n}")
    if not np.all(np.isfinite(w)):
        raise InputError("S4 weights contain NaN or inf; check the displacements / mobility field")
    return w


def four_point_sums(
    weights: np.ndarray, positions: np.ndarray, wv: WaveVectors, *, dtype=np.float64
):
    """Per-vector sums over the samples of ONE configuration (the accumulation unit).

    weights (S, K, N): S samples (e.g. replicas) of the field at K times; positions (N, 3) r(0).
    Returns (sum_s |W|^2 (K, M) float64, sum_s W (K, M) complex128, S).
    """
    w = _check_weights(weights, positions.shape[0])
    if w.ndim != 3:
        raise InputError(f"weights of one configuration must be (S, K, N), got {w.shape}")
    cdtype = np.complex64 if np.dtype(dtype) == np.float32 else np.complex128
    S, K, N = w.shape
    sum_w2 = np.empty((K, wv.n_vectors))
    sum_w = np.empty((K, wv.n_vectors), dtype=np.complex128)
    for cols in column_blocks(N, wv.n_vectors):  # bounded memory for large q_max
        E = fourier_phases(positions, wv, dtype=cdtype, columns=cols)
        W = collective_amplitudes(w, E, dtype=dtype).astype(np.complex128)  # (S, K, m)
        sum_w2[:, cols] = (W.real**2 + W.imag**2).sum(axis=0)
        sum_w[:, cols] = W.sum(axis=0)
    return sum_w2, sum_w, S


def s4_from_sums(
    sum_w2: np.ndarray,
    sum_w: np.ndarray,
    n_samples,
    n_particles: int,
    *,
    subtract_mean: bool = True,
) -> np.ndarray:
    """S4 per wave vector from the sums of :func:`four_point_sums` over ``n_samples`` samples.

    sum_w2 (..., M) sum of |W|^2, sum_w (..., M) complex sum of W, n_samples scalar or (...,)
    broadcastable with a trailing axis: (1/N) [<|W|^2> - |<W>|^2] (the second term only when
    ``subtract_mean``).
    """
    n = np.asarray(n_samples, dtype=np.float64)
    if n.ndim:
        n = n[..., None]
    if not subtract_mean:
        return sum_w2 / n / n_particles
    mean_w = sum_w / n
    return (sum_w2 / n - (mean_w.real**2 + mean_w.imag**2)) / n_particles


def s4(
    weights: np.ndarray,
    positions: np.ndarray,
    box: np.ndarray,
    *,
    q_max: float = 2.5,
    shell_width: float | None = None,
    dtype=np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """S4(q, t) of a field, shell-averaged; the pure-function form of :class:`FourPoint`.

    weights (C, S, K, N) real (S samples per configuration sharing positions; pass (C, K, N) for
    one sample per configuration); positions (C, N, 3) r(0); box (3,).  Returns q (Q,) shell
    centres in 1/sigma and S4 (K, Q).
    """
    fp = FourPoint(box, q_max=q_max, shell_width=shell_width, dtype=dtype)
    w = np.asarray(weights)
    if w.ndim == 3:
        w = w[:, None]
    fp.compute(w, positions)
    return fp.q, fp.s4


def s4_bruteforce(
    weights: np.ndarray,
    positions: np.ndarray,
    box: np.ndarray,
    *,
    q_max: float = 2.5,
    subtract_mean: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain reference for :func:`s4`: explicit loops over configurations and ALL wave vectors.

    Same shapes as :func:`s4`.  Enumerates every integer vector n (both signs) with
    0 < |q| <= q_max, computes exp(i q . r) directly, averages per |q| value.  O(C M N S K); for
    tests and the benchmark's reference timing only.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 3:
        w = w[:, None]
    pos = np.asarray(positions, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    C, S, K, N = w.shape
    n_max = np.floor(q_max * box / (2 * np.pi) + 1e-9).astype(int)
    vectors = []
    for nx in range(-n_max[0], n_max[0] + 1):
        for ny in range(-n_max[1], n_max[1] + 1):
            for nz in range(-n_max[2], n_max[2] + 1):
                q = 2 * np.pi * np.array([nx, ny, nz]) / box
                if 0 < np.linalg.norm(q) <= q_max * (1 + 1e-12):
                    vectors.append(q)
    per_vector = []
    for q in vectors:
        sum_w2 = np.zeros(K)
        sum_w = np.zeros(K, dtype=complex)
        for c in range(C):
            e = np.exp(1j * (pos[c] @ q))  # (N,)
            for s in range(S):
                Wq = w[c, s] @ e  # (K,)
                sum_w2 += np.abs(Wq) ** 2
                sum_w += Wq
        n = C * S
        disconnected = np.abs(sum_w / n) ** 2 if subtract_mean else 0.0
        per_vector.append((sum_w2 / n - disconnected) / N)
    norms = np.array([np.linalg.norm(q) for q in vectors])
    key = np.round(norms / norms.min() * 1e9).astype(np.int64)
    uniq = np.unique(key)
    per_vector = np.array(per_vector)  # (M, K)
    out = np.stack([per_vector[key == k].mean(axis=0) for k in uniq], axis=1)  # (K, Q)
    q_shell = np.array([norms[key == k].mean() for k in uniq])
    return q_shell, out


class FourPoint:
    """S4(q, t) accumulated over configurations (chunks of any size give the one-pass result).

    Parameters: box (3,) orthorhombic lengths shared by every configuration; ``q_max`` (1/sigma);
    ``shell_width`` None = exact |q| shells; ``dtype`` float64 (exact) or float32 (fast);
    ``n_particles`` the normalisation N (default: the N of the weights; set it to N_A with weights
    zero on B particles for a species-resolved S4).

    ``compute(weights (C, S, K, N), positions (C, N, 3))`` adds configurations; results:
    ``q`` (Q,), ``s4`` (K, Q), ``s4_err`` (K, Q) delete-one-configuration jackknife standard error
    of the shell-averaged S4, disconnected term included (NaN with fewer than 2 configurations;
    replicas of one configuration are one block since they share r(0); keeps one (K, M) complex
    sum per configuration), ``s4_vectors`` (K, M) before shell averaging, ``n_samples``.
    """

    def __init__(
        self,
        box: np.ndarray,
        *,
        q_max: float = 2.5,
        shell_width: float | None = None,
        dtype=np.float64,
        n_particles: int | None = None,
        subtract_mean: bool = True,
    ):
        self.subtract_mean = bool(subtract_mean)
        self.wave_vectors = wave_vectors(box, q_max, shell_width=shell_width)
        self.box = self.wave_vectors.box
        self.q_max = float(q_max)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise InputError(f"dtype must be float32 or float64, got {self.dtype}")
        self.n_particles = n_particles
        self.reset()

    def __repr__(self) -> str:
        return f"FourPoint(box={self.box.tolist()}, q_max={self.q_max}, vectors={self.wave_vectors.n_vectors}, shells={self.wave_vectors.n_shells}, samples={self.n_samples})"

    def reset(self) -> FourPoint:
        self._sum_w2 = None
        self._sum_w = None
        # per configuration (jackknife): shell mean of sum_s |W|^2 (K, Q), sum_s W (K, M), S
        self._blocks_w2: list[np.ndarray] = []
        self._blocks_w: list[np.ndarray] = []
        self._blocks_n: list[int] = []
        self.n_samples = 0
        self.n_configs = 0
        self._N = None
        return self

    def compute(
        self, weights: np.ndarray, positions: np.ndarray, box: np.ndarray | None = None
    ) -> FourPoint:
        """Add configurations: weights (C, S, K, N) or (S, K, N) for one; positions (C, N, 3) or (N, 3)."""
        w = np.asarray(weights)
        pos = np.asarray(positions)
        if pos.ndim == 2:
            pos, w = pos[None], w[None]
        if w.ndim != 4 or pos.ndim != 3 or w.shape[0] != pos.shape[0]:
            raise InputError(
                f"expected weights (C, S, K, N) and positions (C, N, 3), got {w.shape} and {pos.shape}"
            )
        if box is not None:
            bx = np.broadcast_to(np.asarray(box, dtype=np.float64), (pos.shape[0], 3))
            if not np.allclose(bx, self.box, rtol=1e-6, atol=0):
                raise InputError(
                    f"S4 accumulates one box {self.box.tolist()}; got {bx[0].tolist()} (split the data by box)"
                )
        if not np.all(np.isfinite(pos)):
            raise InputError("positions contain NaN or inf")
        N = self.n_particles or w.shape[-1]
        if self._N is not None and self._N != N:
            raise InputError(f"cannot mix N={N} with previously added N={self._N}")
        self._N = N
        for c in range(pos.shape[0]):
            sw2, sw, n = four_point_sums(w[c], pos[c], self.wave_vectors, dtype=self.dtype)
            if self._sum_w2 is None:
                K, M = sw2.shape
                self._sum_w2 = np.zeros((K, M))
                self._sum_w = np.zeros((K, M), dtype=np.complex128)
            elif sw2.shape != self._sum_w2.shape:
                raise InputError(
                    f"number of times changed from {self._sum_w2.shape[0]} to {sw2.shape[0]}"
                )
            self._sum_w2 += sw2
            self._sum_w += sw
            self._blocks_w2.append(self.wave_vectors.shell_mean(sw2))
            if self.subtract_mean:
                self._blocks_w.append(sw)
            self._blocks_n.append(n)
            self.n_samples += n
            self.n_configs += 1
        return self

    def _need(self):
        if self.n_samples == 0:
            raise InputError("FourPoint has no data: call compute(...) first")

    @property
    def q(self) -> np.ndarray:
        """(Q,) shell centres |q| in 1/sigma."""
        return self.wave_vectors.shells

    @property
    def s4_vectors(self) -> np.ndarray:
        """(K, M) S4 per half-space wave vector."""
        self._need()
        return s4_from_sums(
            self._sum_w2, self._sum_w, self.n_samples, self._N, subtract_mean=self.subtract_mean
        )

    @property
    def s4(self) -> np.ndarray:
        """(K, Q) shell-averaged S4(q, t)."""
        return self.wave_vectors.shell_mean(self.s4_vectors)

    @property
    def s4_err(self) -> np.ndarray:
        """(K, Q) jackknife standard error of S4: sqrt((C-1)/C sum_i (S4_(i) - mean_i S4_(i))^2)
        with S4_(i) the shell-averaged S4 without configuration i (NaN below 2 configurations)."""
        self._need()
        C = self.n_configs
        if C < 2:
            return np.full((self._sum_w2.shape[0], self.wave_vectors.n_shells), np.nan)
        n_rest = self.n_samples - np.asarray(self._blocks_n, dtype=np.float64)[:, None, None]
        rest = (self.wave_vectors.shell_mean(self._sum_w2) - np.stack(self._blocks_w2)) / n_rest
        if self.subtract_mean:
            mean_w = (self._sum_w - np.stack(self._blocks_w)) / n_rest  # (C, K, M)
            rest = rest - self.wave_vectors.shell_mean(mean_w.real**2 + mean_w.imag**2)
        rest = rest / self._N  # (C, K, Q) leave-one-out S4
        return np.sqrt((C - 1) / C * np.sum((rest - rest.mean(axis=0)) ** 2, axis=0))
