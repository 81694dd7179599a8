"""What ``glassdyn info`` shows of a store (and ``glassdyn simulate`` after a run): per state
point N, configurations complete (arrays checked on disk, not only the done flags), replicas,
times, inherent structures, damaged configurations, the process writing the store now and the
command that finishes or repairs it."""

from __future__ import annotations


def store_summary(path) -> dict:
    """The summary of the store at ``path``: path, schema, version, temperatures, per state point
    :meth:`~glassdyn.data.store.StatePoint.summary`, the writer at work and the rerun hint."""
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


def summary_lines(info: dict) -> list[str]:
    """The summary of :func:`store_summary` as text, one state point per block."""
    lines = [
        f"store {info['path']}  ({info['schema']}, written by glassdyn {info['glassdyn_version']})"
    ]
    w = info["writer"]
    if w:
        lines.append(
            f"  being written now by pid {w.get('pid')} on {w.get('host')} (since "
            f"{w.get('started')}: {w.get('command')!r}): the counts below are still growing"
        )
    if not info["states"]:
        lines.append("  no state points yet")
    unfinished = False
    for s in info["states"]:
        times = "none" if s["times"] is None else ", ".join(f"{t:.3g}" for t in s["times"])
        lines.append(
            f"  T={s['temperature']:<6g} N={s['n_particles']:<5d} configurations "
            f"{s['completed']}/{s['n_configs']} complete  replicas R={s['n_replicas']}  "
            f"times [{times}]"
        )
        if s["missing_arrays"]:
            lines.append(f"    missing arrays (deleted?): {', '.join(s['missing_arrays'])}")
        if s["damaged"]:
            c, why = next(iter(s["damaged"].items()))
            lines.append(
                f"    {len(s['damaged'])} configuration(s) marked done are damaged "
                f"(configuration {c}: {why})"
            )
        unfinished |= s["completed"] < s["n_configs"]
        inherent = (
            f"    inherent structures: {s['inherent']}/{s['completed']} completed configurations"
        )
        if s["completed"] and s["inherent"] < s["completed"]:
            inherent += f" (add the others with `glassdyn quench {info['path']}`)"
        lines.append(inherent)
        if s.get("cage") is not None:
            lines.append(f"    cage states: {s['cage']}/{s['completed']} completed configurations")
        lines.append(f"    arrays: {', '.join(s['arrays'])}")
    if unfinished and not w:
        lines.append(f"  to finish (or repair) it, {info['rerun']}")
    return lines
