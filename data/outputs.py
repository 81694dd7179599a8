"""One rule for every path a command writes (``--out``, ``--json FILE``), checked before any work.

A command says what it writes (an :class:`Output`) and what it reads; :func:`check_output` then
refuses, in one line naming the path and the fix (:class:`OutputError`, exit status 2):

- an output equal to one of the inputs, inside one, or holding one;
- an output inside a Zarr hierarchy (a data store, a predictions file): zarr would see a foreign
  object in it;
- an output whose directory cannot be made or written: a file in the way (``some.file/sub``), a
  place that takes no new files (``/proc/x``), no permission;
- an existing path that is not this command's own output: a data store, a run of another kind, a
  directory of other files, a directory where a file goes;
- this command's own earlier output, unless the command resumes it (``train``, ``gen fit``,
  ``simulate``, ``import``, ``demo``: they check the settings themselves) or ``--overwrite`` was
  given; ``--overwrite`` replaces a file or the command's own output, never a store, a run of
  another kind or a directory of other files.

What lies at a path is told by :func:`describe` from the marker files of each layout (a Zarr
``zarr.json`` and its ``schema`` attribute, a run's ``run.json``, ``heterogeneity.json`` of
``glassdyn analyze``, the demo's ``.steps/``), with the standard library only.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from glassdyn.data.errors import InputError

STORE_SCHEMA = "glassdyn/1"  # = glassdyn.data.keys.SCHEMA (kept here: this module reads no zarr)
PREDICTIONS_SCHEMA = "glassdyn-predictions/1"  # = glassdyn.data.predictions.SCHEMA
REPORT_FILE = "heterogeneity.json"  # what `glassdyn analyze` writes into its --out
DEMO_MARKER = ".steps"  # the demo's record of its finished steps
OLD_FIT_FILE = "checkpoint.pt"  # a fit of the first format (glassdyn.gen/1): no run.json


class OutputError(InputError):
    """An output path that would lose data or cannot be written."""


@dataclass(frozen=True)
class Found:
    """What lies at a path: ``kind`` is one of

    ``missing``, ``empty`` (an empty directory), ``file``, ``store`` (a glassdyn data store),
    ``predictions``, ``zarr`` (another Zarr hierarchy), ``train-run`` / ``converted-run`` /
    ``fit-run`` / ``run`` (a run directory of ``glassdyn train`` / ``convert`` / ``gen fit`` / of
    unknown make), ``old-fit`` (a ``gen fit`` run of the first format), ``report`` (a ``glassdyn analyze`` directory), ``demo``, ``directory``.
    ``text`` says it in words, e.g. "a glassdyn data store (written by glassdyn simulate)"."""

    kind: str
    text: str

    @property
    def is_zarr(self) -> bool:
        return self.kind in ("store", "predictions", "zarr")


def _read_json(p: Path) -> dict | None:
    try:
        obj = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def store_writer(attrs: dict) -> str:
    """Which command wrote a data store, from its root attributes."""
    if "simulation" in attrs:
        return "glassdyn simulate"
    src = attrs.get("source")
    return str(src) if src else "an unknown writer"


def describe(path: str | os.PathLike) -> Found:
    """What lies at ``path`` (see :class:`Found`); reads marker files only."""
    p = Path(path)
    if not p.exists():
        return Found("missing", "nothing")
    if not p.is_dir():
        return Found("file", "a file")
    meta = p / "zarr.json"
    if meta.is_file() or (p / ".zgroup").is_file():
        attrs = ((_read_json(meta) or {}).get("attributes") or {}) if meta.is_file() else {}
        schema = attrs.get("schema")
        if schema == STORE_SCHEMA:
            return Found("store", f"a glassdyn data store (written by {store_writer(attrs)})")
        if schema == PREDICTIONS_SCHEMA:
            return Found("predictions", "a predictions file of `glassdyn predict`")
        if str(schema).startswith("glassdyn/"):  # another version of the schema
            return Found("store", f"a glassdyn data store of schema {schema!r}")
        return Found("zarr", "a Zarr store")
    run = p / "run.json"
    if run.is_file():
        info = _read_json(run) or {}
        kind = info.get("kind", "?")
        if "fit_config" in info:
            return Found("fit-run", f"a {kind} run of `glassdyn gen fit`")
        if "converted_from" in info:
            return Found("converted-run", "a run of `glassdyn convert`")
        if "train_config" in info:
            return Found("train-run", f"a {kind} run of `glassdyn train`")
        return Found("run", "a run directory")
    if (p / OLD_FIT_FILE).is_file():
        return Found("old-fit", "a fit of the first format of `glassdyn gen fit` (glassdyn.gen/1)")
    if (p / REPORT_FILE).is_file():
        return Found("report", "a report of `glassdyn analyze`")
    if (p / DEMO_MARKER).is_dir():
        return Found("demo", "a `glassdyn demo` folder")
    try:
        empty = not any(p.iterdir())
    except OSError:
        empty = False
    return Found("empty", "an empty directory") if empty else Found("directory", "a directory")


@dataclass(frozen=True)
class Output:
    """What a command writes at one path.

    ``name``: what it is, in words ("a predictions file"); ``own``: the kinds of :func:`describe`
    that are this command's own earlier output; ``resumable``: that output is reopened (the
    command resumes it and checks its settings itself); ``directory``: the output is a directory
    (a store, a run, a report) rather than one file; ``overwrite``: the option that replaces the
    command's own output (None when the command has none)."""

    name: str
    own: tuple[str, ...] = ()
    resumable: bool = False
    directory: bool = True
    overwrite: str | None = "--overwrite"


