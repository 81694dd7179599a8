"""Cost of a transport's first annealing step: the bisection tolerance, side by side in one run.

The first step of an annealed transport (:func:`glassdyn.gen.anneal.transport_temperature`) finds
how far down the fitted map goes by bisection in 1/T, each trial transporting ``probe`` members;
for a slow map (the coupling flow's pair-knot layers) these trials are most of the sampler's
transport time.  This script times the bisection at each ``--tolerance`` (relative, in 1/T; 0: the
full 7 halvings) on the same members with the same generator, interleaved ``--repeats`` times, and
prints seconds, transports, the temperature reached and the ratio to the first tolerance.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_first_step.py RUN --temperature 0.56 \\
        [--tolerances 0,0.01] [--repeats 3] [--data STORE]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a fitted flow or cnf run")
    p.add_argument("--temperature", type=float, required=True, help="the target temperature")
    p.add_argument("--tolerances", default="0,0.01", help="relative tolerances in 1/T to compare")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data", default=None, help="the store the run was fitted on")
    a = p.parse_args(argv)

    from glassdyn.gen import anneal
    from glassdyn.gen.checkpoints import load_run
    from glassdyn.gen.mdpool import bridge_warmup, md_pool
    from glassdyn.gen.sampler import base_starts, model_transport
    from glassdyn.gen.sampling import energies

    model, ck = load_run(a.run)
    starts, types, box = base_starts(ck, a.data)
    T0 = float(ck["data"]["base_temperature"])
    source = ck["data"].get("base_source") or T0
    if bridge_warmup(T0, source, len(types)):  # a bridged base: equilibrate the starts at T0 first
        starts = md_pool(
            starts,
            types,
            box,
            T0,
            len(starts),
            np.random.default_rng(0),
            warmup=bridge_warmup(T0, source, len(types)),
        ).positions
    U = energies(starts, types, box)
    pop = anneal.Population(starts, U, np.zeros(len(U)), np.arange(len(U)), T0)
    f = model_transport(model, types, box)
    calls = [0]

    def counted(x, T_from, T_to):
        calls[0] += 1
        return f(x, T_from, T_to)

    tols = [float(t) for t in a.tolerances.split(",")]
    rows = {t: {"seconds": [], "transports": [], "T": []} for t in tols}
    for r in range(a.repeats):
        for t in tols:
            calls[0] = 0
            t0 = time.perf_counter()
            T = anneal.transport_temperature(
                counted, pop, types, box, T0, a.temperature, 0.5,
                np.random.default_rng([r, 5]), tolerance=t,
            )  # fmt: skip
            rows[t]["seconds"].append(time.perf_counter() - t0)
            rows[t]["transports"].append(calls[0])
            rows[t]["T"].append(T)
    ref = np.mean(rows[tols[0]]["seconds"])
    print(f"{ck['kind']} run {a.run}: first step from T={T0:g} towards {a.temperature:g}, "
          f"{len(U)} base members, {a.repeats} repeats interleaved")  # fmt: skip
    for t in tols:
        s = np.array(rows[t]["seconds"])
        print(
            f"  tolerance {t:g}: {s.mean():.2f} s (ratio {s.mean() / ref:.2f}), "
            f"{np.mean(rows[t]['transports']):.1f} transports of the probes, reaches "
            f"T = {', '.join(f'{x:.4f}' for x in rows[t]['T'])}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
