"""Cost of the samplers against MD per independent configuration, and the crossover temperature.

For each temperature T of a store (below the base temperature):

- **MD**: NVT chains continuing the store's configurations at T, one configuration every
  2 tau_alpha(T) (:func:`glassdyn.gen.mdpool.md_pool`): seconds per configuration, measured; these
  ``--n`` configurations are also the reference the samplers' mean e/N is checked against.
- **population annealing** (the identity transport) from MD at the base temperature, and each
  fitted run given with ``--runs NAME=RUN`` (flow / cnf transports, diffusion with its HMC
  refinement), through :func:`glassdyn.gen.sampler.sample_run`: seconds per *effective*
  configuration (Kish ESS and effective families of the annealed population for the transports;
  the refined proposals for diffusion), the base MD included.

The ratio sampler / MD is printed per T with the sampler's e/N z-score against MD (a cheap
sampler with the wrong distribution does not count); the crossover temperature is where log(ratio)
crosses 0, interpolated linearly in 1/T between the two temperatures that bracket it (or "none in
range").  Every number comes from this one run (the machine is noisy: compare ratios, not times).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_gen.py --data STORE.zarr \\
        --temperatures 0.64,0.56,0.5 [--base 0.8] [--runs cnf=RUN] [--n 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def _store_configs(store, T: float, max_configs: int | None = None):
    from glassdyn.data import keys
    from glassdyn.data.store import Store

    sp = Store.open(store).state(T)
    idx = np.asarray(sp.completed[:max_configs] if max_configs else sp.completed, dtype=np.int64)
    if len(idx) == 0:
        raise SystemExit(f"error: {store} has no completed configuration at T={T:g}")
    types = sp.read(keys.TYPES, idx)
    return sp.read(keys.THERMAL_POSITIONS, idx).astype(np.float64), types[0], sp.read(keys.BOX, 0)


def _energy(e_total: np.ndarray, N: int, n_eff: float) -> dict:
    e = np.asarray(e_total) / N
    return {"mean": float(e.mean()), "se": float(e.std(ddof=1) / np.sqrt(max(n_eff, 1.0)))}


def crossover(temps, ratios) -> float | None:
    """The temperature where the cost ratio crosses 1 (log ratio linear in 1/T between the two
    bracketing temperatures); None when it does not cross in the range."""
    pts = sorted(zip(temps, ratios), reverse=True)  # hot -> cold
    for (t0, r0), (t1, r1) in zip(pts, pts[1:]):
        a, b = np.log(r0), np.log(r1)
        if a == 0:
            return float(t0)
        if a * b < 0:
            x = 1 / t0 + (1 / t1 - 1 / t0) * a / (a - b)
            return float(1 / x)
    return None


def bench(args) -> dict:
    from glassdyn.gen.checkpoints import load_run
    from glassdyn.gen.mdpool import base_source, md_pool, tau_alpha
    from glassdyn.gen.sampler import CorrectionOptions, sample_run, transported

    from glassdyn.data.store import Store

    temps = sorted(args.temperatures, reverse=True)
    base = args.base if args.base is not None else max(Store.open(args.data).temperatures)
    source = base_source(Store.open(args.data).temperatures, base)  # a bridged base: from above
    starts_b, types, box = _store_configs(args.data, source)
    N = len(types)
    runs = dict(r.split("=", 1) for r in args.runs)
    loaded = {name: load_run(path) for name, path in runs.items()}
    options = CorrectionOptions(population=args.population)
    out = {"data": str(args.data), "base": base, "n": args.n, "temperatures": {}}
    for T in temps:
        rng = np.random.default_rng([args.seed, int(T * 1000)])
        starts, _, _ = _store_configs(args.data, T)
        pool = md_pool(starts, types, box, T, args.n, rng)
        md_cost = pool.cost.seconds / args.n
        md_e = _energy(pool.energy, N, args.n)
        rows = {"MD": {"seconds_per_effective": md_cost, "energy": md_e, "ratio": 1.0}}
        samplers = [("population annealing", None)] + list(loaded.items())
        for name, run in samplers:
            t0 = time.perf_counter()
            if run is None:
                s = transported(
                    None,
                    starts_b,
                    types,
                    box,
                    base,
                    T,
                    args.n,
                    rng,
                    options,
                    method=name,
                    source=source,
                )
            else:
                s = sample_run(run[0], run[1], T, args.n, seed=args.seed, options=options)
            wall = time.perf_counter() - t0
            eff = float(s.report.get("effective_configurations") or 0.0)
            per = wall * min(1.0, args.n / s.report.get("population", args.n)) / max(eff, 1e-9)
            e = _energy(s.energy, N, max(eff, 1.0))
            z = (e["mean"] - md_e["mean"]) / np.hypot(e["se"], md_e["se"])
            rows[name] = {
                "seconds_per_effective": per,
                "effective_configurations": eff,
                "wall_seconds": wall,
                "energy": e,
                "z": float(z),
                "ratio": per / md_cost,
            }
            print(
                f"T={T:g} {name}: {per:.3g} s per effective configuration "
                f"({eff:.1f} effective), MD {md_cost:.3g} s -> ratio {per / md_cost:.3g}; "
                f"e/N {e['mean']:.4f} +- {e['se']:.4f} vs MD {md_e['mean']:.4f} (z {z:+.1f})",
                flush=True,
            )
        out["temperatures"][f"{T:g}"] = {"tau_alpha": tau_alpha(T, N), "rows": rows}
    names = [n for n in next(iter(out["temperatures"].values()))["rows"] if n != "MD"]
    out["crossover"] = {
        name: crossover(
            temps, [out["temperatures"][f"{T:g}"]["rows"][name]["ratio"] for T in temps]
        )
        for name in names
    }
    return out


def format_table(res: dict) -> str:
    temps = list(res["temperatures"])
    names = list(res["temperatures"][temps[0]]["rows"])
    lines = [
        f"N from {res['data']}, base T={res['base']:g}, {res['n']} configurations per sampler and T",
        "| sampler | "
        + " | ".join(f"T={t} (tau_alpha {res['temperatures'][t]['tau_alpha']:.3g})" for t in temps)
        + " |",
        "|---" * (len(temps) + 1) + "|",
    ]
    for name in names:
        cells = []
        for t in temps:
            r = res["temperatures"][t]["rows"][name]
            if name == "MD":
                cells.append(f"{r['seconds_per_effective']:.3g} s, e/N {r['energy']['mean']:.4f}")
            else:
                cells.append(
                    f"{r['seconds_per_effective']:.3g} s ({r['ratio']:.2g}x MD), z {r['z']:+.1f}"
                )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, t in res["crossover"].items():
        lines.append(
            f"crossover, {name}: " + (f"T = {t:.3f}" if t is not None else "none in range")
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a store with the base and target temperatures")
    p.add_argument(
        "--temperatures",
        type=lambda s: [float(t) for t in s.split(",")],
        required=True,
        help="target temperatures, comma-separated",
    )
    p.add_argument("--base", type=float, default=None, help="base temperature (default: highest)")
    p.add_argument("--runs", nargs="*", default=[], help="NAME=RUN fitted runs to time")
    p.add_argument("--n", type=int, default=32, help="configurations per sampler and T")
    p.add_argument("--population", type=int, default=64, help="population of the transports")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    from glassdyn.data.errors import GlassdynError

    try:
        res = bench(args)
    except GlassdynError as exc:  # a store or run that cannot be used: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
