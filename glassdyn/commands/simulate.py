"""``glassdyn simulate --preset NAME --out STORE [...]``: KA datasets from LAMMPS into Zarr."""

from __future__ import annotations

import argparse
import sys

from glassdyn.commands.options import positive_floats

HELP = "simulate a Kob-Andersen dataset with LAMMPS (thermal + inherent structures, isoconfigurational replicas) into a Zarr store"

EPILOG = """presets:
  tiny   N=256, T=0.80,0.64, 3 configurations, R=4, K=6 (about a minute on 2 cores)
  small  N=1000, T=0.80,0.64, 32 configurations, R=16, K=8
  botan  N=4096, T=0.44..0.80 (6), 500 configurations, R=32, BOTAN's 10 times (cluster scale)
  ci     N=256, T=1.0,0.8, 4 configurations, R=3, K=4, short equilibration (seconds; tests only)

Rerun the same command to resume an interrupted run: only configurations not marked done (or
whose arrays cannot be read back) are computed, and the same --seed gives bit-identical arrays
whatever --workers.  The plan (MD steps, estimated time) is printed before starting; a single
MD run longer than 1e8 steps is refused unless its length is explicit (--equilibration-time,
--times)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("--preset", default="tiny", help="tiny, small, botan or ci (default: tiny)")
    p.add_argument("--out", required=True, help="path of the Zarr store to create or resume")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local worker processes, 1 thread each (default: number of CPUs; 0 = no dask, run in this process)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="address of a running dask scheduler (e.g. tcp://host:8786) instead of a local cluster",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="global seed; per-(T, configuration, replica) seeds derive from it (default 0)",
    )
    p.add_argument(
        "--temperatures",
        type=positive_floats,
        default=None,
        metavar="T[,T...]",
        help="temperatures (LJ units)",
    )
    p.add_argument(
        "--configs", type=int, default=None, metavar="C", help="configurations per temperature"
    )
    p.add_argument(
        "--replicas",
        type=int,
        default=None,
        metavar="R",
        help="isoconfigurational replicas per configuration (0: none)",
    )
    p.add_argument(
        "--particles", type=int, default=None, metavar="N", help="number of particles (80:20 A:B)"
    )
    p.add_argument(
        "--times",
        type=positive_floats,
        default=None,
        metavar="t[,t...]",
        help="explicit sampling times (LJ units) instead of the preset's log grid",
    )
    p.add_argument(
        "--n-times", type=int, default=None, metavar="K", help="number of log-spaced sampling times"
    )
    p.add_argument(
        "--equilibration-tau",
        type=float,
        default=None,
        metavar="X",
        help="NVT equilibration length in units of tau_alpha(T) (estimated from the preset's table)",
    )
    p.add_argument(
        "--equilibration-time",
        type=float,
        default=None,
        metavar="TIME",
        help="NVT equilibration length in LJ time units at every temperature, instead of "
        "--equilibration-tau (needed below the tau_alpha table, where the estimate explodes)",
    )
    p.add_argument(
        "--ensemble",
        choices=("nve", "nvt"),
        default=None,
        help="integrator of the replicas (default nve)",
    )
    p.add_argument(
        "--replica-block",
        type=int,
        default=None,
        metavar="B",
        help="replicas per work unit (0: all of a configuration)",
    )
    p.add_argument("--density", type=float, default=None, help="number density (default 1.2)")
    p.add_argument("--dt", type=float, default=None, help="MD time step (default 0.005)")
    p.add_argument(
        "--trajectory",
        type=int,
        default=None,
        metavar="BLOCKS",
        help="also run one long trajectory per configuration: BLOCKS repetitions of the sampling "
        "times (log-spaced dumps), written to STORE.trajectories/ for `glassdyn analyze`",
    )
    p.add_argument("--no-inherent", action="store_true", help="skip the FIRE inherent structures")
    p.add_argument(
        "--no-progress", "--quiet", action="store_true", help="no progress bars (--quiet: the same)"
    )


def _simulation_settings(args: argparse.Namespace):
    """The preset named by ``args.preset`` with the command-line overrides applied."""
    from glassdyn.data.errors import InputError
    from glassdyn.simulate.presets import get_preset

    for name in ("configs", "replicas", "particles", "n_times", "replica_block", "trajectory"):
        v = getattr(args, name, None)
        if v is not None and v < 0:
            raise InputError(f"--{name.replace('_', '-')} must be >= 0, got {v}")
    base = get_preset(args.preset)
    changes = dict(
        temperatures=args.temperatures,
        n_configs=args.configs,
        n_replicas=args.replicas,
        n_particles=args.particles,
        n_times=args.n_times,
        equilibration_tau=args.equilibration_tau,
        equilibration_fixed_time=args.equilibration_time,
        ensemble=args.ensemble,
        replica_block=args.replica_block,
        density=args.density,
        dt=args.dt,
        trajectory_blocks=getattr(args, "trajectory", None),
    )
    if args.times is not None:
        changes.update(times=args.times, times_temperature=None)
    if args.no_inherent:
        changes["inherent"] = False
    return base.replace(**changes)


def run(args: argparse.Namespace) -> int:
    import os

    from glassdyn.data.errors import InputError
    from glassdyn.data.summary import store_summary, summary_lines
    from glassdyn.simulate.runner import simulate

    settings = _simulation_settings(args)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 0:
        raise InputError(f"--workers must be >= 0, got {workers}")
    simulate(
        settings,
        args.out,
        seed=args.seed,
        workers=workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
        log=lambda line: print(f"glassdyn simulate: {line}", file=sys.stderr, flush=True),
        command=["glassdyn", *sys.argv[1:]]
        if sys.argv and sys.argv[0].endswith("glassdyn")
        else sys.argv,
    )
    if settings.trajectory_blocks:
        print(
            f"trajectories: {args.out}.trajectories/T*/config*.lammpstrj "
            "(analyse with `glassdyn analyze FILE... --temperature T --out DIR`)"
        )
    print("\n".join(summary_lines(store_summary(args.out))))
    return 0
