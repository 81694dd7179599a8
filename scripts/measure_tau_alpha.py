"""Measure tau_alpha (Fs_A(k=7.25, t) = 1/e) of the KA mixture at the presets' state points.

For each (N, T): simulate C configurations equilibrated as the presets do (fresh melt, NVT for
``--equilibration-tau`` x the tau_alpha estimate), R NVE replicas each sampled at K log-spaced
times up to 5 x the estimate; tau_alpha is read off the replica- and configuration-averaged
Fs_A by log-linear interpolation.  Usage:

    .venv/bin/python scripts/measure_tau_alpha.py --particles 256 1000 --temperatures 0.8 0.64
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--particles", type=int, nargs="+", default=[256, 1000])
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.8, 0.64])
    ap.add_argument("--configs", type=int, default=4)
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="out/tau_alpha")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from glassdyn.analysis.heterogeneity import analyze_state
    from glassdyn.simulate.presets import get_preset
    from glassdyn.simulate.runner import simulate

    rows = []
    for n in args.particles:
        for T in args.temperatures:
            base = get_preset("small")
            est = base.tau(T)
            times = tuple(float(t) for t in np.geomspace(0.05, 5 * est, 14))
            settings = base.replace(
                name="tau",
                n_particles=n,
                temperatures=(T,),
                n_configs=args.configs,
                n_replicas=args.replicas,
                times=times,
                times_temperature=None,
                inherent=False,
                equilibration_tau=10.0,
            )
            t0 = time.time()
            store = simulate(
                settings,
                f"{args.out}/N{n}_T{T:.3f}.zarr",
                seed=args.seed,
                workers=args.workers,
                progress=False,
            )
            dyn = analyze_state(store.state(T)).dynamics
            tau, fs = dyn.tau_alpha["A"], dyn.fs["A"]
            rows.append((n, T, est, tau, time.time() - t0))
            print(
                f"N={n:<5d} T={T:<5g} tau_alpha estimate {est:6.2f}  measured {tau:6.2f}   "
                f"Fs_A: {' '.join(f'{x:.3f}' for x in fs)}  ({time.time() - t0:.0f} s)",
                flush=True,
            )
    print("\nN      T      tau_alpha(measured)  estimate")
    for n, T, est, tau, _ in rows:
        print(f"{n:<6d} {T:<6g} {tau:<20.2f} {est:.2f}")


if __name__ == "__main__":
    main()
