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

HELP = (
    "samplers of Boltzmann configurations (continuous and coupling flows carrying MD of a higher "
    "temperature down, diffusion + Hybrid Monte Carlo): fit on a store, sample, evaluate against MD"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="gen_command", metavar="SUBCOMMAND", required=True)

    f = sub.add_parser(
        "fit", help="fit a sampler on a store's configurations (resumes an existing run)"
    )
    _fit_arguments(f)

    s = sub.add_parser(
        "sample",
        help="draw Boltzmann configurations from a fitted run (corrected: annealed importance "
        "weights and Hybrid Monte Carlo moves; see --raw)",
    )
    s.add_argument("run", help="run directory from `glassdyn gen fit`")
    s.add_argument("--n", type=int, required=True, help="number of configurations")
    s.add_argument(
        "--temperature",
        type=positive_float,
        required=True,
        help="temperature of the samples (LJ units; a flow or cnf run samples below its base "
        "temperature)",
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
        "--data",
        help="flow / cnf: the store holding the run's training configurations at its base "
        "temperature (default: the store it was fitted on)",
    )
    s.add_argument(
        "--batch-size",
        type=int,
        default=16,
        help="configurations per network call (memory only: the samples do not depend on it)",
    )
    s.add_argument(
        "--no-progress",
        "--quiet",
        dest="quiet",
        action="store_true",
        help="print only the summary line (--quiet: the same)",
    )
    s.add_argument(
        "--no-network",
        action="store_true",
        help="the run's ablation, with the same correction: flow / cnf: the identity map (plain "
        "population annealing from the same base); diffusion: the physics term alone (no network "
        "call: 5-10x cheaper proposals, which the refinement corrects as well at T=0.64 / 0.56, "
        "README section 3)",
    )
    sampler_arguments(s)
    correction_arguments(s)
    s.add_argument(
        "--seed", type=int, default=0, help="seed of the base MD, the moves and the noise"
    )
    s.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the network runs (the Monte Carlo moves run in LAMMPS on the CPU)",
    )

    e = sub.add_parser(
        "evaluate",
        help="compare corrected samples with held-out MD, every figure beside its MD-vs-MD floor",
    )
    e.add_argument("run", help="run directory from `glassdyn gen fit`")
    e.add_argument(
        "--data",
        required=True,
        help="the run's own store (its test split seeds the MD reference) or a store of unseen "
        "configurations with the same N and density",
    )
    e.add_argument(
        "--temperatures",
        type=positive_floats,
        metavar="T[,T...]",
        help="default: the run's fitted temperatures found in --data",
    )
    e.add_argument(
        "--n",
        type=int,
        default=32,
        help="samples per temperature, and the size of each MD half of the floor (the MD "
        "reference is 2n configurations from NVT chains, cached in RUN/evaluation/)",
    )
    e.add_argument(
        "--n-quench",
        type=int,
        default=4,
        help="configurations of each set quenched with FIRE for the inherent-structure energy",
    )
    e.add_argument(
        "--minimiser",
        choices=("auto", "lammps", "torch"),
        default="auto",
        help="one minimiser for every quench: LAMMPS FIRE with simulate's pinned options (auto, "
        "when it takes the layout; an overlapping start is first pulled apart by torch FIRE) or "
        "torch FIRE",
    )
    e.add_argument(
        "--draws",
        type=int,
        default=1,
        help="independent sample sets of --n for the run and its ablation, each distance the "
        "mean of theirs (against the same floor): one set of an exact sampler fails some "
        "distance's 1.5 x floor in 19-36%% of evaluations at N=256 (mostly Z_BB's mean "
        "difference), 4 sets in 1-8%%; the table's last line gives the rates of this reference",
    )
    e.add_argument("--no-baselines", action="store_true", help="skip the uniform and lattice rows")
    e.add_argument(
        "--no-ablation",
        action="store_true",
        help="skip the ablation row (flow / cnf: the identity transport, i.e. population "
        "annealing; diffusion: the physics term alone)",
    )
    e.add_argument(
        "--no-progress",
        "--quiet",
        dest="quiet",
        action="store_true",
        help="print only the tables (--quiet: the same)",
    )
    sampler_arguments(e)
    correction_arguments(e)
    e.add_argument("--seed", type=int, default=0, help="seed of the MD reference and the samplers")
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
    for name in ("base_temperature", "base_configs", "likelihood_weight", "flow_matching_weight"):
        add_setting(f, FitConfig, name)
    add_setting(f, FitConfig, "max_minutes", metavar="M")
    add_setting(f, FitConfig, "ema", metavar="DECAY")
    add_setting(f, FitConfig, "init", metavar="RUN")
    for name in ("hidden", "layers", "blocks", "network", "steps"):
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


