"""Multi-frame extended XYZ files as trajectories (see :mod:`glassdyn.data.trajectory`): the
index pass (count line and comment line of each frame, parsed by ASE's ``key_val_str_to_dict``;
atom lines skipped) and the chunk parser (``ase.io.iread`` on the chunk's text, the species column
kept as labels as :func:`glassdyn.data.extxyz.read_extxyz` keeps it, so species that are not
chemical elements read as they do on import).  Positions are unwrapped by continuity; species A / B
(or H / He, as ASE rewrites glassdyn's files) unless named.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.frame import orthorhombic_box
from glassdyn.data.trajectory_index import FrameScan, Trajectory, map_species, read_line

_TIME_KEYS = ("time", "Time", "t")
_STEP_KEYS = ("timestep", "Timestep", "step", "Step")


@dataclass(frozen=True)
class XyzLayout:
    """Extended XYZ frames are parsed by ASE; species mapped with ``defaults``."""

    defaults: tuple

    def atoms(self, text: str, where: str) -> list:
        import ase.io
        from glassdyn.data.extxyz import _species_as_labels

        try:
            return list(
                ase.io.iread(
                    io.StringIO(text),
                    index=":",
                    format="extxyz",
                    properties_parser=_species_as_labels,
                )
            )
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        except Exception as exc:  # ASE raises plain exceptions on malformed frames
            raise InputError(f"{where}: ASE could not read the frames: {exc}") from None

    def parse(self, traj: Trajectory, raw: bytes, start: int, stop: int) -> list[np.ndarray]:
        where = f"{traj.path} frames {start}..{stop - 1}"
        frames = self.atoms(raw.decode(errors="replace"), where)
        if len(frames) != stop - start:
            raise InputError(
                f"{where}: ASE read {len(frames)} frames, the index has {stop - start}"
            )
        out = []
        for k, atoms in zip(range(start, stop), frames):
            types, _ = map_species(_labels(atoms), traj.species, (), f"{traj.path} frame {k}")
            if not np.array_equal(types, traj.types):
                raise InputError(
                    f"{traj.path} frame {k}: species differ from frame 0's, particle by particle"
                )
            out.append(np.asarray(atoms.positions, dtype=np.float64))
        return out


def _labels(atoms) -> list[str]:
    """The species column of a frame read with the labels parser."""
    from glassdyn.data.extxyz import _LABELS

    return [str(s) for s in atoms.arrays[_LABELS]]


def _xyz_header(fh, where: str) -> tuple[int, dict] | None:
    from ase.io.extxyz import key_val_str_to_dict

    line = fh.readline()
    while line and not line.strip():
        line = fh.readline()
    if not line:
        return None
    try:
        n = int(line.split()[0])
    except ValueError:
        raise InputError(
            f"{where}: expected the number of atoms, got {line[:60]!r}; is this an XYZ file?"
        ) from None
    comment = read_line(fh).decode(errors="replace")
    try:
        info = key_val_str_to_dict(comment)
    except Exception as exc:
        raise InputError(f"{where}: malformed comment line ({exc})") from None
    return n, info


def _xyz_box(info: dict, where: str) -> np.ndarray:
    if "Lattice" not in info:
        raise InputError(f'{where}: no Lattice="..." in the comment line; a periodic box is needed')
    box = orthorhombic_box(np.asarray(info["Lattice"], dtype=np.float64), where)
    pbc = info.get("pbc", [True, True, True])
    if not np.all(np.asarray(pbc, dtype=bool)):
        raise InputError(f"{where}: pbc={pbc}; the box must be periodic in every direction")
    if not np.all(box > 0):
        raise InputError(f"{where}: box lengths must be positive, got {box.tolist()}")
    return box


def _xyz_time(info: dict) -> tuple[float | None, int | None]:
    t = next((float(info[k]) for k in _TIME_KEYS if k in info), None)
    s = next((int(info[k]) for k in _STEP_KEYS if k in info), None)
    return t, s


def index_extxyz(p: Path, *, species, dt) -> Trajectory:
    """Index a multi-frame extended XYZ file; see :mod:`glassdyn.data.trajectory`."""
    offsets, times, steps = [], [], []
    box0 = n0 = None

    def header(fh, where):
        head = _xyz_header(fh, where)
        if head is None:
            return None
        n, info = head
        return n, (info, _xyz_box(info, where))

    scan = FrameScan(p, header)
    for _k, where, start, _body, n, (info, box) in scan:
        if n0 is None:
            n0, box0 = n, box
        elif n != n0:
            raise InputError(
                f"{where}: {n} atoms, frame 0 has {n0}; the particle count must not change"
            )
        elif not np.allclose(box, box0, rtol=1e-9, atol=0):
            raise InputError(
                f"{where}: box {box.tolist()} differs from frame 0's {box0.tolist()}; "
                "time-origin analysis needs a fixed box (NVT or NVE, not NPT)"
            )
        t, s = _xyz_time(info)
        offsets.append(start)
        times.append(t)
        steps.append(s)
    offsets.append(scan.end)
    truncated = scan.truncated
    t, steps_a, source = _xyz_times(p, times, steps, dt)
    defaults = (("A", "B"), ("H", "He"))
    lay = XyzLayout(defaults)
    with open(p, "rb") as fh:
        fh.seek(offsets[0])
        (atoms,) = lay.atoms(
            fh.read(offsets[1] - offsets[0]).decode(errors="replace"), f"{p} frame 0"
        )
    types, pair = map_species(_labels(atoms), species, defaults, f"{p} frame 0")
    return Trajectory(
        p,
        "extxyz",
        types,
        box0,
        t,
        steps_a,
        source,
        "continuity",
        truncated,
        pair,
        np.asarray(offsets, dtype=np.int64),
        lay,
    )


def _xyz_times(p: Path, times: list, steps: list, dt) -> tuple[np.ndarray, np.ndarray | None, str]:
    if all(t is not None for t in times):
        t = np.asarray(times, dtype=np.float64)
        source = "time= of the comment lines"
        steps_a = np.asarray(steps, dtype=np.int64) if all(s is not None for s in steps) else None
    elif all(s is not None for s in steps):
        if dt is None:
            raise InputError(
                f"{p}: frames carry timestep= but no time=; pass --dt, the MD time step"
            )
        steps_a = np.asarray(steps, dtype=np.int64)
        t, source = steps_a * float(dt), f"timestep= x dt, dt = {float(dt):g}"
    else:
        if dt is None:
            raise InputError(
                f"{p}: frames carry no time= (nor timestep=); pass --dt, the time between frames"
            )
        steps_a = None
        t, source = np.arange(len(times)) * float(dt), f"frame index x dt, dt = {float(dt):g}"
    t = t - t[0]
    bad = np.flatnonzero(np.diff(t) <= 0)
    if len(bad):
        raise InputError(
            f"{p} frame {bad[0] + 1}: time {t[bad[0] + 1]:g} does not increase (frame {bad[0]} has "
            f"{t[bad[0]]:g}); keep one run per file, frames in time order"
        )
    return t, steps_a, source
