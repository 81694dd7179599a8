"""Structure formats other tools open: one entry point for reading and writing them.

| format | module | carries |
| --- | --- | --- |
| ``lammps-data`` | :mod:`glassdyn.data.lammps_io` | positions (+ image flags), types, box; LAMMPS ``read_data``, OVITO |
| ``lammps-dump`` | :mod:`glassdyn.data.lammps_io` | + per-particle columns, many frames; LAMMPS ``read_dump``, OVITO |
| ``extxyz`` | :mod:`glassdyn.data.extxyz` | + per-particle columns and scalar info, many frames; ASE, OVITO |
| ASE ``Atoms`` | :func:`to_ase` / :func:`from_ase` | + ``atoms.arrays`` fields, ``atoms.info`` (ASE imported lazily) |

:data:`HOLDS` says what one file of each format can hold (several configurations, per-particle
columns); :func:`check_holds` refuses the rest in one line.  Store exports (what ``glassdyn
export`` writes) are :mod:`glassdyn.data.export`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.extxyz import read_extxyz, write_extxyz
from glassdyn.data.frame import SPECIES, Frame, orthorhombic_box, types_from_species
from glassdyn.data.lammps_io import (
    read_lammps_data,
    read_lammps_dump,
    write_lammps_data,
    write_lammps_dump,
)

FORMATS = ("lammps-data", "lammps-dump", "extxyz")


@dataclass(frozen=True)
class Holds:
    """What one file of a format can hold."""

    name: str  # what a user calls one file of it
    many_frames: bool  # several configurations (frames)
    fields: bool  # per-particle columns (propensity, predicted mobility)


HOLDS = {
    "lammps-data": Holds("a LAMMPS data file", many_frames=False, fields=False),
    "lammps-dump": Holds("a LAMMPS dump", many_frames=True, fields=True),
    "extxyz": Holds("an extended XYZ file", many_frames=True, fields=True),
}
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


def check_holds(fmt: str, n_frames: int, fields: bool = False) -> None:
    """One clear error when one file of ``fmt`` cannot hold ``n_frames`` configurations (with
    per-particle ``fields``), naming the formats that can."""
    if fmt not in HOLDS:
        raise InputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    holds, others = (
        HOLDS[fmt],
        " or ".join(f for f, h in HOLDS.items() if h.many_frames and h.fields),
    )
    if n_frames > 1 and not holds.many_frames:
        raise InputError(
            f"{holds.name} holds one configuration, got {n_frames}; use --format {others} for several"
        )
    if fields and not holds.fields:
        raise InputError(
            f"{holds.name} carries no per-particle fields; use --format {others} for --field / "
            "--predictions"
        )


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
    """Write frames; a LAMMPS data file holds exactly one (and drops per-particle fields)."""
    fmt = format or guess_format(path)
    frames = [frames] if isinstance(frames, Frame) else list(frames)
    check_holds(fmt, len(frames))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if fmt == "lammps-data":
        write_lammps_data(path, frames[0], **kwargs)
    elif fmt == "lammps-dump":
        write_lammps_dump(path, frames, **kwargs)
    elif fmt == "extxyz":
        write_extxyz(path, frames, **kwargs)


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
