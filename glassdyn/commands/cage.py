"""``glassdyn cage STORE [--temperatures T,...] [--replicas R --time t ...] [--workers N]``."""

from __future__ import annotations

import argparse
import sys

from glassdyn.commands.options import add_cluster_options, positive_floats

HELP = (
    "add cage states (positions averaged over short isoconfigurational runs inside the cage, "
    "Alkemade et al. PRL 2023) to every configuration of a store that lacks one; rerun to resume"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="glassdyn Zarr store (simulated or imported)")
    p.add_argument(
        "--temperatures",
        type=positive_floats,
        default=None,
        metavar="T[,T...]",
        help="state points (default: all)",
    )
    g = p.add_argument_group(
        "protocol (default: the one the store records, else the values shown; recorded in the "
        "store, and a store holding cage states of another protocol is refused)"
    )
    g.add_argument("--replicas", type=int, default=None, help="runs averaged (16)")
    g.add_argument(
        "--time",
        type=float,
        default=None,
        help="length of each run, LJ time: the MSD plateau (1.0)",
    )
    g.add_argument("--every", type=float, default=None, help="sampling interval, LJ time (0.05)")
    g.add_argument("--ensemble", choices=("nve", "nvt"), default=None, help="integrator (nve)")
    g.add_argument("--seed", type=int, default=None, help="seed of the velocities (0)")
    add_cluster_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def options_from_args(args: argparse.Namespace) -> dict:
    """The protocol fields asked on the command line (the others: the recorded protocol's)."""
    return {
        k: getattr(args, k)
        for k in ("replicas", "time", "every", "ensemble", "seed")
        if getattr(args, k) is not None
    }


def run(args: argparse.Namespace) -> int:
    from glassdyn.simulate.cage import add_cage_states

    report = add_cage_states(
        args.store,
        temperatures=args.temperatures,
        options=options_from_args(args),
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
        command=["glassdyn", *sys.argv[1:]],
    )
    print("\n".join(report.lines()))
    return 0
