"""Learning curve on any store: node Pearson (A) against training configurations per temperature.

    OMP_NUM_THREADS=1 python scripts/learning_curve.py --data STORE --out DIR \
        [--sizes 1,2,4,8] [--models ridge,mlp,botan,tbotan] [--seeds 0,1,2] [--minutes 10] \
        [--input auto] [--epochs 100]
    python scripts/learning_curve.py --merge DIR [DIR ...] --out DIR

A model may name the one temperature it trains on, ``botan@0.56``: against ``tbotan`` (trained on
every temperature) it asks whether the other temperatures buy data for that one.  Its table holds
only that temperature (the others are held out of its training, not scored as test).

Every point is a `glassdyn train` run under DIR (``--max-train N``: the first N training
configurations of each temperature, nested, the validation and test configurations unchanged;
rerunning the script resumes or reuses the runs) trained on every temperature of the store,
scored once on its test configurations with `evaluate_run`.  Seeds draw other splits (the
store's recorded split, e.g. BOTAN's test files, stays; then a seed draws only the validation
files), so the error bar of a point is the standard error over seeds x test configurations
(``sem``) of the node Pearson at each temperature and time.  The replica-noise ceiling of the
same test configurations is printed with it.  Writes DIR/curve.json, DIR/curve.png (one panel per
temperature, at the time ``--time-index``, default the last, the ceiling dashed) and prints the
table.  ``--merge`` puts the curve.json of several such runs of one store (e.g. models trained
side by side, one process per core) into one table and figure under ``--out``; it trains nothing,
and refuses curves of different stores, times or test sets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from glassdyn.data.runs import clean_json
from glassdyn.data.store import Store
from glassdyn.predict.config import BASELINES, TrainConfig
from glassdyn.predict.evaluation import evaluate_run
from glassdyn.predict.training import train


def parse_model(spec: str) -> tuple[str, float | None]:
    """``"botan"`` -> ("botan", None); ``"botan@0.56"`` -> ("botan", 0.56): trained on T=0.56 only."""
    name, _, T = spec.partition("@")
    return name, (float(T) if T else None)


def point(args, spec: str, n: int, seed: int) -> dict:
    """Train (or reuse) one run; its per-configuration test node Pearsons per temperature."""
    model, only = parse_model(spec)
    tag = model if only is None else f"{model}_T{only:g}"
    out = Path(args.out) / f"{tag}_n{n}_s{seed}"
    cfg = dict(data=args.data, out=str(out), model=model, max_train=n, seed=seed, input=args.input)
    cfg["progress"] = False
    if only is not None:
        cfg["train_temperatures"] = (only,)
    if model not in BASELINES:
        cfg.update(epochs=args.epochs, max_minutes=args.minutes, hidden=args.hidden)
    train(TrainConfig(**cfg))
    res = evaluate_run(out, args.data, latent_png=None)

    def pick(by_T):  # a one-temperature run: only that temperature's test configurations
        return {T: v for T, v in (by_T or {}).items() if only is None or float(T) == only}

    return {
        "per_config": pick(res.get("node_pearson_per_config")),
        "mean": pick(res["node_pearson"]),
        "n_test": pick(res["n_configs"]),
        "ceiling": pick(res.get("noise_ceiling")),
        "times": res["times"],
        "input": res["input"],
    }


def summarise(points: list[dict]) -> dict:
    """Mean and standard error per temperature and time over seeds x test configurations (the
    per-seed means weighted by their test configurations when per-configuration values lack)."""
    out = {}
    for T in points[0]["mean"]:
        vals = []
        for p in points:
            per = (p["per_config"] or {}).get(T)
            vals += per if per else [p["mean"][T]] * int(p["n_test"][T])
        v = np.asarray(vals, dtype=float)  # (M, K)
        se = v.std(0, ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.full(v.shape[1], np.nan)
        out[T] = {"mean": v.mean(0).tolist(), "sem": se.tolist(), "n": len(v)}
    return out


def plot(path: Path, table: dict, k: int, ceiling: dict | None = None) -> None:
    """One panel per temperature at time index ``k``: each model's points at its own sizes (a
    model may lack a temperature: ``botan@0.56``), the replica-noise ceiling dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temps = sorted({T for rows in table.values() for r in rows.values() for T in r}, key=float)
    fig, axes = plt.subplots(1, len(temps), figsize=(4 * len(temps), 3.2), squeeze=False)
    for ax, T in zip(axes[0], temps):
        for model, rows in table.items():
            sizes = sorted((int(n) for n, r in rows.items() if T in r))
            if not sizes:
                continue
            m = [rows[str(n)][T]["mean"][k] for n in sizes]
            e = [rows[str(n)][T]["sem"][k] for n in sizes]
            ax.errorbar(sizes, m, yerr=np.nan_to_num(e), fmt="o-", capsize=3, label=model)
        if ceiling and T in ceiling:
            ax.axhline(ceiling[T][k], ls="--", c="grey", label="replica-noise ceiling")
        ax.set(xscale="log", xlabel="training configurations per T", title=f"T={T}")
        ax.set_ylabel("node Pearson (A), test")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def merge(dirs: list[str]) -> tuple[dict, dict, dict]:
    """(table, ceiling, times) of several DIR/curve.json; ValueError naming the folder when a
    curve is missing or two disagree on the store's times or on the ceiling (another test set)."""
    table, ceiling, times = {}, {}, None
    for d in dirs:
        f = Path(d) / "curve.json"
        if not f.is_file():
            raise ValueError(
                f"--merge {d}: no curve.json there; run the script with --out {d} first"
            )
        res = json.loads(f.read_text())
        if times is not None and res["times"] != times:
            raise ValueError(f"--merge {d}: its times differ from the first curve's: another store")
        times = res["times"]
        for T, c in res["ceiling"].items():
            c = np.asarray(c, dtype=float).tolist()
            if T in ceiling and not np.allclose(ceiling[T], c, equal_nan=True):
                raise ValueError(
                    f"--merge {d}: its ceiling at T={T} differs: another test set or store"
                )
            ceiling.setdefault(T, c)
        for model, rows in res["table"].items():
            for row in (r for by_T in rows.values() for r in by_T.values()):
                for key in ("mean", "sem"):  # JSON wrote NaN (one score: no error bar) as null
                    row[key] = np.asarray(row[key], dtype=float).tolist()
            table.setdefault(model, {}).update(rows)
    return table, ceiling, times


