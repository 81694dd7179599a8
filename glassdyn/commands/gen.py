"""``glassdyn gen fit|sample|evaluate``: generative samplers of KA configurations.

The options of ``fit`` set the fields of their names of :class:`~glassdyn.gen.config.FitConfig`
and :class:`~glassdyn.gen.options.NetworkOptions`, those of the sampler the fields of
:class:`~glassdyn.gen.options.SamplerOptions` (defaults, help and choices come from them)."""

from __future__ import annotations

import argparse

from glassdyn.commands.options import (
    add_setting,
    positive_float,
    positive_floats,
    settings_from_args,
)

DEVICE_HELP = "where torch runs: auto (cuda when available, else cpu), cpu or cuda (default: auto)"
SEED_HELP = (
    "random seed: the same seed, --batch-size and run give the same samples, with or without "
    "--no-progress (default: %(default)s)"
)

HELP = "generative samplers (coupling flow, continuous flow, diffusion): fit on a store, sample, evaluate against MD"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="gen_command", metavar="SUBCOMMAND", required=True)

    f = sub.add_parser(
        "fit", help="fit a sampler on a store's configurations (resumes an existing run)"
    )
    _fit_arguments(f)

    s = sub.add_parser("sample", help="draw configurations from a fitted run")
    s.add_argument("run", help="run directory from `glassdyn gen fit`")
    s.add_argument("--n", type=int, required=True, help="number of configurations")
    s.add_argument(
        "--temperature",
        type=positive_float,
        required=True,
        help="temperature of the samples (LJ units); outside the run's trained range it extrapolates, with a warning",
    )
    s.add_argument(
        "--out", required=True, help="a new Zarr store (group T...) or a .xyz/.extxyz file"
    )
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing .extxyz file, or the samples at this temperature of a store of samples",
    )
    s.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="samples drawn at once (memory and speed; the same --seed with another --batch-size "
        "draws other samples) (default: %(default)s)",
    )
    s.add_argument(
        "--no-progress",
        "--quiet",
        dest="quiet",
        action="store_true",
        help="no progress bar (--quiet: the same)",
    )
    sampler_arguments(s)
    s.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help=DEVICE_HELP)

    e = sub.add_parser(
        "evaluate", help="compare samples with held-out MD configurations (and baselines)"
    )
    e.add_argument("run")
    e.add_argument(
        "--data",
        required=True,
        help="the run's own store (its test split is the reference) or a store of unseen configurations "
        "with the same N and density",
    )
    e.add_argument(
        "--temperatures",
        type=positive_floats,
        metavar="T[,T...]",
        help="default: the run's temperatures found in --data",
    )
    e.add_argument(
        "--n",
        type=int,
        default=16,
        help="samples per temperature (default sized for a first look: the default diffusion sampler "
        "took 16 s per N=256 sample on one busy CPU core; --steps 50 --correctors 1 is ~3x faster)",
    )
    e.add_argument(
        "--n-quench",
        type=int,
        default=4,
        help="samples (and MD configurations) quenched with FIRE per sampler",
    )
    e.add_argument(
        "--minimiser",
        choices=("auto", "lammps", "torch"),
        default="auto",
        help="one minimiser for every quench of the evaluation: LAMMPS FIRE with simulate's pinned "
        "options (auto, when it takes the layout) or torch FIRE (copes with overlapping starts)",
    )
    e.add_argument(
        "--no-baselines",
        action="store_true",
        help="score the model only, not the uniform and perturbed-lattice baselines",
    )
    e.add_argument(
        "--no-progress",
        "--quiet",
        dest="quiet",
        action="store_true",
        help="no progress bars (--quiet: the same)",
    )
    sampler_arguments(e)
    e.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed of the samples and baselines: the same seed gives the same evaluation "
        "(default: %(default)s)",
    )
    e.add_argument(
        "--json", nargs="?", const="-", metavar="FILE", help="write JSON (to FILE, or stdout)"
    )
    e.add_argument("--overwrite", action="store_true", help="replace an existing --json FILE")


def _fit_arguments(f: argparse.ArgumentParser) -> None:
    """Options of ``gen fit``: the FitConfig and NetworkOptions fields of their names."""
    from glassdyn.gen.config import FitConfig
    from glassdyn.gen.options import NetworkOptions

    f.add_argument("--data", required=True, help="training store (glassdyn Zarr)")
    add_setting(f, FitConfig, "model")
    f.add_argument(
        "--out", required=True, help="run directory (run.json, best.pt, last.pt, history.json)"
    )
    add_setting(f, FitConfig, "temperatures", type=positive_floats, metavar="T[,T...]")
    for name in (
        "source",
        "epochs",
        "batch_size",
        "lr",
        "max_configs",
        "val_fraction",
        "test_fraction",
    ):
        add_setting(f, FitConfig, name)
    add_setting(f, FitConfig, "energy_weight")
    add_setting(f, FitConfig, "max_minutes", metavar="M")
    add_setting(f, FitConfig, "ema", metavar="DECAY")
    add_setting(f, FitConfig, "init", metavar="RUN")
    for name in ("hidden", "layers", "blocks", "network"):
        add_setting(f, NetworkOptions, name)
    add_setting(f, FitConfig, "score_target")
    add_setting(f, NetworkOptions, "physics_sigma", metavar="SIGMA")
    add_setting(
        f,
        NetworkOptions,
        "physics",
        "--no-physics",
        action="store_false",
        help="diffusion: no capped-KA-force term in the score (a purely learned model)",
    )
    add_setting(f, FitConfig, "seed")
    f.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help=DEVICE_HELP)
    add_setting(
        f,
        FitConfig,
        "progress",
        "--no-progress",
        "--quiet",
        action="store_false",
        help="no progress bar (--quiet: the same)",
    )


