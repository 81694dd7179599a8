"""Equilibrium sampling with LAMMPS: NVT chains and Hybrid Monte Carlo moves.

Two ways to draw KA configurations from the canonical (Boltzmann) distribution at T:

* :func:`nvt_chain` - one Nose-Hoover NVT trajectory from a configuration, saving the positions
  every ``spacing`` LJ time units (the MD reference of the samplers: with spacing ~ 2 tau_alpha
  the saved configurations are effectively independent);
* :func:`hmc` - Hybrid (Hamiltonian) Monte Carlo moves (Duane, Kennedy, Pendleton & Roweth, Phys.
  Lett. B 195, 216 (1987)): fresh Maxwell-Boltzmann momenta at T, ``leapfrog`` velocity-Verlet
  steps of ``dt`` (LAMMPS ``fix nve``), accepted with probability min(1, exp(-Delta H / T)).
  Velocity Verlet is time-reversible and volume-preserving, so the move leaves exp(-U/T)
  exactly invariant whatever the step size: the integration error only lowers the acceptance.
  This is the Metropolis-adjusted refinement of every sampler of :mod:`glassdyn.gen`.

Each configuration runs in its own fresh LAMMPS instance (as every protocol of
:mod:`glassdyn.simulate.protocols`), so results depend only on the inputs and the random
generator, never on what ran before.  Costs are counted in MD steps (force evaluations), the
unit in which samplers and MD are compared.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from glassdyn.simulate.protocols import (
    SimulationError,
    System,
    _fix_ensemble,
    _local,
    build,
    positions,
    potential_energy,
    velocities,
)


@dataclass(frozen=True)
class HMCOptions:
    """One Hybrid Monte Carlo move = ``leapfrog`` velocity-Verlet steps of ``dt`` (LJ time);
    ``sweeps`` moves per call of :func:`hmc`."""

    dt: float = 0.005
    leapfrog: int = 20
    sweeps: int = 5

    def __post_init__(self) -> None:
        if not (self.dt > 0 and self.leapfrog >= 1 and self.sweeps >= 0):
            raise ValueError(
                f"HMC needs dt > 0, leapfrog >= 1 and sweeps >= 0, got {self.dt}, "
                f"{self.leapfrog}, {self.sweeps}"
            )


@dataclass
class MoveStats:
    """What a batch of moves cost and did: proposals and acceptances of the Metropolis tests,
    MD steps (force evaluations) and wall seconds."""

    proposals: int = 0
    accepted: int = 0
    md_steps: int = 0
    seconds: float = 0.0

    @property
    def acceptance(self) -> float:
        return self.accepted / self.proposals if self.proposals else float("nan")

    def add(self, other: MoveStats) -> MoveStats:
        return MoveStats(
            self.proposals + other.proposals,
            self.accepted + other.accepted,
            self.md_steps + other.md_steps,
            self.seconds + other.seconds,
        )


def _system(types: np.ndarray, dt: float) -> System:
    return System(len(types), dt=dt)


def _set(lmp, name: str, values: np.ndarray) -> None:
    """Write per-atom ``values`` (N, 3), ordered by atom id, into LAMMPS' array ``name``."""
    tag = np.asarray(_local(lmp, "id"))
    _local(lmp, name)[:] = values[tag - 1]


def _hmc_instance(system: System, x: np.ndarray, types, box, T: float):
    """A LAMMPS instance holding ``x`` with velocity Verlet (``fix nve``) set up, energy computed."""
    lmp = build(system, x, types=types, box=box)
    _fix_ensemble(lmp, system, T, "nve")
    lmp.command("run 0 post no")
    return lmp


