"""Where the work units of ``glassdyn simulate``, ``glassdyn quench`` and ``glassdyn cage`` run,
and how their progress shows: a dask client (a local cluster of worker processes with one thread
each, or a running scheduler's address), the loop that runs independent units and hands each
result to the driver (:func:`run_units`), one progress bar per state point, and the UTC time
stamps and entries of the store's run logs (:func:`log_run`)."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager


def local_workers(workers: int | None) -> int:
    """The worker count of a driver: None means one per CPU; a negative count is refused."""
    from glassdyn.data.errors import InputError

    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 0:
        raise InputError(f"--workers must be >= 0, got {workers}")
    return workers


def check_inputs(states, pending: Callable, names: Sequence[str]) -> None:
    """Read the arrays ``names`` of every configuration ``pending(state point)`` selects (a bool
    mask), so that a NaN or unreadable input is one line in the driver, not a worker's traceback."""
    import numpy as np

    for sp in states:
        for c in np.flatnonzero(pending(sp)):
            for name in names:
                sp.read(name, int(c))


def run_entry(command, workers: int, scheduler: str | None) -> dict:
    """The run-log entry a driver starts with (it stays "running" when the run is killed)."""
    import glassdyn
    from glassdyn.simulate.engine import lammps_version

    return {
        "command": list(command) if command is not None else None,
        "workers": workers,
        "scheduler": scheduler,
        "host": os.uname().nodename,
        "lammps_version": lammps_version(),
        "glassdyn_version": glassdyn.__version__,
        "start": now(),
        "status": "running",
    }


def execute(todo, unit, finished: Callable, workers, scheduler, bars: dict, log_end) -> None:
    """Run the units of a driver (:func:`run_units`), close its progress bars and log the run's
    end: ``log_end(status)`` with "complete", "interrupted" or "failed: ..." (re-raised)."""
    status = "complete"
    try:
        run_units(todo, unit, finished, workers, scheduler)
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {exc}"
        raise
    finally:
        for b in bars.values():
            b.close()
        log_end(status)


def now() -> str:
    """The UTC time, to the second (ISO 8601), as the store's run logs record it."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator:
    """A ``dask.distributed.Client`` for the ``with`` block: of the scheduler at ``scheduler``,
    else of a local cluster of ``workers`` processes with one thread each (OpenMP pinned to one
    thread and waiting passively, the robust setting on shared cores); both closed afterwards."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler is not None:
        client = Client(scheduler)
    else:
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        cluster = LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,  # a unit's error reaches the user once, as one line
        )
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def progress_bars(rows: Sequence[tuple[float, int, int, str]], enabled: bool = True) -> dict:
    """One bar per state point, ``{T: bar}`` from ``(T, total, done already, label)`` rows (on
    stderr, one line each); ``{}`` when not ``enabled``."""
    if not enabled:
        return {}
    from tqdm.auto import tqdm

    return {
        T: tqdm(
            total=total,
            initial=done,
            desc=f"T={T:g} {label}",
            position=i,
            leave=True,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        for i, (T, total, done, label) in enumerate(rows)
    }


def run_units(
    todo: Sequence,
    work: Callable,
    finished: Callable,
    workers: int,
    scheduler: str | None = None,
) -> None:
    """``finished(work(unit))`` for every unit of ``todo``: in this process when ``workers`` is 0
    and no ``scheduler`` is given, else on dask (:func:`dask_client`), in the order the results
    come back (a unit's error is raised here, at its result)."""
    if not todo:
        return
    if workers == 0 and scheduler is None:
        for u in todo:
            finished(work(u))
        return
    from dask.distributed import as_completed

    with dask_client(min(workers, len(todo)), scheduler) as client:
        futures = [client.submit(work, u, pure=False, priority=-i) for i, u in enumerate(todo)]
        for fut in as_completed(futures):
            finished(fut.result())  # re-raises a unit's error here


def log_run(group, attr: str, entry: dict, replace_last: bool = False) -> None:
    """Append ``entry`` to ``runs`` of the zarr ``group``'s attr ``attr`` (a dict), or replace
    the last entry (the same run, now finished)."""
    rec = dict(group.attrs.get(attr) or {})
    runs = list(rec.get("runs", []))
    rec["runs"] = [*runs[:-1], entry] if replace_last and runs else [*runs, entry]
    group.attrs[attr] = rec
