"""One structure as structure files carry it: positions, types, box and per-particle fields.

A :class:`Frame` is what the readers of ``glassdyn.data.lammps_io`` / ``glassdyn.data.extxyz``
return and what their writers take.  Unlike :class:`~glassdyn.data.records.Configuration` its
positions need not be wrapped (LAMMPS ``xu`` columns, image flags) and it carries named
per-particle fields (propensity, predicted mobility, ...) and scalar ``info`` (temperature, time,
timestep).  Boxes are orthorhombic with the origin at 0: readers shift ``lo`` to 0 and refuse
tilted cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from glassdyn.data.box import wrap
from glassdyn.data.errors import InputError
from glassdyn.data.records import Configuration, ParticleType

#: names of the KA species in files: store type 0 -> "A", 1 -> "B"
SPECIES = tuple(t.name for t in ParticleType)


@dataclass(frozen=True)
class Frame:
    """positions (N, 3) float64, types (N,) int8 (0 = A, 1 = B), box (3,) float64 lengths,
    fields: name -> (N,) float64 per-particle values, info: scalar metadata (str/int/float/bool).
    """

    positions: np.ndarray
    types: np.ndarray
    box: np.ndarray
    fields: Mapping[str, np.ndarray] = field(default_factory=dict)
    info: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, dtype=np.float64)
        typ = np.asarray(self.types)
        box = np.asarray(self.box, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise InputError(f"positions must have shape (N, 3), got {pos.shape}")
        n = pos.shape[0]
        if typ.shape != (n,):
            raise InputError(f"types must have shape ({n},) like the positions, got {typ.shape}")
        if n and not np.isin(typ, (0, 1)).all():
            bad = sorted(set(np.unique(typ).tolist()) - {0, 1})
            raise InputError(f"types must be 0 (A) or 1 (B), found {bad[:5]}")
        if box.shape != (3,) or not np.all(np.isfinite(box)) or not np.all(box > 0):
            raise InputError(f"box must be 3 positive finite lengths, got {box.tolist()}")
        if not np.all(np.isfinite(pos)):
            i = int(np.flatnonzero(~np.isfinite(pos).all(axis=1))[0])
            raise InputError(f"positions contain NaN or inf (first at particle index {i})")
        fields = {}
        for name, value in dict(self.fields).items():
            v = np.asarray(value, dtype=np.float64)
            if v.shape != (n,):
                raise InputError(
                    f"per-particle field {name!r} must have shape ({n},), got {v.shape}"
                )
            if (
                not name
                or any(ch.isspace() for ch in name)
                or ":" in name
                or "=" in name
                or '"' in name
            ):
                raise InputError(
                    f"per-particle field name {name!r} must not be empty or hold spaces, ':', '=' or quotes"
                )
            fields[name] = v
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "types", typ.astype(np.int8))
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "info", dict(self.info))

    @property
    def n_particles(self) -> int:
        return int(self.positions.shape[0])

    @property
    def species(self) -> np.ndarray:
        """(N,) str: "A" / "B"."""
        return np.asarray(SPECIES)[self.types]

    def configuration(self) -> Configuration:
        """The store record: float32 positions wrapped into [0, box)."""
        return Configuration(
            wrap(self.positions, self.box).astype(np.float32), self.types, self.box
        )


def types_from_lammps(values: np.ndarray, where: str) -> np.ndarray:
    """LAMMPS atom types 1 / 2 -> store types 0 (A) / 1 (B)."""
    v = np.asarray(values)
    bad = sorted(set(np.unique(v).tolist()) - {1, 2})
    if bad:
        raise InputError(
            f"{where}: atom types must be 1 (A) or 2 (B) for a KA binary mixture, found type(s) {bad[:5]}"
        )
    return (v - 1).astype(np.int8)


def types_from_species(names: np.ndarray, species: tuple[str, str], where: str) -> np.ndarray:
    """Species names -> store types: ``species[0]`` -> 0 (A), ``species[1]`` -> 1 (B)."""
    names = np.asarray(names).astype(str)
    found = sorted(set(np.unique(names).tolist()))
    unknown = [s for s in found if s not in species]
    if unknown:
        raise InputError(
            f"{where}: species {found[:5]} are not {species[0]}/{species[1]}; name the two species "
            f"for A and B (species=('X', 'Y'), on the command line --species X,Y)"
        )
    return np.where(names == species[1], 1, 0).astype(np.int8)


def orthorhombic_box(cell: np.ndarray, where: str, tol: float = 1e-9) -> np.ndarray:
    """Box lengths (3,) of a (3, 3) cell matrix (rows = cell vectors); refuse tilted cells."""
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    off = cell - np.diag(np.diag(cell))
    scale = max(float(np.abs(np.diag(cell)).max()), 1.0)
    if np.abs(off).max() > tol * scale:
        raise InputError(
            f"{where}: the cell is not orthorhombic (off-diagonal entries {off[off != 0].tolist()[:6]}); "
            "glassdyn handles orthorhombic periodic boxes only"
        )
    return np.diag(cell).copy()