def hmc(
    x: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    temperature: float,
    rng: np.random.Generator,
    options: HMCOptions = HMCOptions(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, MoveStats]:
    """``options.sweeps`` Hybrid Monte Carlo moves at ``temperature`` of each configuration.

    x (B, N, 3) positions (any image), types (N,) 0 = A / 1 = B, box (3,) orthorhombic lengths.
    Returns the positions (B, N, 3) wrapped into the box, their total potential energies (B,),
    the number of accepted moves per configuration (B,) and the :class:`MoveStats`.  Each move
    draws its momenta (N, 3) and then its uniform from ``rng``, configuration after configuration.
    A trajectory that blows up (LAMMPS loses atoms) is a rejected move.
    """
    x = np.asarray(x, dtype=np.float64)
    types = np.asarray(types)
    box = np.asarray(box, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (len(types), 3):
        raise SimulationError(f"positions must have shape (B, {len(types)}, 3), got {x.shape}")
    system = _system(types, options.dt)
    T = float(temperature)
    out = np.empty_like(x)
    energy = np.empty(len(x))
    accepted = np.zeros(len(x), dtype=np.int64)
    t0 = time.perf_counter()
    for b, xb in enumerate(x):
        lmp = _hmc_instance(system, xb, types, box, T)
        try:
            cur, u_cur = positions(lmp, system, box=box), potential_energy(lmp)
            for _ in range(options.sweeps):
                p = rng.normal(scale=np.sqrt(T / system.params.mass), size=cur.shape)
                u = rng.random()
                try:
                    _set(lmp, "x", cur)
                    _set(lmp, "v", p)
                    lmp.command(f"run {options.leapfrog} pre yes post no")
                    u_new, v = potential_energy(lmp), velocities(lmp)
                except Exception:  # the trajectory blew up (LAMMPS lost atoms): reject the move
                    lmp.close()
                    lmp = _hmc_instance(system, cur, types, box, T)
                    continue
                kin = 0.5 * system.params.mass
                dH = (u_new + kin * np.sum(v * v)) - (u_cur + kin * np.sum(p * p))
                if np.isfinite(dH) and np.log(u) < -dH / T:
                    cur, u_cur = positions(lmp, system, box=box), u_new
                    accepted[b] += 1
        finally:
            lmp.close()
        out[b], energy[b] = cur, u_cur
    stats = MoveStats(
        proposals=len(x) * options.sweeps,
        accepted=int(accepted.sum()),
        md_steps=len(x) * (1 + options.sweeps * (options.leapfrog + 1)),
        seconds=time.perf_counter() - t0,
    )
    return out, energy, accepted, stats


def nvt_chain(
    x0: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    temperature: float,
    n: int,
    spacing: float,
    rng: np.random.Generator,
    *,
    warmup: float = 0.0,
    dt: float = 0.005,
) -> tuple[np.ndarray, np.ndarray, MoveStats]:
    """``n`` configurations of one Nose-Hoover NVT trajectory at ``temperature`` from x0 (N, 3).

    Maxwell-Boltzmann velocities from ``rng``; the run lasts ``warmup`` LJ time units, then saves
    the positions (wrapped) after every further ``spacing``.  Returns positions (n, N, 3), total
    potential energies (n,) and the cost (``md_steps``)."""
    from glassdyn.simulate.protocols import maxwell_boltzmann, run

    types = np.asarray(types)
    system = _system(types, dt)
    if n < 1 or not spacing > 0 or warmup < 0:
        raise SimulationError(
            f"an NVT chain needs n >= 1, spacing > 0, warmup >= 0; got {n}, {spacing}, {warmup}"
        )
    v = maxwell_boltzmann(rng, system.n_particles, temperature, system.params.mass)
    t0 = time.perf_counter()
    lmp = build(system, x0, v, types=types, box=box)
    out = np.empty((n, system.n_particles, 3))
    energy = np.empty(n)
    try:
        _fix_ensemble(lmp, system, float(temperature), "nvt")
        lmp.command("run 0 post no")
        if warmup > 0:
            run(lmp, system.steps(warmup))
        for k in range(n):
            run(lmp, system.steps(spacing))
            out[k], energy[k] = positions(lmp, system, box=box), potential_energy(lmp)
    finally:
        lmp.close()
    if not np.all(np.isfinite(out)):
        raise SimulationError(f"NVT chain at T={temperature:g} produced non-finite positions")
    steps = (system.steps(warmup) if warmup > 0 else 0) + n * system.steps(spacing)
    return out, energy, MoveStats(md_steps=steps, seconds=time.perf_counter() - t0)
