"""Run directories of both trainers (``glassdyn train`` and ``glassdyn gen fit``): one layout, one
resume policy, one way to write files.

A run directory holds

| file | written | holds |
| --- | --- | --- |
| ``run.json`` | at the start (and on resume) | kind, config, split, data fingerprint, data path, versions |
| ``last.pt`` | after every epoch | weights, optimiser and RNG states, epoch, history: rerunning resumes from it |
| ``best.pt`` | when the validation loss improves | the weights of the epoch of lowest validation loss |
| ``history.json`` | after every epoch | one record per epoch (losses, validation metrics) |

Every file is written atomically (:func:`atomic_write`): a reader or a killed writer never sees
half a file.  :func:`run_directory` holds the one-writer lock (:mod:`glassdyn.data.lock`) and
removes a directory that a failed first attempt created before anything resumable was in it.

Nothing here imports torch at module level; :func:`save_torch`, :func:`load_torch` and
:func:`resolve_device` import it when called (this is the data floor).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.lock import write_lock

RUN_FILE = "run.json"
BEST = "best.pt"
LAST = "last.pt"
HISTORY = "history.json"

# The one resume policy: the config fields that may differ between an interrupted run and its
# resumption.  None of them changes what the finished epochs computed: how many epochs to run
# (or minutes to spend), where to run, what to print, where the files are (the data is checked by
# its fingerprint, not its path) and the starting weights (``init`` only matters before epoch 0).
RESUMABLE = frozenset(
    {
        "epochs",
        "max_minutes",
        "device",
        "progress",
        "out",
        "data",
        "tune_allocator",
        "precision",
        "init",
    }
)

# Keys of a checkpoint dict (``best.pt``, ``last.pt``: a ``torch.save`` of a plain dict) of either
# trainer, said once.  Each trainer adds its own keys (glassdyn train: graph_spec, split, rng,
# phase, pretrain, init; gen fit: data, ema_state_dict).
CKPT_FORMAT = "format"  # str | glassdyn-checkpoint/N (glassdyn train) or glassdyn.gen/N (gen fit)
CKPT_KIND = "kind"  # str | botan, tbotan, bapst / flow, cnf, diffusion
CKPT_MODEL_CONFIG = "model_config"  # dict | the settings that rebuild the network
CKPT_STATE_DICT = "state_dict"  # {name: tensor} | the weights, on CPU
CKPT_TRAIN_CONFIG = "train_config"  # dict | the run's TrainConfig / FitConfig
CKPT_OPTIMIZER_STATE = "optimizer_state"  # dict | Adam's state_dict (last.pt)
CKPT_EPOCH = "epoch"  # int | the epoch these weights are from
CKPT_BEST_VAL = "best_val"  # float | lowest validation loss so far (best.pt: its own)
CKPT_BEST_EPOCH = "best_epoch"  # int | the epoch of best_val
CKPT_HISTORY = "history"  # the epochs' records so far
CKPT_VERSIONS = "versions"  # {package: version} | see versions()

PACKAGES = ("glassdyn", "numpy", "zarr", "torch", "torch_geometric", "normflows", "torchdiffeq")


# ------------------------------------------------------------------------------ files
def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``.

    The rename is atomic on POSIX, so ``path`` holds either the old or the new content; the
    temporary name carries the PID, so processes (DDP ranks) never share one."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def clean_json(obj):
    """A JSON-ready copy: NaN / inf -> None, numpy scalars and arrays -> Python, paths -> str."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean_json(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, obj, indent: int | None = 1) -> Path:
    """Write ``clean_json(obj)`` atomically (valid JSON: no NaN)."""
    text = json.dumps(clean_json(obj), indent=indent)
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_json(path: str | os.PathLike, what: str = "file") -> dict:
    """The JSON object in ``path``; one clear error when it is missing or damaged."""
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise InputError(f"no {what} at {p}") from None
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{what} {p} is damaged ({type(exc).__name__}: {exc}); restore it or start a new run"
        ) from None


