"""``glassdyn quench STORE [--temperatures T,...] [--workers N | --scheduler ADDR]``."""

from __future__ import annotations

import argparse
import sys

from glassdyn.commands.options import positive_floats

HELP = (
    "add FIRE inherent structures (the pinned minimiser of `simulate`) to every configuration "
    "of a store that lacks them; rerun to resume"
)


def add_quench_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """--workers / --scheduler (shared with ``import --quench``)."""
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"{prefix}local worker processes, 1 thread each (default: number of CPUs; 0 = no dask)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help=f"{prefix}address of a running dask scheduler (e.g. tcp://host:8786) instead of a local cluster",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="glassdyn Zarr store (simulated or imported)")
    p.add_argument(
        "--temperatures",
        type=positive_floats,
        default=None,
        metavar="T[,T...]",
        help="state points to quench (default: all)",
    )
    add_quench_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_quench(store, temperatures, workers, scheduler, progress: bool) -> int:
    """Quench and print the report; 1 when some configuration did not converge."""
    import os

    from glassdyn.simulate.quench import quench

    workers = workers if workers is not None else (os.cpu_count() or 1)
    report = quench(
        store,
        temperatures=temperatures,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        command=["glassdyn", *sys.argv[1:]],
    )
    print("\n".join(report.lines()))
    print(f"quench: {report.seconds:.1f} s")
    bad = report.unconverged
    if bad:
        print(
            f"glassdyn quench: {len(bad)} configuration(s) did not converge (listed above); they have no "
            "inherent structure, and IS-based inputs refuse them",
            file=sys.stderr,
        )
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    return run_quench(
        args.store, args.temperatures, args.workers, args.scheduler, not args.no_progress
    )
