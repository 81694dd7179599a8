"""Mobility predictors side by side on one store's own split: train on its training configurations,
score each test configuration once.

    OMP_NUM_THREADS=1 python scripts/benchmark_predictors.py --data STORE \
        [--models ridge mlp ridge[radial+energy] run:RUN_DIR ...] [--ablate] [--times all|K,..] \
        [--work DIR] [--json out.json]

Split: the store's recorded one (``import.splits``: BOTAN's / GlassBench's own test files) when it
has one, else the seeded split of ``glassdyn train`` (the same function decides both).  Every
hyper-parameter is chosen inside the training configurations (ridge: leave-one-configuration-out
CV over them; MLP: early stopping and settings on the validation configurations drawn from them).

Models (a list: add entries to ``MODELS`` for new variants):

- ``ridge`` / ``mlp``: the descriptor baselines of ``glassdyn train`` (IS families when the
  store has inherent structures); ``ridge[f1+f2+...]`` / ``mlp[...]``: only those descriptor
  families (``radial angular energy radial_is angular_is energy_is displacement`` and, with cage
  states, ``radial_cage angular_cage energy_cage displacement_cage``); ``ridge@INPUT`` /
  ``mlp@INPUT``: the descriptors ``--input INPUT`` gives them (``ridge@ts+is+cage``);
- ``run:DIR``: an already trained run directory (any kind ``glassdyn evaluate`` takes: GNNs,
  converted pyg_botan weights), scored on the same test configurations; its training time is
  not known here.

``--ablate`` adds, for ridge, every family alone and the full set without each family.
Printed per model and time: node Pearson on A particles (mean +- standard error over test
configurations; first the replica-noise ceiling of those configurations, which bounds it), edge Pearson on AA pairs with r0 < 1.35 (models with an edge output) and the
wall time of training (descriptors included, first use fills the cache in ``--work``).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.store import Store
from glassdyn.predict.baselines import Sample, choose_spec, fit_mlp, fit_ridge, load_sample
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.metrics import pearson
from glassdyn.predict.training import plan

from glassdyn.nn import keys as nk
from glassdyn.nn.descriptors import (
    ALL_FAMILIES,
    DescriptorCache,
    DescriptorSpec,
    family_columns,
    input_structures,
)


@dataclass
class Context:
    store: Store
    split: dict  # per temperature key: train / val / test configuration lists
    times: list[int] | None  # time indices (None: all)
    cache: DescriptorCache
    spec: DescriptorSpec  # the default spec for this store (IS families when it has them)
    seed: int


def _columns(ctx: Context, families: tuple[str, ...] | None) -> np.ndarray | None:
    """Columns of the store's full descriptor matrix holding ``families`` (coarse-graining is
    per column, so a subset of columns is exactly the subset spec's matrix)."""
    if families is None:
        return None
    bad = [f for f in families if f not in ctx.spec.families]
    if bad:
        raise SystemExit(
            f"descriptor family {bad[0]!r} is not available for {ctx.store.path} (quench it first?)"
        )
    cols = family_columns(ctx.spec)
    return np.sort(np.concatenate([cols[f] for f in families]))


def _sample(ctx: Context, sp, c: int, idx, cols) -> Sample:
    s = load_sample(sp, c, ctx.spec, ctx.cache, idx)
    return s if cols is None else Sample(s.X[:, cols], s.types, s.y, s.temperature, s.config)


def _samples(ctx: Context, part: str, cols) -> list[Sample]:
    out = []
    for T, s in ctx.split.items():
        sp = ctx.store.state(float(T))
        idx = ctx.times if ctx.times is not None else list(range(len(sp.times)))
        out += [_sample(ctx, sp, c, idx, cols) for c in s[part]]
    return out


def descriptor_model(kind: str, families: tuple[str, ...] | None):
    """A model entry: fit the descriptor baseline ``kind`` on the training part."""

    def fit(ctx: Context):
        spec = ctx.spec if families is None else DescriptorSpec(families=families)
        cols = _columns(ctx, families)
        train, val = _samples(ctx, "train", cols), _samples(ctx, "val", cols)
        model = (
            fit_ridge(train + val, spec) if kind == "ridge" else fit_mlp(train, val, spec, ctx.seed)
        )

        def predict(sp, c):
            s = _sample(ctx, sp, c, None, cols)
            return {nk.NODE: model.predict(s.X, s.types), nk.EDGE: None}

        return predict

    return fit


def run_model(path: str):
    """A model entry: an already trained run directory, scored on the same configurations."""

    def fit(ctx: Context):
        from glassdyn.predict.evaluation import TrainedRun

        run = TrainedRun(path)

        def predict(sp, c):
            pred, sample = run.predict(sp, c, targets=False)
            return {nk.NODE: pred[nk.NODE], nk.EDGE: pred[nk.EDGE], "sample": sample}

        return predict

    return fit


MODELS = {"ridge": descriptor_model("ridge", None), "mlp": descriptor_model("mlp", None)}


def resolve(name: str):
    if name in MODELS:
        return MODELS[name]
    m = re.fullmatch(r"(ridge|mlp)\[([a-z_+]+)\]", name)
    if m:
        fams = tuple(m.group(2).split("+"))
        bad = [f for f in fams if f not in ALL_FAMILIES]
        if bad:
            raise SystemExit(f"unknown descriptor family {bad[0]!r}; choose from {ALL_FAMILIES}")
        return descriptor_model(m.group(1), fams)
    m = re.fullmatch(r"(ridge|mlp)@([a-z+]+)", name)
    if m:
        spec = DescriptorSpec().for_structures(input_structures(m.group(2)))
        return descriptor_model(m.group(1), spec.families)
    if name.startswith("run:"):
        return run_model(name[4:])
    raise SystemExit(f"unknown model {name!r}: {sorted(MODELS)}, ridge[f1+f2], mlp[...], run:DIR")