# the outputs of the commands, said once
FILE = Output("a file", own=("file",), directory=False)
STORE = Output("a data store", own=("store",), resumable=True, overwrite=None)
PREDICTIONS = Output("a predictions file", own=("predictions",))
TRAIN_RUN = Output("a run of `glassdyn train`", own=("train-run",), resumable=True, overwrite=None)
FIT_RUN = Output(
    "a run of `glassdyn gen fit`", own=("fit-run", "old-fit"), resumable=True, overwrite=None
)
CONVERTED_RUN = Output("a run of `glassdyn convert`", own=("converted-run",))
REPORT = Output("a report directory", own=("report",))
DEMO = Output("a demo folder", own=("demo",), resumable=True, overwrite=None)
FILES_DIRECTORY = Output("a new directory of files", overwrite=None)


def _inside(a: Path, b: Path) -> bool:
    """``a`` is ``b`` or lies under it (both resolved)."""
    return a == b or b in a.parents


def _ancestor(p: Path) -> Path:
    """The nearest existing path at or above ``p``."""
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def _check_writable(p: Path, flag: str, shown: Path) -> None:
    """``p`` (or the directories up to it) can be made and written: the nearest existing path is
    a directory that takes a new entry (tried with a temporary directory, removed at once).
    ``shown``: the path as the user gave it."""
    base = _ancestor(p)
    if not base.is_dir():
        raise OutputError(
            f"cannot write {flag} {shown}: {base} is a file, not a directory; pass a path in a "
            "directory"
        )
    try:
        probe = tempfile.mkdtemp(prefix=".glassdyn-probe-", dir=base)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise OutputError(
            f"cannot write {flag} {shown}: {base} takes no new files ({why}); pass a path in a "
            "directory you can write"
        ) from None
    os.rmdir(probe)


def check_output(
    path: str | os.PathLike,
    output: Output,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
    overwrite: bool = False,
    flag: str = "--out",
) -> Found:
    """Refuse ``path`` as ``output`` of a command reading ``inputs`` (see the module docstring);
    returns what lies there now (kind ``missing`` or ``empty`` for a new output).

    Nothing is created: the command writes after its other checks (an empty probe directory is
    made and removed in the nearest existing parent to know that it can)."""
    p = Path(path).expanduser()
    if str(path).strip() == "":
        raise OutputError(f"{flag} is empty; pass a path")
    full = Path(os.path.abspath(p))
    real = full.resolve()
    for given in inputs:
        if given is None or str(given) == "":
            continue
        src = Path(os.path.abspath(Path(given).expanduser())).resolve()
        if real == src:
            raise OutputError(
                f"{flag} {p} is the input {given}; write to a new path, the input stays as it is"
            )
        if _inside(real, src):
            raise OutputError(
                f"{flag} {p} lies inside the input {given}; write to a path outside it"
            )
        if _inside(src, real) and full.exists():
            raise OutputError(
                f"{flag} {p} holds the input {given}; write to a path that does not contain it"
            )
    for q in real.parents:
        if q.exists():
            found = describe(q)
            if found.is_zarr:
                raise OutputError(
                    f"{flag} {p} lies inside {q}, {found.text}: nothing else goes in there; "
                    "pass a path outside it"
                )
    found = describe(full)
    if found.kind == "missing" or (found.kind == "empty" and output.directory):
        _check_writable(real, flag, p)
        return found
    if found.kind in output.own:
        if output.resumable or overwrite:
            if not os.access(full, os.W_OK):
                raise OutputError(f"cannot write {flag} {p} (permission denied)")
            return found
        how = (
            f"pass {output.overwrite} to replace it ({found.text}), or a new path"
            if output.overwrite
            else f"it is {found.text}: pass a new path"
        )
        raise OutputError(f"{flag} {p} exists; {how}")
    if not output.directory and found.kind != "file":
        raise OutputError(
            f"{flag} {p} is {found.text}, not a file; pass a file name that does not exist yet"
        )
    extra = (
        f" ({output.overwrite} replaces only {output.name}, never this)"
        if output.overwrite and overwrite
        else ""
    )
    raise OutputError(
        f"{flag} {p} is {found.text}, not {output.name}; it is left as it is{extra}: "
        "pass a path that does not exist yet"
    )
