"""``glassdyn evaluate RUN --data STORE [--json]``: metrics per temperature and time on the test split."""

from __future__ import annotations

import argparse
import json
import sys

from glassdyn.commands.options import positive_floats

HELP = (
    "evaluate a trained run on the test split (Pearson per temperature and time next to the "
    "replica-noise ceiling that bounds it, spread, temperature MAE)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run directory written by `glassdyn train`")
    p.add_argument(
        "--data",
        required=True,
        help="the store (the one trained on, including held-out temperatures)",
    )
    p.add_argument(
        "--temperatures",
        type=positive_floats,
        metavar="T[,T...]",
        default=None,
        help="default: every temperature of the store",
    )
    p.add_argument(
        "--split",
        default="test",
        choices=("test", "val", "train"),
        help="which configurations (default test)",
    )
    p.add_argument("--device", default="cpu", help="auto | cpu | cuda[:N]")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _fmt(values) -> str:
    return " ".join("  nan " if v is None else f"{v:6.3f}" for v in values)


def run(args: argparse.Namespace) -> int:
    from glassdyn.predict.evaluation import evaluate_run

    res = evaluate_run(
        args.run, args.data, device=args.device, temperatures=args.temperatures, part=args.split
    )
    for w in res.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(
        f"{res['model']} ({res['input']}) on the {res['split']} split; held-out temperatures: {res['held_out'] or 'none'}"
    )
    for T in res["node_pearson"]:
        sel = res["configs"][T]
        src = "the run's split" if sel["from"] == "split" else "every unseen configuration"
        print(
            f"T={T}  ({res['n_configs'][T]} configurations: {src})  times {_fmt(res['times'][T])}"
        )
        print(f"  node Pearson (A)        {_fmt(res['node_pearson'][T])}")
        ceiling = (res.get("noise_ceiling") or {}).get(T)
        if ceiling is not None:
            print(f"  replica-noise ceiling   {_fmt(ceiling)}")
        else:
            print(f"  replica-noise ceiling   cannot be computed: {res['noise_ceiling_note'][T]}")
        linear = (res.get("network_over_linear") or {}).get(T)
        if linear is not None:
            print(f"  its linear skip alone   {_fmt(linear['node_pearson'])}")
            gains = " ".join("  nan " if g is None else f"{g:+6.3f}" for g in linear["gain"])
            print(f"  network's gain on it    {gains}  (paired per configuration,")
            print(
                f"    its standard error    {_fmt(linear['gain_se'])}   {linear['n']} configurations)"
            )
        if res["edge_pearson"]:
            print(f"  edge Pearson (AA<1.35)  {_fmt(res['edge_pearson'][T])}")
        print(
            f"  mean mobility pred/true {_fmt(res['mean_pred'][T])} / {_fmt(res['mean_true'][T])}"
        )
        print(f"  std  mobility pred/true {_fmt(res['std_pred'][T])} / {_fmt(res['std_true'][T])}")
        if res["temperature_pred"] and res["temperature_pred"][T] is not None:
            print(f"  predicted temperature   {res['temperature_pred'][T]:.4f}")
    if res["temperature_mae"] is not None:
        print(f"temperature MAE {res['temperature_mae']:.4f}")
    if res.get("energy_thermometer"):
        th = res["energy_thermometer"]
        print(
            f"  (a thermometer linear in the energy per particle, fit on the training configurations: {th['temperature_mae']:.4f};"
            f" no unbiased reading of one configuration errs by less than {th['floor_mae']:.4f} on average)"
        )
    if res.get("latent_png"):
        print(f"latent distance heat map: {res['latent_png']}")
    return 0
