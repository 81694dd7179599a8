"""LAMMPS protocols for the Kob-Andersen mixture, driven through the LAMMPS Python API.

Every protocol step that must be reproducible bit for bit (melt + equilibration, the FIRE
quench, each isoconfigurational replica) runs in a *fresh* LAMMPS instance built from explicit
numpy arrays: the summation order of forces then depends only on the inputs, never on what
ran before in the same process, so results are identical whatever the worker count, the
replica blocking or an interruption.  Positions, velocities and image flags go in and out
through ``create_atoms`` / ``extract_atom`` (no files).  All randomness comes from numpy
generators handed in by the caller (LAMMPS' own RNGs are never used).

Units are LJ (sigma_AA, eps_AA, m, tau = sigma_AA sqrt(m / eps_AA)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from glassdyn.data.box import box_length
from glassdyn.data.errors import GlassdynError
from glassdyn.simulate.engine import new_lammps
from glassdyn.simulate.ka import KAParameters


class SimulationError(GlassdynError):
    """A LAMMPS run failed or produced non-finite values."""


# ----------------------------------------------------------------------------- options
@dataclass(frozen=True)
class MinimizerOptions:
    """Pinned FIRE options for inherent structures (the IS depends on the minimiser: CG lands in
    other minima).  ``norm max``: ftol bounds the largest force component, the quantity stored in
    ``inherent/max_force``.  Values follow LAMMPS' documented FIRE 2.0 defaults, written out so
    that a change of defaults in a later LAMMPS cannot change the data.
    """

    style: str = "fire"
    etol: float = 0.0
    ftol: float = 1e-8
    maxiter: int = 200_000
    maxeval: int = 400_000
    norm: str = "max"
    dmax: float = 0.1
    integrator: str = "eulerimplicit"
    tmax: float = 10.0
    tmin: float = 0.02
    delaystep: int = 20
    dtgrow: float = 1.1
    dtshrink: float = 0.5
    alpha0: float = 0.25
    alphashrink: float = 0.99
    vdfmax: int = 2000
    halfstepback: str = "yes"

    def commands(self) -> list[str]:
        return [
            f"min_style {self.style}",
            f"min_modify dmax {self.dmax} norm {self.norm} integrator {self.integrator} tmax {self.tmax} "
            f"tmin {self.tmin} delaystep {self.delaystep} dtgrow {self.dtgrow} dtshrink {self.dtshrink} "
            f"alpha0 {self.alpha0} alphashrink {self.alphashrink} vdfmax {self.vdfmax} "
            f"halfstepback {self.halfstepback}",
            f"minimize {self.etol} {self.ftol} {self.maxiter} {self.maxeval}",
        ]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class System:
    """The physical system: N particles (the first N_A are A) in a cubic box at ``density``."""

    n_particles: int
    density: float = 1.2
    fraction_a: float = 0.8
    dt: float = 0.005
    tdamp: float = 0.5  # Nose-Hoover damping time (LJ time units), 100 dt
    params: KAParameters = KAParameters()

    @property
    def n_a(self) -> int:
        return int(round(self.fraction_a * self.n_particles))

    @property
    def box_length(self) -> float:
        return box_length(self.n_particles, self.density)

    @property
    def box(self) -> np.ndarray:
        return np.full(3, self.box_length)

    @property
    def types(self) -> np.ndarray:
        """(N,) int8, 0 = A, 1 = B."""
        t = np.ones(self.n_particles, dtype=np.int8)
        t[: self.n_a] = 0
        return t

    def steps(self, time: float) -> int:
        """Number of MD steps covering ``time`` (at least 1)."""
        return max(1, int(round(time / self.dt)))


# ------------------------------------------------------------------------ the deck
def deck(system: System, box: np.ndarray | None = None) -> list[str]:
    """LAMMPS commands that define box, potential and integration settings (no atoms yet).

    KA pair potential: ``lj/cut`` with per-pair cutoffs 2.5 sigma_ab, truncated and shifted
    (``pair_modify shift yes``) as in :mod:`glassdyn.simulate.ka`.  ``box``: (3,) orthorhombic
    lengths of a stored configuration (default: the system's cube).
    """
    p = system.params
    Lx, Ly, Lz = _box(system, box)
    cmds = [
        "units lj",
        "atom_style atomic",
        "atom_modify map array",
        "boundary p p p",
        f"region box block 0 {Lx!r} 0 {Ly!r} 0 {Lz!r}",
        "create_box 2 box",
        f"mass * {p.mass!r}",
    ]
    cmds += pair_commands(p)
    cmds += [
        "neighbor 0.3 bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {system.dt!r}",
        "thermo_modify norm no",
        "thermo 0",
    ]
    return cmds


def pair_commands(p: KAParameters) -> list[str]:
    """``pair_style lj/cut`` with the KA coefficients and per-pair cutoffs."""
    eps, sig, rc = p.epsilon, p.sigma, p.r_cut
    cmds = [f"pair_style lj/cut {float(p.max_cutoff)!r}"]
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        cmds.append(
            f"pair_coeff {a + 1} {b + 1} {float(eps[a, b])!r} {float(sig[a, b])!r} {float(rc[a, b])!r}"
        )
    cmds.append(f"pair_modify shift {'yes' if p.shift else 'no'}")
    return cmds


def soft_commands(p: KAParameters, prefactor: float) -> list[str]:
    """A bounded cosine repulsion (``pair_style soft``) of range sigma_ab to remove overlaps."""
    sig = p.sigma
    cmds = [f"pair_style soft {float(sig.max())!r}"]
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        cmds.append(f"pair_coeff {a + 1} {b + 1} {prefactor!r} {float(sig[a, b])!r}")
    return cmds


def _box(system: System, box: np.ndarray | None) -> tuple[float, float, float]:
    if box is None:
        return (system.box_length,) * 3
    b = np.asarray(box, dtype=np.float64)
    if b.shape != (3,) or not np.all(b > 0):
        raise SimulationError(f"box must be 3 positive orthorhombic lengths, got {b}")
    return tuple(float(v) for v in b)


def build(
    system: System,
    positions: np.ndarray,
    velocities: np.ndarray | None = None,
    *,
    threads: int = 1,
    types: np.ndarray | None = None,
    box: np.ndarray | None = None,
):
    """A fresh LAMMPS instance holding ``positions`` (N, 3) (and ``velocities``), image flags 0.

    ``types`` (N,) 0 = A, 1 = B and ``box`` (3,) describe a stored configuration (imported data:
    any order of species, any orthorhombic box); by default the system's (A first, cube).
    """
    pos = np.asarray(positions, dtype=np.float64)
    n = system.n_particles
    if pos.shape != (n, 3) or not np.all(np.isfinite(pos)):
        raise SimulationError(f"positions must be finite with shape ({n}, 3), got {pos.shape}")
    t = system.types if types is None else np.asarray(types)
    if t.shape != (n,) or not np.all((t == 0) | (t == 1)):
        raise SimulationError(f"types must be 0 (A) or 1 (B) with shape ({n},), got {t.shape}")
    lengths = np.asarray(_box(system, box))
    lmp = new_lammps(threads=threads)
    lmp.commands_list(deck(system, box))
    pos = np.mod(pos, lengths)
    pos[pos >= lengths] = 0.0
    ids = list(range(1, n + 1))
    types = (t.astype(int) + 1).tolist()
    v = None if velocities is None else np.asarray(velocities, dtype=np.float64).ravel().tolist()
    created = lmp.create_atoms(n, ids, types, pos.ravel().tolist(), v)
    if created != n:
        lmp.close()
        raise SimulationError(f"LAMMPS created {created} of {n} atoms")
    return lmp


def _local(lmp, name: str) -> np.ndarray:
    """Zero-copy view of a per-atom array of the owned (not ghost) atoms, in LAMMPS' order."""
    n = int(lmp.extract_global("nlocal"))
    return lmp.numpy.extract_atom(name)[:n]


def _by_id(lmp, name: str) -> np.ndarray:
    tag = np.asarray(_local(lmp, "id"))
    arr = np.array(_local(lmp, name), copy=True)
    out = np.empty_like(arr)
    out[tag - 1] = arr
    return out


def positions(
    lmp, system: System, *, unwrapped: bool = False, box: np.ndarray | None = None
) -> np.ndarray:
    """(N, 3) float64 positions ordered by atom id; wrapped into [0, L) unless ``unwrapped``
    (``box``: the lengths the instance was built with, default the system's cube)."""
    x = _by_id(lmp, "x")
    lengths = np.asarray(_box(system, box)) if box is not None else system.box_length
    if unwrapped:
        img = _by_id(lmp, "image").astype(np.int64)
        mask, bits, bits2, imax = (
            int(lmp.extract_setting(k)) for k in ("IMGMASK", "IMGBITS", "IMG2BITS", "IMGMAX")
        )
        shift = np.stack([img & mask, (img >> bits) & mask, img >> bits2], axis=1) - imax
        return x + shift * lengths
    x = np.mod(x, lengths)
    x[x >= lengths] = 0.0
    return x


def velocities(lmp) -> np.ndarray:
    """(N, 3) float64 velocities ordered by atom id."""
    return _by_id(lmp, "v")


def forces(lmp) -> np.ndarray:
    """(N, 3) float64 forces ordered by atom id (as of the last force evaluation)."""
    return _by_id(lmp, "f")


def potential_energy(lmp) -> float:
    """Total potential energy at the last thermo step (``thermo_modify norm no``)."""
    return float(lmp.get_thermo("pe"))


def kinetic_temperature(v: np.ndarray, mass: float = 1.0) -> float:
    """T = sum m v^2 / (3N - 3) (momentum conserved: 3 degrees of freedom removed)."""
    n = len(v)
    return float(mass * np.sum(v * v) / (3 * n - 3))


def maxwell_boltzmann(
    rng: np.random.Generator, n: int, temperature: float, mass: float = 1.0
) -> np.ndarray:
    """(N, 3) Maxwell-Boltzmann velocities at ``temperature``: zero total momentum, rescaled so the
    kinetic temperature is exactly ``temperature`` (the convention of LAMMPS ``velocity create``)."""
    v = rng.normal(scale=np.sqrt(temperature / mass), size=(n, 3))
    v -= v.mean(axis=0)
    return v * np.sqrt(temperature / kinetic_temperature(v, mass))


def _nvt(lmp, system: System, temperature: float) -> None:
    lmp.command(f"fix thermostat all nvt temp {temperature!r} {temperature!r} {system.tdamp!r}")


def _fix_ensemble(lmp, system: System, temperature: float, ensemble: str) -> None:
    """Fix the integrator: ``nve`` (velocity Verlet) or ``nvt`` (Nose-Hoover) at ``temperature``."""
    if ensemble == "nve":
        lmp.command("fix integrate all nve")
    elif ensemble == "nvt":
        _nvt(lmp, system, temperature)
    else:
        raise SimulationError(f"unknown ensemble {ensemble!r}; use 'nve' or 'nvt'")


def _integrator(lmp, system: System, temperature: float, ensemble: str) -> None:
    """Fix the integrator (:func:`_fix_ensemble`) and set up the run."""
    _fix_ensemble(lmp, system, temperature, ensemble)
    lmp.command("run 0 post no")


def run(lmp, steps: int, chunk: int | None = None) -> None:
    """Advance ``steps`` MD steps, in chunks of ``chunk`` with ``run N pre no post no``."""
    chunk = steps if chunk is None else chunk
    done = 0
    first = True
    while done < steps:
        n = min(chunk, steps - done)
        lmp.command(f"run {n} pre {'yes' if first else 'no'} post no")
        first = False
        done += n


# ------------------------------------------------------------------------ protocols
@dataclass(frozen=True)
class Melt:
    """Melt-and-equilibrate protocol: random positions, soft-repulsion FIRE push-off, NVT at
    ``t_melt`` for ``melt_time``, then NVT at T for ``equilibration_time`` (LJ time units)."""

    t_melt: float = 2.0
    melt_time: float = 10.0
    pushoff_iterations: int = 1000
    pushoff_prefactor: float = 20.0


def random_positions(rng: np.random.Generator, system: System) -> np.ndarray:
    """(N, 3) uniform random positions in the box."""
    return rng.uniform(0.0, system.box_length, size=(system.n_particles, 3))


def equilibrate(
    system: System,
    temperature: float,
    equilibration_time: float,
    rng: np.random.Generator,
    melt: Melt = Melt(),
    *,
    chunk: int = 10_000,
) -> np.ndarray:
    """An equilibrated configuration at ``temperature`` from a fresh random melt.

    Returns (N, 3) float64 wrapped positions.  Velocities and positions are drawn from ``rng``.
    """
    x0 = random_positions(rng, system)
    lmp = build(system, x0)
    try:
        # push overlapping random particles apart with a bounded soft repulsion, then switch on KA
        lmp.commands_list(soft_commands(system.params, melt.pushoff_prefactor))
        lmp.commands_list(
            [
                "min_style fire",
                "min_modify dmax 0.05",
                f"minimize 0.0 1e-3 {melt.pushoff_iterations} {10 * melt.pushoff_iterations}",
            ]
        )
        lmp.commands_list(pair_commands(system.params))
        v = maxwell_boltzmann(rng, system.n_particles, melt.t_melt, system.params.mass)
        _set_velocities(lmp, v)
        lmp.command("reset_timestep 0")
        _nvt(lmp, system, melt.t_melt)
        run(lmp, system.steps(melt.melt_time), chunk)
        lmp.command("unfix thermostat")
        lmp.command(f"velocity all scale {temperature!r}")
        _nvt(lmp, system, temperature)
        run(lmp, system.steps(equilibration_time), chunk)
        x = positions(lmp, system)
    finally:
        lmp.close()
    if not np.all(np.isfinite(x)):
        raise SimulationError(f"equilibration at T={temperature:g} produced non-finite positions")
    return x


def _set_velocities(lmp, v: np.ndarray) -> None:
    tag = np.asarray(_local(lmp, "id"))
    lv = _local(lmp, "v")
    lv[:] = v[tag - 1]


def energy(system: System, x: np.ndarray) -> float:
    """Potential energy per particle of configuration ``x`` (N, 3), from LAMMPS."""
    lmp = build(system, x)
    try:
        lmp.command("run 0 post no")
        return potential_energy(lmp) / system.n_particles
    finally:
        lmp.close()


@dataclass(frozen=True)
class InherentStructure:
    positions: np.ndarray  # (N, 3) float64, wrapped
    energy: float  # per particle
    max_force: float  # max |F| component at the minimum
    iterations: int


def inherent_structure(
    system: System,
    x: np.ndarray,
    options: MinimizerOptions = MinimizerOptions(),
    *,
    types: np.ndarray | None = None,
    box: np.ndarray | None = None,
) -> InherentStructure:
    """FIRE-quench configuration ``x`` (N, 3) to its inherent structure (``types``, ``box``: of a
    stored configuration, see :func:`build`)."""
    lmp = build(system, x, types=types, box=box)
    try:
        lmp.commands_list(options.commands())
        xi = positions(lmp, system, box=box)
        f = forces(lmp)
        e = potential_energy(lmp) / system.n_particles
        iters = int(lmp.extract_global("ntimestep"))
    finally:
        lmp.close()
    return InherentStructure(xi, e, float(np.abs(f).max()), iters)


def replica(
    system: System,
    x0: np.ndarray,
    temperature: float,
    sample_steps: np.ndarray,
    rng: np.random.Generator,
    *,
    ensemble: str = "nve",
    chunk: int = 10_000,
    types: np.ndarray | None = None,
    box: np.ndarray | None = None,
) -> np.ndarray:
    """One isoconfigurational trajectory: unwrapped displacements r(t) - r(0).

    x0 (N, 3) start positions, fresh Maxwell-Boltzmann velocities at ``temperature`` from
    ``rng``; ``sample_steps`` (K,) increasing step counts.  Integrates NVE (velocity Verlet) or
    NVT (Nose-Hoover, ``system.tdamp``).  ``types``, ``box``: of a stored configuration (see
    :func:`build`).  Returns (K, N, 3) float64.
    """
    steps = np.asarray(sample_steps, dtype=np.int64)
    if steps.ndim != 1 or np.any(np.diff(steps) <= 0) or steps[0] < 1:
        raise SimulationError(f"sample steps must be positive and increasing, got {steps}")
    v = maxwell_boltzmann(rng, system.n_particles, temperature, system.params.mass)
    lmp = build(system, x0, v, types=types, box=box)
    out = np.empty((len(steps), system.n_particles, 3))
    try:
        start = positions(lmp, system, unwrapped=True, box=box)
        _fix_ensemble(lmp, system, temperature, ensemble)
        done, first = 0, True
        for k, target in enumerate(steps):
            while done < target:
                n = int(min(chunk, target - done))
                lmp.command(f"run {n} pre {'yes' if first else 'no'} post no")
                first = False
                done += n
            out[k] = positions(lmp, system, unwrapped=True, box=box) - start
    finally:
        lmp.close()
    if not np.all(np.isfinite(out)):
        raise SimulationError(f"replica at T={temperature:g} produced non-finite displacements")
    return out


def trajectory(
    system: System,
    x0: np.ndarray,
    temperature: float,
    dump_steps: np.ndarray,
    rng: np.random.Generator,
    path,
    *,
    ensemble: str = "nve",
    chunk: int = 10_000,
) -> int:
    """One long run from ``x0`` (N, 3) with Maxwell-Boltzmann velocities at ``temperature`` from
    ``rng``, written as a LAMMPS text dump at ``dump_steps`` (F,) (increasing, from 0):
    ``id type xu yu zu``, sorted by id, with ``ITEM: TIME`` (dump_modify time yes) and 10
    significant digits.  Same integrator as :func:`replica`.  Returns the number of frames.
    """
    steps = np.asarray(dump_steps, dtype=np.int64)
    if steps.ndim != 1 or steps[0] != 0 or np.any(np.diff(steps) <= 0):
        raise SimulationError(f"dump steps must start at 0 and increase, got {steps[:5]}...")
    v = maxwell_boltzmann(rng, system.n_particles, temperature, system.params.mass)
    lmp = build(system, x0, v)
    dump = (
        f"write_dump all custom {path} id type xu yu zu modify sort id time yes "
        "format float %.10g append yes"
    )
    try:
        _integrator(lmp, system, temperature, ensemble)
        done = 0
        for target in steps:
            while done < target:
                n = int(min(chunk, target - done))
                lmp.command(f"run {n} pre no post no")
                done += n
            lmp.command(dump)
    finally:
        lmp.close()
    return len(steps)


def thermo_trace(
    system: System,
    x: np.ndarray,
    temperature: float,
    steps: int,
    every: int,
    rng: np.random.Generator,
    *,
    ensemble: str = "nve",
) -> dict[str, np.ndarray]:
    """Energies and kinetic temperature every ``every`` steps of an NVE or NVT run from ``x``
    with Maxwell-Boltzmann velocities at ``temperature``.

    Returns arrays (S,) keyed ``time``, ``potential``, ``kinetic``, ``total`` (per particle) and
    ``temperature`` (kinetic, 3N - 3 degrees of freedom), S = steps // every + 1 (t = 0 first).
    """
    v = maxwell_boltzmann(rng, system.n_particles, temperature, system.params.mass)
    lmp = build(system, x, v)
    n = system.n_particles
    rows = []
    try:
        _integrator(lmp, system, temperature, ensemble)
        for i in range(steps // every + 1):
            if i:
                lmp.command(f"run {every} pre no post no")
            vel = velocities(lmp)
            ke = 0.5 * system.params.mass * float(np.sum(vel * vel))
            rows.append(
                (
                    i * every * system.dt,
                    potential_energy(lmp) / n,
                    ke / n,
                    kinetic_temperature(vel, system.params.mass),
                )
            )
    finally:
        lmp.close()
    a = np.asarray(rows)
    return {
        "time": a[:, 0],
        "potential": a[:, 1],
        "kinetic": a[:, 2],
        "total": a[:, 1] + a[:, 2],
        "temperature": a[:, 3],
    }
