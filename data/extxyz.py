"""Extended XYZ files (ASE / OVITO / QUIP convention), orthorhombic periodic cells only.

The comment line of each frame holds ``key=value`` pairs; ``Lattice="ax ay az bx by bz cx cy
cz"`` gives the cell (rows = cell vectors), ``Properties=name:T:m:...`` the columns (T one of S
string, R real, I integer, L logical; m columns).  glassdyn writes::

    Lattice="L 0 0 0 L 0 0 0 L" Properties=species:S:1:pos:R:3:Z:I:1:propensity:R:1 pbc="T T T" temperature=0.44

``species`` is A / B (what OVITO shows as particle types); ``Z`` (1 for A, 2 for B) is there
because A and B are not chemical elements: ASE builds its ``Atoms`` from ``Z`` (A reads as H, B
as He) and keeps the other columns in ``atoms.arrays``.  Reading takes types from ``species``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.frame import SPECIES, Frame, orthorhombic_box, types_from_species

_FMT = "%.9g"  # per-particle fields: float32 survives exactly
_POS = "%.17g"  # positions, box: float64 survives exactly (LAMMPS sees the stored values)
_BOX = _POS
_PAIR = re.compile(r'([A-Za-z_][\w.\-]*)(?:\s*=\s*("(?:[^"\\]|\\.)*"|\{[^}]*\}|\S+))?')
_CONSUMED = {"species", "pos", "Z"}


def write_extxyz(
    path: str | os.PathLike, frames: Frame | Sequence[Frame], *, append: bool = False
) -> None:
    """Write frames (one or several) to an extended XYZ file.

    Scalar ``frame.info`` entries go to the comment line; per-particle fields become ``R:1``
    columns after ``species``, ``pos`` and ``Z``.
    """
    frames = [frames] if isinstance(frames, Frame) else list(frames)
    if not frames:
        raise InputError("write_extxyz: no frames to write")
    with open(path, "a" if append else "w") as fh:
        for fr in frames:
            names = list(fr.fields)
            lat = " ".join(_BOX % v for v in np.diag(fr.box).ravel())
            props = "species:S:1:pos:R:3:Z:I:1" + "".join(f":{f}:R:1" for f in names)
            info = " ".join(
                f"{k}={_format_info(v)}"
                for k, v in fr.info.items()
                if k not in ("Lattice", "Properties", "pbc")
            )
            fh.write(f"{fr.n_particles}\n")
            fh.write(
                f'Lattice="{lat}" Properties={props} pbc="T T T"'
                + (f" {info}" if info else "")
                + "\n"
            )
            cols = [
                fr.species.astype(object),
                *fr.positions.T,
                fr.types.astype(int) + 1,
                *(fr.fields[f] for f in names),
            ]
            fmt = ["%s"] + [_POS] * 3 + ["%d"] + [_FMT] * len(names)
            np.savetxt(fh, np.column_stack(cols).astype(object), fmt=fmt)


def read_extxyz(path: str | os.PathLike, *, species: tuple[str, str] = SPECIES) -> list[Frame]:
    """Every frame of an extended XYZ file.  ``species`` names A and B (e.g. ``("H", "He")`` for a
    file ASE rewrote).  Numeric columns other than ``pos`` / ``Z`` become per-particle fields
    (an ``m``-column property ``f`` gives ``f_0 .. f_{m-1}``)."""
    return list(iter_extxyz(path, species=species))


def iter_extxyz(path: str | os.PathLike, *, species: tuple[str, str] = SPECIES) -> Iterator[Frame]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no file at {p}")
    try:
        lines = p.read_text().splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{p} is not a text file") from None
    i, k = 0, 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        where = f"{p} frame {k} (line {i + 1})"
        try:
            n = int(lines[i].split()[0])
        except ValueError:
            raise InputError(
                f"{where}: expected the number of atoms, got {lines[i][:60]!r}; is this an XYZ file?"
            ) from None
        if i + 2 + n > len(lines):
            raise InputError(
                f"{where}: the frame declares {n} atoms but the file ends after {max(len(lines) - i - 2, 0)} atom lines"
            )
        info = parse_comment(lines[i + 1], where)
        body = lines[i + 2 : i + 2 + n]
        yield _parse_frame(info, body, where, species)
        i += 2 + n
        k += 1
    if k == 0:
        raise InputError(f"{p}: no frames (empty file?)")


def parse_comment(line: str, where: str = "comment line") -> dict[str, object]:
    """The ``key=value`` pairs of an extended XYZ comment line (values: str, int, float, bool)."""
    out: dict[str, object] = {}
    for m in _PAIR.finditer(line):
        key, val = m.group(1), m.group(2)
        if val is None:
            out[key] = True
            continue
        if val[0] in '"{':
            val = val[1:-1].replace('\\"', '"')
        out[key] = _parse_value(val)
    return out


def _parse_value(val: str) -> object:
    if val in ("T", "True", "true"):
        return True
    if val in ("F", "False", "false"):
        return False
    for conv in (int, float):
        try:
            return conv(val)
        except ValueError:
            pass
    return val


def _parse_frame(info: dict, body: list[str], where: str, species) -> Frame:
    if "Lattice" not in info:
        raise InputError(
            f'{where}: no Lattice="..." in the comment line; glassdyn needs the periodic box'
        )
    try:
        cell = np.array(str(info.pop("Lattice")).replace(",", " ").split(), dtype=np.float64)
    except ValueError:
        raise InputError(f"{where}: Lattice must hold 9 numbers") from None
    if cell.size != 9:
        raise InputError(f"{where}: Lattice must hold 9 numbers, got {cell.size}")
    box = orthorhombic_box(cell.reshape(3, 3), where)
    pbc = info.pop("pbc", "T T T")
    if isinstance(pbc, str) and pbc.split() != ["T", "T", "T"] or pbc is False:
        raise InputError(
            f'{where}: pbc={pbc!r}; glassdyn handles boxes periodic in every direction (pbc="T T T")'
        )
    origin = np.zeros(3)
    if "Origin" in info:
        origin = np.array(str(info.pop("Origin")).split(), dtype=np.float64)
    spec = str(info.pop("Properties", "species:S:1:pos:R:3")).split(":")
    if len(spec) % 3:
        raise InputError(
            f"{where}: Properties must be name:type:count triplets, got {':'.join(spec)!r}"
        )
    props = [(spec[a], spec[a + 1], int(spec[a + 2])) for a in range(0, len(spec), 3)]
    names = [p[0] for p in props]
    if "pos" not in names or "species" not in names:
        raise InputError(f"{where}: Properties needs species and pos columns, has {names}")
    table = [ln.split() for ln in body]
    width = sum(p[2] for p in props)
    bad = next((a for a, r in enumerate(table) if len(r) != width), None)
    if bad is not None:
        raise InputError(
            f"{where}: atom line {bad + 1} has {len(table[bad])} values, Properties declares {width}"
        )
    raw = np.array(table, dtype=object).reshape(len(body), width)
    col = 0
    fields: dict[str, np.ndarray] = {}
    pos = types = None
    for name, kind, m in props:
        block = raw[:, col : col + m]
        col += m
        if name == "species":
            types = types_from_species(block[:, 0].astype(str), species, where)
            continue
        if kind == "S":
            continue
        try:
            values = (
                np.vectorize(lambda s: 1.0 if s == "T" else 0.0)(block)
                if kind == "L"
                else block.astype(np.float64)
            )
        except ValueError:
            raise InputError(f"{where}: column {name!r} ({kind}) is not numeric") from None
        if name == "pos":
            if m != 3:
                raise InputError(f"{where}: pos must have 3 columns, has {m}")
            pos = values - origin
        elif name in _CONSUMED:
            continue
        elif m == 1:
            fields[name] = values[:, 0]
        else:
            fields.update({f"{name}_{c}": values[:, c] for c in range(m)})
    try:
        return Frame(pos, types, box, fields, info)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _format_info(v: object) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "T" if v else "F"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    s = str(v)
    if not s or any(ch.isspace() for ch in s) or "=" in s or '"' in s:
        return '"' + s.replace('"', '\\"') + '"'
    return s
