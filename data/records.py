"""Small immutable records: particle types and one configuration."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class ParticleType(IntEnum):
    """Kob-Andersen species as stored in ``types``."""

    A = 0
    B = 1


@dataclass(frozen=True)
class Configuration:
    """One periodic configuration.

    positions: (N, 3) float, wrapped into [0, box); types: (N,) int8; box: (3,) float64
    orthorhombic lengths.
    """

    positions: np.ndarray
    types: np.ndarray
    box: np.ndarray

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions)
        typ = np.asarray(self.types)
        box = np.asarray(self.box, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise ValueError(f"positions must have shape (N, 3), got {pos.shape}")
        if typ.shape != (pos.shape[0],):
            raise ValueError(f"types must have shape ({pos.shape[0]},), got {typ.shape}")
        if box.shape != (3,) or not np.all(box > 0):
            raise ValueError(f"box must be 3 positive lengths, got {box}")
        if not np.all(np.isfinite(pos)):
            raise ValueError("positions contain NaN or inf")
        object.__setattr__(self, "box", box)

    @property
    def n_particles(self) -> int:
        return int(self.positions.shape[0])

    @property
    def density(self) -> float:
        return self.n_particles / float(np.prod(self.box))