def report(out: Path, table: dict, ceiling: dict, times: dict, time_index: int, meta: dict) -> None:
    """Print the table and the ceiling; write out/curve.json and out/curve.png."""
    for model, rows in table.items():
        for n in sorted(rows, key=int):
            for T, row in rows[n].items():
                cells = "  ".join(f"{a:.3f}+-{b:.3f}" for a, b in zip(row["mean"], row["sem"]))
                print(f"{model:<8s} n={int(n):<4d} T={T:<6s} node r {cells}  ({row['n']} scores)")
    for T, c in ceiling.items():
        print(f"replica-noise ceiling T={T}: {'  '.join(f'{v:.3f}' for v in c)}")
    print(f"times: {times}")
    res = {**meta, "times": times, "ceiling": ceiling, "table": table}
    out.mkdir(parents=True, exist_ok=True)
    (out / "curve.json").write_text(json.dumps(clean_json(res), indent=1))
    k = time_index % len(next(iter(times.values())))
    plot(out / "curve.png", table, k, ceiling)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="the store (not with --merge)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--merge", nargs="+", metavar="DIR", help="earlier --out folders to merge")
    ap.add_argument("--sizes", default="1,2,4,8")
    ap.add_argument("--models", default="ridge,mlp,botan,tbotan")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--input", default="auto")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=10.0, help="--max-minutes of each GNN run")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--time-index", type=int, default=-1, help="time of the figure (default last)")
    args = ap.parse_args(argv)
    if args.merge:
        if args.data:
            ap.error("--merge trains nothing: leave out --data")
        old = Path(args.out) / "curve.json"
        if old.exists() and "merged" not in json.loads(old.read_text()):
            ap.error(f"--out {args.out} holds a trained curve: name a new folder for the merge")
        try:
            table, ceiling, times = merge(args.merge)
        except ValueError as e:
            ap.error(str(e))
        report(Path(args.out), table, ceiling, times, args.time_index, {"merged": args.merge})
        return 0
    if not args.data:
        ap.error("--data STORE is required (or --merge DIR ... to merge earlier curves)")
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    store = Store.open(args.data)  # a clear error before any run
    for spec in args.models.split(","):
        try:
            only = parse_model(spec)[1]
        except ValueError:
            ap.error(f"--models {spec}: write MODEL@T with T a temperature, e.g. botan@0.56")
        if only is not None and not store.has_state(only):
            ap.error(
                f"--models {spec}: {args.data} has no T={only:g} (it has {store.temperatures})"
            )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    table, ceiling, times = {}, {}, None
    for model in args.models.split(","):
        table[model] = {}
        for n in sizes:
            pts = [point(args, model, n, s) for s in seeds]
            table[model][str(n)] = summarise(pts)
            for T, c in pts[0]["ceiling"].items():  # the same test configurations in every run
                ceiling.setdefault(T, c)
            times = times or pts[0]["times"]
    report(Path(args.out), table, ceiling, times, args.time_index, {"sizes": sizes, "seeds": seeds})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
