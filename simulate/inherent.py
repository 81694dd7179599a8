"""Inherent structures for any store: FIRE-quench every configuration that lacks one.

``glassdyn quench STORE`` runs the pinned LAMMPS FIRE minimiser of ``glassdyn simulate``
(:class:`~glassdyn.simulate.protocols.MinimizerOptions`, through
:func:`~glassdyn.simulate.protocols.inherent_structure`) on the thermal positions of each completed
configuration whose inherent structure (IS) is missing: imported BOTAN / LAMMPS / extxyz stores,
or a store simulated with ``--no-inherent``.  One work unit per configuration (dask, like
``simulate``), each writing only its own chunks:

- the unit writes ``inherent/energy`` and ``inherent/max_force`` and, when FIRE converged
  (largest force component <= ``ftol``), ``inherent/positions``;
- the driver then sets ``inherent/done[c]`` (written last), so a configuration killed half-way
  is quenched again on the next run, and a non-converged one keeps NaN positions and no flag
  (it is reported, never stored as an inherent structure; reading its IS is refused).

Every LAMMPS run starts in a fresh instance from the stored float32 positions, so the IS is the
same whatever the worker count or an interruption.  The minimiser and potential are recorded in
the state point's attrs (``quench``); a store already holding inherent structures from another
minimiser is refused (the IS depends on the minimiser).  The store's write lock is held
throughout.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from glassdyn.data import keys
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
from glassdyn.simulate.ka import KAParameters
from glassdyn.simulate.protocols import MinimizerOptions


FIELDS = (
    keys.INHERENT_POSITIONS,
    keys.INHERENT_ENERGY,
    keys.INHERENT_MAX_FORCE,
    keys.INHERENT_DONE,
)


@dataclass(frozen=True)
class QuenchUnit:
    """One configuration to quench (picklable; sent to dask workers)."""

    store: str
    temperature: float
    config: int
    options: MinimizerOptions
    params: KAParameters


@dataclass(frozen=True)
class QuenchResult:
    temperature: float
    config: int
    energy: float  # per particle
    max_force: float  # largest force component at the end of FIRE
    iterations: int
    converged: bool
    seconds: float


def quench_unit(unit: QuenchUnit) -> QuenchResult:
    """Quench configuration ``unit.config``; write its IS rows (not the flag); return the result."""
    t0 = time.perf_counter()
    sp = Store.open(unit.store, mode="r+").state(unit.temperature)
    c = unit.config
    x = sp.read(keys.THERMAL_POSITIONS, c).astype(np.float64)
    types = sp.read(keys.TYPES, c)
    box = sp.read(keys.BOX, c)
    system = protocols.System(n_particles=len(types), params=unit.params)
    try:
        inh = protocols.inherent_structure(system, x, unit.options, types=types, box=box)
    except GlassdynError:
        raise
    except Exception as exc:  # LAMMPS raises plain Exception
        raise protocols.SimulationError(
            f"T={unit.temperature:g} configuration {c}: LAMMPS FIRE failed: {exc}"
        ) from exc
    converged = bool(
        np.isfinite(inh.max_force)
        and inh.max_force <= unit.options.ftol
        and np.all(np.isfinite(inh.positions))
    )
    rows = {keys.INHERENT_ENERGY: inh.energy, keys.INHERENT_MAX_FORCE: inh.max_force}
    if converged:
        x32 = inh.positions.astype(np.float32)
        x32[x32 >= box.astype(np.float32)] = 0.0
        rows[keys.INHERENT_POSITIONS] = x32
    sp.write(c, **rows)
    return QuenchResult(
        unit.temperature, c, inh.energy, inh.max_force, inh.iterations, converged,
        time.perf_counter() - t0,
    )  # fmt: skip


# ------------------------------------------------------------------------------ the report
@dataclass
class StateReport:
    temperature: float
    n_configs: int
    already: int = 0  # configurations that had a converged IS before this run
    incomplete: list[int] = field(default_factory=list)  # no thermal structure yet: skipped
    quenched: list[QuenchResult] = field(default_factory=list)

    @property
    def unconverged(self) -> list[QuenchResult]:
        return [r for r in self.quenched if not r.converged]


@dataclass
class QuenchReport:
    store: str
    states: list[StateReport]
    seconds: float = 0.0

    @property
    def unconverged(self) -> list[QuenchResult]:
        return [r for s in self.states for r in s.unconverged]

    def lines(self) -> list[str]:
        out = []
        for s in self.states:
            ok = [r for r in s.quenched if r.converged]
            line = (
                f"{self.store} T={s.temperature:g}: {len(ok)} quenched, {s.already} already had an "
                f"inherent structure, {len(s.unconverged)} did not converge, "
                f"{len(s.incomplete)} incomplete (skipped) of {s.n_configs}"
            )
            if ok:
                f = np.array([r.max_force for r in ok])
                it = np.array([r.iterations for r in ok])
                sec = np.array([r.seconds for r in ok])
                line += (
                    f"; max force <= {f.max():.3g}, {int(np.median(it))} FIRE iterations and "
                    f"{np.median(sec):.1f} s per configuration (median)"
                )
            out.append(line)
            for r in s.unconverged:
                out.append(
                    f"  T={s.temperature:g} configuration {r.config}: FIRE stopped after "
                    f"{r.iterations} iterations with max force {r.max_force:.3g} > ftol; "
                    "its inherent structure is NOT stored"
                )
            if s.incomplete:
                out.append(
                    f"  configurations {s.incomplete[:10]}{' ...' if len(s.incomplete) > 10 else ''} "
                    "are not complete (no thermal structure): finish the simulation or import first"
                )
        out.append(f"quench: {self.seconds:.1f} s")
        return out

    def warning(self) -> str | None:
        """What to tell the user when some configuration did not converge (None: all did)."""
        if not self.unconverged:
            return None
        return (
            f"{len(self.unconverged)} configuration(s) did not converge (listed above); they "
            "have no inherent structure, and IS-based inputs refuse them"
        )


# ------------------------------------------------------------------------------ set-up
def _recorded(sp: StatePoint) -> tuple[MinimizerOptions | None, KAParameters | None]:
    """Minimiser and potential the state point's inherent structures were (or will be) made with."""
    attrs = sp.attrs
    q = attrs.get("quench") or {}
    mini = q.get("minimizer") or attrs.get("minimizer")
    pot = q.get("potential") or attrs.get("potential")
    names = set(KAParameters.__dataclass_fields__)
    params = KAParameters(**{k: v for k, v in pot.items() if k in names}) if pot else None
    return (MinimizerOptions(**mini) if mini else None), params


