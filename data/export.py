"""Store exports: what ``glassdyn export`` writes, decided here.

:func:`export_store` writes configurations of one state point as structure files
(:mod:`glassdyn.data.formats`: LAMMPS data / dump, extended XYZ) or as BOTAN npz files
(:mod:`glassdyn.data.npz_datasets`), refusing in one line what the chosen format cannot hold
(:func:`glassdyn.data.formats.check_holds`).  :func:`frame_from_store` assembles one such
configuration: thermal or inherent positions with ``propensity`` at one time and, from a
predictions file (:mod:`glassdyn.data.predictions`), the predicted ``mobility`` at the same time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.formats import FORMATS, check_holds, guess_format, write_frames
from glassdyn.data.frame import Frame

EXPORT_FORMATS = (*FORMATS, "botan")  # botan: a directory of BOTAN .npz files


def export_store(
    store_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    temperature: float | None = None,
    configs: Sequence[int] | None = (0,),
    format: str | None = None,
    which: str = "thermal",
    fields: Sequence[str] = (),
    time_index: int | None = None,
    predictions: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> dict:
    """Write configurations ``configs`` (None: every completed one) of the state point
    ``temperature`` (None: the store's only one) to ``out`` in ``format`` (None: from the
    suffix of ``out``).  Returns what was written: ``format``, ``temperature``, ``configs`` and
    ``files`` (botan) or ``particles`` and ``columns``.

    Every choice is checked before anything is written; ``out`` follows
    :mod:`glassdyn.data.outputs` (an existing file is replaced only with ``overwrite``; a BOTAN
    directory must be new)."""
    from glassdyn.data import outputs
    from glassdyn.data.store import Store

    kind = outputs.FILES_DIRECTORY if format == "botan" else outputs.FILE
    outputs.check_output(out, kind, inputs=(store_path, predictions), overwrite=overwrite)
    store = Store.open(store_path)
    sp = store.state(_temperature(store, store_path, temperature))
    chosen = [int(c) for c in sp.completed] if configs is None else [int(c) for c in configs]
    if format == "botan":
        from glassdyn.data.npz_datasets import export_botan

        if fields or predictions or which != "thermal":
            raise InputError(
                "--format botan writes types, initial and replica positions only (no --field, --predictions, --which)"
            )
        files = export_botan(sp, out, configs=None if configs is None else chosen)
        return {"format": "botan", "temperature": sp.temperature, "configs": chosen, "files": files}
    fmt = format or guess_format(out)
    if not chosen:
        raise InputError(
            f"{store_path} T={sp.temperature:g} has no completed configurations to export"
        )
    check_holds(fmt, len(chosen), bool(fields) or predictions is not None)
    preds = None
    if predictions is not None:
        from glassdyn.data.predictions import check_made_for, read_predictions

        preds = read_predictions(predictions)
        check_made_for(preds, store, predictions)
    frames = [
        frame_from_store(
            sp, c, which=which, fields=fields, time_index=time_index, predictions=preds
        )
        for c in chosen
    ]
    title = f"glassdyn {store_path} T={sp.temperature:g} config {chosen[0]} ({which})"
    write_frames(out, frames, fmt, **({"title": title} if fmt == "lammps-data" else {}))
    return {
        "format": fmt,
        "temperature": sp.temperature,
        "configs": chosen,
        "particles": int(sum(fr.n_particles for fr in frames)),
        "columns": list(frames[0].fields),
    }


def _temperature(store, store_path, temperature: float | None) -> float:
    """``temperature``, or the store's only state point."""
    if temperature is not None:
        return temperature
    temps = store.temperatures
    if not temps:
        raise InputError(f"{store_path} holds no state points yet")
    if len(temps) != 1:
        raise InputError(f"{store_path} holds temperatures {temps}; choose one with --temperature")
    return temps[0]


