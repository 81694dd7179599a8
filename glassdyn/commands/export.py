"""``glassdyn export STORE --temperature T --config I --format FMT --out FILE``.

Writes stored configurations as files LAMMPS, OVITO and ASE open, optionally with per-particle
``propensity`` (from the store) and predicted ``mobility`` (from ``glassdyn predict``'s file) at
one time, so particles can be coloured by (predicted) mobility in OVITO.  What each format can
hold is decided by :mod:`glassdyn.data.export` and :mod:`glassdyn.data.formats`.
"""

from __future__ import annotations

import argparse

from glassdyn.commands.options import indices_or_all, positive_float

HELP = "export configurations as LAMMPS data / dump or extended XYZ files (with propensity and predicted mobility), or BOTAN npz"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from glassdyn.data.export import EXPORT_FORMATS

    p.add_argument("store", help="path of a glassdyn store")
    p.add_argument(
        "--temperature", type=positive_float, help="state point (default: the store's only one)"
    )
    p.add_argument(
        "--config",
        type=indices_or_all,
        default=(0,),
        metavar="I[,I...]|all",
        help="configuration index(es) like 0,3, or 'all' (several go to one dump / extxyz as frames; default 0)",
    )
    p.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        help="output format (default: from the --out suffix .data, .dump, .xyz); botan: a directory "
        "of BOTAN .npz files (isoconfigurational data, for h3-Open-BDEC/pyg_botan)",
    )
    p.add_argument("--out", required=True, help="file to write (a directory for --format botan)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file at --out")
    p.add_argument(
        "--which",
        choices=("thermal", "inherent"),
        default="thermal",
        help="thermal or inherent-structure positions",
    )
    p.add_argument(
        "--field",
        action="append",
        default=[],
        choices=("propensity",),
        help="store field to add as a per-particle column (repeatable)",
    )
    p.add_argument(
        "--time",
        type=int,
        help="time index K for --field propensity / --predictions (see `glassdyn info STORE`)",
    )
    p.add_argument(
        "--predictions",
        help="predictions file (glassdyn predict --out): adds a 'mobility' column at the same time",
    )


def run(args: argparse.Namespace) -> int:
    from glassdyn.data.export import export_store

    done = export_store(
        args.store,
        args.out,
        temperature=args.temperature,
        configs=args.config,
        format=args.format,
        which=args.which,
        fields=args.field,
        time_index=args.time,
        predictions=args.predictions,
        overwrite=args.overwrite,
    )
    if done["format"] == "botan":
        print(f"wrote {len(done['files'])} BOTAN files under {args.out}/T{done['temperature']:.2f}")
        return 0
    cols = ", ".join(done["columns"]) or "none"
    print(
        f"wrote {args.out} ({done['format']}): {len(done['configs'])} configuration(s) "
        f"{done['configs'][:10]}, {done['particles']} particles, per-particle columns: {cols}"
    )
    return 0
