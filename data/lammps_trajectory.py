"""LAMMPS text dumps as trajectories (see :mod:`glassdyn.data.trajectory`): the index pass and
the chunk parser.

The index pass reads each frame's ``ITEM:`` header and skips its atom lines by counting newlines
in binary blocks (no parsing); frame 0 is parsed to fix the particle ids and types that every
later frame must repeat.  Frames are parsed with ``np.array(tokens, float)`` on a whole frame
(4096 atoms in about 6 ms), sorted by id; the box origin ``lo`` is moved to 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.trajectory_index import (
    LAMMPS_DT,
    FrameScan,
    Trajectory,
    map_species,
    read_line,
)

_POSITIONS = (  # (columns, scaled, unwrapped), in order of preference
    (("xu", "yu", "zu"), False, True),
    (("xsu", "ysu", "zsu"), True, True),
    (("x", "y", "z"), False, False),
    (("xs", "ys", "zs"), True, False),
)
_IMAGES = ("ix", "iy", "iz")


def _dump_header(fh, where: str) -> dict | None:
    """Items of one frame header up to ``ITEM: ATOMS``; None at a clean end of file."""
    items: dict[str, object] = {}
    line = fh.readline()
    while line and not line.strip():
        line = fh.readline()
    if not line:
        return None
    while True:
        text = line.decode(errors="replace").strip()
        if not text.startswith("ITEM:"):
            raise InputError(
                f"{where}: expected an 'ITEM:' line, got {text[:60]!r}; is this a LAMMPS text dump?"
            )
        name = text[5:].strip()
        if name.startswith("ATOMS"):
            items["ATOMS"] = name.split()[1:]
            return items
        if name.startswith("BOX BOUNDS"):
            items["BOX FLAGS"] = name.split()[2:]
            items["BOX"] = [read_line(fh).split() for _ in range(3)]
        else:
            items[name] = read_line(fh).decode(errors="replace").strip()
        line = read_line(fh)


def _dump_box(items: dict, where: str) -> tuple[np.ndarray, np.ndarray]:
    flags = list(items.get("BOX FLAGS", []))
    if "abc" in flags or "origin" in flags:
        raise InputError(
            f"{where}: general triclinic box; glassdyn handles orthorhombic boxes only"
        )
    tilted = flags[:3] == ["xy", "xz", "yz"]
    bounds = flags[3:] if tilted else flags
    if any(f != "pp" for f in bounds):
        raise InputError(
            f"{where}: boundary {' '.join(bounds)} is not periodic in every direction (pp pp pp)"
        )
    try:
        rows = [[float(v) for v in r] for r in items["BOX"]]
        lo = np.array([r[0] for r in rows])
        hi = np.array([r[1] for r in rows])
        tilt = [r[2] if len(r) > 2 else 0.0 for r in rows]
    except (ValueError, IndexError, KeyError):
        raise InputError(f"{where}: malformed BOX BOUNDS lines") from None
    if any(t != 0.0 for t in tilt):
        raise InputError(
            f"{where}: triclinic box with tilt factors xy xz yz = {tilt}; glassdyn handles "
            "orthorhombic boxes only"
        )
    if not np.all(hi > lo):
        raise InputError(f"{where}: box bounds must have hi > lo, got lo {lo} hi {hi}")
    return lo, hi - lo


def _dump_columns(columns: list[str], species, where: str) -> dict:
    col = {c: i for i, c in enumerate(columns)}
    kind = next((k for k in _POSITIONS if all(c in col for c in k[0])), None)
    if kind is None:
        raise InputError(
            f"{where}: no position columns (xu yu zu, x y z, xs ys zs) among {columns}; "
            "dump with `dump ID all custom N FILE id type xu yu zu`"
        )
    if "id" not in col:
        raise InputError(
            f"{where}: no 'id' column among {columns}: particles cannot be followed between "
            "frames; dump `id type xu yu zu`"
        )
    numeric = species is not None and all(s.lstrip("-").isdigit() for s in species)
    label = "type" if "type" in col and (species is None or numeric) else "element"
    if label not in col:
        label = "type" if "type" in col else None
    if label is None:
        raise InputError(f"{where}: needs a 'type' (or 'element') column; the dump has {columns}")
    images = tuple(col[c] for c in _IMAGES) if all(c in col for c in _IMAGES) else ()
    unwrap = "unwrapped" if kind[2] else ("image flags" if images else "continuity")
    return {
        "id": col["id"],
        "label": col[label],
        "label_name": label,
        "position": tuple(col[c] for c in kind[0]),
        "scaled": kind[1],
        "image": images if not kind[2] else (),
        "unwrap": unwrap,
    }


@dataclass(frozen=True)
class DumpLayout:
    """How to turn a dump frame's atom lines into positions (see :func:`index_lammps_dump`)."""

    columns: tuple[str, ...]
    columns_at: dict
    body: np.ndarray  # (F,) byte offset of each frame's first atom line
    lo: np.ndarray  # (3,)
    ids: np.ndarray  # (N,) sorted particle ids of frame 0
    defaults: tuple

    def table(self, raw: bytes, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
        """(values (n, ncol) float64, type labels (n,) str) of one frame's atom lines, by id."""
        c, ncol = self.columns_at, len(self.columns)
        tokens = raw.split()
        if len(tokens) != n * ncol:
            raise InputError(
                f"{where}: {len(tokens)} values in the atom lines, expected {n} atoms x {ncol} "
                f"columns {list(self.columns)}"
            )
        try:
            table = np.array(tokens, dtype=np.float64).reshape(n, ncol)
            labels = np.char.mod("%d", table[:, c["label"]].astype(np.int64))
        except ValueError:  # a text column (element, type labels)
            obj = np.array(tokens, dtype=object).reshape(n, ncol)
            labels = obj[:, c["label"]].astype(str)
            table = np.zeros((n, ncol))
            try:
                for k in (c["id"], *c["position"], *c["image"]):
                    table[:, k] = obj[:, k].astype(np.float64)
            except ValueError:
                raise InputError(
                    f"{where}: an id, position or image column is not numeric"
                ) from None
        order = np.argsort(table[:, c["id"]], kind="stable")
        return table[order], labels[order]

    def parse(self, traj: Trajectory, raw: bytes, start: int, stop: int) -> list[np.ndarray]:
        c, base, out = self.columns_at, int(traj.offsets[start]), []
        for k in range(start, stop):
            where = f"{traj.path} frame {k}"
            body = raw[int(self.body[k]) - base : int(traj.offsets[k + 1]) - base]
            table, labels = self.table(body, traj.n_particles, where)
            if not np.array_equal(table[:, c["id"]], self.ids):
                raise InputError(f"{where}: holds other particle ids than frame 0")
            types, _ = map_species(labels, traj.species, (), where)
            if not np.array_equal(types, traj.types):
                raise InputError(f"{where}: particle types differ from frame 0 for the same ids")
            x = table[:, list(c["position"])]
            x = x * traj.box if c["scaled"] else x - self.lo
            if c["image"]:
                x = x + table[:, list(c["image"])] * traj.box
            out.append(x)
        return out


def index_lammps_dump(p: Path, *, species, dt) -> Trajectory:
    """Index a LAMMPS text dump (``dump custom``); see :mod:`glassdyn.data.trajectory`."""
    scan = _scan_dump(p)
    first, offsets, bodies = scan["first"], scan["offsets"], scan["bodies"]
    layout = _dump_columns(first["columns"], species, f"{p} frame 0")
    defaults = (("1", "2"), ("A", "B")) if layout["label_name"] == "type" else (("A", "B"),)
    lay = DumpLayout(tuple(first["columns"]), layout, bodies, first["lo"], None, defaults)
    with open(p, "rb") as fh:
        fh.seek(int(bodies[0]))
        raw = fh.read(int(offsets[1] - bodies[0]))
    table, labels = lay.table(raw, first["n"], f"{p} frame 0")
    types, pair = map_species(labels, species, defaults, f"{p} frame 0")
    ids = table[:, layout["id"]]
    if len(np.unique(ids)) != len(ids):
        raise InputError(f"{p} frame 0: particle ids repeat; every particle needs its own id")
    steps = np.asarray(scan["steps"], dtype=np.int64)
    times = scan["times"]
    if all(t is not None for t in times):
        t, source = np.asarray(times) - times[0], "ITEM: TIME of the dump"
    else:
        step_dt = LAMMPS_DT if dt is None else float(dt)
        t = (steps - steps[0]) * step_dt
        source = f"TIMESTEP x dt, dt = {step_dt:g}" + (
            " (LAMMPS' lj default; pass --dt if the run used another)" if dt is None else ""
        )
    unwrap, trunc = layout["unwrap"], scan["truncated"]
    return Trajectory(
        p,
        "lammps-dump",
        types,
        first["box"],
        t,
        steps,
        source,
        unwrap,
        trunc,
        pair,
        offsets,
        replace(lay, ids=ids),
    )


def _scan_dump(p: Path) -> dict:
    """The index pass: frame offsets (F + 1,), atom-line offsets (F,), TIMESTEPs, ITEM: TIME
    values (or None), frame 0's header, and the truncation message (or None)."""
    offsets, bodies, steps, times = [], [], [], []
    first = None

    def header(fh, where):
        items = _dump_header(fh, where)
        if items is None:
            return None
        step, n = _dump_counts(items, where)
        lo, box = _dump_box(items, where)
        return n, (items, step, lo, box)

    scan = FrameScan(p, header)
    for k, where, start, body, n, (items, step, lo, box) in scan:
        if first is None:
            first = {"n": n, "lo": lo, "box": box, "columns": items["ATOMS"]}
        else:
            _same_as_first(first, n, lo, box, items["ATOMS"], where)
        if steps and step <= steps[-1]:
            raise InputError(
                f"{where}: TIMESTEP {step} does not increase (frame {k - 1} has {steps[-1]}); "
                "two runs appended to one file? keep one run per file"
            )
        offsets.append(start)
        bodies.append(body)
        steps.append(step)
        times.append(_float_or_none(items.get("TIME")))
    return {
        "offsets": np.asarray([*offsets, scan.end], dtype=np.int64),
        "bodies": np.asarray(bodies, dtype=np.int64),
        "steps": steps,
        "times": times,
        "first": first,
        "truncated": scan.truncated,
    }


def _dump_counts(items: dict, where: str) -> tuple[int, int]:
    try:
        return (
            int(str(items["TIMESTEP"]).split()[0]),
            int(str(items["NUMBER OF ATOMS"]).split()[0]),
        )
    except (KeyError, ValueError, IndexError):
        raise InputError(
            f"{where}: missing or malformed ITEM: TIMESTEP / NUMBER OF ATOMS"
        ) from None


def _same_as_first(first: dict, n, lo, box, columns, where: str) -> None:
    if n != first["n"]:
        raise InputError(
            f"{where}: {n} atoms, frame 0 has {first['n']}; the particle count must not change "
            "(delete_atoms / evaporation runs cannot be analysed by time origins)"
        )
    if not (
        np.allclose(box, first["box"], rtol=1e-9, atol=0)
        and np.allclose(lo, first["lo"], rtol=0, atol=1e-9 * box.max())
    ):
        raise InputError(
            f"{where}: box {box.tolist()} differs from frame 0's {first['box'].tolist()}; "
            "time-origin analysis needs a fixed box (NVT or NVE, not NPT)"
        )
    if list(columns) != list(first["columns"]):
        raise InputError(f"{where}: columns {columns} differ from frame 0's {first['columns']}")


def _float_or_none(v) -> float | None:
    try:
        return float(str(v).split()[0]) if v is not None else None
    except (ValueError, IndexError):
        return None
