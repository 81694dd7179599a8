"""Time-origin averaged dynamic heterogeneity of trajectories, every frame read once.

For each lag t and its pairs (origin frame i, target frame j) from :func:`lags.plan_lags`, with
dr_n = r_n(t_j) - r_n(t_i) (unwrapped) and the per-pair particle means over species s,

- Q_s(t), Fs_s(k, t), MSD_s(t): averages over the pairs; alpha2 from <dr^2> and <dr^4>;
- chi4_s(t) = N_s [<q_s^2> - <q_s>^2], the fluctuation of the overlap q_s of one pair over the
  time origins (``dynamics.susceptibility``), and the same for Fs (chi4_Fs);
- S4(q, t) = (1/N) [<|W|^2> - |<W>|^2] with W(q) = sum_n w_n exp(i q . r_n(t_i)), w the
  overlap of the pair (``fourpoint.four_point_sums``: one GEMM per origin for all its lags);
- tau_alpha where Fs_A = 1/e (``dynamics.relaxation_time``); OZ fits of S4 (chi4_OZ, xi4).

Every kernel is the one the store analysis uses (``dynamics``, ``fourpoint``, ``wavevectors``,
``ornstein_zernike``).  Errors are leave-one-block-out jackknife estimates over ``n_blocks``
contiguous blocks of time origins (neighbouring origins are correlated; blocks much longer
than tau_alpha are nearly independent).

Streaming: frames arrive in order (``compute(trajectory, first_frame, positions)``, chunks of
any size give the same result).  A frame that is an origin keeps its positions (N, 3) until its
last target has been read; a target contributes its per-pair scalars at once and its overlap
w (N bits per pair) to its origin, whose S4 is computed when the origin is complete.  Memory:
O(origins x N) positions + O(pairs x N / 8) bytes of overlaps; never O(frames^2 x N).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from glassdyn.analysis.dynamics import (
    SPECIES,
    non_gaussian,
    relaxation_time,
    self_overlap,
    self_scattering,
    susceptibility,
)
from glassdyn.analysis.fourpoint import four_point_sums, s4_from_sums
from glassdyn.analysis.heterogeneity import HeterogeneityConfig, jsonable, s4_summary
from glassdyn.analysis.lags import LagPlan
from glassdyn.analysis.ornstein_zernike import OZFit, fit_ornstein_zernike
from glassdyn.analysis.wavevectors import wave_vectors
from glassdyn.data.errors import InputError

_FIELDS = ("q", "fs", "r2", "r4")  # per-pair particle means, per species


class TimeOriginHeterogeneity:
    """Self dynamics, chi4 and S4(q, t) averaged over time origins (see the module docstring).

    Parameters: ``plan`` (:class:`LagPlan`), ``types`` (N,) 0 = A / 1 = B, ``box`` (3,), ``config``
    (:class:`HeterogeneityConfig`: a, k, Fs mode, q_max, shells, OZ range, S4 species, dtype).
    ``compute(trajectory, first_frame, positions (n, N, 3))`` adds frames in order; results
    ``times`` (L,), ``n_origins`` (L,), ``overlap`` / ``fs`` / ``msd`` / ``alpha2`` / ``chi4`` /
    ``chi4_fs`` / ``chi4_err`` (species -> (L,)), ``tau_alpha`` / ``tau_alpha_err`` (species ->
    float), ``q`` (Q,), ``s4`` / ``s4_err`` (L, Q), ``oz_fits``, ``to_dict()``.
    """

    def __init__(self, plan: LagPlan, types: np.ndarray, box: np.ndarray, config=None):
        self.config = config or HeterogeneityConfig()
        self.plan = plan
        self.types = np.asarray(types)
        self.masks = {
            s: m
            for s, m in (("A", self.types == 0), ("B", self.types == 1), ("total", self.types >= 0))
            if m.any()
        }
        s4_mask = self.masks.get(self.config.s4_species)
        if s4_mask is None:
            raise InputError(f"no {self.config.s4_species} particles for S4")
        self._s4_mask = s4_mask
        self.wave_vectors = wave_vectors(
            box, self.config.q_max, shell_width=self.config.shell_width
        )
        self.box = self.wave_vectors.box
        P, L, B, M = plan.n_pairs, len(plan.lags), plan.n_blocks, self.wave_vectors.n_vectors
        self._pair = {s: np.full((len(_FIELDS), P), np.nan) for s in self.masks}
        self._w2 = np.zeros((B, L, M))
        self._w = np.zeros((B, L, M), dtype=np.complex128)
        self._n = np.zeros((B, L))
        self._targets, self._last, self._finish_at, self._next = {}, {}, {}, {}
        for t in np.unique(plan.trajectory):
            idx = np.flatnonzero(plan.trajectory == t)
            frames, first, count = np.unique(
                plan.target[idx], return_index=True, return_counts=True
            )
            self._targets[int(t)] = {
                int(f): idx[a : a + c] for f, a, c in zip(frames, first, count)
            }
            last = {}
            for o, j in zip(plan.origin[idx], plan.target[idx]):
                last[int(o)] = max(last.get(int(o), -1), int(j))
            self._last[int(t)] = last
            finish: dict[int, list[int]] = {}
            for o, j in last.items():
                finish.setdefault(j, []).append(o)
            self._finish_at[int(t)] = finish
            self._next[int(t)] = 0
        self._origin_pos: dict = {}
        self._weights: dict = {}
        self.frames_read = 0

    def __repr__(self) -> str:
        return (
            f"TimeOriginHeterogeneity(lags={len(self.plan.lags)}, pairs={self.plan.n_pairs}, "
            f"N={len(self.types)}, frames_read={self.frames_read})"
        )

    # ---------------------------------------------------------------------------- streaming
    def compute(self, trajectory: int, first_frame: int, positions: np.ndarray):
        """Add frames ``first_frame ..`` of ``trajectory``: positions (n, N, 3) unwrapped."""
        x = np.asarray(positions, dtype=np.float64)
        if x.ndim != 3 or x.shape[1:] != (len(self.types), 3):
            raise InputError(f"positions must be (n, {len(self.types)}, 3), got {x.shape}")
        t = int(trajectory)
        if t not in self._next:
            return self  # no pair in this trajectory
        if first_frame != self._next[t]:
            raise InputError(
                f"trajectory {t}: frames must arrive in order; expected frame {self._next[t]}, "
                f"got {first_frame}"
            )
        last = self._last[t]
        for a in range(x.shape[0]):
            f = first_frame + a
            if f in last:
                self._origin_pos[(t, f)] = x[a].copy()
                self._weights[(t, f)] = []
            idx = self._targets[t].get(f)
            if idx is not None:
                self._add_pairs(t, idx, x[a])
            for o in self._finish_at[t].get(f, ()):
                self._finish_origin(t, o)
        self._next[t] = first_frame + x.shape[0]
        self.frames_read += x.shape[0]
        return self

    def _add_pairs(self, t: int, idx: np.ndarray, x: np.ndarray) -> None:
        origins = self.plan.origin[idx]
        d = x[None] - np.stack([self._origin_pos[(t, int(o))] for o in origins])  # (m, N, 3)
        w = self_overlap(d, self.config.a)  # (m, N)
        r2 = np.einsum("mni,mni->mn", d, d)
        fs_of_k: dict[float, np.ndarray] = {}
        for s, mask in self.masks.items():
            k = float(self.config.k.get(s, 7.25))
            if k not in fs_of_k:
                fs_of_k[k] = self_scattering(d, k, mode=self.config.fs_mode)
            r2s = r2[:, mask]
            rows = (w[:, mask].mean(1), fs_of_k[k][:, mask].mean(1), r2s.mean(1), (r2s**2).mean(1))
            self._pair[s][:, idx] = np.stack(rows)
        bits = np.packbits((w > 0) & self._s4_mask, axis=1)
        for a, o in enumerate(origins):
            self._weights[(t, int(o))].append((int(idx[a]), bits[a]))

    def _finish_origin(self, t: int, o: int) -> None:
        pos = self._origin_pos.pop((t, o))
        items = self._weights.pop((t, o))
        pairs = np.array([p for p, _ in items])
        N = len(self.types)
        w = np.unpackbits(np.stack([b for _, b in items]), axis=1, count=N).astype(np.float64)
        sw2, sw, _ = four_point_sums(
            w[None], pos, self.wave_vectors, dtype=np.dtype(self.config.dtype)
        )
        lag, block = self.plan.lag[pairs], int(self.plan.block[pairs[0]])
        self._w2[block, lag] += sw2
        self._w[block, lag] += sw
        self._n[block, lag] += 1

    def _need(self) -> None:
        if self._origin_pos or any(
            self._next[t] <= max(last.values()) for t, last in self._last.items()
        ):
            raise InputError(
                f"time-origin analysis incomplete: {self.frames_read} frames read, the plan needs "
                "every frame up to its last target; add the remaining frames"
            )

    # ---------------------------------------------------------------------------- results
    @property
    def times(self) -> np.ndarray:
        return self.plan.lags

    @property
    def n_origins(self) -> np.ndarray:
        return self.plan.n_origins

    @property
    def species(self) -> list[str]:
        return [s for s in SPECIES if s in self.masks]

    def _by_lag(self, stat, keep=None) -> np.ndarray:
        """(L,) stat(pair indices of lag l) over the pairs selected by ``keep`` (P,) bool."""
        lag = self.plan.lag
        sel = np.ones(len(lag), bool) if keep is None else keep
        return np.array([stat(np.flatnonzero(sel & (lag == i))) for i in range(len(self.times))])

    def _field(self, s: str, name: str, keep=None) -> np.ndarray:
        self._need()
        v = self._pair[s][_FIELDS.index(name)]
        return self._by_lag(lambda i: v[i].mean() if len(i) else np.nan, keep)

    def _chi(self, s: str, name: str, keep=None) -> np.ndarray:
        self._need()
        v = self._pair[s][_FIELDS.index(name)]
        n = int(self.masks[s].sum())
        return self._by_lag(
            lambda i: susceptibility(v[i][:, None], n)[0] if len(i) else np.nan, keep
        )

    def _jackknife(self, stat) -> np.ndarray:
        """Leave-one-block-out jackknife error of ``stat(keep (P,) bool) -> array``."""
        return _jackknife_error(
            np.array([stat(self.plan.block != b) for b in range(self.plan.n_blocks)])
        )

    @property
    def overlap(self) -> dict[str, np.ndarray]:
        return {s: self._field(s, "q") for s in self.species}

    @property
    def fs(self) -> dict[str, np.ndarray]:
        return {s: self._field(s, "fs") for s in self.species}

    @property
    def msd(self) -> dict[str, np.ndarray]:
        return {s: self._field(s, "r2") for s in self.species}

    @property
    def alpha2(self) -> dict[str, np.ndarray]:
        return {s: non_gaussian(self._field(s, "r2"), self._field(s, "r4")) for s in self.species}

    @property
    def chi4(self) -> dict[str, np.ndarray]:
        return {s: self._chi(s, "q") for s in self.species}

    @property
    def chi4_fs(self) -> dict[str, np.ndarray]:
        return {s: self._chi(s, "fs") for s in self.species}

    @property
    def chi4_err(self) -> dict[str, np.ndarray]:
        return {s: self._jackknife(lambda keep, s=s: self._chi(s, "q", keep)) for s in self.species}

    def _tau(self, s: str, keep=None) -> float:
        return relaxation_time(self.times, np.nan_to_num(self._field(s, "fs", keep), nan=1.0))

    @property
    def tau_alpha(self) -> dict[str, float]:
        return {s: self._tau(s) for s in self.species}

    @property
    def tau_alpha_err(self) -> dict[str, float]:
        return {
            s: float(self._jackknife(lambda keep, s=s: self._tau(s, keep))) for s in self.species
        }

    @property
    def q(self) -> np.ndarray:
        return self.wave_vectors.shells

    def _s4(self, leave_out: int | None = None) -> np.ndarray:
        self._need()
        keep = np.arange(self.plan.n_blocks) != (-1 if leave_out is None else leave_out)
        n = self._n[keep].sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_vector = s4_from_sums(
                self._w2[keep].sum(0), self._w[keep].sum(0), n, int(self._s4_mask.sum())
            )
        return self.wave_vectors.shell_mean(per_vector)

    @property
    def s4(self) -> np.ndarray:
        """(L, Q) shell-averaged S4(q, t)."""
        return self._s4()

    def vector_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per half-space wave vector of ``wave_vectors``: sum over pairs of |W|^2 (L, M), of W
        (L, M) complex, and the pair counts (L,); S4 estimators other than ours start here."""
        self._need()
        return self._w2.sum(0), self._w.sum(0), self._n.sum(0)

    @property
    def s4_err(self) -> np.ndarray:
        """(L, Q) leave-one-block-out jackknife error of S4."""
        return _jackknife_error(np.array([self._s4(b) for b in range(self.plan.n_blocks)]))

    @property
    def oz_fits(self) -> list[OZFit]:
        s4, err = self.s4, self.s4_err
        return [
            fit_ornstein_zernike(
                self.q, s4[i], err[i], q_fit_max=self.config.q_fit_max, xi_max=0.5 * self.box.min()
            )
            for i in range(len(self.times))
        ]

    def to_dict(self) -> dict:
        """The layout of ``DynamicHeterogeneity.to_dict`` (chi4_iso null: no replicas), plus
        n_origins (L,) and the origin policy; NaN -> None."""
        chi4, chi4_err, chi4_fs = self.chi4, self.chi4_err, self.chi4_fs
        tau, tau_err = self.tau_alpha, self.tau_alpha_err
        overlap, fs, msd, alpha2 = self.overlap, self.fs, self.msd, self.alpha2
        species = {
            s: {
                "k": float(self.config.k.get(s, 7.25)),
                "Q": overlap[s],
                "Fs": fs[s],
                "MSD": msd[s],
                "alpha2": alpha2[s],
                "chi4": chi4[s],
                "chi4_err": chi4_err[s],
                "chi4_iso": None,
                "chi4_Fs": chi4_fs[s],
                "tau_alpha": tau[s],
                "tau_alpha_err": tau_err[s],
            }
            for s in self.species
        }
        n_origins_total = len(np.unique(self.plan.trajectory * (1 << 40) + self.plan.origin))
        return jsonable(
            {
                "times": self.times,
                "n_configs": n_origins_total,
                "n_samples": self.plan.n_pairs,
                "n_origins": self.n_origins,
                "origins": self.plan.origins,
                "n_blocks": self.plan.n_blocks,
                "config": asdict(self.config),
                "species": species,
                "s4": s4_summary(
                    self.q, 2 * self.wave_vectors.counts, self.s4, self.s4_err, self.oz_fits
                ),
            }
        )


def _jackknife_error(values: np.ndarray) -> np.ndarray:
    """sqrt((B - 1) / B sum_b (v_b - mean v)^2) over the leading axis of ``values`` (B, ...)."""
    B = values.shape[0]
    with np.errstate(invalid="ignore"):
        dev = values - values.mean(axis=0)
    return np.sqrt((B - 1) / B * np.sum(dev**2, axis=0))
