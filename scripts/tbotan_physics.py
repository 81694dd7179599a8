"""T-BOTAN's physics on a store of three (or more) temperatures, as tables and plots.

    python scripts/tbotan_physics.py --data STORE --out DIR [--minutes 8] [--sizes 1,2,4,8]
        [--parts readout,heldout,curve] [--heterogeneity-weight 1.0]

Every training is a `glassdyn train` run directory under DIR (rerunning the script resumes or
reuses them; `--max-minutes` bounds each), and every figure comes from test configurations (or
the held-out temperature), never from what a model trained or was selected on.

- readout: T-BOTAN trained on every temperature with `--input ts`, `is` and `ts+is`: the
  temperature read from structure alone (MAE and mean prediction per temperature, test split).
- heldout: T-BOTAN trained on the outer temperatures only, with and without the heterogeneity
  loss; at the middle (held-out) temperature: the predicted temperature, the ensemble mean and
  spread of predicted vs true propensity per time, S4 of standardized fields (chi4_OZ, xi4) and
  the mobility PDF at the alpha time.
- curve: node Pearson (A) at the alpha time against the number of training configurations
  (`--max-train`, same validation and test) for ridge, the MLP and BOTAN at one temperature.

The alpha time of a temperature is the sampled time closest (in log t) to tau_alpha of the A
particles measured on the store (Fs(k=7.25, t) = 1/e).  Writes DIR/physics.json and PNGs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from glassdyn.analysis.heterogeneity import analyze_state, compare_predictions
from glassdyn.data.predictions import read_predictions
from glassdyn.data.runs import clean_json
from glassdyn.data.store import Store
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.evaluation import TrainedRun, evaluate_run, predict_run
from glassdyn.predict.metrics import pearson
from glassdyn.predict.training import train


def alpha_index(sp) -> tuple[int, float]:
    """(index of the sampled time closest to tau_alpha in log t, tau_alpha of A)."""
    tau = float(analyze_state(sp).dynamics.tau_alpha["A"])
    k = int(np.argmin(np.abs(np.log(sp.times) - np.log(tau))))
    return k, tau


def test_scores(run_dir: Path, store: Store, T: float, k: int) -> list[float]:
    """Node Pearson (A) at time index k of every scored test configuration at T."""
    run = TrainedRun(run_dir)
    sp = store.state(T)
    out = []
    for c in run.scored_configs(sp, "test")["configs"]:
        pred, sample = run.predict(sp, c)
        y = sample["y"] if isinstance(sample, dict) else sample.y.numpy()
        m = sample["node_mask"] if isinstance(sample, dict) else sample.node_mask.numpy()
        out.append(pearson(pred["node"][m, k], y[m, k]))
    return out


def _mean_se(v) -> list[float]:
    v = np.asarray(v, dtype=np.float64)
    return [float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")]


def _train(out: Path, args, **kw) -> Path:
    if args.cg_lengths:
        kw["cg_lengths"] = args.cg_lengths
    cfg = TrainConfig(out=str(out), progress=False, epochs=kw.pop("epochs", 500), **kw)
    return train(cfg)


def part_readout(args, store, temps, alpha) -> dict:
    rows = {}
    for inp in ("ts", "is", "ts+is"):
        run = _train(
            args.out / f"readout_{inp}",
            args,
            data=args.data,
            model="tbotan",
            input=inp,
            max_minutes=args.minutes,
        )
        ev = evaluate_run(run, args.data, latent_png=None)
        rows[inp] = {
            "temperature_mae": ev["temperature_mae"],
            "temperature_mae_per_T": ev["temperature_mae_per_T"],
            "temperature_pred": ev["temperature_pred"],
            "energy_thermometer": ev.get("energy_thermometer"),
            "node_pearson_alpha": {
                f"{T:g}": _mean_se(test_scores(run, store, T, alpha[f"{T:g}"][0])) for T in temps
            },
        }
        print(
            f"readout {inp}: temperature MAE {ev['temperature_mae']:.4f} "
            f"per T {ev['temperature_mae_per_T']}",
            flush=True,
        )
    return rows


def _pdf_plot(path: Path, true: np.ndarray, preds: dict, T: float, t: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    bins = np.linspace(0, np.percentile(true, 99.5) * 1.2, 60)
    ax.hist(true, bins=bins, density=True, histtype="step", color="k", lw=2, label="MD (true)")
    for name, p in preds.items():
        ax.hist(p, bins=bins, density=True, histtype="step", lw=1.5, label=name)
    ax.set_yscale("log")
    ax.set_xlabel(r"propensity $|\Delta r|$ at $t\approx\tau_\alpha$ [$\sigma$]")
    ax.set_ylabel("PDF (A particles)")
    ax.set_title(f"held-out T={T:g}, t={t:.3g}")
    ax.legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def part_heldout(args, store, temps, alpha) -> dict:
    from glassdyn.analysis.plots import plot_predicted_s4
    from glassdyn.data import keys

    lo, mid, hi = temps[0], temps[len(temps) // 2], temps[-1]
    key = f"{mid:g}"
    k, tau = alpha[key]
    sp = store.state(mid)
    res, pdfs = {"held_out": mid, "trained_on": [lo, hi], "alpha_index": k, "tau_alpha": tau}, {}
    for name, hw in (("mse", 0.0), ("heterogeneity", args.heterogeneity_weight)):
        run = _train(
            args.out / f"heldout_{name}",
            args,
            data=args.data,
            model="tbotan",
            train_temperatures=(lo, hi),
            heterogeneity_weight=hw,
            max_minutes=args.minutes,
        )
        ev = evaluate_run(run, args.data, temperatures=[mid], latent_png=None)
        preds_path = args.out / f"heldout_{name}_predictions.zarr"
        predict_run(run, args.data, preds_path, temperatures=[mid])
        pred = read_predictions(preds_path)[mid]
        cmp = compare_predictions(sp, pred, species="A")
        plot_predicted_s4(clean_json(cmp), mid, args.out / f"heldout_{name}_s4.png")
        true = sp.read(keys.ISO_PROPENSITY, pred.configs)[:, k, :]
        a = sp.read(keys.TYPES, pred.configs) == 0
        pdfs[name] = np.asarray(pred.mobility)[:, k, :][a]
        res[name] = {
            "heterogeneity_weight": hw,
            "temperature_pred": ev["temperature_pred"][key],
            "temperature_mae": ev["temperature_mae_per_T"][key],
            "energy_thermometer_mae": (ev.get("energy_thermometer") or {}).get("temperature_mae"),
            "node_pearson": ev["node_pearson"][key],
            "mean_pred": ev["mean_pred"][key],
            "mean_true": ev["mean_true"][key],
            "std_pred": ev["std_pred"][key],
            "std_true": ev["std_true"][key],
            "s4_standardized": {
                n: {
                    "chi4_OZ": cmp[n]["standardized"]["chi4_OZ"],
                    "xi4": cmp[n]["standardized"]["xi4"],
                }
                for n in ("true", "predicted")
            },
            "n_configs": len(pred.configs),
        }
        print(
            f"heldout {name}: T_pred {res[name]['temperature_pred']:.4f} (true {mid:g}), "
            f"node r at alpha {ev['node_pearson'][key][k]:.3f}, std pred/true at alpha "
            f"{ev['std_pred'][key][k]:.3f}/{ev['std_true'][key][k]:.3f}",
            flush=True,
        )
    _pdf_plot(
        args.out / "heldout_pdf.png",
        true[a],
        {f"T-BOTAN ({n})": p for n, p in pdfs.items()},
        mid,
        float(sp.times[k]),
    )
    return res


def part_curve(args, store, temps, alpha) -> dict:
    T = args.curve_temperature or temps[0]
    key = f"{T:g}"
    k = alpha[key][0]
    res = {"temperature": T, "alpha_index": k, "sizes": args.sizes, "models": {}}
    for model in ("ridge", "mlp", "botan"):
        rows = []
        for n in args.sizes:
            extra = {} if model in ("ridge", "mlp") else {"max_minutes": args.minutes}
            run = _train(
                args.out / f"curve_{model}_{n}",
                args,
                data=args.data,
                model=model,
                train_temperatures=(T,),
                max_train=n,
                **extra,
            )
            rows.append(_mean_se(test_scores(run, store, T, k)))
            print(
                f"curve T={key} {model} n={n}: node r {rows[-1][0]:.3f} +- {rows[-1][1]:.3f}",
                flush=True,
            )
        res["models"][model] = rows
    _curve_plot(args.out / "learning_curve.png", res)
    return res


def _curve_plot(path: Path, res: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    for name, rows in res["models"].items():
        m, e = np.asarray(rows).T
        ax.errorbar(res["sizes"], m, yerr=np.nan_to_num(e), fmt="o-", capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("training configurations")
    ax.set_ylabel(r"node Pearson (A) at $t\approx\tau_\alpha$, test")
    ax.set_title(f"T={res['temperature']:g}")
    ax.legend(frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--minutes", type=float, default=8.0, help="--max-minutes of each graph run")
    ap.add_argument("--sizes", default="1,2,4,8", help="learning-curve training sizes")
    ap.add_argument("--curve-temperature", type=float, default=None, help="default: the lowest")
    ap.add_argument("--heterogeneity-weight", type=float, default=1.0)
    ap.add_argument("--parts", default="readout,heldout,curve")
    ap.add_argument(
        "--cg-lengths",
        default=None,
        help="descriptor coarse-graining lengths of every run, e.g. 1,2 (default: train's)",
    )
    args = ap.parse_args(argv)
    if args.cg_lengths:
        args.cg_lengths = tuple(float(a) for a in args.cg_lengths.split(","))
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    store = Store.open(args.data)
    temps = store.temperatures
    if len(temps) < 3:
        print(
            f"tbotan_physics: {args.data} has {len(temps)} temperatures; three are needed",
            file=sys.stderr,
        )
        return 2
    alpha = {f"{T:g}": alpha_index(store.state(T)) for T in temps}
    print(
        "alpha times:",
        {
            T: (float(store.state(float(T)).times[k]), round(tau, 3))
            for T, (k, tau) in alpha.items()
        },
    )
    path = args.out / "physics.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results["alpha"] = alpha
    for part in args.parts.split(","):
        fn = {"readout": part_readout, "heldout": part_heldout, "curve": part_curve}[part]
        results[part] = fn(args, store, temps, alpha)
        path.write_text(json.dumps(clean_json(results), indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
