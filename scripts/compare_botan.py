"""BOTAN vs the Bapst GNN vs ridge, side by side on the same store, split, epochs and seed.

    python scripts/compare_botan.py --data out/ka.zarr --out out/compare --epochs 120 \
        [--pretrain-epochs 60] [--input ts+is] [--times all|7] [--alpha-index 7] \
        [--models botan botan-pretrain bapst ridge]

Trains each model with :func:`glassdyn.predict.training.train` into ``OUT/<model>`` (an existing,
finished run is reused, an interrupted one resumed), evaluates it on the test split and prints
the node Pearson (A particles, per configuration then averaged) at the alpha time
(``--alpha-index``, default: the time index nearest tau_alpha estimated as the time where the
mean A propensity first exceeds ``--alpha-displacement``, 0.3 sigma by default), plus the edge
Pearson of the BOTAN models.  Writes ``OUT/comparison.json``.

``--epochs`` is every network's epoch budget.  ``botan-pretrain`` / ``tbotan-pretrain`` spend
``--pretrain-epochs`` of it on BOTAN's edge-only pre-training (p = 0) and the rest with ``--p``
from the pre-trained weights (the published recipe); ``botan``, ``tbotan`` and ``bapst`` train
all of it from scratch, so every network sees the same number of epochs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def alpha_index(times: list[float], mean_true: list[float], displacement: float) -> int:
    """First time index whose mean A propensity exceeds ``displacement`` (else the last)."""
    for k, m in enumerate(mean_true):
        if m is not None and m >= displacement:
            return k
    return len(times) - 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", nargs="+", default=["botan", "bapst", "ridge"])
    ap.add_argument("--epochs", type=int, default=60, help="epoch budget of every network")
    ap.add_argument(
        "--pretrain-epochs",
        type=int,
        default=0,
        help="edge-only pre-training epochs of the *-pretrain models (part of --epochs)",
    )
    ap.add_argument("--times", default="all", help="'all' (multi-time head) or one time index")
    ap.add_argument("--p", type=float, default=0.4)
    ap.add_argument("--input", default="ts", choices=("ts", "is", "ts+is"))
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-schedule", default="cosine", choices=("constant", "cosine"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alpha-index", type=int, default=None)
    ap.add_argument("--alpha-displacement", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=7)
    args = ap.parse_args(argv)

    import torch
    from glassdyn.predict.config import TrainConfig
    from glassdyn.predict.evaluation import evaluate_run
    from glassdyn.predict.training import train

    torch.set_num_threads(args.threads)
    times = None if args.times == "all" else (int(args.times),)
    results, walls, epochs = {}, {}, {}
    for name in args.models:
        model, _, variant = name.partition("-")
        if variant not in ("", "pretrain") or (variant and model not in ("botan", "tbotan")):
            ap.error(
                f"unknown model {name!r}: botan, tbotan, bapst, ridge, botan-pretrain, tbotan-pretrain"
            )
        pre = args.pretrain_epochs if variant == "pretrain" else 0
        if pre > args.epochs:
            ap.error("--pretrain-epochs is part of the --epochs budget: it cannot exceed it")
        cfg = TrainConfig(
            data=args.data,
            out=str(Path(args.out) / name),
            model=model,
            input=args.input,
            times=times,
            epochs=args.epochs - pre,
            pretrain_epochs=pre,
            node_weight=args.p,
            lr=args.lr,
            lr_schedule=args.lr_schedule,
            seed=args.seed,
            hidden=args.hidden,
            steps=args.steps,
            progress=False,
        )
        t0 = time.perf_counter()
        run = train(cfg)
        walls[name] = time.perf_counter() - t0  # ~0 for a finished run that is reused
        epochs[name] = (
            "-" if model == "ridge" else f"{pre}+{args.epochs - pre}" if pre else str(args.epochs)
        )
        results[name] = evaluate_run(run, args.data, latent_png=None)
    temps = list(next(iter(results.values()))["node_pearson"])
    table = {}
    print(
        f"node Pearson (A, test split) on {args.data}, input {args.input}, times {args.times}, "
        f"seed {args.seed}, lr {args.lr} {args.lr_schedule}; epochs (pretrain+train): "
        + ", ".join(f"{m} {e}" for m, e in epochs.items())
    )
    for T in temps:
        ref = results[args.models[0]]
        if times is not None:
            k = 0
        elif args.alpha_index is not None:
            k = args.alpha_index
        else:
            k = alpha_index(ref["times"][T], ref["mean_true"][T], args.alpha_displacement)
        row = {m: results[m]["node_pearson"][T][k] for m in args.models}
        table[T] = {
            "alpha_index": k if times is None else times[0],
            "time": ref["times"][T][k],
            **row,
        }
        for m in args.models:
            if results[m]["edge_pearson"]:
                table[T][f"{m}_edge"] = results[m]["edge_pearson"][T][k]
        cells = "  ".join(f"{m} {v:.3f}" if v is not None else f"{m} nan" for m, v in row.items())
        edges = "  ".join(
            f"{m} {table[T][m + '_edge']:.3f}" for m in args.models if m + "_edge" in table[T]
        )
        print(
            f"  T={T}  alpha time t={table[T]['time']:.3g} (index {table[T]['alpha_index']}):  {cells}"
        )
        if edges:
            print(f"  {'':>6}  edge Pearson (AA, r0<1.35): {edges}")
    means = {
        m: sum(table[T][m] for T in temps) / len(temps)
        for m in args.models
        if all(table[T][m] is not None for T in temps)
    }
    print("  mean over T: " + "  ".join(f"{m} {v:.3f}" for m, v in means.items()))
    print("  train wall s: " + "  ".join(f"{m} {v:.0f}" for m, v in walls.items()))
    out = Path(args.out) / "comparison.json"
    out.write_text(
        json.dumps(
            {
                "alpha": table,
                "mean_over_T": means,
                "epochs": epochs,
                "wall_s": walls,
                "runs": results,
            },
            indent=1,
        )
    )
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
