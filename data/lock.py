"""One writer at a time: an exclusive lock file in a store or run directory.

Two processes writing the same store (``simulate``, ``import``, ``quench``) or the same run
directory (``train``, ``gen fit``) at once would interleave chunks and checkpoints.  Each writer
holds :func:`write_lock` on the directory: a file ``NAME.lock`` beside the directory ``NAME``
(outside it, so a Zarr store's hierarchy holds nothing foreign), created with ``O_EXCL``, that records the PID, the host and the command.  A second writer is refused with a message
naming the holder.  A lock left by a process that died (kill -9, a crash) is *stale*: on the same
host its PID no longer runs, so it is taken over silently; a lock from another host cannot be
checked and is reported with the file to delete.

Readers ask :func:`writer` who is writing a directory now: a command that reads a store
(``train``, ``predict``, ``analyze``, ...) refuses one that is being written, naming the writer
(:func:`check_unlocked`), and a writer checks it before it prints or loads anything.

>>> with write_lock("out/ka.zarr", what="store"):                          # doctest: +SKIP
...     ...  # write
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from glassdyn.data.errors import GlassdynError

LOCK_SUFFIX = ".lock"


class LockError(GlassdynError):
    """Another live process holds the lock of a store or run directory."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def lock_path(directory: str | os.PathLike) -> Path:
    """The lock file of ``directory``: ``NAME.lock`` beside it."""
    d = Path(directory).resolve()
    return d.with_name(d.name + LOCK_SUFFIX)


def read_lock(directory: str | os.PathLike) -> dict | None:
    """The holder recorded in ``directory``'s lock file (None when there is none or it is unreadable)."""
    p = lock_path(directory)
    try:
        return json.loads(p.read_text())
    except (FileNotFoundError, json.JSONDecodeError, OSError):
        return None


def _is_stale(holder: dict | None) -> bool:
    if holder is None:  # half-written or damaged: its writer died between open and write
        return True
    if holder.get("host") != socket.gethostname():
        return False
    return not _alive(int(holder.get("pid", -1)))


def writer(directory: str | os.PathLike) -> dict | None:
    """The live process that holds ``directory``'s lock (its record: pid, host, started,
    command), or None: no lock, a stale one, or this process's own."""
    if not lock_path(directory).exists():
        return None
    holder = read_lock(directory)
    if _is_stale(holder):
        return None
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        return None
    return holder


def _who(holder: dict) -> str:
    return (
        f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started')}: "
        f"{holder.get('command')!r}"
    )


def check_unlocked(
    directory: str | os.PathLike, what: str = "directory", reading: bool = False
) -> None:
    """Refuse a ``directory`` another live process is writing (:class:`LockError` naming it):
    a writer before it starts, a reader (``reading``) before it reads half-written data."""
    holder = writer(directory)
    if holder is None:
        return
    d, p = Path(directory), lock_path(directory)
    if reading:
        raise LockError(
            f"{what} {d} is being written by another process ({_who(holder)}); what it holds "
            f"now is not final: wait for that process to finish, then rerun (delete {p} only if "
            "that process is gone)"
        )
    raise LockError(
        f"{what} {d} is being written by another process ({_who(holder)}); wait for it to "
        f"finish, or delete {p} if that process is gone"
    )


@contextmanager
def write_lock(directory: str | os.PathLike, what: str = "directory") -> Iterator[Path]:
    """Hold the write lock of ``directory`` (created if missing) for the ``with`` block.

    The directory itself is neither created nor touched.  Re-entrant within one process (a nested ``write_lock`` on the same directory is a no-op).
    Raises :class:`LockError` naming the holder when another live process has it.
    """
    d = Path(directory)
    p = lock_path(d)
    p.parent.mkdir(parents=True, exist_ok=True)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "command": " ".join(sys.argv[:6]),
    }
    holder = read_lock(d)
    if holder is not None and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
        yield p  # already ours (nested use)
        return
    for _ in range(2):
        try:
            fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_lock(d)
            if _is_stale(holder):
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
                continue
            raise LockError(
                f"{what} {d} is being written by another process ({_who(holder)}); "
                f"wait for it to finish, or delete {p} if that process is gone"
            ) from None
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        break
    else:
        raise LockError(f"could not take the lock {p}; delete it if no glassdyn process uses {d}")
    try:
        yield p
    finally:
        holder = read_lock(d)
        if holder is not None and holder.get("pid") == me["pid"]:
            try:
                p.unlink()
            except FileNotFoundError:
                pass