def save_torch(path: str | os.PathLike, obj) -> Path:
    """``torch.save`` atomically (a crash mid-write never leaves a truncated checkpoint)."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | os.PathLike, fix: str, map_location="cpu") -> dict:
    """A checkpoint dict written by :func:`save_torch`; a missing, truncated or foreign file is one
    :class:`InputError` naming the file and ``fix`` (what the user can do)."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise InputError(f"no checkpoint at {p}; {fix}")
    try:
        obj = torch.load(p, map_location=map_location, weights_only=False)
    except (
        Exception
    ) as exc:  # truncated zip, pickle garbage, foreign format: all the same to a user
        why = str(exc).strip().splitlines()[0].split(". ")[0][:120] if str(exc).strip() else ""
        raise InputError(
            f"{p} is not a readable checkpoint ({type(exc).__name__}: {why}); {fix}"
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f"{p} is not a glassdyn checkpoint (a {type(obj).__name__}); {fix}")
    return obj


def upgrade_checkpoint(ck: dict, renames: dict[str, str], format: str) -> dict:
    """A checkpoint dict of an earlier format under today's keys: ``renames`` maps its old keys to
    the ``CKPT_*`` names, ``format`` is today's format string (nothing else changes)."""
    out = {renames.get(k, k): v for k, v in ck.items()}
    out[CKPT_FORMAT] = format
    return out


# ------------------------------------------------------------------------ environment
def versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (those present) and of Python, without importing them."""
    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def resolve_device(name: str = "auto"):
    """``auto`` -> CUDA when available, else CPU; ``cuda[:N]`` without a GPU is a clear error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            "--device cuda asked for, but torch sees no CUDA device; use --device cpu or auto"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"--device must be auto, cpu or cuda[:N], got {name!r}")
    return torch.device(name)


def progress(
    iterable=None,
    *,
    desc: str = "",
    total: int | None = None,
    enabled: bool = True,
    initial: int = 0,
    leave: bool = True,
):
    """A tqdm progress bar (on stderr; disabled when ``enabled`` is False)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, initial=initial, leave=leave, disable=not enabled)


# ------------------------------------------------------------------------ run directory
def read_run_file(run_dir: str | os.PathLike) -> dict:
    """``run.json`` of a run directory (one clear error when the directory is not a run)."""
    from glassdyn.data.outputs import describe

    p = Path(run_dir) / RUN_FILE
    if not p.exists():
        found = describe(run_dir)
        if found.kind == "missing":
            raise InputError(
                f"no run directory at {run_dir}; make one with `glassdyn train --data STORE "
                f"--out {run_dir}` (or `glassdyn gen fit --data STORE --out {run_dir}`)"
            )
        raise InputError(
            f"{run_dir} is {found.text}, not a run directory (no {RUN_FILE}); pass a run "
            "there: the --out of `glassdyn train`, `glassdyn gen fit` or `glassdyn convert`"
        )
    return read_json(p, what="run file")


def check_resume(
    run_dir: str | os.PathLike, old: dict, new: dict, resumable: frozenset[str] = RESUMABLE
) -> None:
    """Refuse to resume ``run_dir`` (config ``old``) with config ``new`` when a field outside
    ``resumable`` differs; the message names the first such field."""
    diff = [
        k for k in sorted(set(old) | set(new)) if k not in resumable and old.get(k) != new.get(k)
    ]
    if diff:
        k = diff[0]
        raise InputError(
            f"{run_dir} holds a run with different settings ({k}: {old.get(k)!r} there, "
            f"{new.get(k)!r} now); use another --out, or the same settings to resume it"
        )


def require_checkpoints(run_dir: str | os.PathLike, names: Iterable[str]) -> None:
    """A run with ``last.pt`` must also hold the files it names (``best.pt``, ...); a deleted one
    would make a finished run silently do nothing."""
    d = Path(run_dir)
    for name in names:
        if not (d / name).exists():
            raise InputError(
                f"{d} has {LAST} but no {name} (deleted?): the weights it held are lost; "
                f"train into a new --out, or delete {d / LAST} to restart this run from scratch"
            )


@contextmanager
def run_directory(out: str | os.PathLike, *, lock: bool = True) -> Iterator[Path]:
    """Create ``out`` and hold its write lock for the ``with`` block.

    If this call created the directory and the block fails before a ``last.pt`` exists, the
    directory is removed again: a failed first attempt leaves nothing behind.  ``lock=False``
    (other ranks of a distributed run) neither locks nor cleans up."""
    d = Path(out)
    if not lock:
        d.mkdir(parents=True, exist_ok=True)
        yield d
        return
    with write_lock(d, what="run directory"):
        created = not d.exists()
        d.mkdir(parents=True, exist_ok=True)
        try:
            yield d
        except BaseException:
            if created and not (d / LAST).exists():
                shutil.rmtree(d, ignore_errors=True)
            raise