def _device(name: str) -> str:
    from glassdyn.data.runs import resolve_device

    return str(resolve_device(name))


def sampler_arguments(p: argparse.ArgumentParser) -> None:
    """The :class:`~glassdyn.gen.options.SamplerOptions` options (``gen sample / evaluate``)."""
    from glassdyn.gen.options import SamplerOptions

    for name in ("sampler", "steps", "correctors", "snr", "final_correctors"):
        add_setting(p, SamplerOptions, name)


def run(args: argparse.Namespace) -> int:
    return {"fit": _fit, "sample": _sample, "evaluate": _evaluate}[args.gen_command](args)


def _fit(args) -> int:
    from glassdyn.data.run_engine import read_history
    from glassdyn.gen.config import FitConfig
    from glassdyn.gen.options import NetworkOptions
    from glassdyn.gen.training import fit

    arch = settings_from_args(NetworkOptions, args).model_config(args.model)  # refuses bad settings
    cfg = settings_from_args(FitConfig, args, arch=arch)  # checks every number before any reading
    run = fit(args.data, args.out, cfg, device=_device(args.device))
    val = [r["val_loss"] for r in read_history(run) if "val_loss" in r]
    if val:
        print(f"run {run}: {len(val)} epochs, best validation loss {min(val):.4f}")
    return 0


def _sample(args) -> int:
    import numpy as np

    from glassdyn.data.errors import InputError
    from glassdyn.gen import sampling
    from glassdyn.gen.checkpoints import load_run
    from glassdyn.gen.options import SamplerOptions
    from glassdyn.gen.writers import check_output, write_samples

    if args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    if not args.temperature > 0:
        raise InputError(f"--temperature must be positive, got {args.temperature}")
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    check_output(args.out, args.temperature, args.overwrite, inputs=(args.run,))  # before sampling
    sampler = settings_from_args(SamplerOptions, args)
    model, ck = load_run(args.run)
    sampler.apply(model)
    temps = ck["data"]["temperatures"]
    if not min(temps) - 1e-9 <= args.temperature <= max(temps) + 1e-9:
        print(
            f"warning: T={args.temperature:g} is outside the trained range {min(temps):g}..{max(temps):g} (extrapolating)"
        )
    types = np.asarray(ck["data"]["types"], dtype=np.int8)
    box = np.asarray(ck["data"]["box"], dtype=np.float64)
    x, logq, secs = sampling.draw(
        model,
        args.n,
        types,
        box,
        args.temperature,
        batch_size=args.batch_size,
        seed=args.seed,
        device=_device(args.device),
        progress=not args.quiet,
    )
    e = sampling.energies(x, types, box)
    lw = sampling.log_weights(e, logq, args.temperature)
    write_samples(
        args.out,
        x,
        types,
        box,
        args.temperature,
        energy=e / len(types),
        log_q=logq,
        log_w=lw,
        attrs={"run": str(args.run), "model": ck["kind"]},
        overwrite=args.overwrite,
    )
    ess = (
        "n/a (the SDE sampler has no tractable density)"
        if np.isnan(logq).all()
        else f"{sampling.kish_ess(lw) / args.n:.3g}"
    )
    print(
        f"wrote {args.n} configurations to {args.out} ({args.n / secs:.3g} samples/s; ESS/n {ess})"
    )
    return 0


def _evaluate(args) -> int:
    import json
    import sys

    from glassdyn.data.errors import InputError
    from glassdyn.data.store import Store
    from glassdyn.gen.checkpoints import load_run
    from glassdyn.gen.evaluation import evaluate, format_table
    from glassdyn.gen.options import SamplerOptions

    if args.json not in (None, "-"):
        from glassdyn.data import outputs

        outputs.check_output(
            args.json,
            outputs.FILE,
            inputs=(args.run, args.data),
            overwrite=args.overwrite,
            flag="--json",
        )
    sampler = settings_from_args(SamplerOptions, args)
    model, ck = load_run(args.run)
    sampler.apply(model)
    store = Store.open(args.data)
    temps = args.temperatures or [t for t in ck["data"]["temperatures"] if store.has_state(t)]
    if not temps:
        raise InputError(
            f"{args.data} has none of the run's temperatures {ck['data']['temperatures']} (it has {store.temperatures}); "
            "pass --temperatures"
        )
    if args.n < 1 or args.n_quench < 0:
        raise InputError(f"--n must be >= 1 and --n-quench >= 0, got {args.n} and {args.n_quench}")
    quiet = args.json == "-"
    minimiser = None if args.minimiser == "auto" else args.minimiser
    reports = []
    for T in temps:
        rep = evaluate(
            model,
            ck,
            args.data,
            T,
            n_samples=args.n,
            n_quench=args.n_quench,
            seed=args.seed,
            baselines=not args.no_baselines,
            minimiser=minimiser,
            log=(lambda *a: None) if quiet else print,
            progress=not args.quiet,
        )
        reports.append(rep)
        if not quiet:
            print(format_table(rep))
    out = {
        "run": str(args.run),
        "model": ck["kind"],
        "data": str(args.data),
        "evaluations": reports,
    }
    if args.json == "-":
        json.dump(out, sys.stdout, indent=2)
        print()
    elif args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
        print(f"wrote {args.json}")
    return 0
