"""``glassdyn import {botan,glassbench,lammps-dump,lammps-data,extxyz} PATH... --out STORE``."""

from __future__ import annotations

import argparse
import sys

from glassdyn.commands.options import add_cluster_options, positive_float, positive_floats

HELP = "import BOTAN / GlassBench .npz data sets, LAMMPS dumps / data files or extended XYZ into a store"

KINDS = ("botan", "glassbench", "lammps-dump", "lammps-data", "extxyz")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=KINDS, help="input format")
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="botan/glassbench: the data set directory (searched recursively); others: files or directories",
    )
    p.add_argument("--out", required=True, help="store to create, or to resume importing into")
    p.add_argument(
        "--temperature",
        type=positive_float,
        help="botan/glassbench: import only this temperature; structure files: their temperature "
        "(required unless an extended XYZ states temperature=...)",
    )
    p.add_argument(
        "--times",
        type=positive_floats,
        help="comma-separated LJ times: botan, indexed by the files' tcKK; glassbench, the md_prop rows "
        "(default at T=0.44: BOTAN's 0.13,1.3,...,130000)",
    )
    p.add_argument(
        "--density",
        type=positive_float,
        default=1.2,
        help="botan/glassbench number density giving the box (default 1.2)",
    )
    p.add_argument(
        "--species",
        type=_pair,
        default=("A", "B"),
        help="names of species A and B in dumps' element / extxyz species (default A,B)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a state point the store already holds at that temperature",
    )
    p.add_argument(
        "--quench",
        action="store_true",
        help="then add FIRE inherent structures to the imported configurations (as `glassdyn quench`)",
    )
    add_cluster_options(p, prefix="with --quench: ")


def _pair(text: str) -> tuple[str, str]:
    parts = [t.strip() for t in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected two names like A,B, got {text!r}")
    return parts[0], parts[1]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from glassdyn.data.errors import InputError

    if not args.quench and (args.workers is not None or args.scheduler is not None):
        raise InputError("--workers / --scheduler apply with --quench only")
    bar = None

    def progress(i: int, n: int) -> None:
        nonlocal bar
        if bar is None or bar.total != n or i == 1:
            if bar is not None:
                bar.close()
            bar = tqdm(
                total=n, desc=f"import {args.kind}", unit="config", file=sys.stderr, leave=False
            )
        bar.update(i - bar.n)

    if args.kind in ("botan", "glassbench"):
        from glassdyn.data.npz_datasets import import_botan, import_glassbench

        if len(args.paths) != 1:
            raise InputError(
                f"import {args.kind} takes one data set directory, got {len(args.paths)} paths"
            )
        fn = import_botan if args.kind == "botan" else import_glassbench
        reports = fn(
            args.paths[0],
            args.out,
            temperature=args.temperature,
            times=args.times,
            density=args.density,
            overwrite=args.overwrite,
            progress=progress,
        )
    else:
        from glassdyn.data.importers import import_structures

        if args.times is not None:
            raise InputError("--times applies to botan/glassbench imports only")
        reports = [
            import_structures(
                args.paths,
                args.out,
                format=args.kind,
                temperature=args.temperature,
                species=args.species,
                overwrite=args.overwrite,
                progress=progress,
            )
        ]
    if bar is not None:
        bar.close()
    for r in reports:
        print("\n".join(r.lines()))
    if any(r.incomplete for r in reports):
        print(
            "glassdyn import: warning: some configurations are incomplete (listed above); "
            "add the missing files and rerun the same command to finish them",
            file=sys.stderr,
        )
    if args.quench:
        from glassdyn.simulate.inherent import add_inherent_structures

        report = add_inherent_structures(
            args.out,
            temperatures=sorted({r.temperature for r in reports}),
            workers=args.workers,
            scheduler=args.scheduler,
            command=["glassdyn", *sys.argv[1:]],
        )
        print("\n".join(report.lines()))
        if report.warning():
            print(f"glassdyn import: {report.warning()}", file=sys.stderr)
            return 1
    return 0
