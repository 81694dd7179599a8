"""tau_alpha from isoconfigurational displacements: Fs_A(k, t) = 1/e.

The simulation stage needs tau_alpha to size its own runs, so it measures it here from the
displacements it writes (``glassdyn.analysis`` has the full dynamic-heterogeneity toolkit; this
module stays on floor 2 and imports only ``glassdyn.data``).

Fs(k, t) = < sin(k |dr|) / (k |dr|) >, the isotropic average of exp(i k . dr) over directions of
k, averaged over the A particles, replicas and configurations.  k = 7.25 (first peak of S_AA(q)
of KA at density 1.2).
"""

from __future__ import annotations

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import StoreError
from glassdyn.data.store import StatePoint

K_PEAK = 7.25


def self_intermediate_scattering(
    displacements: np.ndarray, mask: np.ndarray | None = None, k: float = K_PEAK
) -> np.ndarray:
    """Isotropic Fs(k, t) from displacements (..., K, N, 3) -> (K,), averaged over the leading
    axes and the particles selected by ``mask`` (N,) bool (all when None)."""
    d = np.asarray(displacements, dtype=np.float64)
    r = np.linalg.norm(d, axis=-1)  # (..., K, N)
    if mask is not None:
        r = r[..., np.asarray(mask, dtype=bool)]
    kr = k * r
    sinc = np.sinc(kr / np.pi)  # sin(kr)/kr, 1 at r = 0
    axes = tuple(range(sinc.ndim - 2)) + (sinc.ndim - 1,)
    return sinc.mean(axis=axes)


def crossing_time(times: np.ndarray, f: np.ndarray, level: float = float(np.exp(-1.0))) -> float:
    """First time where the decaying ``f`` (K,) falls to ``level``, interpolated linearly in
    log(t); NaN when it never does within ``times``."""
    t = np.asarray(times, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    below = np.flatnonzero(f <= level)
    if len(below) == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(t[0])
    lt0, lt1 = np.log(t[i - 1]), np.log(t[i])
    w = (f[i - 1] - level) / (f[i - 1] - f[i])
    return float(np.exp(lt0 + w * (lt1 - lt0)))


def tau_alpha(
    state: StatePoint, k: float = K_PEAK, configs=None
) -> tuple[float, np.ndarray, np.ndarray]:
    """(tau_alpha, times (K,), Fs_A (K,)) of a state point from its stored displacements.

    tau_alpha is NaN when Fs_A does not reach 1/e within the stored times (sample longer).
    """
    if not state.has(keys.ISO_DISPLACEMENTS):
        raise StoreError(
            f"{state.store_path}/{state.name} has no {keys.ISO_DISPLACEMENTS}; simulate with --replicas > 0"
        )
    configs = state.completed if configs is None else np.asarray(configs)
    if len(configs) == 0:
        raise StoreError(f"{state.store_path}/{state.name} has no completed configuration")
    times = state.times
    fs = np.zeros(len(times))
    for c in configs:
        disp = state.read(keys.ISO_DISPLACEMENTS, int(c))  # (R, K, N, 3)
        types = state.read(keys.TYPES, int(c))
        fs += self_intermediate_scattering(disp, types == 0, k)
    fs /= len(configs)
    return crossing_time(times, fs), times, fs
