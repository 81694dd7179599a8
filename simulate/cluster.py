"""Where the work units of ``glassdyn simulate`` and ``glassdyn quench`` run, and how their
progress shows: a dask client (a local cluster of worker processes with one thread each, or a
running scheduler's address), one progress bar per state point, and the UTC time stamps of the
store's run logs."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


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
