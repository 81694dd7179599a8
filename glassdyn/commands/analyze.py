"""``glassdyn analyze STORE --out DIR [--temperatures ...] [--predictions FILE] [--q-max 2.5]``.

Writes ``DIR/heterogeneity.json``::

    {"store", "predictions", "temperatures": {"0.640": {
        "temperature", "times" (K,), "n_configs", "n_samples", "config" (analysis parameters),
        "species": {"A"|"B"|"total": {"k", "Q", "Fs", "MSD", "alpha2", "chi4", "chi4_err", "chi4_iso",
                                     "chi4_Fs" (K,), "tau_alpha", "tau_alpha_err"}},
        "s4": {"q" (Q,), "shell_counts" (Q,), "S4" (K, Q), "S4_err" (K, Q),
               "chi4_OZ", "chi4_OZ_err", "xi4", "xi4_err", "fit_shells", "fit_ok" (K,)},
        "structure": {"r", "g": {"AA", "AB", "BB", "total"}, "q", "S": {...}, "n_frames"},
        "predictions": {"times", "configs", "pearson" (K',), "true"|"predicted":
                        {"centered"|"standardized": <like "s4">, "std" (K',)}}}}}

(null where a value is undefined, e.g. tau_alpha when Fs never reaches 1/e), and PNGs:
chi4.png, dynamics.png, s4_T*.png, structure_T*.png, s4_predicted_T*.png.
"""

from __future__ import annotations

import argparse

from glassdyn.commands.options import positive_floats

HELP = (
    "dynamic heterogeneity of a store: Q(t), Fs(k,t), MSD, alpha2, tau_alpha, chi4(t), S4(q,t) with "
    "Ornstein-Zernike fits (chi4_OZ, xi4), partial g(r) and S(q); predicted vs true S4 with --predictions"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "store", help="path of a glassdyn Zarr store with isoconfigurational displacements"
    )
    p.add_argument(
        "--out", required=True, help="output directory (heterogeneity.json and PNG plots)"
    )
    p.add_argument(
        "--temperatures", type=positive_floats, metavar="T[,T...]", help="state points to analyse (default: all)"
    )
    p.add_argument(
        "--predictions",
        help="predictions file (glassdyn predict --out) to compare with the true propensity",
    )
    p.add_argument(
        "--q-max", type=float, default=2.5, help="largest |q| of S4 in 1/sigma (default 2.5)"
    )
    p.add_argument(
        "--q-fit-max", type=float, default=1.5, help="OZ fit on shells q <= this (default 1.5)"
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


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import time
    from pathlib import Path

    import numpy as np

    from glassdyn.analysis import plots
    from glassdyn.analysis.heterogeneity import (
        HeterogeneityConfig,
        analyze_state,
        compare_predictions,
        jsonable,
    )
    from glassdyn.analysis.structure import state_structure
    from glassdyn.data.errors import InputError
    from glassdyn.data.store import Store

    if args.q_max <= 0 or args.a <= 0:
        raise InputError("--q-max and --a must be positive")
    store = Store.open(args.store)
    temps = args.temperatures or store.temperatures
    if not temps:
        raise InputError(f"store {args.store} has no state points")
    preds = None
    if args.predictions:
        from glassdyn.data.predictions import read_predictions

        preds = read_predictions(args.predictions)
    cfg = HeterogeneityConfig(
        a=args.a,
        q_max=args.q_max,
        q_fit_max=args.q_fit_max,
        s4_species=args.s4_species,
        dtype="float32" if args.float32 else "float64",
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"store": str(store.path), "predictions": args.predictions, "temperatures": {}}
    results, comparisons = {}, {}
    for T in temps:
        sp = store.state(T)
        configs = sp.completed
        if args.max_configs:
            configs = configs[: args.max_configs]
        t0 = time.perf_counter()
        dh = analyze_state(sp, cfg, configs=configs)
        res = dh.to_dict()
        res["temperature"] = sp.temperature
        res["seconds"] = time.perf_counter() - t0
        if not args.no_structure:
            res["structure"] = jsonable(state_structure(sp, configs))
        main_sp = res["species"].get("A", res["species"]["total"])
        tau, tau_err = main_sp["tau_alpha"], main_sp["tau_alpha_err"]
        chi = np.array([np.nan if v is None else v for v in res["species"]["total"]["chi4"]])
        chi_err = np.array(
            [np.nan if v is None else v for v in res["species"]["total"]["chi4_err"]]
        )
        k = int(np.nanargmax(chi))
        tau_txt = (
            "not reached (sample longer times)"
            if tau is None
            else f"{tau:.4g} +- {tau_err if tau_err is not None else float('nan'):.2g}"
        )
        print(
            f"T={sp.temperature:g}: {dh.dynamics.n_configs} configurations x {dh.dynamics.n_samples // max(dh.dynamics.n_configs, 1)} replicas,"
            f" tau_alpha(A)={tau_txt}, max chi4={chi[k]:.4g} +- {chi_err[k]:.2g} at t={res['times'][k]:.4g}"
            f"  ({res['seconds']:.1f} s)",
            file=sys.stderr,
        )
        if preds is not None:
            match = [p for t, p in preds.items() if abs(t - sp.temperature) < 5e-4]
            if match:
                comparisons[sp.temperature] = compare_predictions(
                    sp, match[0], cfg, species=cfg.s4_species
                )
                res["predictions"] = comparisons[sp.temperature]
            else:
                print(
                    f"T={sp.temperature:g}: no predictions at this temperature in {args.predictions}",
                    file=sys.stderr,
                )
        results[sp.temperature] = res
        report["temperatures"][f"{sp.temperature:.3f}"] = res
    path = out / "heterogeneity.json"
    path.write_text(json.dumps(jsonable(report), indent=1))
    written = [path]
    if not args.no_plots:
        written.append(plots.plot_chi4(results, out / "chi4.png"))
        written.append(plots.plot_dynamics(results, out / "dynamics.png"))
        for T, res in results.items():
            written.append(plots.plot_s4(res, T, out / f"s4_T{T:.3f}.png"))
            if "structure" in res:
                written.append(
                    plots.plot_structure(res["structure"], T, out / f"structure_T{T:.3f}.png")
                )
        for T, comp in comparisons.items():
            written.append(plots.plot_predicted_s4(comp, T, out / f"s4_predicted_T{T:.3f}.png"))
    for p in written:
        print(p)
    return 0
