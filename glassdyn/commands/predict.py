"""``glassdyn predict RUN --data STORE --out FILE``: predicted mobility for analysis and export."""

from __future__ import annotations

import argparse

from glassdyn.commands.options import positive_floats

HELP = "write a run's predicted mobility (per temperature: configs, times, mobility (C,K,N)) to a predictions file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run directory written by `glassdyn train`")
    p.add_argument("--data", required=True, help="store holding the configurations to predict")
    p.add_argument(
        "--out", required=True, help="predictions file (Zarr directory), e.g. preds.zarr"
    )
    p.add_argument(
        "--temperatures",
        type=positive_floats,
        metavar="T[,T...]",
        default=None,
        help="default: every temperature of the store",
    )
    p.add_argument(
        "--split",
        default="test",
        choices=("test", "val", "train", "all"),
        help="which configurations (default test; held-out temperatures: all of theirs)",
    )
    p.add_argument("--device", default="cpu", help="auto | cpu | cuda[:N]")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing predictions file at --out"
    )


def run(args: argparse.Namespace) -> int:
    from glassdyn.predict.evaluation import predict_run

    out = predict_run(
        args.run,
        args.data,
        args.out,
        device=args.device,
        temperatures=args.temperatures,
        part=args.split,
        overwrite=args.overwrite,
    )
    print(f"predictions written to {out}")
    return 0
