"""LAMMPS data files (``read_data``, atom_style atomic) and text dump files (``dump custom``).

Conventions: LAMMPS atom type 1 = A, 2 = B (store types 0 / 1); orthorhombic periodic boxes
only; the box origin is shifted to 0 on reading.  Writers use ``lo = 0``, ids 1..N in store
order, 17 significant digits for positions and box (exact doubles) and 9 for per-particle
fields (exact float32).

Data files hold positions and types (and masses) only: per-particle fields travel in dumps,
whose extra columns (``ITEM: ATOMS id type x y z propensity mobility``) OVITO shows as
particle properties (colour coding by ``mobility``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.frame import Frame, types_from_lammps, types_from_species

_FMT = "%.9g"  # per-particle fields: float32 survives exactly
_POS = "%.17g"  # positions, box: float64 survives exactly (LAMMPS sees the stored values)
_BOX = _POS

# ---------------------------------------------------------------------------------- data files

_SECTIONS = {
    "Atom Type Labels", "Bond Type Labels", "Angle Type Labels", "Dihedral Type Labels",
    "Improper Type Labels", "Atoms", "Velocities", "Masses", "Ellipsoids", "Lines", "Triangles", "Bodies", "Bonds", "Angles",
    "Dihedrals", "Impropers", "Pair Coeffs", "PairIJ Coeffs", "Bond Coeffs", "Angle Coeffs",
    "Dihedral Coeffs", "Improper Coeffs", "BondBond Coeffs", "BondAngle Coeffs", "MiddleBondTorsion Coeffs",
    "EndBondTorsion Coeffs", "AngleTorsion Coeffs", "AngleAngleTorsion Coeffs", "BondBond13 Coeffs",
    "AngleAngle Coeffs",
}  # fmt: skip

# Atoms-section columns of the atom styles we read: (index of type, index of x)
_ATOM_STYLES = {
    "atomic": (1, 2),
    "charge": (1, 3),
    "bond": (2, 3),
    "angle": (2, 3),
    "molecular": (2, 3),
    "full": (2, 4),
}


def write_lammps_data(
    path: str | os.PathLike,
    frame: Frame,
    *,
    title: str | None = None,
    masses: Sequence[float] = (1.0, 1.0),
    type_labels: bool = True,
) -> None:
    """Write ``frame`` as a LAMMPS data file (atom_style atomic, 2 atom types).

    Positions are written wrapped into [0, L) with image flags, so unwrapped positions survive.
    ``type_labels`` adds an ``Atom Type Labels`` section (1 A, 2 B) that OVITO shows as type
    names; LAMMPS reads it since version 15Sep2022 (pass False for older ones).  Per-particle
    fields are not representable in a data file: use a dump or extended XYZ.
    """
    L = frame.box
    images = np.floor(frame.positions / L).astype(np.int64)
    wrapped = frame.positions - images * L
    # float rounding can leave a coordinate at exactly L
    over = wrapped >= L
    wrapped[over] -= L[np.nonzero(over)[1]]
    images[over] += 1
    n = frame.n_particles
    head = [
        title or "glassdyn configuration",
        "",
        f"{n} atoms",
        "2 atom types",
        "",
        f"0 {_BOX % L[0]} xlo xhi",
        f"0 {_BOX % L[1]} ylo yhi",
        f"0 {_BOX % L[2]} zlo zhi",
        "",
        *(["Atom Type Labels", "", "1 A", "2 B", ""] if type_labels else []),
        "Masses",
        "",
        f"1 {masses[0]:g}",
        f"2 {masses[1]:g}",
        "",
        "Atoms # atomic",
        "",
    ]
    ids = np.arange(1, n + 1)
    lines = [
        f"{i} {t} {_POS % x} {_POS % y} {_POS % z} {a} {b} {c}"
        for i, t, (x, y, z), (a, b, c) in zip(ids, frame.types.astype(int) + 1, wrapped, images)
    ]
    Path(path).write_text("\n".join(head + lines) + "\n")


def read_lammps_data(path: str | os.PathLike) -> Frame:
    """Read a LAMMPS data file (styles atomic, charge, bond, angle, molecular, full).

    Returns positions unwrapped by the image flags when present, sorted by atom id.
    """
    p = Path(path)
    raw = _read_lines(p)
    lines = [ln.split("#")[0].strip() for ln in raw]
    styles = [ln.partition("#")[2].strip() for ln in raw]
    where = str(p)
    n_atoms, lo, box, i = _data_header(lines, where)
    atoms, style, labels = _data_sections(lines, styles, i, where)
    if atoms is None:
        raise InputError(f"{where}: no 'Atoms' section")
    if style not in _ATOM_STYLES:
        raise InputError(
            f"{where}: atom_style {style!r} is not supported (use one of {sorted(_ATOM_STYLES)})"
        )
    if len(atoms) != n_atoms:
        raise InputError(
            f"{where}: header says {n_atoms} atoms, the Atoms section has {len(atoms)} lines"
        )
    ti, xi = _ATOM_STYLES[style]
    width = xi + 6  # id, (molecule,) type, (charge,) x y z, image flags (optional: 0)
    table = [ln.split() for ln in atoms]
    if labels:  # types may be given by label (LAMMPS type labels)
        for r in table:
            if len(r) > ti:
                r[ti] = labels.get(r[ti], r[ti])
    bad = next((a for a, r in enumerate(table) if len(r) not in (width - 3, width)), None)
    if bad is not None:
        raise InputError(
            f"{where}: Atoms line {bad + 1} has {len(table[bad])} columns; atom_style {style} needs {width - 3} "
            f"(or {width} with image flags)"
        )
    try:
        rows = np.array(
            [r + ["0", "0", "0"] if len(r) == width - 3 else r for r in table], dtype=np.float64
        )
    except ValueError:
        raise InputError(f"{where}: Atoms section holds non-numeric values") from None
    order = np.argsort(rows[:, 0], kind="stable")
    rows = rows[order]
    pos = rows[:, xi : xi + 3] - lo + rows[:, xi + 3 : xi + 6] * box
    types = types_from_lammps(rows[:, ti].astype(np.int64), where)
    return _frame(where, pos, types, box, {}, {})


def _data_header(lines: list[str], where: str):
    """(number of atoms, lo (3,), box (3,), first line after the header) of a data file's
    (comment-stripped) ``lines``; only orthorhombic boxes are accepted."""
    n_atoms = None
    bounds: dict[str, tuple[float, float]] = {}
    tilt = (0.0, 0.0, 0.0)
    i = 1  # the first line is the title
    while i < len(lines) and lines[i] not in _SECTIONS:
        words = lines[i].split()
        try:
            if len(words) == 2 and words[1] == "atoms":
                n_atoms = int(words[0])
            elif words[-2:] in (["xlo", "xhi"], ["ylo", "yhi"], ["zlo", "zhi"]):
                bounds[words[-2][0]] = (float(words[0]), float(words[1]))
            elif words[-3:] == ["xy", "xz", "yz"]:
                tilt = (float(words[0]), float(words[1]), float(words[2]))
            elif words and words[-1] in ("avec", "bvec", "cvec", "abc"):
                raise InputError(
                    f"{where}: general triclinic cell ({words[-1]}); glassdyn handles orthorhombic boxes only"
                )
        except ValueError:
            raise InputError(f"{where}: malformed header line {i + 1}: {lines[i]!r}") from None
        i += 1
    if n_atoms is None:
        raise InputError(f"{where}: no 'N atoms' line in the header; is this a LAMMPS data file?")
    missing = [a for a in "xyz" if a not in bounds]
    if missing:
        raise InputError(f"{where}: header lacks the '{missing[0]}lo {missing[0]}hi' line")
    if any(abs(t) > 0 for t in tilt):
        raise InputError(
            f"{where}: triclinic box with tilt factors xy xz yz = {tilt}; glassdyn handles orthorhombic boxes only"
        )
    lo = np.array([bounds[a][0] for a in "xyz"])
    box = np.array([bounds[a][1] - bounds[a][0] for a in "xyz"])
    return n_atoms, lo, box, i


def _data_sections(lines: list[str], styles: list[str], i: int, where: str):
    """(lines of the Atoms section or None, its atom style, type labels {label: type}) of the
    sections from line ``i`` on (``styles``: each line's comment, where the style is named)."""
    atoms, style, labels = None, "atomic", {}
    while i < len(lines):  # sections: a keyword line, then numeric lines
        name = lines[i]
        if name not in _SECTIONS:
            if lines[i]:
                raise InputError(f"{where}: unexpected line {i + 1}: {lines[i]!r}")
            i += 1
            continue
        head = i
        i += 1
        while i < len(lines) and not lines[i]:
            i += 1
        start = i
        while i < len(lines) and lines[i] and lines[i] not in _SECTIONS:
            i += 1
        if name == "Atoms":
            atoms, style = lines[start:i], styles[head] or "atomic"
        elif name == "Atom Type Labels":
            labels = {w[1]: w[0] for w in (ln.split() for ln in lines[start:i]) if len(w) == 2}
    return atoms, style, labels


# ---------------------------------------------------------------------------------- dump files

_POSITION_KINDS = (("x", "y", "z"), ("xu", "yu", "zu"), ("xs", "ys", "zs"), ("xsu", "ysu", "zsu"))
_CONSUMED = {"id", "type", "element", "ix", "iy", "iz"} | {
    c for kind in _POSITION_KINDS for c in kind
}


def write_lammps_dump(
    path: str | os.PathLike, frames: Frame | Sequence[Frame], *, append: bool = False
) -> None:
    """Write frames as a text ``dump custom``: ``id type x y z`` plus one column per field;
    type 1 is A, type 2 is B (LAMMPS' own numbering, as in the data files).

    No ``element`` column: ASE's dump reader takes one for chemical symbols, and A / B are none
    (``ase.io.read`` failed with KeyError: 'A'); from ``type`` it reads A and B as atomic numbers
    1 and 2 (``atoms.arrays["type"]``), OVITO as particle types 1 and 2.

    The timestep of a frame is ``frame.info["timestep"]`` (default: its index).  Every frame of
    one file must carry the same field names.
    """
    frames = [frames] if isinstance(frames, Frame) else list(frames)
    if not frames:
        raise InputError("write_lammps_dump: no frames to write")
    names = list(frames[0].fields)
    with open(path, "a" if append else "w") as fh:
        for k, fr in enumerate(frames):
            if list(fr.fields) != names:
                raise InputError(
                    f"write_lammps_dump: frame {k} has fields {list(fr.fields)}, frame 0 has {names}"
                )
            n = fr.n_particles
            L = fr.box
            fh.write(f"ITEM: TIMESTEP\n{int(fr.info.get('timestep', k))}\n")
            fh.write(f"ITEM: NUMBER OF ATOMS\n{n}\n")
            fh.write("ITEM: BOX BOUNDS pp pp pp\n")
            fh.write("".join(f"0 {_BOX % length}\n" for length in L))
            fh.write("ITEM: ATOMS " + " ".join(["id", "type", "x", "y", "z", *names]) + "\n")
            cols = [
                np.arange(1, n + 1).astype(object),
                (fr.types.astype(int) + 1).astype(object),
                *fr.positions.T,
                *(fr.fields[f] for f in names),
            ]
            fmt = ["%d", "%d"] + [_POS] * 3 + [_FMT] * len(names)
            np.savetxt(fh, np.column_stack(cols).astype(object), fmt=fmt)


def read_lammps_dump(
    path: str | os.PathLike, *, species: tuple[str, str] = ("A", "B")
) -> list[Frame]:
    """Every frame of a text LAMMPS dump (``dump custom`` / ``atom``), sorted by atom id.

    Positions come from ``x y z`` (plus ``ix iy iz`` image flags when present), else ``xu yu
    zu``, else scaled ``xs ys zs`` / ``xsu ysu zsu``.  Types from ``type`` (1 = A, 2 = B), or
    from ``element`` names (``species``) when there is no ``type`` column.  Every other numeric
    column becomes a per-particle field (``vx``, ``c_pe``, ``propensity``, ...).
    """
    return list(iter_lammps_dump(path, species=species))


def iter_lammps_dump(
    path: str | os.PathLike, *, species: tuple[str, str] = ("A", "B")
) -> Iterator[Frame]:
    p = Path(path)
    lines = _read_lines(p)
    i, k = 0, 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        where = f"{p} frame {k}"
        frame, i = _parse_dump_frame(lines, i, where, species)
        yield frame
        k += 1
    if k == 0:
        raise InputError(f"{p}: no frames (empty file?)")


def _parse_dump_frame(lines: list[str], i: int, where: str, species) -> tuple[Frame, int]:
    def expect(prefix: str) -> str:
        nonlocal i
        if i >= len(lines) or not lines[i].startswith(prefix):
            got = lines[i].strip() if i < len(lines) else "end of file"
            raise InputError(
                f"{where}: expected '{prefix}', got '{got[:60]}' (line {i + 1}); is this a LAMMPS text dump?"
            )
        line = lines[i]
        i += 1
        return line

    info: dict[str, object] = {}
    while (
        i < len(lines)
        and lines[i].startswith(("ITEM: UNITS", "ITEM: TIME"))
        and not lines[i].startswith("ITEM: TIMESTEP")
    ):  # dump_modify units yes / time yes
        key = "units" if lines[i].startswith("ITEM: UNITS") else "time"
        value = lines[i + 1].strip() if i + 1 < len(lines) else ""
        try:
            info[key] = value if key == "units" else float(value)
        except ValueError:
            raise InputError(f"{where}: malformed ITEM: TIME value {value!r}") from None
        i += 2
    expect("ITEM: TIMESTEP")
    try:
        timestep = int(lines[i].split()[0])
        i += 1
        expect("ITEM: NUMBER OF ATOMS")
        n = int(lines[i].split()[0])
        i += 1
    except (ValueError, IndexError):
        raise InputError(f"{where}: malformed TIMESTEP / NUMBER OF ATOMS (line {i + 1})") from None
    lo, box, i = _dump_box(lines, expect("ITEM: BOX BOUNDS").split()[3:], i, where)
    columns = expect("ITEM: ATOMS").split()[2:]
    if len(lines) < i + n:
        raise InputError(
            f"{where}: file ends after {len(lines) - i} of {n} atom lines (truncated dump?)"
        )
    pos, types, fields = _dump_atoms(lines[i : i + n], columns, lo, box, where, species)
    i += n
    return _frame(where, pos, types, box, fields, {"timestep": timestep, **info}), i


def _dump_box(lines: list[str], header: list[str], i: int, where: str):
    """(lo (3,), box (3,), next line) of a dump's BOX BOUNDS item (``header``: its words after
    ``ITEM: BOX BOUNDS``); only orthorhombic periodic boxes are accepted."""
    if "abc" in header or "origin" in header:
        raise InputError(
            f"{where}: general triclinic box (abc origin); glassdyn handles orthorhombic boxes only"
        )
    tilted = header[:3] == ["xy", "xz", "yz"]
    flags = header[3:] if tilted else header
    if flags and any(f != "pp" for f in flags):
        raise InputError(
            f"{where}: boundary {' '.join(flags)} is not periodic in every direction (pp pp pp)"
        )
    try:
        rows = [[float(v) for v in lines[i + a].split()] for a in range(3)]
    except (ValueError, IndexError):
        raise InputError(f"{where}: malformed BOX BOUNDS lines") from None
    i += 3
    lo = np.array([r[0] for r in rows])
    hi = np.array([r[1] for r in rows])
    if tilted:
        tilts = [r[2] if len(r) > 2 else 0.0 for r in rows]
        if any(abs(t) > 0 for t in tilts):
            raise InputError(
                f"{where}: triclinic box with tilt factors xy xz yz = {tilts}; glassdyn handles orthorhombic boxes only"
            )
    return lo, hi - lo, i


def _dump_atoms(body: list[str], columns: list[str], lo, box, where: str, species):
    """(positions (N, 3) in [0, box) or unwrapped, types (N,), other numeric columns) of a dump's
    atom lines, ordered by ``id`` when there is one."""
    table = [ln.split() for ln in body]
    if any(len(r) != len(columns) for r in table):
        bad = next(a for a, r in enumerate(table) if len(r) != len(columns))
        raise InputError(
            f"{where}: atom line {bad + 1} has {len(table[bad])} values for {len(columns)} columns {columns}"
        )
    raw = np.array(table, dtype=object).reshape(len(body), len(columns))
    col = {name: raw[:, c] for c, name in enumerate(columns)}

    def numeric(name: str) -> np.ndarray:
        try:
            return col[name].astype(np.float64)
        except ValueError:
            raise InputError(f"{where}: column {name!r} is not numeric") from None

    kind = next((k for k in _POSITION_KINDS if all(c in col for c in k)), None)
    if kind is None:
        raise InputError(
            f"{where}: needs position columns x y z (or xu yu zu, xs ys zs); the dump has {columns}. "
            "Dump with `dump ID all custom N FILE id type x y z`"
        )
    if "type" in col:
        types = types_from_lammps(numeric("type").astype(np.int64), where)
    elif "element" in col:
        types = types_from_species(col["element"].astype(str), species, where)
    else:
        raise InputError(f"{where}: needs a 'type' (or 'element') column; the dump has {columns}")
    pos = np.column_stack([numeric(c) for c in kind])
    if kind[0].startswith("xs"):
        pos = pos * box
    else:
        pos = pos - lo
    if kind[0] == "x" and all(c in col for c in ("ix", "iy", "iz")):
        pos = pos + np.column_stack([numeric(c) for c in ("ix", "iy", "iz")]) * box
    fields = {}
    for name in columns:
        if name in _CONSUMED:
            continue
        fields[name] = numeric(name)
    if "id" in col:
        order = np.argsort(numeric("id"), kind="stable")
        pos, types = pos[order], types[order]
        fields = {k: v[order] for k, v in fields.items()}
    return pos, types, fields


# ------------------------------------------------------------------------------------- helpers


def _read_lines(p: Path) -> list[str]:
    if not p.is_file():
        raise InputError(f"no file at {p}")
    try:
        return p.read_text().splitlines()
    except UnicodeDecodeError:
        raise InputError(
            f"{p} is not a text file (binary dumps are not supported; dump as text)"
        ) from None


def _frame(where: str, pos, types, box, fields, info) -> Frame:
    try:
        return Frame(pos, types, box, fields, info)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
