"""Periodic orthorhombic boxes: wrapping and the minimum-image convention (pure kernels)."""

from __future__ import annotations

import numpy as np


def wrap(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Positions (..., 3) folded into [0, box)."""
    box = np.asarray(box)
    out = np.mod(positions, box)
    # np.mod can return exactly box for tiny negative inputs in float32
    return np.where(out >= box, out - box, out).astype(positions.dtype, copy=False)


def minimum_image(delta: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Separation vectors (..., 3) mapped to their nearest periodic image, each in [-L/2, L/2]."""
    box = np.asarray(box, dtype=delta.dtype)
    return delta - box * np.round(delta / box)


def box_length(n_particles: int, density: float) -> float:
    """Side of the cubic box holding ``n_particles`` at number ``density``."""
    return float((n_particles / density) ** (1.0 / 3.0))
