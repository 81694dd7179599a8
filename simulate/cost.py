"""The MD steps a dataset plans, their estimated cost, and the limit that refuses runaway plans.

Equilibration and sampling lengths follow tau_alpha(T) from the presets' table; below its lowest
temperature tau_alpha is extrapolated (log tau linear in 1/T), which grows without bound: T=0.3
would plan ~1e12 MD steps per configuration.  :func:`check_limits` refuses a single MD run
(one equilibration, or one replica) longer than ``MAX_RUN_STEPS`` unless its length was set
explicitly (``--equilibration-time`` for equilibration, ``--times`` for the replicas), and
:func:`describe` prints what a run will cost before it starts.

Cost model: KA lj/cut on one core runs ~2.1 M atom-steps/s (N=1000, one thread, measured on the
project's 2-core machine; see DESIGN.md); a FIRE iteration costs about one MD step (FIRE from
T=0.8 took ~8800 iterations at N=1000 and ~20000 at N=4096).  The estimate is an order of
magnitude, not a promise: colder systems minimise longer, and shared cores run slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.simulate.presets import SimulationSettings

ATOM_STEPS_PER_CORE_SECOND = 2.1e6
MAX_RUN_STEPS = (
    100_000_000  # one equilibration or one replica; 4x BOTAN's longest (2.6e7 at T=0.44)
)


def fire_iterations_estimate(n_particles: int) -> int:
    """FIRE iterations to ftol 1e-8 from a thermal state: ~280 sqrt(N) (8800 measured at N=1000,
    ~20000 at N=4096)."""
    return int(280 * n_particles**0.5)


@dataclass(frozen=True)
class StatePlan:
    """MD steps of the configurations still to compute at one temperature."""

    temperature: float
    n_configs: int
    n_particles: int
    tau_alpha: float
    melt_steps: int
    equilibration_steps: int
    fire_iterations: int
    n_replicas: int
    replica_steps: int  # length of one replica run (its last sampling step)
    trajectory_steps: int = 0  # length of the long trajectory (--trajectory BLOCKS), 0 = none

    @property
    def steps_per_config(self) -> int:
        return (
            self.melt_steps
            + self.equilibration_steps
            + self.fire_iterations
            + self.n_replicas * self.replica_steps
            + self.trajectory_steps
        )

    @property
    def atom_steps(self) -> float:
        return float(self.n_configs) * self.n_particles * self.steps_per_config


def plan_state(settings: SimulationSettings, temperature: float, n_configs: int) -> StatePlan:
    system = settings.system()
    return StatePlan(
        temperature=float(temperature),
        n_configs=int(n_configs),
        n_particles=settings.n_particles,
        tau_alpha=settings.tau(temperature),
        melt_steps=system.steps(settings.melt.melt_time) + settings.melt.pushoff_iterations,
        equilibration_steps=system.steps(settings.equilibration_time(temperature)),
        fire_iterations=fire_iterations_estimate(settings.n_particles) if settings.inherent else 0,
        n_replicas=settings.n_replicas,
        replica_steps=int(settings.sample_steps(temperature)[-1]) if settings.n_replicas else 0,
        trajectory_steps=(
            int(settings.trajectory_steps(temperature)[-1]) if settings.trajectory_blocks else 0
        ),
    )


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


def core_time(atom_steps: float) -> str:
    """Estimated time on one core, e.g. '3.2 h'."""
    return _duration(atom_steps / ATOM_STEPS_PER_CORE_SECOND)


def _longest_replica_time(settings: SimulationSettings, temperature: float) -> float:
    """The last sampling time at T in LJ units, as a float (no step rounding, no overflow)."""
    if settings.times is not None:
        t = float(settings.times[-1])
        if settings.times_temperature is not None:
            t *= settings.tau(temperature) / settings.tau(settings.times_temperature)
        return t
    return settings.time_max_tau * settings.tau(temperature)


def check_limits(settings: SimulationSettings) -> None:
    """Refuse an MD run longer than MAX_RUN_STEPS whose length was not set explicitly.

    Raises InputError naming the temperature, the planned steps, the estimated time and the option
    that sets the length explicitly.  Lengths are computed as floats, so an absurd extrapolation
    (tau_alpha overflowing to inf) is refused, not wrapped around.
    """
    lowest = min(t for t, _ in settings.tau_alpha)
    N = settings.n_particles
    with np.errstate(over="ignore"):
        for T in settings.temperatures:
            tau = settings.tau(T)
            where = f"tau_alpha({T:g}) ~ {tau:.3g}" + (
                f", extrapolated below the tau_alpha table (lowest T={lowest:g})"
                if T < lowest
                else ""
            )
            eq_steps = settings.equilibration_time(T) / settings.dt
            if settings.equilibration_fixed_time is None and not eq_steps <= MAX_RUN_STEPS:
                raise InputError(
                    f"T={T:g}: equilibration of {settings.equilibration_tau:g} x {where} plans "
                    f"{eq_steps:.3g} MD steps per configuration (~{core_time(eq_steps * N)} on one core), "
                    f"beyond the limit of {MAX_RUN_STEPS:.0e}; set the length explicitly with "
                    "--equilibration-time (LJ time units), or choose a warmer temperature"
                )
            times_explicit = settings.times is not None and settings.times_temperature is None
            rep_steps = _longest_replica_time(settings, T) / settings.dt
            if settings.n_replicas and not times_explicit and not rep_steps <= MAX_RUN_STEPS:
                raise InputError(
                    f"T={T:g}: replicas sampled up to {rep_steps * settings.dt:.3g} LJ time ({where}) plan "
                    f"{rep_steps:.3g} MD steps per replica (~{core_time(rep_steps * N)} on one core), "
                    f"beyond the limit of {MAX_RUN_STEPS:.0e}; give the sampling times explicitly with "
                    "--times (LJ time units), or choose a warmer temperature"
                )
            traj_steps = settings.trajectory_blocks * rep_steps
            if (
                settings.trajectory_blocks
                and not times_explicit
                and not traj_steps <= MAX_RUN_STEPS
            ):
                raise InputError(
                    f"T={T:g}: --trajectory {settings.trajectory_blocks} blocks of "
                    f"{rep_steps * settings.dt:.3g} LJ time ({where}) plan {traj_steps:.3g} MD steps "
                    f"(~{core_time(traj_steps * N)} on one core), beyond the limit of "
                    f"{MAX_RUN_STEPS:.0e}; give the sampling times explicitly with --times, use fewer "
                    "blocks, or choose a warmer temperature"
                )


def describe(plans: list[StatePlan], workers: int | None) -> list[str]:
    """Lines for the user: per temperature the steps of one configuration, then the total cost.

    ``workers`` local processes sharing the work (None: an external scheduler of unknown size).
    """
    todo = [p for p in plans if p.n_configs]
    if not todo:
        return ["plan: every configuration is already done; nothing to compute"]
    lines = [
        f"plan: {sum(p.n_configs for p in todo)} configuration(s) of N={todo[0].n_particles} to compute"
    ]
    for p in todo:
        parts = [
            f"melt {p.melt_steps}",
            f"NVT {p.equilibration_steps} (tau_alpha ~ {p.tau_alpha:.3g})",
        ]
        if p.fire_iterations:
            parts.append(f"FIRE ~{p.fire_iterations}")
        if p.n_replicas:
            parts.append(f"{p.n_replicas} replicas x {p.replica_steps}")
        if p.trajectory_steps:
            parts.append(f"trajectory {p.trajectory_steps}")
        lines.append(f"  T={p.temperature:g}: {p.n_configs} x ({' + '.join(parts)} steps)")
    total = sum(p.atom_steps for p in todo)
    line = (
        f"  total {total:.3g} atom-steps: ~{core_time(total)} on one core "
        f"(at ~{ATOM_STEPS_PER_CORE_SECOND / 1e6:.1f} M atom-steps/s per core)"
    )
    if workers and workers > 1:
        line += f", ~{_duration(total / ATOM_STEPS_PER_CORE_SECOND / workers)} on {workers} workers"
    lines.append(line)
    return lines