def recorded_potential(sp: StatePoint) -> KAParameters:
    """The KA parameters a state point records (of its simulation or its quench), else the
    defaults (imported data)."""
    return _recorded(sp)[1] or KAParameters()


def _settings(
    sp: StatePoint, options: MinimizerOptions | None
) -> tuple[MinimizerOptions, KAParameters]:
    """The FIRE options and potential for ``sp``; refuses options other than those of its IS."""
    rec_opts, rec_params = _recorded(sp)
    opts = options or rec_opts or MinimizerOptions()
    if rec_opts is not None and opts != rec_opts and sp.inherent_done.any():
        new = opts.as_dict()
        diff = {k: (v, new[k]) for k, v in rec_opts.as_dict().items() if new[k] != v}
        raise InputError(
            f"store {sp.store_path} {sp.name} holds inherent structures from another minimiser "
            f"(recorded vs asked: {diff}); the IS depends on it: quench a copy without them instead"
        )
    return opts, rec_params or KAParameters()


def _prepare(
    store: Store, sp: StatePoint, opts: MinimizerOptions, params: KAParameters
) -> StatePoint:
    """Create the IS arrays (``inherent/done`` from existing IS rows) and record the settings."""
    had = sp.inherent_done
    created = not sp.has(keys.INHERENT_DONE)
    sp = store.create_state(
        sp.temperature,
        n_configs=sp.n_configs,
        n_particles=sp.n_particles,
        n_replicas=sp.n_replicas,
        times=sp.times,
        fields=list(FIELDS),
    )
    if created and had.any():  # a simulated store: its IS rows count as done
        sp.array(keys.INHERENT_DONE)[:] = had
    q = dict(sp.attrs.get("quench") or {})
    q.update(
        {
            "minimizer": opts.as_dict(),
            "minimizer_note": "LAMMPS min_style fire, the options of `glassdyn simulate`; converged = max force component <= ftol",
            "potential": {**params.as_dict(), "pair_style": "lj/cut, per-pair cutoff, shifted"},
        }
    )
    sp.group.attrs["quench"] = q
    return sp


