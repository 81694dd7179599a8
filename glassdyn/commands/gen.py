"""``glassdyn gen fit|sample|evaluate``: generative samplers of KA configurations."""

from __future__ import annotations

import argparse

from glassdyn.commands.options import positive_float, positive_floats

HELP = "generative samplers (coupling flow, continuous flow, diffusion): fit on a store, sample, evaluate against MD"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="gen_command", metavar="SUBCOMMAND", required=True)

    f = sub.add_parser("fit", help="fit a sampler on a store's configurations (resumes an existing run)")
    f.add_argument("--data", required=True, help="training store (glassdyn Zarr)")
    f.add_argument("--model", choices=("flow", "cnf", "diffusion"), default="diffusion",
                   help="diffusion (default: the model whose samples are physical): score-based diffusion on the "
                   "torus; flow: circular-spline coupling flow; cnf: continuous flow (flow matching on the torus)")
    f.add_argument("--out", required=True, help="run directory (run.json, best.pt, last.pt, history.json)")
    f.add_argument("--temperatures", type=positive_floats, metavar="T[,T...]", help="state points to train on (default: all)")
    f.add_argument("--source", choices=("thermal", "inherent"), default="thermal")
    f.add_argument("--epochs", type=int, default=20)
    f.add_argument("--batch-size", type=int, default=32)
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--max-configs", type=int, help="per temperature")
    f.add_argument("--val-fraction", type=float, default=0.1, help="validation configurations per temperature")
    f.add_argument("--test-fraction", type=float, default=0.2,
                   help="test configurations per temperature, never fitted on (what `gen evaluate` compares with)")
    f.add_argument("--energy-weight", type=float, default=0.0, help="reverse-KL weight (flow only)")
    f.add_argument("--max-minutes", type=float, help="stop after this wall time (rerun to continue)")
    f.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="keep an exponential moving average of the weights (e.g. 0.999) and validate, keep "
                   "and sample with it (usual for diffusion models; default 0: off)")
    f.add_argument("--init", metavar="RUN", help="start from the best weights of RUN (fine-tuning; same model and "
                   "architecture options)")
    f.add_argument("--hidden", type=int, help="network width")
    f.add_argument("--layers", type=int, help="coupling layers (flow)")
    f.add_argument("--blocks", type=int, help="transformer blocks per network")
    f.add_argument("--network", choices=("transformer", "local"),
                   help="cnf/diffusion network: particle transformer + pair terms (default for cnf), or the "
                   "cheaper local pair network (default for diffusion)")
    f.add_argument("--score-target", choices=("auto", "denoising", "target"), default="auto",
                   help="diffusion: regress on forces / T at small noise (target score matching; auto = on "
                   "thermal data) or plain denoising score matching")
    f.add_argument("--physics-sigma", type=float, metavar="SIGMA",
                   help="diffusion: noise level over which the KA-force term fades, exp(-(sigma/SIGMA)^2) "
                   "(default 0.1)")
    f.add_argument("--no-physics", action="store_true",
                   help="diffusion: no capped-KA-force term in the score (a purely learned model)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")

    s = sub.add_parser("sample", help="draw configurations from a fitted run")
    s.add_argument("run", help="run directory from `glassdyn gen fit`")
    s.add_argument("--n", type=int, required=True, help="number of configurations")
    s.add_argument("--temperature", type=positive_float, required=True)
    s.add_argument("--out", required=True, help="a new Zarr store (group T...) or a .xyz/.extxyz file")
    s.add_argument("--overwrite", action="store_true",
                   help="replace an existing .extxyz file, or the samples at this temperature of a store of samples")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    sampler_arguments(s)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")

    e = sub.add_parser("evaluate", help="compare samples with held-out MD configurations (and baselines)")
    e.add_argument("run")
    e.add_argument("--data", required=True,
                   help="the run's own store (its test split is the reference) or a store of unseen configurations "
                   "with the same N and density")
    e.add_argument("--temperatures", type=positive_floats, metavar="T[,T...]", help="default: the run's temperatures found in --data")
    e.add_argument("--n", type=int, default=16,
                   help="samples per temperature (default sized for a first look: the default diffusion sampler "
                   "took 16 s per N=256 sample on one busy CPU core; --steps 50 --correctors 1 is ~3x faster)")
    e.add_argument("--n-quench", type=int, default=4,
                   help="samples (and MD configurations) quenched with FIRE per sampler")
    e.add_argument("--minimiser", choices=("auto", "lammps", "torch"), default="auto",
                   help="one minimiser for every quench of the evaluation: LAMMPS FIRE with simulate's pinned "
                   "options (auto, when it takes the layout) or torch FIRE (copes with overlapping starts)")
    e.add_argument("--no-baselines", action="store_true")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    sampler_arguments(e)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write JSON (to FILE, or stdout)")


