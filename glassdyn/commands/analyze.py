"""``glassdyn analyze PATH... --out DIR``: a store's state points, or trajectories (LAMMPS text
dumps, extended XYZ) averaged over time origins.  The workflow and the JSON layout live in
:mod:`glassdyn.analysis.workflow`; this module parses the options and prints."""

from __future__ import annotations

import argparse

from glassdyn.commands.options import positive_float, positive_floats

HELP = (
    "dynamic heterogeneity of a store or of trajectories (LAMMPS dumps, extended XYZ): Q(t), "
    "Fs(k,t), MSD, alpha2, tau_alpha, chi4(t), S4(q,t) with Ornstein-Zernike fits (chi4_OZ, xi4), "
    "partial g(r) and S(q); predicted vs true S4 with --predictions"
)

EPILOG = """A store gives isoconfigurational averages (configurations x replicas at the stored
times); trajectories give time-origin averages: for each lag t (a difference of frame times
present in the file), the pairs of frames (origin, origin + t); chi4 is the fluctuation of the
overlap over the origins.  Several trajectory files are independent runs of one state point.
Positions: xu yu zu, x y z (or xs ys zs) with ix iy iz, or without image flags unwrapped by
continuity.  Times: ITEM: TIME, else TIMESTEP x --dt (default 0.005); extended XYZ time=."""


def _labels(text: str) -> list[str]:
    return [t.strip() for t in text.split(",")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument(
        "store",
        nargs="+",
        metavar="PATH",
        help="a glassdyn Zarr store with isoconfigurational displacements, or trajectory files",
    )
    p.add_argument(
        "--out", required=True, help="output directory (heterogeneity.json and PNG plots)"
    )
    p.add_argument(
        "--temperatures",
        type=positive_floats,
        metavar="T[,T...]",
        help="state points to analyse (default: all)",
    )
    p.add_argument(
        "--predictions",
        help="predictions file (glassdyn predict --out) to compare with the true propensity",
    )
    p.add_argument(
        "--q-max", type=float, default=2.5, help="largest |q| of S4 in 1/sigma (default 2.5)"
    )
    p.add_argument(
        "--q-fit-max",
        type=float,
        default=1.5,
        help="OZ fit on the shells q <= this, and on at least the 3 smallest (a box of L < ~10 sigma "
        "has fewer below 1.5: the figure titles give the q actually used) (default 1.5)",
    )
    p.add_argument("--a", type=float, default=0.3, help="overlap cutoff a in sigma (default 0.3)")
    p.add_argument(
        "--max-configs", type=int, help="analyse at most this many completed configurations per T"
    )
    p.add_argument(
        "--s4-species", choices=("total", "A", "B"), default="total", help="particles entering S4"
    )
    p.add_argument(
        "--float32", action="store_true", help="float32 S4 products (2x faster, ~1e-6 relative)"
    )
    p.add_argument("--no-structure", action="store_true", help="skip g(r) and S(q)")
    p.add_argument("--no-plots", action="store_true", help="write only heterogeneity.json")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in --out")
    t = p.add_argument_group("trajectories")
    t.add_argument(
        "--temperature", type=positive_float, help="temperature of the trajectories (a label)"
    )
    t.add_argument(
        "--dt", type=float, help="MD time step (dumps without ITEM: TIME; default 0.005)"
    )
    t.add_argument(
        "--species", type=_labels, metavar="A,B", help="labels of A and B (types 1,2; names A,B)"
    )
    t.add_argument(
        "--origins",
        choices=("auto", "blocks", "all"),
        default="auto",
        help="time origins: the first frame of each period of a repeated (log-spaced) dump "
        "schedule, every frame, or auto: blocks when the schedule repeats (every frame of a "
        "linear one), else all (default auto)",
    )
    t.add_argument("--max-origins", type=int, default=200, help="origins per file (default 200)")
    t.add_argument("--max-lags", type=int, default=40, help="lags, log-spaced bins (default 40)")
    t.add_argument("--min-origins", type=int, default=5, help="origins a lag needs (default 5)")
    t.add_argument(
        "--lags", type=positive_floats, metavar="t[,t...]", help="explicit lags (LJ time)"
    )
    t.add_argument(
        "--chunk-frames", type=int, help="frames parsed at a time (default: 32 MB of positions)"
    )
    t.add_argument(
        "--structure-frames", type=int, default=3, help="frames for g(r) and S(q) (default 3)"
    )
    t.add_argument(
        "--no-progress", "--quiet", action="store_true", help="no progress bar (--quiet: the same)"
    )


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from glassdyn.analysis import workflow
    from glassdyn.analysis.heterogeneity import HeterogeneityConfig
    from glassdyn.data import outputs
    from glassdyn.data.errors import InputError

    if not (args.q_max > 0 and args.a > 0):
        raise InputError("--q-max and --a must be positive")
    if args.max_configs is not None and args.max_configs < 1:
        raise InputError(
            f"--max-configs must be >= 1 (leave it out for all), got {args.max_configs}"
        )
    cfg = HeterogeneityConfig(
        a=args.a,
        q_max=args.q_max,
        q_fit_max=args.q_fit_max,
        s4_species=args.s4_species,
        dtype="float32" if args.float32 else "float64",
    )
    paths = [Path(p) for p in args.store]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise InputError(f"no store or trajectory file at {missing[0]}")
    inputs = [*args.store, args.predictions]
    outputs.check_output(args.out, outputs.REPORT, inputs=inputs, overwrite=args.overwrite)
    if len(paths) == 1 and paths[0].is_dir():
        rep = workflow.analyze_store(
            paths[0],
            cfg,
            temperatures=args.temperatures,
            predictions=args.predictions,
            max_configs=args.max_configs,
            structure=not args.no_structure,
        )
    else:
        if any(p.is_dir() for p in paths):
            raise InputError("give one store directory, or trajectory files only")
        if args.predictions or args.temperatures:
            raise InputError(
                "--predictions and --temperatures apply to stores; trajectories take --temperature"
            )
        options = workflow.TrajectoryOptions(
            origins=args.origins,
            max_origins=args.max_origins,
            max_lags=args.max_lags,
            lags=tuple(args.lags) if args.lags else None,
            min_origins=args.min_origins,
            chunk_frames=args.chunk_frames,
            structure_frames=args.structure_frames,
        )
        rep = workflow.analyze_trajectories(
            paths,
            cfg,
            options,
            species=args.species,
            dt=args.dt,
            temperature=args.temperature,
            structure=not args.no_structure,
            progress=not args.no_progress,
        )
    for label, res in rep.results.items():
        print(workflow.summary_line(label, res), file=sys.stderr)
    for note in rep.notes:
        print(note, file=sys.stderr)
    for p in workflow.write_report(rep, args.out, plots=not args.no_plots):
        print(p)
    return 0
