"""Importing foreign data into a store: the shared resume/overwrite rules and structure files.

Every importer writes one state point per temperature and records where the data came from in
the group attrs (``import``: format, source path, per-configuration source ids).  Importing
again into the same store:

* same source ids and sizes: resume, i.e. configurations already ``done`` are kept and the
  others are (re)written, so an interrupted import finishes by rerunning the same command;
* anything else already at that temperature (a simulated state point, another source): refused
  with a StoreError, unless ``overwrite=True``, which deletes that state point first.

Structure files (LAMMPS dumps / data files, extended XYZ) hold thermal structures only:
each frame becomes one configuration (types, box, ``thermal/positions`` wrapped into the box).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.formats import FORMATS, guess_format, read_frames
from glassdyn.data.frame import SPECIES, Frame
from glassdyn.data.keys import group_name
from glassdyn.data.lock import write_lock
from glassdyn.data.store import StatePoint, Store

Progress = Callable[[int, int], None]  # (configurations handled, total)


@dataclass
class ImportReport:
    """What one import did at one temperature (store configuration indices)."""

    store: str
    temperature: float
    n_configs: int
    written: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # already done: kept (resume)
    incomplete: dict[int, str] = field(default_factory=dict)  # written but not marked done: why
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            (
                f"{self.store} {group_name(self.temperature)}: {self.n_configs} configurations, "
                f"{len(self.written)} written, {len(self.skipped)} already complete (kept)"
            )
        ]
        if self.incomplete:
            out.append(
                f"  {len(self.incomplete)} configurations are NOT complete (not marked done):"
            )
            out += [f"    config {c}: {why}" for c, why in list(self.incomplete.items())[:20]]
            if len(self.incomplete) > 20:
                out.append(f"    ... and {len(self.incomplete) - 20} more")
        out += [f"  note: {n}" for n in self.notes]
        return out


def natural_key(text: str) -> list:
    """Sort key that orders ``x_2`` before ``x_10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]


@contextmanager
def importing_into(out: str | os.PathLike, inputs=()) -> Iterator[Store]:
    """The store an import writes, held under its write lock (one writer at a time).

    Creates it, or reopens it to resume (:mod:`glassdyn.data.outputs`: ``out`` is a new path or
    a store, never one of the ``inputs`` or a path inside them).  If the import fails, nothing it began is left behind
    to block a retry: a store it created is removed unless some configuration in it was
    completed, and a state point it created with no completed configuration is deleted.
    """
    from glassdyn.data import outputs

    p = Path(out)
    outputs.check_output(p, outputs.STORE, inputs=inputs)
    with write_lock(p, what="store"):
        existed = p.exists()
        store = Store.create(p)
        before = {name for name, _ in store.root.groups()}
        try:
            yield store
        except BaseException:
            _roll_back(store, existed, before)
            raise


def _roll_back(store: Store, existed: bool, before: set[str]) -> None:
    created = [(name, g) for name, g in store.root.groups() if name not in before]
    empty = [name for name, g in created if not StatePoint(g, store.path).done.any()]
    if not existed and len(empty) == len(created):
        shutil.rmtree(store.path, ignore_errors=True)
        return
    for name in empty:
        del store.root[name]


def prepare_state(
    store: Store,
    temperature: float,
    *,
    source: dict,
    overwrite: bool,
    n_configs: int,
    n_particles: int,
    n_replicas: int = 0,
    times: Sequence[float] | None = None,
    fields: Sequence[str],
    attrs: dict | None = None,
) -> tuple[StatePoint, bool]:
    """Create (or reopen to resume) the state point an importer writes; returns (state, resumed).

    ``source`` = {"format", "path", "ids"} is stored as the group attr ``import``; a state point
    that exists with another source is refused unless ``overwrite``.
    """
    name = group_name(temperature)
    resumed = False
    if store.has_state(temperature):
        old = store.state(temperature).attrs.get("import")
        same = (
            isinstance(old, dict)
            and old.get("format") == source["format"]
            and old.get("ids") == source["ids"]
        )
        if overwrite:
            del store.root[name]
        elif not same:
            what = (
                "a simulation or another tool"
                if not isinstance(old, dict)
                else f"{old.get('format')} files at {old.get('path')}"
            )
            raise StoreError(
                f"store {store.path} already holds {name} (from {what}) with other configurations; "
                "import into a new --out, or pass --overwrite to replace that state point"
            )
        else:
            resumed = True
    sp = store.create_state(
        temperature,
        n_configs=n_configs,
        n_particles=n_particles,
        n_replicas=n_replicas,
        times=times,
        fields=fields,
        attrs={"import": source, **(attrs or {})},
    )
    return sp, resumed


