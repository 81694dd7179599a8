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
        raise InputError(
            f"positions must have shape (N, 3) or (M, N, 3), got {np.shape(positions)}"
        )
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


def pair_distances(
    positions: np.ndarray, box: np.ndarray, r_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    rdf = RadialDistribution(r_max=r_max, bins=bins).compute(positions, types, box)
    return rdf.r, rdf.g


def partial_structure_factor(
    positions: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    *,
    q_max: float = 12.0,
    shell_width: float | None = 0.1,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Partial static structure factors on the wave vectors of the periodic box, shell-averaged.

    positions (M, N, 3) or (N, 3); types (N,) or (M, N); box (3,) shared by all frames.
    Ashcroft-Langreth normalisation, with rho_a(q) = sum_{j in a} exp(i q . r_j):

        S_ab(q) = < Re rho_a(q) rho_b(q)^* > / sqrt(N_a N_b),   S(q) = < |rho(q)|^2 > / N,

    so an ideal gas gives S_AA = S_BB = S = 1 and S_AB = 0 (q != 0).  Returns q (Q,) shell centres
    (1/sigma; ``shell_width`` bins, None = exact |q| shells) and {"AA", "AB", "BB", "total"} -> (Q,).
    """
    sf = StructureFactor(box, q_max=q_max, shell_width=shell_width).compute(positions, types)
    return sf.q, sf.result


class RadialDistribution:
    """Partial g(r) accumulated over frames (any chunking equals one pass).

    Parameters ``r_max`` (sigma), ``bins``.  ``compute(positions, types, box)`` with the shapes of
    :func:`partial_rdf`; results ``r`` (B,), ``g`` {"AA", "AB", "BB", "total"} -> (B,), ``n_frames``.
    """

    def __init__(self, *, r_max: float = 3.0, bins: int = 150):
        if not (r_max > 0 and bins >= 1):
            raise InputError(f"need r_max > 0 and bins >= 1, got r_max={r_max}, bins={bins}")
        self.r_max, self.bins = float(r_max), int(bins)
        self.edges = np.linspace(0.0, self.r_max, self.bins + 1)
        self.reset()

    def __repr__(self) -> str:
        return f"RadialDistribution(r_max={self.r_max}, bins={self.bins}, frames={self.n_frames})"

    def reset(self) -> RadialDistribution:
        self._counts = {k: np.zeros(self.bins) for k in PAIRS}
        self._expect = {k: np.zeros(self.bins) for k in PAIRS}
        self.n_frames = 0
        return self

    def compute(
        self, positions: np.ndarray, types: np.ndarray, box: np.ndarray
    ) -> RadialDistribution:
        pos, typ, bx = _frames(positions, types, box)
        shell = 4.0 / 3.0 * np.pi * np.diff(self.edges**3)
        for m in range(pos.shape[0]):
            i, j, d = pair_distances(pos[m], bx[m], self.r_max)
            kind = typ[m][i] + typ[m][j]  # 0 = AA, 1 = AB, 2 = BB
            b = np.minimum((d / self.r_max * self.bins).astype(np.int64), self.bins - 1)
            hist = np.bincount(kind * self.bins + b, minlength=3 * self.bins).reshape(3, self.bins)
            n_a = int(np.sum(typ[m] == 0))
            n_b = typ.shape[1] - n_a
            n = n_a + n_b
            pairs = {
                "AA": n_a * (n_a - 1) / 2,
                "AB": n_a * n_b,
                "BB": n_b * (n_b - 1) / 2,
                "total": n * (n - 1) / 2,
            }
            volume = float(np.prod(bx[m]))
            for k, h in zip(("AA", "AB", "BB"), hist):
                self._counts[k] += h
            self._counts["total"] += hist.sum(axis=0)
            for k in PAIRS:
                self._expect[k] += pairs[k] * shell / volume
            self.n_frames += 1
        return self

    @property
    def r(self) -> np.ndarray:
        """(B,) bin centres, sigma."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def g(self) -> dict[str, np.ndarray]:
        if self.n_frames == 0:
            raise InputError("RadialDistribution has no data: call compute(...) first")
        out = {}
        for k in PAIRS:
            e = self._expect[k]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k] = np.where(e > 0, self._counts[k] / np.where(e > 0, e, 1.0), np.nan)
        return out


class StructureFactor:
    """Partial S(q) (Ashcroft-Langreth, see :func:`partial_structure_factor`) over frames of one box.

    Parameters: box (3,), ``q_max`` (1/sigma), ``shell_width`` (None = exact |q| shells).
    ``compute(positions (M, N, 3) or (N, 3), types)`` accumulates; results ``q`` (Q,), ``result``
    dict of (Q,) arrays, ``s_vectors`` dict of (V,) per half-space vector, ``n_frames``.
    """

    def __init__(self, box: np.ndarray, *, q_max: float = 12.0, shell_width: float | None = 0.1):
        from glassdyn.analysis.wavevectors import wave_vectors

        self.wave_vectors = wave_vectors(box, q_max, shell_width=shell_width)
        self.box = self.wave_vectors.box
        self.reset()

    def __repr__(self) -> str:
        return f"StructureFactor(box={self.box.tolist()}, vectors={self.wave_vectors.n_vectors}, frames={self.n_frames})"

    def reset(self) -> StructureFactor:
        self._sums = {k: np.zeros(self.wave_vectors.n_vectors) for k in PAIRS}
        self.n_frames = 0
        return self

    def compute(self, positions: np.ndarray, types: np.ndarray) -> StructureFactor:
        from glassdyn.analysis.wavevectors import (
            collective_amplitudes,
            column_blocks,
            fourier_phases,
        )

        pos, typ, _ = _frames(positions, types, self.box)
        wv = self.wave_vectors
        for m in range(pos.shape[0]):
            masks = np.stack([typ[m] == 0, typ[m] == 1]).astype(np.float64)  # (2, N)
            n_a, n_b = masks.sum(axis=1)
            for cols in column_blocks(pos.shape[1], wv.n_vectors):
                ra, rb = collective_amplitudes(
                    masks, fourier_phases(pos[m], wv, columns=cols)
                )  # (2, V)
                with np.errstate(invalid="ignore", divide="ignore"):
                    self._sums["AA"][cols] += np.abs(ra) ** 2 / n_a
                    self._sums["BB"][cols] += np.abs(rb) ** 2 / n_b
                    self._sums["AB"][cols] += (ra * rb.conj()).real / np.sqrt(n_a * n_b)
                self._sums["total"][cols] += np.abs(ra + rb) ** 2 / (n_a + n_b)
            self.n_frames += 1
        return self

    @property
    def q(self) -> np.ndarray:
        return self.wave_vectors.shells

    @property
    def s_vectors(self) -> dict[str, np.ndarray]:
        if self.n_frames == 0:
            raise InputError("StructureFactor has no data: call compute(...) first")
        return {k: v / self.n_frames for k, v in self._sums.items()}

    @property
    def result(self) -> dict[str, np.ndarray]:
        return {k: self.wave_vectors.shell_mean(v) for k, v in self.s_vectors.items()}


def state_structure(
    sp,
    configs=None,
    *,
    which: str = "thermal",
    r_max: float = 3.0,
    dr: float = 0.02,
    q_max: float = 12.0,
    dq: float = 0.1,
) -> dict:
    """Partial g(r) and S(q) of a store state point (``glassdyn.data.store.StatePoint``).

    ``which`` "thermal" or "inherent" positions; ``configs`` indices (None = all completed).
    ``r_max`` is capped below half the smallest box side; S(q) uses the configurations whose box
    equals the first one's.  Returns {"r" (B,), "g" {pair: (B,)}, "q" (Q,), "S" {pair: (Q,)},
    "n_frames", "which"}.
    """
    from glassdyn.data import keys

    path = {"thermal": keys.THERMAL_POSITIONS, "inherent": keys.INHERENT_POSITIONS}.get(which)
    if path is None:
        raise InputError(f"which must be 'thermal' or 'inherent', got {which!r}")
    idx = sp.completed if configs is None else np.asarray(configs, dtype=np.int64).ravel()
    if len(idx) == 0:
        raise InputError(f"{sp.store_path}/{sp.name}: no completed configuration")
    boxes = sp.read(keys.BOX, idx)
    r_max = min(r_max, 0.999 * float(boxes.min()) / 2)
    rdf = RadialDistribution(r_max=r_max, bins=max(1, round(r_max / dr)))
    sf = StructureFactor(boxes[0], q_max=q_max, shell_width=dq)
    for c, box in zip(idx, boxes):
        pos, typ = sp.read(path, int(c)), sp.read(keys.TYPES, int(c))
        rdf.compute(pos, typ, box)
        if np.allclose(box, sf.box):
            sf.compute(pos, typ)
    return {
        "r": rdf.r,
        "g": rdf.g,
        "q": sf.q,
        "S": sf.result,
        "n_frames": rdf.n_frames,
        "which": which,
    }
