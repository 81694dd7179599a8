"""Trajectories read once, in chunks: LAMMPS text dumps and multi-frame extended XYZ.

:func:`open_trajectory` indexes the file in one cheap pass (headers only; atom lines are skipped,
not parsed) and refuses bad input before any heavy work, with one line naming the frame and the
fix: a changing particle count, a box that is tilted, not periodic or changing, missing columns,
types that do not map to A/B, steps that do not increase.  A truncated last frame is dropped and
reported (:attr:`Trajectory.truncated`).  :meth:`Trajectory.chunks` then parses the frames in
order, a chunk at a time, and yields their unwrapped positions sorted by particle id:

- ``xu yu zu`` (or scaled ``xsu ysu zsu``): unwrapped by LAMMPS;
- ``x y z`` or scaled ``xs ys zs`` with image flags ``ix iy iz``: x + i L;
- without image flags (and for extended XYZ): by continuity, adding the minimum-image step
  between consecutive frames.  That is safe only while no particle moves half a box between two
  frames, so a step longer than a quarter of the box is refused (dump image flags instead).

Times (LJ units, from the first frame): LAMMPS ``ITEM: TIME`` when dumped, else TIMESTEP x
``dt``; extended XYZ ``time=`` (or ``Time``, ``t``), else ``timestep=`` / ``step=`` x dt, else
frame index x dt.  Species: LAMMPS ``type`` (default 1 = A, 2 = B) or ``element`` names (A, B);
extended XYZ species (A, B; or H, He as ASE reads glassdyn's files); ``species=(a, b)`` names
the labels of A and B.  Boxes are orthorhombic, periodic and fixed; the origin is moved to 0.

Shapes: times (F,) float64; positions (n, N, 3) float64; types (N,) int8 (0 = A, 1 = B); box (3,).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from glassdyn.data.errors import InputError

if TYPE_CHECKING:
    from glassdyn.data.trajectory_index import Trajectory


def open_trajectory(
    path: str | os.PathLike,
    *,
    species: Sequence[str] | None = None,
    dt: float | None = None,
    format: str | None = None,
) -> Trajectory:
    """Index a LAMMPS text dump or an extended XYZ file (see the module docstring).

    ``species`` (label of A, label of B): LAMMPS types or names; ``dt``: the MD timestep for
    dumps without ``ITEM: TIME`` (default 0.005, LAMMPS' lj default) or, for extended XYZ frames
    with neither time nor step, the time between frames; ``format`` "lammps-dump" or "extxyz"
    (default: recognised from the file).
    """
    from glassdyn.data.extxyz_trajectory import index_extxyz
    from glassdyn.data.lammps_trajectory import index_lammps_dump  # both import the index

    p = Path(path)
    if not p.is_file():
        raise InputError(f"no trajectory file at {p}")
    if species is not None:
        species = tuple(str(s).strip() for s in species)
        if len(species) != 2 or len(set(species)) != 2 or not all(species):
            raise InputError(
                f"--species needs two different labels, A's then B's (e.g. 1,2): {list(species)}"
            )
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise InputError(f"--dt must be a positive time step, got {dt}")
    fmt = format or _sniff(p)
    if fmt == "lammps-dump":
        return index_lammps_dump(p, species=species, dt=dt)
    if fmt == "extxyz":
        return index_extxyz(p, species=species, dt=dt)
    raise InputError(f"unknown trajectory format {fmt!r}; use 'lammps-dump' or 'extxyz'")


def _sniff(p: Path) -> str:
    if p.suffix.lower() in (".xyz", ".extxyz"):
        return "extxyz"
    with open(p, "rb") as fh:
        head = fh.read(4096)
    first = next((ln.strip() for ln in head.splitlines() if ln.strip()), b"")
    if first.startswith(b"ITEM:"):
        return "lammps-dump"
    if first.isdigit():
        return "extxyz"
    raise InputError(
        f"{p} is neither a LAMMPS text dump (starting with 'ITEM: TIMESTEP') nor an extended XYZ "
        "file (starting with the number of atoms); binary dumps are not read: dump as text"
    )