def expand_paths(paths: Sequence[str | os.PathLike], suffixes: Sequence[str]) -> list[Path]:
    """Files named directly (in the given order) and files with ``suffixes`` inside directories
    (natural order)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                (f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes),
                key=lambda f: natural_key(f),
            )
            if not found:
                raise InputError(f"{p} holds no {'/'.join(suffixes)} files")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"no file or directory at {p}")
    return out


_SUFFIXES = {
    "lammps-dump": (".dump", ".lammpstrj", ".txt"),
    "lammps-data": (".data", ".lmp"),
    "extxyz": (".xyz", ".extxyz"),
}


def import_structures(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    format: str | None = None,
    temperature: float | None = None,
    species: tuple[str, str] = SPECIES,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import thermal structures (every frame of every file) as configurations 0..C-1.

    The temperature comes from ``temperature`` or, when every frame's info agrees, from its
    ``temperature`` entry (extended XYZ written by glassdyn).  All frames must have the same N.
    Per-particle fields in the files are not imported (the store keeps structure and dynamics
    in its own arrays); a note says which were seen.
    """
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown format {format!r}; one of {', '.join(FORMATS)}")
    files = expand_paths(paths, _SUFFIXES[format] if format else sum(_SUFFIXES.values(), ()))
    frames: list[Frame] = []
    ids: list[str] = []
    for f in files:
        fmt = format or guess_format(f)
        for k, fr in enumerate(read_frames(f, fmt, species=species)):
            frames.append(fr)
            ids.append(f"{f.name}:{k}")
    n = frames[0].n_particles
    for fr, ident in zip(frames, ids):
        if fr.n_particles != n:
            raise InputError(
                f"{ident} (file:frame) has {fr.n_particles} particles, {ids[0]} has {n}; "
                "one state point holds configurations of one size: import them into separate stores"
            )
    if temperature is None:
        temps = {fr.info.get("temperature") for fr in frames}
        if len(temps) != 1 or None in temps or isinstance(next(iter(temps)), (str, bool)):
            raise InputError(
                f"the files do not state one temperature; pass --temperature T ({len(files)} files)"
            )
        temperature = float(next(iter(temps)))
    with importing_into(out, inputs=files) as store:
        source = {
            "format": format or "structure files",
            "path": str(Path(files[0]).resolve().parent),
            "ids": ids,
        }
        sp, _ = prepare_state(
            store,
            temperature,
            source=source,
            overwrite=overwrite,
            n_configs=len(frames),
            n_particles=n,
            fields=[keys.THERMAL_POSITIONS],
        )
        report = ImportReport(str(store.path), float(temperature), len(frames))
        done = sp.done
        seen = sorted({name for fr in frames for name in fr.fields})
        for c, fr in enumerate(frames):
            if done[c]:
                report.skipped.append(c)
            else:
                conf = fr.configuration()
                sp.write(
                    c,
                    **{
                        keys.TYPES: conf.types,
                        keys.BOX: conf.box,
                        keys.THERMAL_POSITIONS: conf.positions,
                    },
                )
                sp.mark_done(c)
                report.written.append(c)
            if progress:
                progress(c + 1, len(frames))
        if seen:
            report.notes.append(f"per-particle columns not imported: {', '.join(seen)}")
        report.notes.append("thermal structures only: no energies, inherent structures or dynamics")
        return report
