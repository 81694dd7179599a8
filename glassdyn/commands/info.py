"""``glassdyn info STORE [--json]``."""

from __future__ import annotations

import argparse
import json

HELP = "print a summary of a dataset store (temperatures, N, C, R, times, completed configurations)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="path of a glassdyn Zarr store")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from glassdyn.data.summary import store_summary, summary_lines

    info = store_summary(args.store)
    print(json.dumps(info, indent=2) if args.json else "\n".join(summary_lines(info)))
    return 0
