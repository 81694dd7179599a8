"""Every store path and its shape, said once.

Axis letters: C configurations, N particles, R replicas, K times.  One store holds one dataset,
one group per state point named by temperature (``T0.440``, see :func:`group_name`).
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = "glassdyn/1"  # root attr "schema"; a store of another version is refused

TYPES = "types"  # (C, N) int8 | 0 = A, 1 = B
BOX = "box"  # (C, 3) float64 | orthorhombic box lengths
THERMAL_POSITIONS = "thermal/positions"  # (C, N, 3) float32 | equilibrated, wrapped into [0, L)
THERMAL_ENERGY = "thermal/energy"  # (C,) float64 | potential energy per particle
INHERENT_POSITIONS = "inherent/positions"  # (C, N, 3) float32 | FIRE-quenched IS, wrapped
INHERENT_ENERGY = "inherent/energy"  # (C,) float64 | IS potential energy per particle
INHERENT_MAX_FORCE = "inherent/max_force"  # (C,) float64 | max |F| component at the IS
INHERENT_DONE = "inherent/done"  # (C,) bool | written last by `glassdyn quench`: IS converged
CAGE_POSITIONS = "cage/positions"  # (C, N, 3) float32 | cage state (Alkemade et al.), wrapped
CAGE_DONE = "cage/done"  # (C,) bool | written last by `glassdyn cage` (or an importer of cages)
ISO_TIMES = "isoconfig/times"  # (K,) float64 | LJ time units, not per configuration
ISO_DISPLACEMENTS = "isoconfig/displacements"  # (C, R, K, N, 3) float32 | unwrapped r(t)-r(0)
ISO_PROPENSITY = "isoconfig/propensity"  # (C, K, N) float32 | replica mean of |r(t)-r(0)|
DONE = "done"  # (C,) bool | written last; a False row is recomputed on resume


# the axis letters as Zarr v3 ``dimension_names`` (xarray.open_zarr labels the axes with them)
DIMENSIONS = {"C": "config", "N": "particle", "R": "replica", "K": "time", "3": "xyz"}


@dataclass(frozen=True)
class Field:
    """One per-state-point array: its axes (letters above), dtype and chunking along C (and R)."""

    path: str
    axes: str
    dtype: str
    doc: str

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """The axes in words, e.g. ("config", "particle", "xyz") for "CN3"."""
        return tuple(DIMENSIONS[a] for a in self.axes)


FIELDS: dict[str, Field] = {
    f.path: f
    for f in (
        Field(TYPES, "CN", "int8", "particle types, 0 = A, 1 = B"),
        Field(BOX, "C3", "float64", "orthorhombic box lengths"),
        Field(THERMAL_POSITIONS, "CN3", "float32", "equilibrated configuration, wrapped"),
        Field(THERMAL_ENERGY, "C", "float64", "potential energy per particle"),
        Field(INHERENT_POSITIONS, "CN3", "float32", "FIRE-quenched inherent structure"),
        Field(INHERENT_ENERGY, "C", "float64", "inherent-structure energy per particle"),
        Field(INHERENT_MAX_FORCE, "C", "float64", "max force component at the IS"),
        Field(INHERENT_DONE, "C", "bool", "inherent structure quenched and converged"),
        Field(CAGE_POSITIONS, "CN3", "float32", "cage state: positions averaged in the cage"),
        Field(CAGE_DONE, "C", "bool", "cage state computed"),
        Field(ISO_TIMES, "K", "float64", "isoconfigurational times (LJ units)"),
        Field(ISO_DISPLACEMENTS, "CRKN3", "float32", "unwrapped displacements per replica"),
        Field(ISO_PROPENSITY, "CKN", "float32", "replica-mean absolute displacement"),
        Field(DONE, "C", "bool", "configuration complete"),
    )
}


def group_name(temperature: float) -> str:
    """The group of a state point: ``T0.440`` for T = 0.44 (three decimals)."""
    return f"T{float(temperature):.3f}"


def same_temperature(a: float, b: float) -> bool:
    """Whether two temperatures are the same state point: the same group (:func:`group_name`,
    three decimals), i.e. closer than half its last digit, 5e-4."""
    return abs(float(a) - float(b)) < 5e-4
