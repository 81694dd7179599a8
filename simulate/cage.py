"""Cage states for any store: each particle's position averaged inside its cage.

The cage state (Alkemade, Boattini, Filion, Smallenburg, Phys. Rev. Lett. 130, 228201 (2023))
is where each particle sits on average while it stays in its cage: here, the mean position over
``replicas`` short isoconfigurational runs from the stored thermal configuration (fresh
Maxwell-Boltzmann velocities at T, the integrator of the store's replicas), each sampled every
``every`` LJ time units up to ``time`` (about the start of the MSD plateau, well before
cage escapes):

    r_i^cage = r_i(0) + (1 / (R S)) sum_r sum_{s=1..S} [r_i^(r)(s every) - r_i(0)]   (unwrapped)

wrapped into the box.  ``glassdyn cage STORE`` computes it for every completed configuration
that lacks one, like ``glassdyn quench`` (:mod:`glassdyn.simulate.inherent`): one dask work unit
per configuration, each writing its own ``cage/positions`` row, then the driver sets
``cage/done[c]`` (written last), so a configuration killed half-way is computed again on the
next run.  Every replica starts a fresh LAMMPS instance from the stored float32 positions with
velocities from ``SeedSequence([seed, round(1000 T), c, 3, r])`` (the seed rule of
``glassdyn simulate``, stream 3), so the cage state is bit-identical whatever the worker count
or an interruption.  The protocol (:class:`CageOptions`) and the potential are recorded in the
state point's attrs (``cage``); a store already holding cage states of another protocol is
refused.  The store's write lock is held throughout.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from glassdyn.data import keys
from glassdyn.data.box import minimum_image
from glassdyn.data.errors import GlassdynError, InputError
from glassdyn.data.lock import write_lock
from glassdyn.data.store import StatePoint, Store
from glassdyn.simulate import protocols
from glassdyn.simulate.cluster import (
    check_inputs,
    execute,
    local_workers,
    log_run,
    now,
    progress_bars,
    run_entry,
)
from glassdyn.simulate.inherent import recorded_potential
from glassdyn.simulate.ka import KAParameters
from glassdyn.simulate.runner import unit_rng


STREAM_CAGE = 3  # the fourth stream of the seed rule of `glassdyn simulate` (runner.SEED_RULE)
FIELDS = (keys.CAGE_POSITIONS, keys.CAGE_DONE)
ESCAPE = 0.5  # sigma_AA: a replica's particle farther than this from its start has left its cage


@dataclass(frozen=True)
class CageOptions:
    """The pinned protocol of a cage state (times in LJ units).

    replicas: isoconfigurational runs averaged; time: length of each run (the MSD plateau: after
    the ballistic regime, before cage escapes; 1.0 by default, shorter than tau_alpha down to
    T=0.8 for KA at density 1.2); every: sampling interval of the time average; ensemble: nve
    (velocity Verlet, as the store's replicas) or nvt (Nose-Hoover, ``tdamp``); dt: time step;
    seed: of the replicas' velocities.
    """

    replicas: int = 16
    time: float = 1.0
    every: float = 0.05
    ensemble: str = "nve"
    dt: float = 0.005
    tdamp: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        checks = (
            ("--replicas", self.replicas, self.replicas >= 1, ">= 1"),
            ("--time", self.time, math.isfinite(self.time) and self.time > 0, "positive"),
            ("--dt", self.dt, math.isfinite(self.dt) and self.dt > 0, "positive"),
            ("--every", self.every, math.isfinite(self.every) and self.every > 0, "positive"),
            ("--seed", self.seed, self.seed >= 0, ">= 0"),
        )
        for flag, value, ok, want in checks:
            if not ok:
                raise InputError(f"{flag} must be {want}, got {value}")
        if self.ensemble not in ("nve", "nvt"):
            raise InputError(f"--ensemble must be nve or nvt, got {self.ensemble!r}")
        if self.every > self.time:
            raise InputError(f"--every ({self.every:g}) must not exceed --time ({self.time:g})")

    def sample_steps(self) -> np.ndarray:
        """(S,) MD steps at which positions enter the average: every ``every`` up to ``time``."""
        every = max(1, round(self.every / self.dt))
        total = max(every, round(self.time / self.dt))
        return np.arange(every, total + 1, every, dtype=np.int64)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CageUnit:
    """One configuration (picklable; sent to dask workers)."""

    store: str
    temperature: float
    config: int
    options: CageOptions
    params: KAParameters


@dataclass(frozen=True)
class CageResult:
    temperature: float
    config: int
    rms_shift: float  # sqrt(mean |r_cage - r_thermal|^2), minimum image
    escaped: float  # fraction of (replica, particle) farther than ESCAPE from the start at the end
    seconds: float


def cage_state(
    system: protocols.System,
    x0: np.ndarray,
    temperature: float,
    options: CageOptions,
    rngs: Sequence[np.random.Generator],
    *,
    types: np.ndarray | None = None,
    box: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """The cage state (N, 3) float64 of ``x0`` (N, 3) (unwrapped: ``x0`` plus the mean
    displacement), one replica per generator of ``rngs``; and the fraction of (replica, particle)
    pairs displaced by more than :data:`ESCAPE` at the end of the run."""
    steps = options.sample_steps()
    total = np.zeros_like(np.asarray(x0, dtype=np.float64))
    escaped = 0
    for rng in rngs:
        d = protocols.replica(
            system, x0, temperature, steps, rng, ensemble=options.ensemble, types=types, box=box
        )  # (S, N, 3)
        total += d.mean(axis=0)
        escaped += int(np.sum(np.linalg.norm(d[-1], axis=1) > ESCAPE))
    n = len(rngs)
    return np.asarray(x0, dtype=np.float64) + total / n, escaped / (n * len(x0))


def cage_unit(unit: CageUnit) -> CageResult:
    """Compute the cage state of configuration ``unit.config``; write its row (not the flag)."""
    t0 = time.perf_counter()
    o = unit.options
    sp = Store.open(unit.store, mode="r+").state(unit.temperature)
    c = unit.config
    x = sp.read(keys.THERMAL_POSITIONS, c).astype(np.float64)
    types = sp.read(keys.TYPES, c)
    box = sp.read(keys.BOX, c)
    system = protocols.System(n_particles=len(types), dt=o.dt, tdamp=o.tdamp, params=unit.params)
    rngs = [unit_rng(o.seed, unit.temperature, c, STREAM_CAGE, r) for r in range(o.replicas)]
    try:
        cage, escaped = cage_state(system, x, unit.temperature, o, rngs, types=types, box=box)
    except GlassdynError:
        raise
    except Exception as exc:  # LAMMPS raises plain Exception
        raise protocols.SimulationError(
            f"T={unit.temperature:g} configuration {c}: LAMMPS failed: {exc}"
        ) from exc
    box32 = box.astype(np.float32)
    x32 = np.mod(cage, box).astype(np.float32)
    x32[x32 >= box32] = 0.0
    sp.write(c, **{keys.CAGE_POSITIONS: x32})
    shift = minimum_image(x32.astype(np.float64) - x, box)
    rms = float(np.sqrt(np.mean(np.sum(shift**2, axis=1))))
    return CageResult(unit.temperature, c, rms, escaped, time.perf_counter() - t0)


# ------------------------------------------------------------------------------ the report
@dataclass
class StateReport:
    temperature: float
    n_configs: int
    already: int = 0  # configurations that had a cage state before this run
    incomplete: list[int] = field(default_factory=list)  # not complete: skipped
    computed: list[CageResult] = field(default_factory=list)


@dataclass
class CageReport:
    store: str
    states: list[StateReport]
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = []
        for s in self.states:
            line = (
                f"{self.store} T={s.temperature:g}: {len(s.computed)} cage states computed, "
                f"{s.already} already had one, {len(s.incomplete)} incomplete (skipped) of "
                f"{s.n_configs}"
            )
            if s.computed:
                rms = np.array([r.rms_shift for r in s.computed])
                esc = np.array([r.escaped for r in s.computed])
                sec = np.array([r.seconds for r in s.computed])
                line += (
                    f"; rms shift from the thermal positions {np.median(rms):.3f} sigma, "
                    f"{100 * np.median(esc):.2f}% of particles beyond {ESCAPE:g} sigma at the end "
                    f"of a run, {np.median(sec):.1f} s per configuration (medians)"
                )
            out.append(line)
            if s.incomplete:
                out.append(
                    f"  configurations {s.incomplete[:10]}{' ...' if len(s.incomplete) > 10 else ''} "
                    "are not complete (no thermal structure): finish the simulation or import first"
                )
        out.append(f"cage: {self.seconds:.1f} s")
        return out


# ------------------------------------------------------------------------------ set-up
def _settings(sp: StatePoint, options: CageOptions | dict | None) -> CageOptions:
    """The protocol for ``sp``: ``options``, or the recorded one (else the default) with the
    fields of an ``options`` dict changed; refuses one other than that of the cage states it
    holds."""
    rec = (sp.attrs.get("cage") or {}).get("protocol")
    names = set(CageOptions.__dataclass_fields__)
    recorded = CageOptions(**rec) if isinstance(rec, dict) and set(rec) <= names else None
    if isinstance(options, CageOptions):
        opts = options
    else:
        opts = replace(recorded or CageOptions(), **(options or {}))
    if sp.cage_done.any() and opts != recorded:
        if recorded is None:
            diff = {"recorded": rec, "asked": opts.as_dict()}
        else:
            new = opts.as_dict()
            diff = {k: (v, new[k]) for k, v in recorded.as_dict().items() if new[k] != v}
        raise InputError(
            f"store {sp.store_path} {sp.name} holds cage states of another protocol (recorded vs "
            f"asked: {diff}); the cage state depends on it: use a copy without them instead"
        )
    return opts


def _prepare(store: Store, sp: StatePoint, opts: CageOptions, params: KAParameters) -> StatePoint:
    """Create the cage arrays and record the protocol."""
    sp = store.create_state(
        sp.temperature,
        n_configs=sp.n_configs,
        n_particles=sp.n_particles,
        n_replicas=sp.n_replicas,
        times=sp.times,
        fields=list(FIELDS),
    )
    rec = dict(sp.attrs.get("cage") or {})
    rec.update(
        {
            "protocol": opts.as_dict(),
            "definition": (
                "cage state (Alkemade et al., PRL 130, 228201 (2023)): thermal positions plus the "
                "mean unwrapped displacement over `replicas` runs from them (fresh Maxwell-Boltzmann "
                "velocities at T, zero total momentum), sampled every `every` up to `time`; wrapped"
            ),
            "seeds": "numpy PCG64 seeded by SeedSequence([seed, round(1000 T), c, 3, r])",
            "potential": {**params.as_dict(), "pair_style": "lj/cut, per-pair cutoff, shifted"},
        }
    )
    sp.group.attrs["cage"] = rec
    return sp


# ------------------------------------------------------------------------------ execution
def add_cage_states(
    path: str | os.PathLike,
    *,
    temperatures: Sequence[float] | None = None,
    options: CageOptions | dict | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
    command: Sequence[str] | None = None,
) -> CageReport:
    """Add cage states to every completed configuration of ``path`` that lacks one.

    ``workers`` local dask processes (1 thread each; None: one per CPU; 0: in this process)
    unless ``scheduler`` (an address) is given.  ``options``: the protocol (default: the one the
    store records, else :class:`CageOptions`; a dict changes only the fields it names).  Rerunning resumes.
    """
    workers = local_workers(workers)
    store = Store.open(path, mode="r+")
    t0 = time.perf_counter()
    with write_lock(store.path, what="store"):
        states = store.states(temperatures)
        if not states:
            raise InputError(f"store {store.path} has no state points")
        settings = [_settings(sp, options) for sp in states]  # every check before any write
        inputs = (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS)
        check_inputs(states, lambda sp: sp.done & ~sp.cage_done, inputs)
        entry = run_entry(command, workers, scheduler)
        todo, reports = [], {}
        where = os.path.abspath(store.path)  # a remote worker has its own working directory
        for sp, opts in zip(states, settings):
            params = recorded_potential(sp)
            sp = _prepare(store, sp, opts, params)
            have, done = sp.cage_done, sp.done
            T = sp.temperature
            reports[T] = StateReport(
                T, sp.n_configs, int(have.sum()), np.flatnonzero(~done).tolist()
            )
            units = [CageUnit(where, T, int(c), opts, params) for c in np.flatnonzero(done & ~have)]
            log_run(sp.group, "cage", {**entry, "to_compute": len(units)})
            todo += units
        _execute(store, states, todo, reports, entry, workers, scheduler, progress)
    for r in reports.values():
        r.computed.sort(key=lambda x: x.config)
    return CageReport(str(store.path), list(reports.values()), time.perf_counter() - t0)


def _execute(store, states, todo, reports, entry, workers, scheduler, progress) -> None:
    """Run the units; flag each result (``cage/done``, last); log the run's end."""
    rows = []
    for sp in states:
        sp = store.state(sp.temperature)
        rows.append((sp.temperature, int(sp.done.sum()), int(sp.cage_done.sum()), "cage states"))
    bars = progress_bars(rows, progress)

    def finished(res: CageResult) -> None:
        store.state(res.temperature).array(keys.CAGE_DONE)[res.config] = True  # last
        reports[res.temperature].computed.append(res)
        if bars:
            bars[res.temperature].update(1)

    def log_end(status: str) -> None:
        for T, r in reports.items():
            end = {
                "to_compute": sum(u.temperature == T for u in todo),
                "end": now(),
                "status": status,
                "computed": len(r.computed),
            }
            log_run(store.state(T).group, "cage", {**entry, **end}, replace_last=True)

    execute(todo, cage_unit, finished, workers, scheduler, bars, log_end)