def correction_arguments(p: argparse.ArgumentParser) -> None:
    """The :class:`~glassdyn.gen.sampler.CorrectionOptions` options (``gen sample / evaluate``)."""
    from glassdyn.gen.sampler import CorrectionOptions

    for name in (
        "population",
        "anneal_steps",
        "sweeps",
        "refine_sweeps",
        "relax_force",
        "leapfrog",
        "dt",
    ):
        add_setting(p, CorrectionOptions, name)
    add_setting(p, CorrectionOptions, "raw", "--raw", action="store_true")


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
    history = read_history(run)
    val = [r["val_loss"] for r in history if "val_loss" in r]  # the start (epoch -1) included
    if val:
        trained = sum(r["epoch"] >= 0 for r in history)
        best = min(history, key=lambda r: r.get("val_loss", float("inf")))
        start = " (the untrained start: nothing learned beat it)" if best["epoch"] == -1 else ""
        print(
            f"run {run}: {trained} epochs, best validation loss {min(val):.4f} at epoch "
            f"{best['epoch']}{start}"
        )
    return 0


def _sample(args) -> int:
    from glassdyn.data.errors import InputError
    from glassdyn.gen.options import SamplerOptions
    from glassdyn.gen.sampler import CorrectionOptions, caution, describe, sample_to

    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    s = sample_to(
        args.run,
        args.temperature,
        args.n,
        args.out,
        options=settings_from_args(CorrectionOptions, args),
        sampler=settings_from_args(SamplerOptions, args),
        seed=args.seed,
        overwrite=args.overwrite,
        data=args.data,
        transport="off" if args.no_network else "model",
        batch_size=args.batch_size,
        device=_device(args.device),
        log=(lambda *a: None) if args.quiet else print,
    )
    print(f"wrote {describe(s)} to {args.out}")
    if (note := caution(s)) is not None:
        print(note)
    return 0


def _evaluate(args) -> int:
    import json
    import sys

    from glassdyn.gen.evaluation import evaluate_run, format_table
    from glassdyn.gen.options import SamplerOptions
    from glassdyn.gen.sampler import CorrectionOptions

    if args.json not in (
        None,
        "-",
    ):  # before any work: the report never replaces what it did not make
        from glassdyn.data import outputs

        outputs.check_output(
            args.json,
            outputs.FILE,
            inputs=(args.run, args.data),
            overwrite=args.overwrite,
            flag="--json",
        )
    quiet = args.quiet or args.json == "-"
    out = evaluate_run(
        args.run,
        args.data,
        args.temperatures,
        n_samples=args.n,
        n_quench=args.n_quench,
        seed=args.seed,
        draws=args.draws,
        options=settings_from_args(CorrectionOptions, args),
        sampler=settings_from_args(SamplerOptions, args),
        baselines=not args.no_baselines,
        ablation=not args.no_ablation,
        minimiser=None if args.minimiser == "auto" else args.minimiser,
        log=(lambda *a: None) if quiet else print,
    )
    if args.json != "-":
        for rep in out["evaluations"]:
            print(format_table(rep))
    if args.json == "-":
        json.dump(out, sys.stdout, indent=2)
        print()
    elif args.json:
        from glassdyn.data.runs import write_json

        write_json(args.json, out, indent=2)
        print(f"wrote {args.json}")
    return 0
