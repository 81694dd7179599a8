"""``glassdyn convert pyg-botan MODEL.pth --out RUN [--data STORE] [--time T]``."""

from __future__ import annotations

import argparse

HELP = (
    "turn foreign model weights (pyg_botan's published BOTAN models) into a glassdyn run directory"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("format", choices=("pyg-botan",), help="layout of the weights")
    p.add_argument("weights", metavar="MODEL.pth", help="e.g. pyg_botan's initial_model/model1.pth")
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument(
        "--data",
        default=None,
        help="store the run is for: records its index of --time and its train/test split "
        "(configurations from BOTAN's train directory are not test data)",
    )
    p.add_argument(
        "--time",
        type=float,
        default=4120.0,
        help="the LJ time the weights predict (default 4120: BOTAN's tc07, ~tau_alpha at T=0.44)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def run(args: argparse.Namespace) -> int:
    from glassdyn.predict.convert import convert_pyg_botan

    out = convert_pyg_botan(
        args.weights, args.out, data=args.data, time=args.time, overwrite=args.overwrite
    )
    hint = f" --data {args.data}" if args.data else " --data STORE"
    print(f"run written to {out}; evaluate with `glassdyn evaluate {out}{hint}`")
    return 0
