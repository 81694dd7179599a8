"""Single-particle dynamics and the dynamic susceptibility chi4 (pure kernels + a compute object).

For unwrapped displacements dr_j(t) = r_j(t) - r_j(0) (LJ units: lengths in sigma_AA, times in
sqrt(m sigma^2 / eps)):

- self overlap           w_j(t) = Theta(a - |dr_j(t)|),  Q(t) = < (1/N) sum_j w_j(t) >,  a = 0.3
- self intermediate scattering function  Fs(k, t) = < (1/N) sum_j exp(i k . dr_j(t)) >; the
  orientational average of exp(i k . dr) is sin(k dr)/(k dr) ("isotropic", exact for an
  isotropic system), or the average over the three box axes of cos(k dx_a) ("axes", as in many
  MD codes).  k = 7.25 (A) and 5.75 (B), near the main peaks of S_AA and S_BB (Kob & Andersen,
  Phys. Rev. E 51, 4626 (1995)).
- MSD <dr^2>, non-Gaussian parameter alpha2 = 3 <dr^4> / (5 <dr^2>^2) - 1.
- chi4(t) = N [ <q(t)^2> - <q(t)>^2 ] with q = (1/N) sum_j w_j the overlap of one sample
  (configuration x replica); per species with N -> N_A, N_B.  Its isoconfigurational part
  chi4_iso = N < Var_replicas(q) >_configurations is the part not fixed by the initial structure.
- tau_alpha: Fs(k, tau_alpha) = 1/e, interpolated linearly in (log t, Fs).

Averages <.> run over configurations and replicas.  Species labels: "A", "B", "total".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from glassdyn.data.errors import InputError

SPECIES = ("A", "B", "total")
DEFAULT_K = {"A": 7.25, "B": 5.75, "total": 7.25}


def _disp(displacements: np.ndarray) -> np.ndarray:
    d = np.asarray(displacements)
    if d.shape[-1:] != (3,):
        raise InputError(f"displacements must end with a 3-vector axis (..., N, 3), got {d.shape}")
    if not np.all(np.isfinite(d)):
        raise InputError(
            "displacements contain NaN or inf (an unfinished or corrupt configuration?)"
        )
    return d


def self_overlap(displacements: np.ndarray, a: float = 0.3) -> np.ndarray:
    """w_j = Theta(a - |dr_j|) for displacements (..., N, 3) -> (..., N) float64 (1 = not moved)."""
    d = _disp(displacements).astype(np.float64, copy=False)
    return (np.einsum("...i,...i->...", d, d) < a * a).astype(np.float64)


def self_scattering(
    displacements: np.ndarray, k: float = 7.25, *, mode: str = "isotropic"
) -> np.ndarray:
    """Per-particle Fs term for displacements (..., N, 3) -> (..., N) float64.

    "isotropic": sin(k |dr|) / (k |dr|) (exact orientational average); "axes": mean over x, y, z of
    cos(k dr_a).
    """
    d = _disp(displacements).astype(np.float64, copy=False)
    if mode == "isotropic":
        x = k * np.sqrt(np.einsum("...i,...i->...", d, d))
        return np.sinc(x / np.pi)  # np.sinc(y) = sin(pi y) / (pi y), = 1 at 0
    if mode == "axes":
        return np.cos(k * d).mean(axis=-1)
    raise InputError(f"Fs mode must be 'isotropic' or 'axes', got {mode!r}")


def non_gaussian(msd: np.ndarray, m4: np.ndarray) -> np.ndarray:
    """alpha2 = 3 <dr^4> / (5 <dr^2>^2) - 1 (0 for a Gaussian displacement distribution in 3D)."""
    msd = np.asarray(msd, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            msd > 0, 3.0 * np.asarray(m4) / (5.0 * np.where(msd > 0, msd, 1.0) ** 2) - 1.0, 0.0
        )


def relaxation_time(times: np.ndarray, fs: np.ndarray, level: float = float(np.exp(-1.0))) -> float:
    """First time where ``fs`` (K,) falls to ``level``, linear in (log t, Fs); NaN if it never does.

    times (K,) positive and increasing.  If Fs is already below ``level`` at the first time, the
    crossing is interpolated between (t=0, Fs=1) and the first point linearly in t.
    """
    t = np.asarray(times, dtype=np.float64)
    f = np.asarray(fs, dtype=np.float64)
    if t.shape != f.shape or t.ndim != 1:
        raise InputError(f"times {t.shape} and Fs {f.shape} must be matching 1-d arrays")
    if len(t) == 0 or np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise InputError("times must be positive and strictly increasing")
    below = np.flatnonzero(f <= level)
    if len(below) == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(t[0] * (1.0 - level) / (1.0 - f[0])) if f[0] < 1 else float(t[0])
    x0, x1 = np.log(t[i - 1]), np.log(t[i])
    f0, f1 = f[i - 1], f[i]
    return float(np.exp(x0 + (level - f0) * (x1 - x0) / (f1 - f0)))


def susceptibility(samples: np.ndarray, n_particles: float) -> np.ndarray:
    """chi4 = N [<q^2> - <q>^2] over the leading axis of ``samples`` (S, K) -> (K,)."""
    q = np.asarray(samples, dtype=np.float64)
    return float(n_particles) * (np.mean(q**2, axis=0) - np.mean(q, axis=0) ** 2)


def _masks(types: np.ndarray) -> dict[str, np.ndarray]:
    return {"A": types == 0, "B": types == 1, "total": np.ones_like(types, dtype=bool)}


class SelfDynamics:
    """Q(t), Fs(k, t), MSD, alpha2, chi4(t), tau_alpha per species, accumulated over configurations.

    Parameters: ``a`` overlap cutoff (sigma); ``k`` wavenumber(s), a float for all species or a
    mapping species -> k (default A 7.25, B 5.75, total 7.25); ``mode`` of the Fs orientational
    average ("isotropic" or "axes").

    ``compute(displacements (C, R, K, N, 3), types (C, N) or (N,), times (K,))`` adds
    configurations (chunks of any size equal one pass).  Results (dicts species -> (K,) arrays):
    ``overlap`` Q, ``fs``, ``msd``, ``alpha2``, ``chi4``, ``chi4_iso``; ``chi4_fs`` (fluctuation of
    the per-sample Fs, same normalisation); ``tau_alpha`` species -> float (from Fs); ``times``;
    ``chi4_err``, ``tau_alpha_err`` jackknife errors over configurations.
    """

    def __init__(
        self,
        *,
        a: float = 0.3,
        k: float | Mapping[str, float] | None = None,
        mode: str = "isotropic",
    ):
        if not a > 0:
            raise InputError(f"overlap cutoff a must be positive, got {a}")
        self.a = float(a)
        if k is None:
            self.k = dict(DEFAULT_K)
        elif isinstance(k, Mapping):
            self.k = {**DEFAULT_K, **{s: float(v) for s, v in k.items()}}
        else:
            self.k = {s: float(k) for s in SPECIES}
        if mode not in ("isotropic", "axes"):
            raise InputError(f"Fs mode must be 'isotropic' or 'axes', got {mode!r}")
        self.mode = mode
        self.reset()

    def __repr__(self) -> str:
        return f"SelfDynamics(a={self.a}, k={self.k}, mode={self.mode!r}, samples={self.n_samples})"

    def reset(self) -> SelfDynamics:
        self._sums: dict | None = None
        self._blocks: dict[str, list] = {
            s: [] for s in SPECIES
        }  # per-configuration sums (jackknife)
        self._times = None
        self.n_samples = 0
        self.n_configs = 0
        return self

    # sums per species: n (samples), N (sum of N_s over samples), q, q2, fs, fs2, r2, r4 (K,), iso (K,)
    def compute(
        self, displacements: np.ndarray, types: np.ndarray, times: np.ndarray | None = None
    ) -> SelfDynamics:
        d = _disp(displacements)
        if d.ndim == 4:
            d = d[None]
        if d.ndim != 5:
            raise InputError(
                f"displacements must be (C, R, K, N, 3) or (R, K, N, 3), got {np.shape(displacements)}"
            )
        C, R, K, N, _ = d.shape
        typ = np.asarray(types)
        typ = np.broadcast_to(typ, (C, N)) if typ.shape == (N,) else typ
        if typ.shape != (C, N):
            raise InputError(
                f"types must be ({N},) or ({C}, {N}) to match displacements {d.shape}, got {np.shape(types)}"
            )
        if times is not None:
            t = np.asarray(times, dtype=np.float64)
            if t.shape != (K,):
                raise InputError(f"times must have shape ({K},), got {t.shape}")
            if self._times is not None and not np.allclose(t, self._times):
                raise InputError("times differ from those of the configurations added before")
            self._times = t
        if self._sums is None:
            z = lambda: np.zeros(K)
            self._sums = {
                s: {
                    "n": 0,
                    "N": 0.0,
                    **{f: z() for f in ("q", "q2", "fs", "fs2", "r2", "r4", "iso")},
                }
                for s in SPECIES
            }
        elif self._sums["total"]["q"].shape != (K,):
            raise InputError(
                f"number of times changed from {self._sums['total']['q'].shape[0]} to {K}"
            )
        for c in range(C):
            dc = d[c].astype(np.float64)  # (R, K, N, 3)
            r2 = np.einsum("rkni,rkni->rkn", dc, dc)
            w = (r2 < self.a * self.a).astype(np.float64)
            fs_cache: dict[float, np.ndarray] = {}
            for s, mask in _masks(typ[c]).items():
                n_s = int(mask.sum())
                if n_s == 0:
                    continue
                k = self.k[s]
                if k not in fs_cache:
                    fs_cache[k] = self_scattering(dc, k, mode=self.mode)
                acc = self._sums[s]
                q = w[..., mask].mean(axis=-1)  # (R, K)
                fs = fs_cache[k][..., mask].mean(axis=-1)
                r2s = r2[..., mask]
                block = {
                    "n": R,
                    "N": R * n_s,
                    "q": q.sum(0),
                    "q2": (q**2).sum(0),
                    "fs": fs.sum(0),
                    "fs2": (fs**2).sum(0),
                    "r2": r2s.mean(-1).sum(0),
                    "r4": (r2s**2).mean(-1).sum(0),
                }
                for f, v in block.items():
                    acc[f] += v
                acc["iso"] += (
                    n_s * q.var(axis=0, ddof=1) if R > 1 else np.nan
                )  # unbiased, within config
                self._blocks[s].append(block)
            self.n_samples += R
            self.n_configs += 1
        return self

    # ----------------------------------------------------------------- results
    def _need(self):
        if self.n_samples == 0:
            raise InputError("SelfDynamics has no data: call compute(...) first")

    def _mean(self, field: str) -> dict[str, np.ndarray]:
        self._need()
        return {s: a[field] / a["n"] for s, a in self._sums.items() if a["n"]}

    @property
    def times(self) -> np.ndarray | None:
        return self._times

    @property
    def species(self) -> list[str]:
        self._need()
        return [s for s in SPECIES if self._sums[s]["n"]]

    @property
    def overlap(self) -> dict[str, np.ndarray]:
        """Q(t) per species."""
        return self._mean("q")

    @property
    def fs(self) -> dict[str, np.ndarray]:
        """Fs(k, t) per species (k from ``self.k``)."""
        return self._mean("fs")

    @property
    def msd(self) -> dict[str, np.ndarray]:
        """<dr^2>(t) per species, sigma^2."""
        return self._mean("r2")

    @property
    def alpha2(self) -> dict[str, np.ndarray]:
        m2, m4 = self._mean("r2"), self._mean("r4")
        return {s: non_gaussian(m2[s], m4[s]) for s in m2}

    @staticmethod
    def _chi_of(a: dict, field: str) -> np.ndarray:
        mean = a[field] / a["n"]
        return a["N"] / a["n"] * (a[field + "2"] / a["n"] - mean**2)

    def _chi(self, field: str) -> dict[str, np.ndarray]:
        self._need()
        return {s: self._chi_of(a, field) for s, a in self._sums.items() if a["n"]}

    def _jackknife(self, stat) -> dict[str, np.ndarray]:
        """Leave-one-configuration-out jackknife error of ``stat(sums) -> array`` per species."""
        self._need()
        out = {}
        for s, a in self._sums.items():
            blocks = self._blocks[s]
            C = len(blocks)
            if not a["n"]:
                continue
            if C < 2:
                out[s] = np.full_like(np.atleast_1d(np.asarray(stat(a), dtype=float)), np.nan)
                continue
            vals = np.array([stat({f: a[f] - b[f] for f in b}) for b in blocks], dtype=np.float64)
            with np.errstate(invalid="ignore"):
                out[s] = np.sqrt((C - 1) / C * np.sum((vals - vals.mean(axis=0)) ** 2, axis=0))
        return out

    @property
    def chi4_err(self) -> dict[str, np.ndarray]:
        """Jackknife (leave one configuration out) standard error of chi4(t); NaN below 2 configurations."""
        return self._jackknife(lambda a: self._chi_of(a, "q"))

    @property
    def tau_alpha_err(self) -> dict[str, float]:
        """Jackknife standard error of tau_alpha (NaN when undefined)."""
        if self._times is None:
            raise InputError("tau_alpha needs the times: pass times=... to compute()")
        err = self._jackknife(lambda a: relaxation_time(self._times, a["fs"] / a["n"]))
        return {s: float(np.asarray(v).ravel()[0]) for s, v in err.items()}

    @property
    def chi4(self) -> dict[str, np.ndarray]:
        """chi4(t) = N_s [<q_s^2> - <q_s>^2] of the overlap, over configurations and replicas."""
        return self._chi("q")

    @property
    def chi4_fs(self) -> dict[str, np.ndarray]:
        """The same fluctuation of the per-sample Fs(k, t)."""
        return self._chi("fs")

    @property
    def chi4_iso(self) -> dict[str, np.ndarray]:
        """N_s < Var_replicas(q_s) >_configurations (unbiased; needs R >= 2)."""
        self._need()
        return {s: a["iso"] / self.n_configs for s, a in self._sums.items() if a["n"]}

    @property
    def tau_alpha(self) -> dict[str, float]:
        """Fs(k, tau_alpha) = 1/e per species (NaN when Fs stays above 1/e); needs ``times``."""
        if self._times is None:
            raise InputError("tau_alpha needs the times: pass times=... to compute()")
        return {s: relaxation_time(self._times, f) for s, f in self.fs.items()}
