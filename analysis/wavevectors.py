"""Wave vectors of a periodic orthorhombic box, their shells, and Fourier phases (pure kernels).

The wave vectors compatible with periodic boundaries are q = 2 pi (n_x / L_x, n_y / L_y, n_z / L_z)
with integer n.  Quantities built from a real per-particle field are even in q (A(-q) = A(q)*),
so only one of each +-q pair is kept (the *half space*: first non-zero component of n positive);
shell averages over the half space equal those over the full set exactly.

The phases exp(i q . r) of all N particles and M wave vectors are built from per-axis powers:
exp(i q . r) = e_x^{n_x} (e_y^{n_y} e_z^{n_z}) with e_a = exp(2 pi i r_a / L_a), i.e. 3 N (2 n_max + 1)
complex exponentials, one product per distinct (n_y, n_z) and one per (particle, wave vector),
instead of N M exponentials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from glassdyn.data.errors import InputError


@dataclass(frozen=True)
class WaveVectors:
    """The half-space wave vectors of one box up to ``q_max``, grouped into shells.

    n: (M, 3) int64 integer components; q: (M, 3) float64 in 1/sigma; norm: (M,) |q|;
    shell: (M,) int64 index of each vector's shell; shells: (S,) mean |q| of each shell
    (ascending); counts: (S,) number of half-space vectors per shell (the full set has twice as
    many); box: (3,) the box they belong to.
    """

    n: np.ndarray
    q: np.ndarray
    norm: np.ndarray
    shell: np.ndarray
    shells: np.ndarray
    counts: np.ndarray
    box: np.ndarray

    @property
    def n_vectors(self) -> int:
        return int(self.n.shape[0])

    @property
    def n_shells(self) -> int:
        return int(self.shells.shape[0])

    def shell_mean(self, values: np.ndarray) -> np.ndarray:
        """Average (..., M) per-vector values over each shell -> (..., S)."""
        values = np.asarray(values)
        onehot = np.zeros((self.n_vectors, self.n_shells))
        onehot[np.arange(self.n_vectors), self.shell] = 1.0
        return (values @ onehot) / self.counts


def wave_vectors(
    box: np.ndarray, q_max: float, *, shell_width: float | None = None, q_min: float = 0.0
) -> WaveVectors:
    """All half-space wave vectors 0 < |q| <= ``q_max`` of an orthorhombic ``box`` (3,).

    Shells: vectors with the same |q| (to 1e-9 relative) form a shell when ``shell_width`` is None
    (exact for cubic boxes); otherwise |q| is binned into bins of that width starting at the
    smallest |q|.  Raises InputError when no wave vector fits (``q_max`` below the first shell).
    """
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (3,) or not np.all(box > 0):
        raise InputError(f"box must be 3 positive lengths, got {box}")
    q_first = 2 * np.pi / box.max()
    if not q_max >= q_first * (1 - 1e-12):
        raise InputError(
            f"q_max={q_max:g} is below the first wave-vector shell 2 pi / L = {q_first:.4g} "
            f"of box {box.tolist()}; use q_max >= {q_first:.4g}"
        )
    n_max = np.floor(q_max * box / (2 * np.pi) + 1e-9).astype(np.int64)
    axes = [np.arange(-m, m + 1) for m in n_max]
    n = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    half = (
        (n[:, 0] > 0)
        | ((n[:, 0] == 0) & (n[:, 1] > 0))
        | ((n[:, 0] == 0) & (n[:, 1] == 0) & (n[:, 2] > 0))
    )
    n = n[half]
    q = 2 * np.pi * n / box
    norm = np.linalg.norm(q, axis=1)
    keep = (norm <= q_max * (1 + 1e-12)) & (norm > q_min)
    n, q, norm = n[keep], q[keep], norm[keep]
    if len(n) == 0:
        raise InputError(f"no wave vector with {q_min:g} < |q| <= {q_max:g} in box {box.tolist()}")
    order = np.lexsort((n[:, 2], n[:, 1], n[:, 0], norm))
    n, q, norm = n[order], q[order], norm[order]
    if shell_width is None:
        key = np.round(norm / norm[0] * 1e9).astype(np.int64)  # exact ties within 1e-9
        _, shell = np.unique(key, return_inverse=True)
    else:
        if not shell_width > 0:
            raise InputError(f"shell_width must be positive, got {shell_width}")
        raw = np.floor((norm - norm[0]) / shell_width + 1e-9).astype(np.int64)
        _, shell = np.unique(raw, return_inverse=True)
    shell = shell.reshape(-1).astype(np.int64)
    counts = np.bincount(shell)
    shells = np.bincount(shell, weights=norm) / counts
    return WaveVectors(n, q, norm, shell, shells, counts, box)


def column_blocks(n_rows: int, n_cols: int, max_elements: int = 1 << 23) -> list[slice]:
    """Slices of the M wave vectors so that an (N, block) phase matrix stays below ``max_elements``."""
    step = max(1, max_elements // max(n_rows, 1))
    return [slice(i, min(i + step, n_cols)) for i in range(0, n_cols, step)]


def fourier_phases(
    positions: np.ndarray, wv: WaveVectors, *, dtype=np.complex128, columns: slice | None = None
) -> np.ndarray:
    """exp(i q_m . r_j) for positions (N, 3) and the M vectors of ``wv`` -> (N, M) ``dtype``.

    Built from per-axis powers (see the module docstring); periodic, so positions may be
    wrapped or not.  ``columns`` restricts to a block of the vectors (see :func:`column_blocks`).
    """
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise InputError(f"positions must have shape (N, 3), got {pos.shape}")
    n = wv.n if columns is None else wv.n[columns]
    powers = []
    for a in range(3):
        m = int(np.abs(n[:, a]).max())
        # e_a^k for k = -m..m; exp of the exact phase (no error growth from repeated products)
        powers.append(
            (m, np.exp(1j * (2 * np.pi / wv.box[a]) * pos[:, a : a + 1] * np.arange(-m, m + 1)))
        )  # (N, 2m+1)
    (mx, ex), (my, ey), (mz, ez) = powers
    # y-z factor for each distinct (n_y, n_z) pair (few hundred), then one gather-multiply with x
    yz, inverse = np.unique(n[:, 1:], axis=0, return_inverse=True)
    eyz = np.take(ey, yz[:, 0] + my, axis=1) * np.take(ez, yz[:, 1] + mz, axis=1)  # (N, P)
    out = np.empty((pos.shape[0], n.shape[0]), dtype=dtype)
    # np.take is ~3x faster than fancy indexing ex[:, idx] for this column gather
    np.multiply(
        np.take(ex, n[:, 0] + mx, axis=1),
        np.take(eyz, inverse.reshape(-1), axis=1),
        out=out,
        casting="same_kind",
    )
    return out


def collective_amplitudes(
    weights: np.ndarray, phases: np.ndarray, *, dtype=np.float64
) -> np.ndarray:
    """W(q) = sum_j w_j exp(i q . r_j) for many fields sharing one configuration.

    weights (..., N) real; phases (N, M) complex from :func:`fourier_phases`.  Returns (..., M)
    complex.  One real GEMM of (prod(...), N) x (N, 2M) on a float view of the phases; ``dtype``
    float32 halves the time at ~1e-6 relative accuracy.
    """
    w = np.asarray(weights)
    lead = w.shape[:-1]
    N, M = phases.shape
    cdtype = np.complex64 if np.dtype(dtype) == np.float32 else np.complex128
    E = np.ascontiguousarray(phases, dtype=cdtype).view(
        np.dtype(dtype)
    )  # (N, 2M): re, im interleaved
    W = np.ascontiguousarray(w.reshape(-1, N), dtype=dtype) @ E  # (P, 2M)
    return W.view(cdtype).reshape(*lead, M)
