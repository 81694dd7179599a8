"""Benchmark the generative samplers of ``glassdyn.gen`` on real KA data (N >= 100).

Steps (each cached under --work so a rerun only redoes what is missing):

1. MD reference data with LAMMPS (NVT, Nose-Hoover): a training store and an independent
   held-out store at each temperature, thermal positions, energies and FIRE inherent structures.
   The wall time of this run is also the MD cost of independent configurations
   (equilibration + decorrelation) that the sampler is compared with.
2. Fit a model (``glassdyn.gen.training.fit``) unless a checkpoint exists.
3. Evaluate samples vs held-out MD, and the uniform and perturbed-lattice baselines, on every
   metric (``glassdyn.gen.metrics``); print a table and write JSON.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_gen.py --work out/gen/bench
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from glassdyn.data import keys
from glassdyn.data.box import box_length, wrap
from glassdyn.data.store import Store
from glassdyn.simulate.engine import new_lammps
from glassdyn.simulate.ka import KAParameters


def _ka_lammps(n_particles: int, density: float, seed: int, params: KAParameters = KAParameters()):
    """A LAMMPS instance holding a random KA 80:20 configuration (overlaps removed by FIRE)."""
    lmp = new_lammps()
    L = box_length(n_particles, density)
    n_a = int(round(0.8 * n_particles))
    cmds = [
        "units lj",
        "atom_style atomic",
        "atom_modify map array sort 0 0.0",
        f"region box block 0 {L} 0 {L} 0 {L}",
        "create_box 2 box",
        f"create_atoms 1 random {n_a} {seed} box overlap 0.7 maxtry 1000",
        f"create_atoms 2 random {n_particles - n_a} {seed + 1} box overlap 0.7 maxtry 1000",
        "mass * 1.0",
        f"pair_style lj/cut {params.max_cutoff}",
        "pair_modify shift yes",
        f"pair_coeff 1 1 {params.eps_aa} {params.sigma_aa} {params.cutoff * params.sigma_aa}",
        f"pair_coeff 1 2 {params.eps_ab} {params.sigma_ab} {params.cutoff * params.sigma_ab}",
        f"pair_coeff 2 2 {params.eps_bb} {params.sigma_bb} {params.cutoff * params.sigma_bb}",
        "neighbor 0.3 bin",
        "neigh_modify every 1 delay 0 check yes",
        "thermo_style custom step pe",
        "min_style fire",
        "minimize 0 1e-6 2000 20000",
        "reset_timestep 0",
        "timestep 0.005",
    ]
    for c in cmds:
        lmp.command(c)
    return lmp


def _positions(lmp) -> tuple[np.ndarray, np.ndarray]:
    n = lmp.get_natoms()
    x = (
        np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3), shape=(3 * n,))
        .reshape(n, 3)
        .astype(np.float64)
    )
    t = np.ctypeslib.as_array(lmp.gather_atoms("type", 0, 1), shape=(n,)).astype(np.int64) - 1
    return x, t


def _quench(lmp_factory, pos: np.ndarray) -> tuple[np.ndarray, float, float]:
    """FIRE-quench one configuration in LAMMPS; returns IS positions, energy/particle, max force."""
    lmp = lmp_factory
    ids = np.arange(1, len(pos) + 1)
    lmp.scatter_atoms("x", 1, 3, np.ascontiguousarray(pos.ravel(), dtype=np.float64).ctypes)
    lmp.command("min_style fire")
    lmp.command("minimize 0 1e-8 100000 1000000")
    x, _ = _positions(lmp)
    pe = lmp.get_thermo("pe")  # per particle (thermo_modify norm yes is the lj default)
    n = lmp.get_natoms()
    f = np.ctypeslib.as_array(lmp.gather_atoms("f", 1, 3), shape=(3 * n,))
    del ids
    return x, float(pe), float(np.abs(f).max())


def make_md_store(
    path: Path,
    temperatures: list[float],
    *,
    n_particles: int,
    n_configs: int,
    stride_steps: int,
    equil_steps: int,
    seed: int,
    inherent: bool,
    density: float = 1.2,
) -> dict:
    """NVT MD of KA at each T, saving every ``stride_steps``; returns timings (s) per T."""
    store = Store.create(path, source="scripts/bench_gen.py", density=density, seed=seed)
    timings = {}
    for k, T in enumerate(temperatures):
        if store.has_state(T) and store.state(T).done.all():
            timings[str(T)] = store.state(T).attrs.get("md_seconds")
            continue
        t0 = time.perf_counter()
        lmp = _ka_lammps(n_particles, density, seed + 17 * k)
        lmp.command(f"velocity all create {T} {seed + 101 * k} dist gaussian")
        lmp.command(f"fix nvt all nvt temp {T} {T} 0.5")
        lmp.command(f"run {equil_steps} pre yes post no")
        t_equil = time.perf_counter() - t0
        sp = store.create_state(
            T,
            n_configs=n_configs,
            n_particles=n_particles,
            inherent=inherent,
            attrs={"stride_steps": stride_steps, "equil_steps": equil_steps, "dt": 0.005},
        )
        box = np.full(3, box_length(n_particles, density))
        frames = []
        for c in range(n_configs):
            lmp.command(f"run {stride_steps} pre no post no")
            x, t = _positions(lmp)
            frames.append((wrap(x, box), t, lmp.get_thermo("pe")))
        t_md = time.perf_counter() - t0
        lmp.close()
        q = _ka_lammps(n_particles, density, seed + 999) if inherent else None
        for c, (x, t, pe) in enumerate(frames):
            arrays = {
                keys.TYPES: t,
                keys.BOX: box,
                keys.THERMAL_POSITIONS: x,
                keys.THERMAL_ENERGY: pe,
            }
            if inherent:
                xi, ei, fmax = _quench(q, x)
                arrays.update(
                    {
                        keys.INHERENT_POSITIONS: wrap(xi, box),
                        keys.INHERENT_ENERGY: ei,
                        keys.INHERENT_MAX_FORCE: fmax,
                    }
                )
            sp.write(c, **arrays)
            sp.mark_done(c)
        if q is not None:
            q.close()
        sp.group.attrs.update({"md_seconds": t_md, "equil_seconds": t_equil})
        timings[str(T)] = t_md
        print(
            f"MD T={T}: {n_configs} configs in {t_md:.1f} s (equilibration {t_equil:.1f} s)",
            flush=True,
        )
    return timings


def time_md(
    n_configs: int,
    temperature: float,
    *,
    n_particles: int,
    equil_steps: int,
    stride_steps: int,
    seed: int = 3,
) -> float:
    """Wall seconds for LAMMPS to produce ``n_configs`` independent configurations from scratch:
    random start + FIRE, equilibration, then one configuration every ``stride_steps``."""
    t0 = time.perf_counter()
    lmp = _ka_lammps(n_particles, 1.2, seed)
    lmp.command(f"velocity all create {temperature} {seed} dist gaussian")
    lmp.command(f"fix nvt all nvt temp {temperature} {temperature} 0.5")
    lmp.command(f"run {equil_steps} pre yes post no")
    for _ in range(n_configs):
        lmp.command(f"run {stride_steps} pre no post no")
        _positions(lmp)
    lmp.close()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    import torch
    from glassdyn.gen.checkpoints import load_run
    from glassdyn.gen.config import FitConfig
    from glassdyn.gen.evaluation import evaluate, format_table
    from glassdyn.gen.options import SamplerOptions
    from glassdyn.gen.training import fit

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--work", default="out/gen/bench")
    p.add_argument("--n-particles", type=int, default=160, help="160: L = 5.11 > 2 r_c = 5.0")
    p.add_argument(
        "--temperatures", type=float, nargs="+", default=[0.8, 1.0], help="training state points"
    )
    p.add_argument("--eval-temperatures", type=float, nargs="+", default=[0.8])
    p.add_argument("--train-configs", type=int, default=3000)
    p.add_argument("--test-configs", type=int, default=256)
    p.add_argument("--models", nargs="+", default=["flow", "cnf"])
    p.add_argument("--fit-minutes", type=float, default=20.0, help="only when a run is missing")
    p.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="KIND=DIR",
        help="evaluate this fitted run for model KIND instead of WORK/runs/KIND (repeatable)",
    )
    p.add_argument(
        "--steps",
        type=int,
        help="steps of the cnf / diffusion sampler, as `glassdyn gen sample "
        "--steps` (default: the run's)",
    )
    p.add_argument(
        "--final-correctors",
        type=int,
        default=0,
        help="diffusion SDE: Langevin steps at the smallest noise",
    )
    p.add_argument("--n", type=int, default=256, help="samples per evaluation")
    p.add_argument("--n-quench", type=int, default=16)
    p.add_argument(
        "--md-stride",
        type=int,
        default=1000,
        help="decorrelation steps (dt=0.005) between MD configurations",
    )
    p.add_argument("--md-equil", type=int, default=20000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--no-baselines", action="store_true", help="skip the uniform / lattice baselines"
    )
    p.add_argument("--json", default=None, help="output JSON (default WORK/bench_gen.json)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    train, test = work / "train.zarr", work / "test.zarr"
    make_md_store(
        train,
        args.temperatures,
        n_particles=args.n_particles,
        n_configs=args.train_configs,
        stride_steps=200,
        equil_steps=args.md_equil,
        seed=1,
        inherent=False,
    )
    make_md_store(
        test,
        args.temperatures,
        n_particles=args.n_particles,
        n_configs=args.test_configs,
        stride_steps=args.md_stride,
        equil_steps=args.md_equil,
        seed=7,
        inherent=True,
    )
    summary = {
        "n_particles": args.n_particles,
        "threads": args.threads,
        "device": "cpu",
        "gpu": "none on this machine (CPU-only torch build)",
        "evaluations": [],
        "md": {},
    }
    first = not args.no_baselines
    for kind in args.models:
        run = Path(dict(r.split("=", 1) for r in args.run).get(kind, work / "runs" / kind))
        if not any(
            (run / f).exists() for f in ("best.pt", "checkpoint.pt")
        ):  # the test store is separate
            fit(
                train,
                run,
                FitConfig(
                    model=kind,
                    epochs=1000,
                    max_minutes=args.fit_minutes,
                    max_configs=600,
                    test_fraction=0.0,
                ),
            )
        model, ck = load_run(run)
        SamplerOptions(
            steps=args.steps if hasattr(model, "steps") else None,
            final_correctors=args.final_correctors if kind == "diffusion" else None,
        ).apply(model)
        for T in args.eval_temperatures:
            rep = evaluate(
                model,
                ck,
                test,
                T,
                n_samples=args.n,
                n_quench=args.n_quench,
                train_store=train,
                baselines=first,
                seed=0,
            )
            rep["run"] = str(run)
            rep["epochs_trained"] = len(ck["history"]["epoch"])
            rep["steps"] = getattr(model, "steps", None)
            rep["final_correctors"] = getattr(model, "final_correctors", None)
            print(format_table(rep), flush=True)
            summary["evaluations"].append(rep)
        first = False
    # MD cost of the same number of independent configurations, timed in this run
    for T in args.eval_temperatures:
        secs = time_md(
            args.n,
            T,
            n_particles=args.n_particles,
            equil_steps=args.md_equil,
            stride_steps=args.md_stride,
        )
        summary["md"][str(T)] = {
            "n": args.n,
            "seconds": secs,
            "configs_per_second": args.n / secs,
            "equil_steps": args.md_equil,
            "stride_steps": args.md_stride,
        }
        print(
            f"MD T={T}: {args.n} independent configurations (equilibration {args.md_equil} + "
            f"{args.md_stride} steps each) in {secs:.1f} s = {args.n / secs:.3g} configs/s"
        )
        for rep in summary["evaluations"]:
            if rep["temperature"] == T:
                for name, r in rep["results"].items():
                    if r["samples_per_second"]:
                        print(
                            f"  {name:8s} {r['samples_per_second']:.3g} samples/s = "
                            f"{r['samples_per_second'] * secs / args.n:.3g} x MD (CPU, {args.threads} thread)"
                        )
    out = Path(args.json) if args.json else work / "bench_gen.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