def _device(name: str) -> str:
    from glassdyn.data.runs import resolve_device

    return str(resolve_device(name))


def sampler_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sampler", choices=("sde", "ode"),
                   help="diffusion: reverse SDE with Langevin correction (default; better samples, no "
                   "density) or the probability-flow ODE (log q, importance weights, Metropolis-Hastings)")
    p.add_argument("--steps", type=int, help="cnf / diffusion: steps of the sampler (default: the run's)")
    p.add_argument("--correctors", type=int, help="diffusion SDE: Langevin steps per noise level (default 2)")
    p.add_argument("--snr", type=float, help="diffusion SDE: Langevin signal-to-noise ratio (default 0.5)")
    p.add_argument("--final-correctors", type=int,
                   help="diffusion SDE: extra Langevin steps at the smallest noise level (default 0)")


def configure_sampler(model, args) -> None:
    from glassdyn.data.errors import InputError

    if model.kind != "diffusion":
        for flag, value in (("--sampler", args.sampler), ("--correctors", args.correctors), ("--snr", args.snr),
                            ("--final-correctors", args.final_correctors)):
            if value is not None:
                raise InputError(f"{flag} applies to diffusion runs, not to a {model.kind} run")
    if args.steps is not None:
        if not hasattr(model, "steps"):
            raise InputError(f"--steps applies to cnf and diffusion runs, not to a {model.kind} run")
        if args.steps < 1:
            raise InputError(f"--steps must be positive, got {args.steps}")
    for flag, value in (("--correctors", args.correctors), ("--final-correctors", args.final_correctors)):
        if value is not None and value < 0:
            raise InputError(f"{flag} must be >= 0, got {value}")
    if args.snr is not None and not args.snr > 0:
        raise InputError(f"--snr must be positive, got {args.snr}")
    if model.kind == "diffusion":
        model.sampler = args.sampler or "sde"
        if args.correctors is not None:
            model.corrector_steps = args.correctors
        if args.snr is not None:
            model.snr = args.snr
        if args.final_correctors is not None:
            model.final_correctors = args.final_correctors
        if args.steps is not None and model.sampler == "sde":
            model.sde_steps = args.steps
            return
    if args.steps is not None:
        model.steps = args.steps


def run(args: argparse.Namespace) -> int:
    return {"fit": _fit, "sample": _sample, "evaluate": _evaluate}[args.gen_command](args)


def _fit(args) -> int:
    from glassdyn.gen.training import FitConfig, build_model, fit, uses_target_score

    arch = _architecture(args)
    cfg = FitConfig(  # checks every number before anything is read
        model=args.model,
        temperatures=tuple(args.temperatures) if args.temperatures else None,
        source=args.source,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        max_configs=args.max_configs,
        energy_weight=args.energy_weight,
        max_minutes=args.max_minutes,
        ema=args.ema,
        init=args.init,
        seed=args.seed,
        arch=arch,
        score_target=args.score_target,
    )
    build_model(args.model, arch)  # refuses bad settings before reading data
    uses_target_score(cfg)  # refuses a bad combination before reading data
    hist = fit(args.data, args.out, cfg, device=_device(args.device))
    if hist["val_loss"]:
        print(f"run {args.out}: {len(hist['epoch'])} epochs, best validation loss {min(hist['val_loss']):.4f}")
    return 0


