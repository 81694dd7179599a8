"""``glassdyn info STORE [--json]``."""

from __future__ import annotations

import argparse
import json

HELP = "print a summary of a dataset store (temperatures, N, C, R, times, completed configurations)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="path of a glassdyn Zarr store")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def store_summary(path) -> dict:
    from glassdyn.data.store import Store

    store = Store.open(path)
    attrs = store.attrs
    return {
        "path": str(store.path),
        "schema": attrs.get("schema"),
        "glassdyn_version": attrs.get("glassdyn_version"),
        "temperatures": store.temperatures,
        "states": [sp.summary() for sp in store.states()],
    }


def run(args: argparse.Namespace) -> int:
    info = store_summary(args.store)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(
        f"store {info['path']}  ({info['schema']}, written by glassdyn {info['glassdyn_version']})"
    )
    if not info["states"]:
        print("  no state points yet")
    for s in info["states"]:
        times = "none" if s["times"] is None else ", ".join(f"{t:.3g}" for t in s["times"])
        print(
            f"  T={s['temperature']:<6g} N={s['n_particles']:<5d} configurations {s['completed']}/{s['n_configs']} complete"
            f"  replicas R={s['n_replicas']}  times [{times}]"
        )
        print(
            f"    inherent structures: {s['inherent']}/{s['n_configs']}"
            + ("" if s["inherent"] else " (add them with `glassdyn quench`)")
        )
        print(f"    arrays: {', '.join(s['arrays'])}")
    return 0
