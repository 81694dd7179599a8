"""``glassdyn train --data STORE --model {botan,tbotan,bapst,ridge,mlp} --out RUN [...]``.

Every option sets the :class:`~glassdyn.predict.config.TrainConfig` field of its name (defaults, help
and choices come from the dataclass).  BOTAN's published recipe (edge pre-training, then
p = 0.4 at lr 1e-4)::

    glassdyn train --data ka.zarr --model botan --out runs/botan --times 7 \
        --pretrain-epochs 50 --epochs 50 --lr 1e-4
"""

from __future__ import annotations

import argparse
import os

from glassdyn.commands.options import (
    add_setting,
    indices_or_all,
    positive_floats,
    settings_from_args,
)

HELP = (
    "train a mobility predictor (BOTAN, T-BOTAN, the Bapst GNN, or the ridge / mlp descriptor "
    "baselines) on a store; rerun to resume"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from glassdyn.predict.config import TrainConfig

    def add(name, *flags, **kwargs):
        add_setting(p, TrainConfig, name, *flags, **kwargs)

    for name in ("data", "model", "out", "input", "node_features", "node_vectors", "skip"):
        add(name)
    add("readout_hops")
    add("max_minutes", metavar="M")
    add("edge_features")
    add("times", type=indices_or_all)
    add("train_temperatures", type=positive_floats, metavar="T[,T...]")
    add("epochs")
    add("node_weight", "--p", "--node-weight", metavar="P")
    add("pretrain_epochs", metavar="E0")
    add("init", metavar="RUN")
    add(
        "energy_thermometer",
        "--no-energy-thermometer",
        action="store_false",
        help="T-BOTAN's temperature read-out from the latent alone (as published), not from the "
        "energy thermometer plus a correction",
    )
    for name in ("temperature_weight", "heterogeneity_weight", "lr", "lr_schedule", "grad_clip"):
        add(name)
    add("ema")
    for name in ("batch_size", "hidden", "steps", "shared_decoder", "cutoff"):
        add(name)
    add("cg_lengths", type=positive_floats, metavar="A[,A...]")
    add("augment", "--no-augment", action="store_false", help="no cube-symmetry augmentation")
    for name in ("val_fraction", "test_fraction", "max_configs", "max_train", "seed", "device"):
        add(name)
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    add("precision")
    add(
        "progress",
        "--no-progress",
        "--quiet",
        action="store_false",
        help="no progress bar (--quiet: the same)",
    )


def run(args: argparse.Namespace) -> int:
    from glassdyn.predict.config import TrainConfig
    from glassdyn.predict.training import train

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = train(settings_from_args(TrainConfig, args))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 alone speaks
        print(f"run written to {out}; {evaluate_hint(out, args.data)}")
    return 0


def evaluate_hint(run, data) -> str:
    """How to evaluate the run: on its store when that holds test data for it (a test split or
    held-out temperatures), else on another store."""
    from glassdyn.data.runs import read_run_file

    split = read_run_file(run).get("split", {})
    if any(s.get("held_out") or s.get("test") for s in split.values()):
        return f"evaluate with `glassdyn evaluate {run} --data {data}`"
    return (
        f"it has no test configurations in {data} (--test-fraction 0): evaluate it on a store it "
        f"has not seen, `glassdyn evaluate {run} --data OTHER_STORE`"
    )
