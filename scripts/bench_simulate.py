"""Benchmark of the simulation driver, measured side by side in one run.

(a) Driver overhead: atom-steps/s of ``glassdyn.simulate.protocols.replica`` (chunked
    ``run N pre no post no`` with positions gathered through the Python API at K log-spaced
    sample times) against raw LAMMPS running the same deck, positions and velocities in one
    ``run``; N=1000, 1 thread, interleaved repeats.  Required: ratio >= 0.95.
(b) Parallel generation: the dask runner producing the same isoconfigurational dataset with
    2 local workers vs 1 (cluster start-up included).  Required: speed-up >= 1.7 on an idle
    2-core machine.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_simulate.py [--repeats 3] [--skip-b]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def bench_driver(n: int, steps: int, n_samples: int, repeats: int) -> None:
    from glassdyn.simulate import protocols

    system = protocols.System(n)
    x = protocols.equilibrate(
        system, 0.8, 5.0, np.random.default_rng(0), protocols.Melt(melt_time=5.0)
    )
    sample_steps = np.unique(np.geomspace(1, steps, n_samples).round().astype(int))

    def driver():
        protocols.replica(system, x, 0.8, sample_steps, np.random.default_rng(1))

    def raw():
        v = protocols.maxwell_boltzmann(np.random.default_rng(1), n, 0.8)
        lmp = protocols.build(system, x, v)
        lmp.command("fix integrate all nve")
        lmp.command(f"run {steps}")
        lmp.close()

    driver()  # warm up (first LAMMPS instance of the process costs ~60 ms)
    raw()
    res = {"driver": [], "raw": []}
    for _ in range(repeats):
        for name, fn in (("driver", driver), ("raw", raw)):
            res[name].append(_timed(fn))
    print(
        f"(a) driver vs raw LAMMPS: N={n}, {steps} steps, {len(sample_steps)} samples, 1 thread, {repeats} interleaved repeats"
    )
    rates = {}
    for name, t in res.items():
        wall = np.array([w for w, _ in t])
        cpu = np.array([c for _, c in t])
        rates[name] = (n * steps / np.median(wall), n * steps / np.median(cpu))
        print(
            f"    {name:6s} wall {np.median(wall):6.2f} s (min {wall.min():.2f})  cpu {np.median(cpu):6.2f} s   "
            f"{rates[name][0] / 1e6:5.2f} M atom-steps/s wall, {rates[name][1] / 1e6:5.2f} M cpu"
        )
    print(
        f"    ratio driver/raw atom-steps/s: wall {rates['driver'][0] / rates['raw'][0]:.3f}, "
        f"cpu {rates['driver'][1] / rates['raw'][1]:.3f}  (required >= 0.95)"
    )


def bench_workers(n: int, configs: int, replicas: int, repeats: int) -> None:
    from glassdyn.simulate.presets import get_preset
    from glassdyn.simulate.runner import simulate

    settings = get_preset("small").replace(
        name="bench",
        n_particles=n,
        temperatures=(0.8,),
        n_configs=configs,
        n_replicas=replicas,
        equilibration_tau=2.0,
        times=(0.1, 0.5, 2.0, 5.0, 10.0),
        times_temperature=None,
        inherent=False,
        replica_block=2,
    )
    tmp = tempfile.mkdtemp(prefix="bench_sim_")
    try:
        times: dict[int, list[float]] = {1: [], 2: []}
        for rep in range(repeats):  # interleaved: 1, 2, 1, 2, ...
            for workers in (1, 2):
                t0 = time.perf_counter()
                simulate(
                    settings,
                    f"{tmp}/r{rep}w{workers}.zarr",
                    seed=0,
                    workers=workers,
                    progress=False,
                )
                times[workers].append(time.perf_counter() - t0)
        t1, t2 = np.median(times[1]), np.median(times[2])
        print(
            f"(b) isoconfig generation, N={n}, {configs} configurations x {replicas} replicas to t=10, "
            f"blocks of 2 replicas, {repeats} interleaved repeats"
        )
        print(
            f"    1 worker {' '.join(f'{t:.1f}' for t in times[1])} s, 2 workers {' '.join(f'{t:.1f}' for t in times[2])} s"
        )
        print(
            f"    median 1 worker {t1:.1f} s, 2 workers {t2:.1f} s, speed-up {t1 / t2:.2f}x (required >= 1.7)"
        )
        print(f"    load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--particles", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--configs", type=int, default=2)
    ap.add_argument("--replicas", type=int, default=8)
    ap.add_argument("--repeats-b", type=int, default=2)
    ap.add_argument("--skip-a", action="store_true")
    ap.add_argument("--skip-b", action="store_true")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.skip_a:
        bench_driver(args.particles, args.steps, args.samples, args.repeats)
    if not args.skip_b:
        bench_workers(args.particles, args.configs, args.replicas, args.repeats_b)


if __name__ == "__main__":
    main()
