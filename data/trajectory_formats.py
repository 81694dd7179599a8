"""Indexing and chunk parsing of the two trajectory formats of :mod:`glassdyn.data.trajectory`.

The index pass reads each frame's header lines and skips its atom lines by counting newlines in
binary blocks (no parsing), so a 500 MB dump is indexed in about a second.  Frame 0 is parsed to
fix the particle ids and types that every later frame must repeat.

LAMMPS dumps are parsed here (``np.array(tokens, float)`` on a whole frame, 4096 atoms in ~6 ms);
extended XYZ frames by ASE (``ase.io.iread`` on the chunk's text).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.trajectory import LAMMPS_DT, Trajectory, map_species

_POSITIONS = (  # (columns, scaled, unwrapped), in order of preference
    (("xu", "yu", "zu"), False, True),
    (("xsu", "ysu", "zsu"), True, True),
    (("x", "y", "z"), False, False),
    (("xs", "ys", "zs"), True, False),
)
_IMAGES = ("ix", "iy", "iz")
_TIME_KEYS = ("time", "Time", "t")
_STEP_KEYS = ("timestep", "Timestep", "step", "Step")


class _Truncated(Exception):
    """The file ends inside a frame."""


def _skip_lines(fh, n: int, guess: int) -> None:
    """Advance ``fh`` (binary) past ``n`` newline-terminated lines; _Truncated when it ends first."""
    left, size = n, max(guess, 1 << 16)
    while left > 0:
        block = fh.read(size)
        if not block:
            raise _Truncated(f"{n - left} of {n} atom lines")
        nl = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
        if len(nl) >= left:
            fh.seek(int(nl[left - 1]) + 1 - len(block), 1)
            return
        left -= len(nl)
        size = 1 << 16


def _line(fh) -> bytes:
    line = fh.readline()
    if not line:
        raise _Truncated("a header")
    return line


# ------------------------------------------------------------------------------------ LAMMPS dumps
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
            items["BOX"] = [_line(fh).split() for _ in range(3)]
        else:
            items[name] = _line(fh).decode(errors="replace").strip()
        line = _line(fh)


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
            f"{where}: no 'id' column among {columns}: particles cannot be followed between frames; "
            "dump `id type xu yu zu`"
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
    """Index a LAMMPS text dump (``dump custom`` / ``atom``); see :mod:`glassdyn.data.trajectory`."""
    offsets, bodies, steps, times = [], [], [], []
    first: dict | None = None
    truncated = None
    guess = 1 << 16
    with open(p, "rb") as fh:
        while True:
            k, start = len(offsets), fh.tell()
            where = f"{p} frame {k}"
            try:
                items = _dump_header(fh, where)
                if items is None:
                    break
                step, n = _dump_counts(items, where)
                lo, box = _dump_box(items, where)
                body = fh.tell()
                _skip_lines(fh, n, guess)
            except _Truncated as exc:
                if k == 0:
                    raise InputError(
                        f"{where}: the file ends inside the first frame ({exc})"
                    ) from None
                truncated = (
                    f"{p}: the last frame ({k}) is incomplete (the file ends after {exc}); "
                    f"using the {k} complete frames"
                )
                break
            if first is None:
                first = {"n": n, "lo": lo, "box": box, "columns": items["ATOMS"]}
                guess = int((fh.tell() - body) * 1.02) + 256
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
        offsets.append(start)  # end of the last complete frame
    if first is None:
        raise InputError(f"{p}: no frames (empty file?)")
    layout = _dump_columns(first["columns"], species, f"{p} frame 0")
    defaults = (("1", "2"), ("A", "B")) if layout["label_name"] == "type" else (("A", "B"),)
    lay = DumpLayout(
        tuple(first["columns"]), layout, np.asarray(bodies), first["lo"], None, defaults
    )
    with open(p, "rb") as fh:
        fh.seek(bodies[0])
        raw = fh.read(offsets[1] - bodies[0])
    table, labels = lay.table(raw, first["n"], f"{p} frame 0")
    types, pair = map_species(labels, species, defaults, f"{p} frame 0")
    ids = table[:, layout["id"]]
    if len(np.unique(ids)) != len(ids):
        raise InputError(f"{p} frame 0: particle ids repeat; every particle needs its own id")
    steps_a = np.asarray(steps, dtype=np.int64)
    if all(t is not None for t in times):
        t, source = np.asarray(times) - times[0], "ITEM: TIME of the dump"
    else:
        step_dt = LAMMPS_DT if dt is None else float(dt)
        t = (steps_a - steps_a[0]) * step_dt
        source = f"TIMESTEP x dt, dt = {step_dt:g}" + (
            " (LAMMPS' lj default; pass --dt if the run used another)" if dt is None else ""
        )
    return Trajectory(
        p, "lammps-dump", types, first["box"], t, steps_a, source, layout["unwrap"], truncated,
        pair, np.asarray(offsets, dtype=np.int64), replace(lay, ids=ids),
    )  # fmt: skip


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


# ---------------------------------------------------------------------------------- extended XYZ
@dataclass(frozen=True)
class XyzLayout:
    """Extended XYZ frames are parsed by ASE; species mapped with ``defaults``."""

    defaults: tuple

    def atoms(self, text: str, where: str) -> list:
        import ase.io

        try:
            return list(ase.io.iread(io.StringIO(text), index=":", format="extxyz"))
        except KeyError as exc:
            raise InputError(
                f"{where}: ASE reads species as chemical elements and {exc} is not one; add a Z "
                "column (glassdyn's writer does) or name the species by elements (--species X,Y)"
            ) from None
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
            types, _ = map_species(
                atoms.get_chemical_symbols(), traj.species, (), f"{traj.path} frame {k}"
            )
            if not np.array_equal(types, traj.types):
                raise InputError(
                    f"{traj.path} frame {k}: species differ from frame 0's, particle by particle"
                )
            out.append(np.asarray(atoms.positions, dtype=np.float64))
        return out


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
    comment = _line(fh).decode(errors="replace")
    try:
        info = key_val_str_to_dict(comment)
    except Exception as exc:
        raise InputError(f"{where}: malformed comment line ({exc})") from None
    return n, info


def _xyz_box(info: dict, where: str) -> np.ndarray:
    if "Lattice" not in info:
        raise InputError(f'{where}: no Lattice="..." in the comment line; a periodic box is needed')
    cell = np.asarray(info["Lattice"], dtype=np.float64).reshape(3, 3)
    off = cell - np.diag(np.diag(cell))
    if np.abs(off).max() > 1e-9 * max(np.abs(cell).max(), 1.0):
        raise InputError(
            f"{where}: the cell is not orthorhombic (off-diagonal {off[off != 0].tolist()[:3]}); "
            "glassdyn handles orthorhombic boxes only"
        )
    pbc = info.get("pbc", [True, True, True])
    if not np.all(np.asarray(pbc, dtype=bool)):
        raise InputError(f"{where}: pbc={pbc}; the box must be periodic in every direction")
    box = np.diag(cell).copy()
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
    truncated, guess = None, 1 << 16
    with open(p, "rb") as fh:
        while True:
            k, start = len(offsets), fh.tell()
            where = f"{p} frame {k}"
            try:
                head = _xyz_header(fh, where)
                if head is None:
                    break
                n, info = head
                box = _xyz_box(info, where)
                body = fh.tell()
                _skip_lines(fh, n, guess)
            except _Truncated as exc:
                if k == 0:
                    raise InputError(
                        f"{where}: the file ends inside the first frame ({exc})"
                    ) from None
                truncated = (
                    f"{p}: the last frame ({k}) is incomplete (the file ends after {exc}); "
                    f"using the {k} complete frames"
                )
                break
            if n0 is None:
                n0, box0, guess = n, box, int((fh.tell() - body) * 1.02) + 256
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
        offsets.append(start)
    if n0 is None:
        raise InputError(f"{p}: no frames (empty file?)")
    t, steps_a, source = _xyz_times(p, times, steps, dt)
    defaults = (("A", "B"), ("H", "He"))
    lay = XyzLayout(defaults)
    with open(p, "rb") as fh:
        fh.seek(offsets[0])
        (atoms,) = lay.atoms(
            fh.read(offsets[1] - offsets[0]).decode(errors="replace"), f"{p} frame 0"
        )
    types, pair = map_species(atoms.get_chemical_symbols(), species, defaults, f"{p} frame 0")
    return Trajectory(
        p, "extxyz", types, box0, t, steps_a, source, "continuity", truncated, pair,
        np.asarray(offsets, dtype=np.int64), lay,
    )  # fmt: skip


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
