"""Print the physics checks of the simulation stage on a store made by ``glassdyn simulate``.

For the first completed configuration at each state point: |E_LAMMPS - E_numpy| per particle;
NVE total-energy drift over 1e4 steps; mean kinetic temperature of 1e4 NVT steps; and, over all
configurations, the largest inherent-structure max force against the minimiser tolerance and the
replica-mean propensity at each sampling time.

    .venv/bin/python scripts/check_simulate_physics.py out/tiny.zarr
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("store")
    ap.add_argument("--steps", type=int, default=10_000)
    args = ap.parse_args()

    from glassdyn.data import keys
    from glassdyn.data.store import Store
    from glassdyn.simulate import protocols
    from glassdyn.simulate.ka import KAParameters, potential_energy

    store = Store.open(args.store)
    for sp in store.states():
        a = sp.attrs
        system = protocols.System(
            a["n_particles"],
            a["density"],
            a["n_a"] / a["n_particles"],
            a["dt"],
            a["thermostat"]["tdamp"],
            KAParameters(**{k: a["potential"][k] for k in KAParameters.__dataclass_fields__}),
        )
        T = sp.temperature
        c = int(sp.completed[0])
        x = sp.read(keys.THERMAL_POSITIONS, c).astype(np.float64)
        types, box = sp.read(keys.TYPES, c), sp.read(keys.BOX, c)
        e_np = potential_energy(x, types, box) / len(x)
        e_lmp = protocols.energy(system, x)
        nve = protocols.thermo_trace(system, x, T, args.steps, 100, np.random.default_rng(0))
        e = nve["total"]
        slope = np.polyfit(nve["time"], e, 1)[0]
        nvt = protocols.thermo_trace(
            system, x, T, args.steps, 20, np.random.default_rng(1), ensemble="nvt"
        )
        print(f"T={T:g} N={len(x)} (configuration {c})")
        print(
            f"  potential energy per particle: LAMMPS {e_lmp:.10f}  numpy {e_np:.10f}  |diff| {abs(e_lmp - e_np):.2e}"
        )
        print(
            f"  NVE {args.steps} steps: E/N start {e[0]:.6f} end {e[-1]:.6f}  |drift| {abs(e[-1] - e[0]):.2e}"
            f"  fitted slope {slope:.2e} per tau  (max-min {e.max() - e.min():.2e})"
        )
        t_mean = nvt["temperature"].mean()
        print(
            f"  NVT {args.steps} steps: mean kinetic T {t_mean:.4f}  ({100 * (t_mean / T - 1):+.2f}% of T)"
        )
        if sp.has(keys.INHERENT_MAX_FORCE):
            f = sp.read(keys.INHERENT_MAX_FORCE)
            print(
                f"  IS max force over {len(f)} configurations: {f.max():.2e} (ftol {a['minimizer']['ftol']:.0e})"
            )
        if sp.has(keys.ISO_PROPENSITY):
            p = sp.read(keys.ISO_PROPENSITY).mean(axis=(0, 2))
            print(
                "  propensity vs t: "
                + "  ".join(f"{t:.3g}:{v:.3f}" for t, v in zip(sp.times, p, strict=True))
            )


if __name__ == "__main__":
    main()
