"""``glassdyn info STORE [--json]``."""

from __future__ import annotations

import argparse
import json

HELP = "print a summary of a dataset store (temperatures, N, C, R, times, completed configurations)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="path of a glassdyn Zarr store")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def store_summary(path) -> dict:
    """What ``info`` prints: per state point :meth:`~glassdyn.data.store.StatePoint.summary`
    (arrays checked on disk, not only the done flags), the process writing the store now, and
    the command that finishes or repairs it."""
    from glassdyn.data import keys
    from glassdyn.data.lock import writer
    from glassdyn.data.store import Store

    store = Store.open(path, while_written=True)
    attrs = store.attrs
    # a simulated store fills every array it has; other writers may leave some unwritten
    required = tuple(keys.FIELDS) if "simulation" in attrs else (keys.BOX, keys.THERMAL_POSITIONS)
    return {
        "path": str(store.path),
        "schema": attrs.get("schema"),
        "glassdyn_version": attrs.get("glassdyn_version"),
        "temperatures": store.temperatures,
        "states": [sp.summary(required) for sp in store.states()],
        "writer": writer(store.path),
        "rerun": store.rerun_hint(),
    }


def run(args: argparse.Namespace) -> int:
    info = store_summary(args.store)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(
        f"store {info['path']}  ({info['schema']}, written by glassdyn {info['glassdyn_version']})"
    )
    w = info["writer"]
    if w:
        print(
            f"  being written now by pid {w.get('pid')} on {w.get('host')} (since "
            f"{w.get('started')}: {w.get('command')!r}): the counts below are still growing"
        )
    if not info["states"]:
        print("  no state points yet")
    unfinished = False
    for s in info["states"]:
        times = "none" if s["times"] is None else ", ".join(f"{t:.3g}" for t in s["times"])
        print(
            f"  T={s['temperature']:<6g} N={s['n_particles']:<5d} configurations {s['completed']}/{s['n_configs']} complete"
            f"  replicas R={s['n_replicas']}  times [{times}]"
        )
        if s["missing_arrays"]:
            print(f"    missing arrays (deleted?): {', '.join(s['missing_arrays'])}")
        if s["damaged"]:
            c, why = next(iter(s["damaged"].items()))
            print(
                f"    {len(s['damaged'])} configuration(s) marked done are damaged (configuration {c}: {why})"
            )
        unfinished |= s["completed"] < s["n_configs"]
        if s["completed"] and s["inherent"] < s["completed"]:
            print(
                f"    inherent structures: {s['inherent']}/{s['completed']} completed configurations "
                f"(add the others with `glassdyn quench {info['path']}`)"
            )
        else:
            print(
                f"    inherent structures: {s['inherent']}/{s['completed']} completed configurations"
            )
        print(f"    arrays: {', '.join(s['arrays'])}")
    if unfinished and not w:
        print(f"  to finish (or repair) it, {info['rerun']}")
    return 0