def _architecture(args) -> dict:
    """The network settings given on the command line (the rest are the model's defaults)."""
    from glassdyn.data.errors import InputError

    arch = {}
    if args.hidden is not None:
        if args.hidden < 1:
            raise InputError(f"--hidden must be >= 1, got {args.hidden}")
        arch["hidden"] = args.hidden
    if args.blocks is not None:
        arch["blocks"] = args.blocks
    if args.layers:
        if args.model != "flow":
            raise InputError("--layers applies to --model flow only")
        arch["n_layers"] = args.layers
    if args.model == "diffusion":
        if args.network:
            arch["network"] = args.network
        if args.no_physics:
            arch["prior_force_cap"] = 0.0
        if args.physics_sigma is not None:
            if not args.physics_sigma > 0:
                raise InputError(f"--physics-sigma must be positive, got {args.physics_sigma}")
            arch["prior_sigma"] = args.physics_sigma
    elif args.network:
        if args.model != "cnf":
            raise InputError("--network applies to --model cnf or diffusion")
        arch["network"] = args.network
    return arch


def _sample(args) -> int:
    import numpy as np

    from glassdyn.data.errors import InputError
    from glassdyn.gen import sampling
    from glassdyn.gen.training import load_run
    from glassdyn.gen.writers import check_output, write_samples

    if args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    if not args.temperature > 0:
        raise InputError(f"--temperature must be positive, got {args.temperature}")
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    check_output(args.out, args.temperature, args.overwrite)  # before the (slow) sampling
    model, ck = load_run(args.run)
    configure_sampler(model, args)
    temps = ck["data"]["temperatures"]
    if not min(temps) - 1e-9 <= args.temperature <= max(temps) + 1e-9:
        print(f"warning: T={args.temperature:g} is outside the trained range {min(temps):g}..{max(temps):g} (extrapolating)")
    types = np.asarray(ck["data"]["types"], dtype=np.int8)
    box = np.asarray(ck["data"]["box"], dtype=np.float64)
    x, logq, secs = sampling.draw(model, args.n, types, box, args.temperature, batch_size=args.batch_size,
                                  seed=args.seed, device=_device(args.device), progress=not args.quiet)
    e = sampling.energies(x, types, box)
    lw = sampling.log_weights(e, logq, args.temperature)
    write_samples(args.out, x, types, box, args.temperature, energy=e / len(types), log_q=logq, log_w=lw,
                  attrs={"run": str(args.run), "model": ck["kind"]}, overwrite=args.overwrite)
    ess = "n/a (the SDE sampler has no tractable density)" if np.isnan(logq).all() else f"{sampling.kish_ess(lw) / args.n:.3g}"
    print(f"wrote {args.n} configurations to {args.out} ({args.n / secs:.3g} samples/s; ESS/n {ess})")
    return 0


def _evaluate(args) -> int:
    import json
    import sys

    from glassdyn.data.errors import InputError
    from glassdyn.data.store import Store
    from glassdyn.gen.report import evaluate, format_table
    from glassdyn.gen.training import load_run

    model, ck = load_run(args.run)
    configure_sampler(model, args)
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
        rep = evaluate(model, ck, args.data, T, n_samples=args.n, n_quench=args.n_quench, seed=args.seed,
                       baselines=not args.no_baselines, minimiser=minimiser,
                       log=(lambda *a: None) if quiet else print, progress=not args.quiet)
        reports.append(rep)
        if not quiet:
            print(format_table(rep))
    out = {"run": str(args.run), "model": ck["kind"], "data": str(args.data), "evaluations": reports}
    if args.json == "-":
        json.dump(out, sys.stdout, indent=2)
        print()
    elif args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
        print(f"wrote {args.json}")
    return 0
