"""``glassdyn quench STORE [--temperatures T,...] [--workers N | --scheduler ADDR]``."""

from __future__ import annotations

import argparse
import sys

from glassdyn.commands.options import add_cluster_options, positive_floats

HELP = (
    "add FIRE inherent structures (the pinned minimiser of `simulate`) to every configuration "
    "of a store that lacks them; rerun to resume"
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
    add_cluster_options(p)
    p.add_argument(
        "--no-progress", "--quiet", action="store_true", help="no progress bars (--quiet: the same)"
    )


def run(args: argparse.Namespace) -> int:
    from glassdyn.simulate.inherent import add_inherent_structures

    report = add_inherent_structures(
        args.store,
        temperatures=args.temperatures,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
        command=["glassdyn", *sys.argv[1:]],
    )
    print("\n".join(report.lines()))
    if report.warning():
        print(f"glassdyn quench: {report.warning()}", file=sys.stderr)
        return 1
    return 0
