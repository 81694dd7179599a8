"""Structure formats other tools open: one entry point for reading, writing and store exports.

| format | module | carries |
| --- | --- | --- |
| ``lammps-data`` | :mod:`glassdyn.data.lammps_io` | positions (+ image flags), types, box; LAMMPS ``read_data``, OVITO |
| ``lammps-dump`` | :mod:`glassdyn.data.lammps_io` | + per-particle columns, many frames; LAMMPS ``read_dump``, OVITO |
| ``extxyz`` | :mod:`glassdyn.data.extxyz` | + per-particle columns and scalar info, many frames; ASE, OVITO |
| ASE ``Atoms`` | :func:`to_ase` / :func:`from_ase` | + ``atoms.arrays`` fields, ``atoms.info`` (ASE imported lazily) |

:func:`frame_from_store` assembles what ``glassdyn export`` writes: a stored configuration
(thermal or inherent) with propensity at one time and, from a predictions file
(:mod:`glassdyn.data.predictions`), the predicted ``mobility`` at the same time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.extxyz import read_extxyz, write_extxyz
from glassdyn.data.frame import SPECIES, Frame, orthorhombic_box, types_from_species
from glassdyn.data.lammps_io import (
    read_lammps_data,
    read_lammps_dump,
    write_lammps_data,
    write_lammps_dump,
)

FORMATS = ("lammps-data", "lammps-dump", "extxyz")
_SUFFIXES = {
    ".data": "lammps-data",
    ".lmp": "lammps-data",
    ".dump": "lammps-dump",
    ".lammpstrj": "lammps-dump",
    ".xyz": "extxyz",
    ".extxyz": "extxyz",
}


def guess_format(path: str | os.PathLike) -> str:
    """The format named by a file suffix (.data/.lmp, .dump/.lammpstrj, .xyz/.extxyz)."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(
            f"cannot tell the format of {path} from its suffix; name it ({', '.join(FORMATS)})"
        )
    return _SUFFIXES[suffix]


def read_frames(
    path: str | os.PathLike, format: str | None = None, *, species: tuple[str, str] = SPECIES
) -> list[Frame]:
    """All frames of a structure file (a data file has one)."""
    fmt = format or guess_format(path)
    if fmt == "lammps-data":
        return [read_lammps_data(path)]
    if fmt == "lammps-dump":
        return read_lammps_dump(path, species=species)
    if fmt == "extxyz":
        return read_extxyz(path, species=species)
    raise InputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def write_frames(
    path: str | os.PathLike, frames: Frame | Sequence[Frame], format: str | None = None, **kwargs
) -> None:
    """Write frames; a LAMMPS data file holds exactly one."""
    fmt = format or guess_format(path)
    frames = [frames] if isinstance(frames, Frame) else list(frames)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if fmt == "lammps-data":
        if len(frames) != 1:
            raise InputError(
                f"a LAMMPS data file holds one configuration, got {len(frames)} frames; use lammps-dump"
            )
        write_lammps_data(path, frames[0], **kwargs)
    elif fmt == "lammps-dump":
        write_lammps_dump(path, frames, **kwargs)
    elif fmt == "extxyz":
        write_extxyz(path, frames, **kwargs)
    else:
        raise InputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------------- store exports


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
            if abs(float(T) - temperature) < 5e-4:
                return p
        have = ", ".join(f"{float(T):g}" for T in predictions) or "none"
        raise InputError(f"the predictions hold no temperature {temperature:g} (they hold {have})")
    if abs(float(predictions.temperature) - temperature) >= 5e-4:
        raise InputError(
            f"predictions are for T={predictions.temperature:g}, the configuration for T={temperature:g}"
        )
    return predictions


def _short(a) -> str:
    a = np.asarray(a).tolist()
    return str(a) if len(a) <= 8 else f"{a[:8]} ... ({len(a)} configurations)"


# ----------------------------------------------------------------------------------------- ASE

_ASE_RESERVED = {
    "numbers",
    "positions",
    "momenta",
    "masses",
    "initial_charges",
    "initial_magmoms",
    "tags",
    "type",
}


def _ase():
    try:
        import ase
    except ImportError:
        raise InputError(
            "ASE is not installed: `pip install ase` (or `pip install glassdyn[test]`)"
        ) from None
    return ase


def to_ase(frame: Frame, numbers: tuple[int, int] = (1, 2)):
    """An ``ase.Atoms``: atomic numbers ``numbers`` for A / B (ASE needs elements; H / He by
    default), cell = box, pbc, ``arrays["type"]`` = store types, fields in ``arrays``, info."""
    ase = _ase()
    atoms = ase.Atoms(
        numbers=np.asarray(numbers)[frame.types],
        positions=frame.positions,
        cell=np.diag(frame.box),
        pbc=True,
        info=dict(frame.info),
    )
    atoms.set_array("type", frame.types.astype(np.int64))
    for name, value in frame.fields.items():
        if name in _ASE_RESERVED:
            raise InputError(f"field name {name!r} is reserved by ASE; rename it")
        atoms.set_array(name, np.asarray(value))
    return atoms


def from_ase(
    atoms, numbers: tuple[int, int] = (1, 2), species: tuple[str, str] | None = None
) -> Frame:
    """A Frame from an ``ase.Atoms`` (orthorhombic, periodic).

    Types from ``arrays["type"]`` when present, else atomic numbers ``numbers`` (A, B), or the
    chemical symbols ``species`` when given.  1-d float arrays become fields.
    """
    where = f"ase.Atoms({atoms.get_chemical_formula()})"
    if not all(atoms.pbc):
        raise InputError(
            f"{where}: pbc={list(atoms.pbc)}; glassdyn needs a box periodic in every direction"
        )
    box = orthorhombic_box(atoms.cell.array, where)
    if "type" in atoms.arrays:
        types = np.asarray(atoms.arrays["type"])
    elif species is not None:
        types = types_from_species(np.asarray(atoms.get_chemical_symbols()), species, where)
    else:
        z = atoms.numbers
        bad = sorted(set(np.unique(z).tolist()) - set(numbers))
        if bad:
            raise InputError(
                f"{where}: atomic numbers {bad[:5]} are not the A/B numbers {numbers}; pass numbers=(zA, zB)"
            )
        types = np.where(z == numbers[1], 1, 0)
    fields = {
        k: np.asarray(v, dtype=np.float64)
        for k, v in atoms.arrays.items()
        if k not in _ASE_RESERVED and np.asarray(v).ndim == 1 and np.asarray(v).dtype.kind in "fiub"
    }
    info = {
        k: v for k, v in atoms.info.items() if isinstance(v, (str, int, float, bool, np.number))
    }
    try:
        return Frame(atoms.positions, types, box, fields, info)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
