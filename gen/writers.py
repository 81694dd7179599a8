"""Writing generated configurations: a store state point (schema glassdyn/1) or extended XYZ."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glassdyn.data import keys
from glassdyn.data.box import wrap


def write_samples(path, positions: np.ndarray, types: np.ndarray, box: np.ndarray, temperature: float, *,
                  energy: np.ndarray | None = None, log_q: np.ndarray | None = None,
                  log_w: np.ndarray | None = None, attrs: dict | None = None) -> None:
    """positions (M, N, 3), types (N,), box (3,).  ``.xyz`` / ``.extxyz`` -> extended XYZ
    (``glassdyn.data.extxyz``; energy, log_q, log_w on each comment line), anything else -> a Zarr
    store with group ``T...`` (thermal positions and energy per particle; no inherent arrays),
    the log densities in the group attributes."""
    p = Path(path)
    x = wrap(np.asarray(positions, dtype=np.float64), np.asarray(box))
    M = len(x)
    if p.suffix in (".xyz", ".extxyz"):
        from glassdyn.data.extxyz import write_extxyz
        from glassdyn.data.frame import Frame

        frames = []
        for k in range(M):
            info = {"temperature": float(temperature), "sample": k}
            for name, v in (("energy", energy), ("log_q", log_q), ("log_w", log_w)):
                if v is not None:
                    info[name] = float(v[k])
            frames.append(Frame(x[k], np.asarray(types, dtype=np.int8), np.asarray(box, dtype=np.float64), info=info))
        p.parent.mkdir(parents=True, exist_ok=True)
        write_extxyz(p, frames)
        return
    from glassdyn.data.store import Store

    store = Store.create(p, source="glassdyn gen sample", **(attrs or {}))
    extra = {}
    if log_q is not None:
        extra["log_q"] = [float(v) for v in log_q]
    if log_w is not None:
        extra["log_w"] = [float(v) for v in log_w]
    sp = store.create_state(temperature, n_configs=M, n_particles=x.shape[1], inherent=False,
                            attrs={"generated": True, **(attrs or {}), **extra})
    for k in range(M):
        arrays = {keys.TYPES: types, keys.BOX: box, keys.THERMAL_POSITIONS: x[k]}
        arrays[keys.THERMAL_ENERGY] = float(energy[k]) if energy is not None else np.nan
        sp.write(k, **arrays)
        sp.mark_done(k)
