"""Writing generated configurations: a store state point (schema glassdyn/1) or extended XYZ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.box import wrap
from glassdyn.data.errors import InputError, StoreError


def check_output(path, temperature: float, overwrite: bool = False, inputs=()) -> None:
    """Refuse, before anything is sampled or written, an output that would lose data: an existing
    extended-XYZ file (unless ``overwrite``), a store holding MD state points (never), a store
    already holding generated samples at ``temperature`` (unless ``overwrite``), or a path that
    is neither (the rule of :mod:`glassdyn.data.outputs`, then what is particular to samples)."""
    from glassdyn.data import outputs
    from glassdyn.data.store import Store

    p = Path(path)
    extxyz = p.suffix in (".xyz", ".extxyz")
    outputs.check_output(
        p, outputs.FILE if extxyz else outputs.STORE, inputs=inputs, overwrite=overwrite
    )
    if extxyz:
        if p.is_dir():
            raise InputError(f"--out {p} is a directory; pass a file name ending in .extxyz")
        if p.exists() and not overwrite:
            raise InputError(f"--out {p} exists; pass --overwrite to replace it, or another --out")
        return
    if not p.exists() or (p.is_dir() and not any(p.iterdir())):
        return
    if not p.is_dir():
        raise InputError(
            f"--out {p} is a file, not a store; pass a .extxyz name or a new store directory"
        )
    try:
        store = Store.open(p)
    except StoreError as exc:
        raise InputError(
            f"--out {p} exists and is not a glassdyn store ({exc}); pass a new path"
        ) from None
    md = [sp.name for sp in store.states() if not sp.attrs.get("generated")]
    if md:
        raise InputError(
            f"--out {p} is a store of MD data ({', '.join(md)}); generated samples never go into it: "
            "pass a new store path"
        )
    if store.has_state(temperature) and not overwrite:
        raise InputError(
            f"--out {p} already holds generated samples at T={temperature:g}; pass --overwrite to "
            "replace them, or another --out"
        )


def write_samples(
    path,
    positions: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    temperature: float,
    *,
    energy: np.ndarray | None = None,
    log_q: np.ndarray | None = None,
    log_w: np.ndarray | None = None,
    attrs: dict | None = None,
    overwrite: bool = False,
) -> None:
    """positions (M, N, 3), types (N,), box (3,).  ``.xyz`` / ``.extxyz`` -> extended XYZ
    (``glassdyn.data.extxyz``; energy, log_q, log_w on each comment line), anything else -> a Zarr
    store with group ``T...`` (thermal positions and energy per particle; no inherent arrays),
    the log densities in the group attributes.  :func:`check_output` is applied first (with
    ``overwrite``, a generated group at this temperature is replaced)."""
    check_output(path, temperature, overwrite)
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
            frames.append(
                Frame(
                    x[k],
                    np.asarray(types, dtype=np.int8),
                    np.asarray(box, dtype=np.float64),
                    info=info,
                )
            )
        p.parent.mkdir(parents=True, exist_ok=True)
        write_extxyz(p, frames)
        return
    from glassdyn.data.keys import group_name
    from glassdyn.data.lock import write_lock
    from glassdyn.data.store import Store

    with write_lock(p, what="store"):
        # the store's own attributes name its writer only; each call's sampler report goes to
        # its temperature's group, so a second temperature is added to the same store
        store = Store.create(p, source="glassdyn gen sample")
        if store.has_state(temperature):  # generated (checked above) and --overwrite
            del store.root[group_name(temperature)]
        _write_group(store, x, types, box, temperature, energy, log_q, log_w, attrs)


def _write_group(store, x, types, box, temperature, energy, log_q, log_w, attrs) -> None:
    M = len(x)
    extra = {}
    if log_q is not None:
        extra["log_q"] = [float(v) for v in log_q]
    if log_w is not None:
        extra["log_w"] = [float(v) for v in log_w]
    sp = store.create_state(
        temperature,
        n_configs=M,
        n_particles=x.shape[1],
        inherent=False,
        attrs={"generated": True, **(attrs or {}), **extra},
    )
    for k in range(M):
        arrays = {keys.TYPES: types, keys.BOX: box, keys.THERMAL_POSITIONS: x[k]}
        arrays[keys.THERMAL_ENERGY] = float(energy[k]) if energy is not None else np.nan
        sp.write(k, **arrays)
        sp.mark_done(k)
