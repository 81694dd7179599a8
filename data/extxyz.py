"""Extended XYZ files (ASE / OVITO / QUIP convention) through ``ase.io``; orthorhombic periodic
cells only.  glassdyn writes::

    Lattice="L 0 0 0 L 0 0 0 L" Properties=species:S:1:pos:R:3:Z:I:1:propensity:R:1 pbc="T T T" temperature=0.44

``species`` is A / B (what OVITO shows as particle types); ``Z`` (1 for A, 2 for B) is there
because A and B are not chemical elements: ASE builds its ``Atoms`` from ``Z`` (A reads as atomic
number 1, B as 2, the LAMMPS types of the dumps), keeps the other columns in ``atoms.arrays`` and
the comment line's ``species_of_Z="A B"`` (the species of Z = 1, 2) in ``atoms.info``.

Reading is ``ase.io.read`` with the species column kept as labels (ASE would take it for element
symbols, which A and B are not), then turned into types by the names ``species`` gives for A and
B.  Writing uses ASE's comment line (``key_val_dict_to_str``) and writes the atom lines here, with
17 significant digits for positions (float64 survives exactly) and 9 for per-particle fields
(float32 survives exactly): ASE's writer prints every real column as ``%16.8f``, so a float32
coordinate below 0.125 or a small field value would not come back as it was stored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.frame import SPECIES, Frame, orthorhombic_box, types_from_species

_LABELS = "glassdyn_species"  # the species column, read under this name as plain labels
_POS, _FIELD = "%.17g", "%.9g"
SPECIES_OF_Z = "species_of_Z"  # comment-line key: the species names of Z = 1, 2 ("A B")
_WRITTEN = ("Lattice", "Properties", "pbc", SPECIES_OF_Z)  # the keys the writer sets itself


def write_extxyz(
    path: str | os.PathLike, frames: Frame | Sequence[Frame], *, append: bool = False
) -> None:
    """Write frames (one or several) to an extended XYZ file.

    Scalar ``frame.info`` entries go to the comment line; per-particle fields become ``R:1``
    columns after ``species``, ``pos`` and ``Z``."""
    from ase.io.extxyz import key_val_dict_to_str

    frames = [frames] if isinstance(frames, Frame) else list(frames)
    if not frames:
        raise InputError("write_extxyz: no frames to write")
    with open(path, "a" if append else "w") as fh:
        for fr in frames:
            names = list(fr.fields)
            comment = {
                "Lattice": np.diag(fr.box),
                "Properties": "species:S:1:pos:R:3:Z:I:1" + "".join(f":{f}:R:1" for f in names),
                "pbc": np.ones(3, dtype=bool),
                SPECIES_OF_Z: " ".join(SPECIES),
                **{k: v for k, v in fr.info.items() if k not in _WRITTEN},
            }
            fh.write(f"{fr.n_particles}\n{key_val_dict_to_str(comment)}\n")
            cols = [fr.species.astype(object), *fr.positions.T, fr.types.astype(int) + 1]
            cols += [fr.fields[f] for f in names]
            fmt = ["%s"] + [_POS] * 3 + ["%d"] + [_FIELD] * len(names)
            np.savetxt(fh, np.column_stack(cols).astype(object), fmt=fmt)


def read_extxyz(path: str | os.PathLike, *, species: tuple[str, str] = SPECIES) -> list[Frame]:
    """Every frame of an extended XYZ file.  ``species`` names A and B (e.g. ``("H", "He")`` for a
    file ASE rewrote).  Numeric columns other than ``pos`` / ``Z`` become per-particle fields
    (an ``m``-column property ``f`` gives ``f_0 .. f_{m-1}``)."""
    import ase.io

    p = Path(path)
    if not p.is_file():
        raise InputError(f"no file at {p}")
    try:
        images = ase.io.read(p, index=":", format="extxyz", properties_parser=_species_as_labels)
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{p} is not a text file") from None
    except Exception as exc:  # ASE raises plain exceptions on malformed frames
        why = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{p} is not an extended XYZ file ASE can read ({why})") from None
    if not images:
        raise InputError(f"{p}: no frames (empty file?)")
    return [_frame(atoms, f"{p} frame {k}", species) for k, atoms in enumerate(images)]


def _species_as_labels(line: str) -> dict:
    """ASE's comment-line parser, with the species column renamed so that ASE keeps it as labels."""
    from ase.io.extxyz import key_val_str_to_dict

    info = key_val_str_to_dict(line)
    spec = str(info.get("Properties", "species:S:1:pos:R:3")).split(":")
    if len(spec) % 3:
        raise InputError(f"Properties must be name:type:count triplets, got {':'.join(spec)!r}")
    names = spec[0::3]
    if "pos" not in names or "species" not in names:
        raise InputError(f"Properties needs species and pos columns, has {names}")
    spec[3 * names.index("species")] = _LABELS
    info["Properties"] = ":".join(spec)
    return info


def _frame(atoms, where: str, species) -> Frame:
    """A Frame from one ``Atoms`` as :func:`read_extxyz` reads it."""
    from ase.io.extxyz import PROPERTY_NAME_MAP

    if not atoms.cell.any():
        raise InputError(
            f'{where}: no Lattice="..." in the comment line; glassdyn needs the periodic box'
        )
    if not all(atoms.pbc):
        raise InputError(
            f'{where}: pbc="{" ".join("T" if b else "F" for b in atoms.pbc)}"; glassdyn handles '
            'boxes periodic in every direction (pbc="T T T")'
        )
    box = orthorhombic_box(atoms.cell.array, where)
    info = {k: v.item() if isinstance(v, np.generic) else v for k, v in atoms.info.items()}
    info.pop(SPECIES_OF_Z, None)  # written by glassdyn's writer; the species column says it
    origin = np.asarray(info.pop("Origin", np.zeros(3)), dtype=np.float64).reshape(3)
    arrays = dict(atoms.arrays)
    if atoms.calc is not None:  # ASE moves columns and keys it knows (forces, energy) there
        for k, v in atoms.calc.results.items():
            if np.ndim(v) == 0:
                info[k] = float(v)
            else:
                arrays[k] = np.asarray(v)
    types = types_from_species(arrays.pop(_LABELS), species, where)
    positions = arrays.pop("positions") - origin
    fields: dict[str, np.ndarray] = {}
    for name, values in arrays.items():
        values = np.asarray(values)
        if name == "numbers" or values.dtype.kind not in "fiub":
            continue
        name = PROPERTY_NAME_MAP.get(name, name)  # ASE's names back to the file's
        values = values.astype(np.float64)
        if values.ndim == 1:
            fields[name] = values
        else:
            fields.update({f"{name}_{c}": values[:, c] for c in range(values.shape[1])})
    try:
        return Frame(positions, types, box, fields, info)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