def frame_from_store(
    state,
    config: int,
    *,
    which: str = "thermal",
    fields: Sequence[str] = (),
    time_index: int | None = None,
    predictions=None,
) -> Frame:
    """Configuration ``config`` of a :class:`~glassdyn.data.store.StatePoint` as a Frame.

    fields: store fields to attach, ``"propensity"`` (``isoconfig/propensity`` at time
    ``time_index``).  predictions: a :class:`~glassdyn.data.predictions.Predictions` (this
    temperature) or the dict :func:`~glassdyn.data.predictions.read_predictions` returns; adds
    ``mobility`` (predicted propensity) at the same time, matched by value when the store has
    times, else ``time_index`` indexes the predictions' times.  ``info`` records temperature,
    config, which, time (and ``timestep`` = config for dumps).
    """
    if which not in ("thermal", "inherent"):
        raise InputError(f"which must be 'thermal' or 'inherent', got {which!r}")
    conf = state.configuration(int(config), which)
    # timestep = config: a multi-configuration dump shows the store index as OVITO's timestep
    info: dict[str, object] = {
        "temperature": state.temperature,
        "config": int(config),
        "which": which,
        "timestep": int(config),
    }
    out: dict[str, np.ndarray] = {}
    times = state.times
    time_value = None
    unknown = [f for f in fields if f != "propensity"]
    if unknown:
        raise InputError(
            f"unknown field {unknown[0]!r}; the store exports: propensity (predictions add mobility)"
        )
    if "propensity" in fields:
        if times is None or not state.has(keys.ISO_PROPENSITY):
            raise StoreError(
                f"store {state.store_path} group {state.name} has no {keys.ISO_PROPENSITY}; "
                "export without --field propensity, or simulate / import isoconfigurational data"
            )
        k = _time_index(time_index, times, f"{state.store_path}/{state.name}")
        out["propensity"] = state.read(keys.ISO_PROPENSITY, int(config))[k]
        time_value = float(times[k])
        info["time_index"], info["time"] = k, time_value
    if predictions is not None:
        pred = _predictions_at(predictions, state.temperature)
        rows = np.flatnonzero(np.asarray(pred.configs) == int(config))
        if rows.size == 0:
            raise InputError(
                f"the predictions at T={state.temperature:g} do not cover configuration {config} "
                f"(they hold {_short(pred.configs)})"
            )
        ptimes = np.asarray(pred.times, dtype=np.float64)
        if time_value is None and times is not None and time_index is not None:
            time_value = float(
                times[_time_index(time_index, times, f"{state.store_path}/{state.name}")]
            )
        if time_value is not None:
            match = np.flatnonzero(np.isclose(ptimes, time_value, rtol=1e-6, atol=0.0))
            if match.size == 0:
                raise InputError(
                    f"the predictions hold times {ptimes.tolist()}, not t={time_value:g}; choose another --time"
                )
            kp = int(match[0])
        else:
            kp = _time_index(time_index, ptimes, "the predictions")
            time_value = float(ptimes[kp])
        mob = np.asarray(pred.mobility[rows[0], kp], dtype=np.float64)
        if mob.shape != (conf.n_particles,):
            raise InputError(
                f"predicted mobility has {mob.shape[0]} particles, configuration {config} has {conf.n_particles}"
            )
        out["mobility"] = mob
        info["time"] = time_value
        if pred.predicted_temperature is not None:
            info["predicted_temperature"] = float(pred.predicted_temperature[rows[0]])
    return Frame(conf.positions, conf.types, conf.box, out, info)


def _time_index(k: int | None, times: np.ndarray, where: str) -> int:
    listing = ", ".join(f"{i}: {t:g}" for i, t in enumerate(times))
    if k is None:
        if len(times) == 1:
            return 0
        raise InputError(f"{where} has several times; choose one with --time K ({listing})")
    if not -len(times) <= int(k) < len(times):
        raise InputError(f"time index {k} out of range for {where} ({listing})")
    return int(k) % len(times)


def _predictions_at(predictions, temperature: float):
    if isinstance(predictions, Mapping):
        for T, p in predictions.items():
            if keys.same_temperature(T, temperature):
                return p
        have = ", ".join(f"{float(T):g}" for T in predictions) or "none"
        raise InputError(f"the predictions hold no temperature {temperature:g} (they hold {have})")
    if not keys.same_temperature(predictions.temperature, temperature):
        raise InputError(
            f"predictions are for T={predictions.temperature:g}, the configuration for T={temperature:g}"
        )
    return predictions


def _short(a) -> str:
    a = np.asarray(a).tolist()
    return str(a) if len(a) <= 8 else f"{a[:8]} ... ({len(a)} configurations)"
