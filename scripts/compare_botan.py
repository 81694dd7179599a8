"""BOTAN vs the Bapst GNN vs ridge, side by side on the same store, split, epochs and seed.

    python scripts/compare_botan.py --data out/ka.zarr --out out/compare --epochs 60 \
        [--input ts+is] [--alpha-index 7] [--models botan bapst ridge]

Trains each model with :func:`glassdyn.training.train` into ``OUT/<model>`` (an existing,
finished run is reused, an interrupted one resumed), evaluates it on the test split and prints
the node Pearson (A particles, per configuration then averaged) at every time and at the alpha
time (``--alpha-index``, default: the time index nearest tau_alpha estimated as the time where
the mean A propensity first exceeds ``--alpha-displacement``, 0.3 sigma by default), plus the
edge Pearson of BOTAN.  Writes ``OUT/comparison.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
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
    ap.add_argument("--epochs", type=int, default=60)
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

    from glassdyn.evaluation import evaluate_run
    from glassdyn.training import TrainConfig, train

    torch.set_num_threads(args.threads)
    results = {}
    for model in args.models:
        cfg = TrainConfig(
            data=args.data,
            out=str(Path(args.out) / model),
            model=model,
            input=args.input,
            epochs=args.epochs,
            lr=args.lr,
            lr_schedule=args.lr_schedule,
            seed=args.seed,
            hidden=args.hidden,
            steps=args.steps,
            progress=False,
        )
        results[model] = evaluate_run(train(cfg), args.data, latent_png=None)
    temps = list(next(iter(results.values()))["node_pearson"])
    table = {}
    print(
        f"node Pearson (A, test split) on {args.data}, input {args.input}, {args.epochs} epochs, seed {args.seed}"
    )
    for T in temps:
        ref = results[args.models[0]]
        k = (
            args.alpha_index
            if args.alpha_index is not None
            else alpha_index(ref["times"][T], ref["mean_true"][T], args.alpha_displacement)
        )
        row = {m: results[m]["node_pearson"][T][k] for m in args.models}
        table[T] = {"alpha_index": k, "time": ref["times"][T][k], **row}
        if "botan" in results and results["botan"]["edge_pearson"]:
            table[T]["botan_edge"] = results["botan"]["edge_pearson"][T][k]
        cells = "  ".join(f"{m} {v:.3f}" if v is not None else f"{m} nan" for m, v in row.items())
        print(f"  T={T}  alpha time t={ref['times'][T][k]:.3g} (index {k}):  {cells}")
    out = Path(args.out) / "comparison.json"
    out.write_text(json.dumps({"alpha": table, "runs": results}, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