def _log(sp: StatePoint, entry: dict, replace_last: bool = False) -> None:
    """Append ``entry`` to the state point's ``quench.runs`` (or replace this run's entry)."""
    log_run(sp.group, "quench", entry, replace_last)


# ------------------------------------------------------------------------------ execution
def add_inherent_structures(
    path: str | os.PathLike,
    *,
    temperatures: Sequence[float] | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    options: MinimizerOptions | None = None,
    progress: bool = True,
    command: Sequence[str] | None = None,
) -> QuenchReport:
    """Add inherent structures to every completed configuration of ``path`` that lacks one.

    ``workers`` local dask processes (1 thread each; None: one per CPU) unless ``scheduler`` (an
    address) is given; ``workers=0`` quenches in this process.  ``options``: the FIRE settings (default: those the
    store records, else :class:`MinimizerOptions`).  Rerunning resumes.  Returns the report;
    non-converged configurations are listed in it (``report.unconverged``), not stored.
    """
    workers = local_workers(workers)
    store = Store.open(path, mode="r+")
    t0 = time.perf_counter()
    with write_lock(store.path, what="store"):
        states = store.states(temperatures)
        if not states:
            raise InputError(f"store {store.path} has no state points to quench")
        settings = [_settings(sp, options) for sp in states]  # every check before any write
        inputs = (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS)
        check_inputs(states, lambda sp: sp.done & ~sp.inherent_done, inputs)
        entry = run_entry(command, workers, scheduler)
        todo, reports = [], {}
        for sp, (opts, params) in zip(states, settings):
            sp = _prepare(store, sp, opts, params)
            inh, done = sp.inherent_done, sp.done
            T = sp.temperature
            reports[T] = StateReport(
                T, sp.n_configs, int(inh.sum()), np.flatnonzero(~done).tolist()
            )
            # the path the workers open: absolute (a remote worker has its own working directory)
            where = os.path.abspath(store.path)
            units = [
                QuenchUnit(where, T, int(c), opts, params) for c in np.flatnonzero(done & ~inh)
            ]
            _log(sp, {**entry, "to_quench": len(units)})
            todo += units
        _execute(store, states, todo, reports, entry, workers, scheduler, progress)
    for r in reports.values():
        r.quenched.sort(key=lambda x: x.config)
    return QuenchReport(str(store.path), list(reports.values()), time.perf_counter() - t0)


def _execute(store, states, todo, reports, entry, workers, scheduler, progress) -> None:
    """Run the units (in this process or on dask); flag each result; log the run's end."""
    bars = _progress_bars(store, states, progress)

    def finished(res: QuenchResult) -> None:
        store.state(res.temperature).array(keys.INHERENT_DONE)[res.config] = res.converged  # last
        reports[res.temperature].quenched.append(res)
        if bars:
            bars[res.temperature].update(1)

    def log_end(status: str) -> None:
        for T, r in reports.items():
            end = {
                "to_quench": sum(u.temperature == T for u in todo),
                "end": now(),
                "status": status,
                "quenched": len(r.quenched) - len(r.unconverged),
                "unconverged": {str(x.config): x.max_force for x in r.unconverged},
            }
            _log(store.state(T), {**entry, **end}, replace_last=True)

    execute(todo, quench_unit, finished, workers, scheduler, bars, log_end)


def _progress_bars(store: Store, states: list[StatePoint], progress: bool) -> dict:
    rows = []
    for sp in states:
        sp = store.state(sp.temperature)
        rows.append(
            (sp.temperature, int(sp.done.sum()), int(sp.inherent_done.sum()), "inherent structures")
        )
    return progress_bars(rows, progress)
