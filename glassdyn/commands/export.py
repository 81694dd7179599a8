"""``glassdyn export STORE --temperature T --config I --format FMT --out FILE``.

Writes stored configurations as files LAMMPS, OVITO and ASE open, optionally with per-particle
``propensity`` (from the store) and predicted ``mobility`` (from ``glassdyn predict``'s file) at
one time, so particles can be coloured by (predicted) mobility in OVITO.
"""

from __future__ import annotations

import argparse

from glassdyn.commands.options import indices_or_all, positive_float

HELP = "export configurations as LAMMPS data / dump or extended XYZ files (with propensity and predicted mobility), or BOTAN npz"

FORMATS = ("lammps-data", "lammps-dump", "extxyz", "botan")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="path of a glassdyn store")
    p.add_argument("--temperature", type=positive_float, help="state point (default: the store's only one)")
    p.add_argument(
        "--config",
        type=indices_or_all,
        default=(0,),
        metavar="I[,I...]|all",
        help="configuration index(es) like 0,3, or 'all' (several go to one dump / extxyz as frames; default 0)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="output format (default: from the --out suffix .data, .dump, .xyz); botan: a directory "
        "of BOTAN .npz files (isoconfigurational data, for h3-Open-BDEC/pyg_botan)",
    )
    p.add_argument("--out", required=True, help="file to write (a directory for --format botan)")
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
    import numpy as np

    from glassdyn.data.errors import InputError
    from glassdyn.data.formats import frame_from_store, guess_format, write_frames
    from glassdyn.data.predictions import read_predictions
    from glassdyn.data.store import Store

    store = Store.open(args.store)
    if args.temperature is None:
        temps = store.temperatures
        if not temps:
            raise InputError(f"{args.store} holds no state points yet")
        if len(temps) != 1:
            raise InputError(
                f"{args.store} holds temperatures {temps}; choose one with --temperature"
            )
        args.temperature = temps[0]
    sp = store.state(args.temperature)
    configs = [int(c) for c in sp.completed] if args.config is None else list(args.config)
    if args.format == "botan":
        from glassdyn.data.npz_datasets import export_botan

        if args.field or args.predictions or args.which != "thermal":
            raise InputError(
                "--format botan writes types, initial and replica positions only (no --field, --predictions, --which)"
            )
        files = export_botan(sp, args.out, configs=None if args.config is None else configs)
        print(f"wrote {len(files)} BOTAN files under {args.out}/T{sp.temperature:.2f}")
        return 0
    fmt = args.format or guess_format(args.out)
    if not configs:
        raise InputError(
            f"{args.store} T={args.temperature:g} has no completed configurations to export"
        )
    if fmt == "lammps-data" and len(configs) > 1:
        raise InputError(
            "a LAMMPS data file holds one configuration; use --format lammps-dump or extxyz for several"
        )
    if fmt == "lammps-data" and (args.field or args.predictions):
        raise InputError(
            "LAMMPS data files carry no per-particle fields; use --format lammps-dump or extxyz for --field / --predictions"
        )
    preds = read_predictions(args.predictions) if args.predictions else None
    frames = [
        frame_from_store(
            sp, c, which=args.which, fields=args.field, time_index=args.time, predictions=preds
        )
        for c in configs
    ]
    kwargs = (
        {
            "title": f"glassdyn {args.store} T={args.temperature:g} config {configs[0]} ({args.which})"
        }
        if fmt == "lammps-data"
        else {}
    )
    write_frames(args.out, frames, fmt, **kwargs)
    cols = ", ".join(frames[0].fields) or "none"
    n = int(np.sum([fr.n_particles for fr in frames]))
    print(
        f"wrote {args.out} ({fmt}): {len(frames)} configuration(s) {configs[:10]}, {n} particles, per-particle columns: {cols}"
    )
    return 0