def score(ctx: Context, predict) -> dict:
    """Per test configuration and time: node Pearson (A) and, with an edge output, edge Pearson."""
    from glassdyn.nn.dataset import GraphSpec, build_graph

    node, edge = [], []
    for T, s in ctx.split.items():
        sp = ctx.store.state(float(T))
        idx = ctx.times if ctx.times is not None else list(range(len(sp.times)))
        for c in s["test"]:
            out = predict(sp, c)
            y = np.asarray(sp.read(keys.ISO_PROPENSITY, c), dtype=np.float64)[idx].T
            a = sp.read(keys.TYPES, c) == 0
            node.append([pearson(out[nk.NODE][a, k], y[a, k]) for k in range(len(idx))])
            if out[nk.EDGE] is not None:
                g = build_graph(sp, c, GraphSpec(times=tuple(idx)))
                sample = out.get("sample")
                if sample is not None and not np.array_equal(
                    sample.edge_index.numpy(), g.edge_index.numpy()
                ):
                    raise SystemExit("the run's graph differs from the benchmark's (cutoff?)")
                m = g.edge_mask.numpy()
                ye = g.y_edge.numpy()
                edge.append([pearson(out[nk.EDGE][m, k], ye[m, k]) for k in range(len(idx))])
    return {"node": np.array(node), "edge": np.array(edge) if edge else None}


def _ceiling(ctx: Context) -> np.ndarray | None:
    """The replica-noise ceiling (test configurations, K) or None without two replicas."""
    from glassdyn.predict.evaluation import noise_ceiling_of

    rows = []
    for T, s in ctx.split.items():
        sp = ctx.store.state(float(T))
        idx = ctx.times if ctx.times is not None else list(range(len(sp.times)))
        for c in s["test"]:
            per, why = noise_ceiling_of(sp, [c], idx)
            if per is None:
                return None
            rows.append(per)
    return np.array(rows)


def _mean_se(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    se = a.std(0, ddof=1) / np.sqrt(len(a)) if len(a) > 1 else np.full(a.shape[1], np.nan)
    return a.mean(0), se


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", nargs="+", default=["ridge", "mlp"])
    ap.add_argument(
        "--ablate", action="store_true", help="ridge on each family alone and without each"
    )
    ap.add_argument("--times", default="all", help="'all' or time indices, e.g. 0 or 3,6")
    ap.add_argument("--work", default=None, help="descriptor cache directory (default: in memory)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    store = Store.open(args.data)
    times = None if args.times == "all" else [int(k) for k in args.times.split(",")]
    split, _ = plan(
        store, TrainConfig(data=args.data, out="-", model="ridge", times=times, seed=args.seed)
    )
    spec = choose_spec(store, split)
    if all(  # cage states for every configuration: their families too
        store.state(float(T)).cage_done[[c for p in ("train", "val", "test") for c in s[p]]].all()
        for T, s in split.items()
    ):
        spec = spec.for_structures(("is", "cage") if spec.inherent else ("cage",))
    ctx = Context(store, split, times, DescriptorCache(args.work), spec, args.seed)
    names = list(args.models)
    if args.ablate:
        fams = ctx.spec.families
        names += [f"ridge[{f}]" for f in fams]
        names += [f"ridge[{'+'.join(g for g in fams if g != f)}]" for f in fams]
    sizes = {T: (len(s["train"]), len(s["val"]), len(s["test"])) for T, s in split.items()}
    print(
        f"store {store.path}: split (train, val, test) per T {sizes}; test configurations {[s['test'] for s in split.values()]}"
    )
    store_times = {T: store.state(float(T)).times for T in split}
    ceiling = _ceiling(ctx)
    if ceiling is not None:
        _print_row(
            "replica-noise ceiling (split-half, Spearman-Brown)",
            0.0,
            {"node": ceiling, "edge": None},
        )
    results = []
    for name in names:
        t0 = time.perf_counter()
        predict = resolve(name)(ctx)
        seconds = time.perf_counter() - t0
        res = score(ctx, predict)
        results.append((name, seconds, res))
        _print_row(name, seconds, res)
    T0 = next(iter(store_times))
    tl = store_times[T0] if times is None else store_times[T0][times]
    print(
        f"times: {[float(t) for t in tl]}; node r: Pearson on A particles, edge r: AA pairs r0 < 1.35; mean +- standard error over test configurations"
    )
    if args.json:
        out = []
        for name, seconds, res in results:
            row = {"model": name, "train_seconds": seconds, "node_pearson": res["node"].tolist()}
            row["edge_pearson"] = None if res["edge"] is None else res["edge"].tolist()
            out.append(row)
        Path(args.json).write_text(
            json.dumps(
                {
                    "store": str(store.path),
                    "split": split,
                    "times": [float(t) for t in tl],
                    "noise_ceiling": None if ceiling is None else ceiling.tolist(),
                    "results": out,
                },
                indent=1,
            )
        )
    return 0


def _print_row(name: str, seconds: float, res: dict) -> None:
    m, se = _mean_se(res["node"])
    node = "  ".join(f"{a:.3f}+-{b:.3f}" for a, b in zip(m, se))
    edge = "-"
    if res["edge"] is not None:
        me, see = _mean_se(res["edge"])
        edge = "  ".join(f"{a:.3f}+-{b:.3f}" for a, b in zip(me, see))
    print(f"{name:<60s} train {seconds:7.1f} s   node r {node}   edge r {edge}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
