"""Helpers to test simulation set-ups (shipped so users can check their own runs).

``ci_settings`` is the ``ci`` preset with explicit common times (seconds per configuration on
one core); ``assert_same_arrays`` checks two stores bitwise, e.g. a resumed run against an
uninterrupted one or a run on a cluster against a local one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from glassdyn.data import keys
from glassdyn.data.store import Store
from glassdyn.simulate.presets import SimulationSettings, get_preset

CI_TIMES = (0.05, 0.2, 0.8, 2.0)  # common explicit times, so state points compare at equal t

SIMULATED = (
    keys.TYPES,
    keys.BOX,
    keys.THERMAL_POSITIONS,
    keys.THERMAL_ENERGY,
    keys.INHERENT_POSITIONS,
    keys.INHERENT_ENERGY,
    keys.INHERENT_MAX_FORCE,
    keys.ISO_DISPLACEMENTS,
    keys.ISO_PROPENSITY,
)


def ci_settings(n_configs: int = 3, **changes) -> SimulationSettings:
    """The ``ci`` preset (N=256, T=1.0 and 0.8, R=3) at the times ``CI_TIMES``."""
    return get_preset("ci").replace(n_configs=n_configs, times=CI_TIMES, **changes)


def assert_same_arrays(
    reference: Store, other: Store, configs: Sequence[int] | None = None
) -> None:
    """Every simulated array of every state point of ``other`` equals ``reference`` bitwise, on
    rows ``configs`` (default: all rows of ``other``, which must all be done)."""
    for T in other.temperatures:
        a, b = reference.state(T), other.state(T)
        rows = list(range(b.n_configs) if configs is None else configs)
        for sp in (a, b):
            if not np.all(sp.done[rows]):
                raise AssertionError(
                    f"T={T}: {sp.store_path} lacks configurations {[r for r in rows if not sp.done[r]]}"
                )
        for path in SIMULATED:
            if not (a.has(path) and b.has(path)):
                if a.has(path) != b.has(path):
                    raise AssertionError(f"T={T}: {path} present in only one store")
                continue
            xa, xb = a.read(path, rows), b.read(path, rows)
            if xa.dtype != xb.dtype or not np.array_equal(xa, xb):
                raise AssertionError(
                    f"T={T} {path}: arrays differ (max |diff| {np.abs(xa.astype(float) - xb.astype(float)).max():.3g})"
                )


DUMP_STYLES = {
    "unwrapped": "id type xu yu zu",
    "images": "id type x y z ix iy iz",
    "scaled": "id type xs ys zs ix iy iz",
    "wrapped": "id type x y z",
    "element": "id element x y z ix iy iz",
}


def lammps_dumps(
    directory,
    *,
    n_particles: int = 256,
    temperature: float = 1.0,
    every: int = 20,
    frames: int = 20,
    seed: int = 0,
    styles: Sequence[str] = tuple(DUMP_STYLES),
) -> dict:
    """One real KA NVT run dumped in several column styles at once (same frames in every file).

    A short melt (soft push-off, 500 NVT steps at ``temperature``) then ``frames`` frames every
    ``every`` steps (dt 0.005, 10 significant digits, unsorted as LAMMPS writes them).  Returns
    {style: path} for the styles of ``DUMP_STYLES`` asked for (elements named A / B).
    """
    from pathlib import Path

    from glassdyn.simulate import protocols

    system = protocols.System(n_particles)
    rng = np.random.default_rng(seed)
    lmp = protocols.build(system, protocols.random_positions(rng, system))
    out = {}
    try:
        lmp.commands_list(protocols.soft_commands(system.params, 20.0))
        lmp.commands_list(["min_style fire", "minimize 0.0 1e-3 1000 10000"])
        lmp.commands_list(protocols.pair_commands(system.params))
        lmp.command(f"velocity all create {temperature!r} {seed + 1} dist gaussian")
        lmp.command(f"fix thermostat all nvt temp {temperature!r} {temperature!r} 0.5")
        lmp.command("run 500")
        lmp.command("reset_timestep 0")
        for i, style in enumerate(styles):
            path = Path(directory) / f"{style}.lammpstrj"
            out[style] = path
            lmp.command(f"dump d{i} all custom {every} {path} {DUMP_STYLES[style]}")
            lmp.command(f"dump_modify d{i} format float %.10g")
            if style == "element":
                lmp.command(f"dump_modify d{i} element A B")
        lmp.command(f"run {every * (frames - 1)}")
    finally:
        lmp.close()
    return out
