"""``glassdyn train --data STORE --model {botan,tbotan,bapst,ridge,mlp} --out RUN [...]``.

BOTAN's published recipe (edge pre-training, then p = 0.4 at lr 1e-4)::

    glassdyn train --data ka.zarr --model botan --out runs/botan --times 7 \
        --pretrain-epochs 50 --epochs 50 --lr 1e-4
"""

from __future__ import annotations

import argparse

from glassdyn.commands.options import indices_or_all, positive_floats

HELP = "train a mobility predictor (BOTAN, T-BOTAN, the Bapst GNN or ridge) on a store; rerun to resume"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", required=True, help="glassdyn Zarr store with isoconfigurational displacements"
    )
    p.add_argument(
        "--model",
        default="botan",
        choices=("botan", "tbotan", "bapst", "ridge", "mlp"),
        help="graph networks, or ridge / mlp on coarse-grained descriptors (IS descriptors added "
        "when the store has inherent structures: `glassdyn quench`)",
    )
    p.add_argument(
        "--out", required=True, help="run directory (checkpoints, run.json, cached graphs)"
    )
    p.add_argument(
        "--input",
        default="auto",
        choices=("auto", "ts", "is", "ts+is"),
        help="thermal structure, inherent structure or both (auto: ts+is when every configuration "
        "has an inherent structure, else ts)",
    )
    p.add_argument(
        "--node-features",
        default="auto",
        choices=("auto", "type", "descriptors"),
        help="graph networks' node input: the particle type alone (BOTAN as published) or with the "
        "coarse-grained descriptors of the input structures (auto: descriptors)",
    )
    p.add_argument(
        "--node-vectors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="feed each particle's TS -> IS displacement vector (default: with inherent structures)",
    )
    p.add_argument(
        "--skip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a linear skip from the descriptors to the node output, started at the ridge solution "
        "(default: with descriptors)",
    )
    p.add_argument(
        "--readout-hops",
        type=int,
        default=2,
        help="coarse-grained node readout: decode [x, C x, C^2 x] with C the neighbour average of "
        "Boattini et al. (0: BOTAN's plain decoder; default 2)",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop cleanly after the epoch that passes this wall time; rerun the same command to "
        "continue",
    )
    p.add_argument(
        "--edge-features",
        default="vector",
        choices=("vector", "invariant"),
        help="relative vectors with cube-symmetry augmentation (BOTAN) or rotation-invariant features",
    )
    p.add_argument(
        "--times",
        type=indices_or_all,
        default=None,
        help="'all' (default: one multi-time model) or time indices, e.g. 7 or 3,7",
    )
    p.add_argument(
        "--train-temperatures",
        type=positive_floats,
        metavar="T[,T...]",
        default=None,
        help="temperatures to train on (default all); the others are held out for evaluate/predict",
    )
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument(
        "--p",
        type=float,
        default=0.4,
        help="node weight of the BOTAN loss p MSE_node + (1-p) MSE_edge",
    )
    p.add_argument(
        "--pretrain-epochs",
        type=int,
        default=0,
        metavar="E0",
        help="BOTAN's published recipe: first E0 epochs on the edge target alone (p=0, best on "
        "validation kept as pretrain_best.pt), then --epochs with --p from those weights",
    )
    p.add_argument(
        "--init",
        default=None,
        metavar="RUN",
        help="start from the weights of another run (its best.pt) or a checkpoint file; same architecture",
    )
    p.add_argument(
        "--temperature-weight", type=float, default=1.0, help="T-BOTAN temperature loss weight"
    )
    p.add_argument(
        "--heterogeneity-weight",
        type=float,
        default=0.0,
        help="weight of the GlassMLP-style spread/correlation penalty (0 = off)",
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--lr-schedule",
        default="constant",
        choices=("constant", "cosine"),
        help="constant (as published) or cosine decay to lr/100 over the epochs",
    )
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--steps", type=int, default=7, help="message-passing steps")
    p.add_argument(
        "--shared-decoder",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one decoder for nodes and edges, as the reference (default: shared unless "
        "--readout-hops > 0)",
    )
    p.add_argument("--cutoff", type=float, default=2.0, help="graph radius (sigma_AA)")
    p.add_argument("--no-augment", action="store_true", help="no cube-symmetry augmentation")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument(
        "--max-configs",
        type=int,
        default=None,
        help="use at most this many configurations per temperature",
    )
    p.add_argument(
        "--max-train",
        type=int,
        default=None,
        help="train on the first N training configurations per temperature only (validation and "
        "test unchanged; for learning curves)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    p.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="bf16: forward under bfloat16 autocast (faster on CPUs with avx512_bf16 and GPUs)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from glassdyn.training import TrainConfig, train

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    config = TrainConfig(
        data=args.data,
        out=args.out,
        model=args.model,
        input=args.input,
        edge_features=args.edge_features,
        times=args.times,
        train_temperatures=args.train_temperatures,
        epochs=args.epochs,
        p=args.p,
        pretrain_epochs=args.pretrain_epochs,
        init=args.init,
        temperature_weight=args.temperature_weight,
        heterogeneity_weight=args.heterogeneity_weight,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        grad_clip=args.grad_clip,
        batch_size=args.batch_size,
        hidden=args.hidden,
        steps=args.steps,
        shared_decoder=args.shared_decoder,
        node_features=args.node_features,
        node_vectors=args.node_vectors,
        skip=args.skip,
        readout_hops=args.readout_hops,
        max_minutes=args.max_minutes,
        cutoff=args.cutoff,
        augment=not args.no_augment,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        max_configs=args.max_configs,
        max_train=args.max_train,
        seed=args.seed,
        device=args.device,
        progress=not args.quiet,
        precision=args.precision,
    )
    out = train(config)
    print(f"run written to {out}; evaluate with `glassdyn evaluate {out} --data {args.data}`")
    return 0
