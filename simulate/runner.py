"""Dataset generation as independent work units on dask.distributed, resumable and reproducible.

Design
------
Every configuration ``c`` at temperature ``T`` is independent: it comes from its own random melt
seeded by ``(seed, T, c)`` and equilibrated for ``equilibration_tau`` x tau_alpha(T) (so
configurations are separated by far more than tau_alpha: they share no history at all).  Its
work is split into units:

- ``prepare``: melt + NVT equilibration, then the FIRE inherent structure; writes ``types``,
  ``box``, ``thermal/*`` and ``inherent/*`` of row ``c`` and returns the start positions;
- ``replicas[r0:r1]`` (one unit per block of ``replica_block`` replicas): each replica from the
  stored (float32) positions with Maxwell-Boltzmann velocities seeded by ``(seed, T, c, r)``;
  writes ``isoconfig/displacements[c, r]``;
- the driver then writes ``isoconfig/propensity[c]`` and, last, ``done[c]``.

Replicas are Newtonian (NVE, velocity Verlet) by default, as in the isoconfigurational ensemble
of Widmer-Cooper & Harrowell (Phys. Rev. Lett. 93, 135701 (2004)): the replicas then differ only
by their initial Maxwell-Boltzmann momenta (drawn at T, zero total momentum, kinetic temperature
exactly T), and no thermostat variable feeds back on the dynamics being measured.  Equilibration
fixes the potential energy at T, so each replica stays at T up to the NVE drift (measured
< 1e-3 per particle over 1e4 steps).  ``ensemble="nvt"`` (Nose-Hoover, same ``tdamp``) is
available to match datasets produced with a thermostat; the choice is recorded in the attrs.

Each unit writes only its own Zarr chunks (one configuration / replica per chunk), so no
locks are needed and no write is lost.  Each LAMMPS run starts in a fresh instance from explicit
arrays, so the arrays are bit-identical whatever the number of workers, the blocking, or
interruptions: a killed run is resumed by rerunning the same command, which recomputes exactly
the configurations whose ``done`` flag is missing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import GlassdynError, InputError, StoreError
from glassdyn.data.store import StatePoint, Store
from glassdyn.simulate import protocols
from glassdyn.simulate.cluster import dask_client, now, progress_bars
from glassdyn.simulate.presets import SimulationSettings

import glassdyn

STREAM_MELT, STREAM_REPLICA, STREAM_TRAJECTORY = 0, 1, 2
SEED_RULE = (
    "numpy PCG64 seeded by SeedSequence([seed, round(1000 T), c, stream, r]); "
    "stream 0 = melt positions and velocities of configuration c, stream 1 = velocities of replica r, "
    "stream 2 = velocities of the long trajectory"
)


def unit_rng(
    seed: int, temperature: float, config: int, stream: int, replica: int = 0
) -> np.random.Generator:
    """The random generator of one (T, c[, r]) task, derived deterministically from ``seed``."""
    return np.random.default_rng(
        np.random.SeedSequence(
            [int(seed), int(round(1000 * temperature)), int(config), stream, int(replica)]
        )
    )


@dataclass(frozen=True)
class Unit:
    """Address of one configuration's work (picklable; sent to dask workers)."""

    store: str
    settings: SimulationSettings
    seed: int
    temperature: float
    config: int

    def state(self) -> StatePoint:
        return Store.open(self.store, mode="r+").state(self.temperature)

    def where(self) -> str:
        return f"T={self.temperature:g} configuration {self.config}"


def prepare_unit(unit: Unit) -> np.ndarray:
    """Melt, equilibrate and quench configuration ``unit.config``; write its rows; return the
    (N, 3) float64 start positions of the replicas (the stored float32 positions)."""
    s = unit.settings
    system = s.system()
    rng = unit_rng(unit.seed, unit.temperature, unit.config, STREAM_MELT)
    try:
        x = protocols.equilibrate(
            system, unit.temperature, s.equilibration_time(unit.temperature), rng, s.melt
        )
        x32 = x.astype(np.float32)
        x32[x32 >= np.float32(system.box_length)] = 0.0
        x0 = x32.astype(np.float64)
        rows = {
            keys.TYPES: system.types,
            keys.BOX: system.box,
            keys.THERMAL_POSITIONS: x32,
            keys.THERMAL_ENERGY: protocols.energy(system, x0),
        }
        if s.inherent:
            inh = protocols.inherent_structure(system, x0, s.minimizer)
            rows |= {
                keys.INHERENT_POSITIONS: inh.positions,
                keys.INHERENT_ENERGY: inh.energy,
                keys.INHERENT_MAX_FORCE: inh.max_force,
            }
    except GlassdynError:
        raise
    except Exception as exc:  # LAMMPS raises plain Exception
        raise protocols.SimulationError(f"{unit.where()}: LAMMPS failed: {exc}") from exc
    unit.state().write(unit.config, **rows)
    return x0


def replica_unit(unit: Unit, x0: np.ndarray, r0: int, r1: int) -> int:
    """Run replicas ``r0 <= r < r1`` of configuration ``unit.config``; write their displacements."""
    s = unit.settings
    system = s.system()
    steps = s.sample_steps(unit.temperature)
    sp = unit.state()
    for r in range(r0, r1):
        rng = unit_rng(unit.seed, unit.temperature, unit.config, STREAM_REPLICA, r)
        try:
            disp = protocols.replica(system, x0, unit.temperature, steps, rng, ensemble=s.ensemble)
        except GlassdynError:
            raise
        except Exception as exc:
            raise protocols.SimulationError(
                f"{unit.where()} replica {r}: LAMMPS failed: {exc}"
            ) from exc
        sp.write_replica(unit.config, r, disp)
    return r1 - r0


def trajectory_path(store: str | os.PathLike, temperature: float, config: int) -> Path:
    """Where ``--trajectory`` writes configuration ``config`` at T: beside the store, in
    ``STORE.trajectories/T0.800/config0000.lammpstrj``."""
    from glassdyn.data.keys import group_name

    return Path(f"{store}.trajectories") / group_name(temperature) / f"config{config:04d}.lammpstrj"


def trajectory_unit(unit: Unit, x0: np.ndarray) -> int:
    """The long trajectory of configuration ``unit.config`` (written whole, then renamed)."""
    s = unit.settings
    path = trajectory_path(unit.store, unit.temperature, unit.config)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    rng = unit_rng(unit.seed, unit.temperature, unit.config, STREAM_TRAJECTORY)
    try:
        frames = protocols.trajectory(
            s.system(), x0, unit.temperature, s.trajectory_steps(unit.temperature), rng, partial,
            ensemble=s.ensemble,
        )  # fmt: skip
    except GlassdynError:
        raise
    except Exception as exc:
        raise protocols.SimulationError(f"{unit.where()} trajectory: LAMMPS failed: {exc}") from exc
    os.replace(partial, path)
    return frames


def finish_unit(unit: Unit) -> None:
    """Propensity from all replicas, then ``done`` (written last)."""
    sp = unit.state()
    if unit.settings.n_replicas > 0:
        sp.update_propensity(unit.config)
    sp.mark_done(unit.config)


# ---------------------------------------------------------------------------- store set-up
def state_attrs(
    settings: SimulationSettings, temperature: float, seed: int, lammps_version: str
) -> dict:
    """The attrs recorded on a state point: everything needed to reproduce its arrays."""
    system = settings.system()
    return {
        "temperature": float(temperature),
        "density": settings.density,
        "n_particles": settings.n_particles,
        "n_a": system.n_a,
        "box_length": system.box_length,
        "potential": {
            "model": "Kob-Andersen 80:20 (Phys. Rev. E 51, 4626 (1995))",
            "pair_style": "lj/cut, per-pair cutoff = cutoff * sigma_ab, truncated and shifted (pair_modify shift yes)",
            **settings.params.as_dict(),
        },
        "dt": settings.dt,
        "thermostat": {
            "style": "Nose-Hoover chain (LAMMPS fix nvt, chain 3)",
            "tdamp": settings.tdamp,
        },
        "melt": {
            "t_melt": settings.melt.t_melt,
            "melt_time": settings.melt.melt_time,
            "pushoff": f"pair_style soft A={settings.melt.pushoff_prefactor}, FIRE <= {settings.melt.pushoff_iterations} iterations",
        },
        "tau_alpha_estimate": settings.tau(temperature),
        "equilibration_time": settings.equilibration_time(temperature),
        "equilibration_steps": system.steps(settings.equilibration_time(temperature)),
        "replica_ensemble": settings.ensemble,
        "replica_velocities": "Maxwell-Boltzmann at T, zero total momentum, rescaled to exactly T",
        "times": [float(t) for t in settings.times_at(temperature)],
        "sample_steps": [int(k) for k in settings.sample_steps(temperature)],
        "n_replicas": settings.n_replicas,
        "trajectory": _trajectory_attrs(settings, temperature),
        "minimizer": settings.minimizer.as_dict() if settings.inherent else None,
        "seeds": {"seed": int(seed), "rule": SEED_RULE},
        "lammps_version": lammps_version,
        "glassdyn_version": glassdyn.__version__,
        "lammps_deck": protocols.deck(system),
    }


def _trajectory_attrs(settings: SimulationSettings, temperature: float) -> dict | None:
    if not settings.trajectory_blocks:
        return None
    steps = settings.trajectory_steps(temperature)
    return {
        "files": "STORE.trajectories/" + keys.group_name(temperature) + "/configCCCC.lammpstrj",
        "format": "LAMMPS text dump: id type xu yu zu, ITEM: TIME",
        "blocks": settings.trajectory_blocks,
        "frames": len(steps),
        "period_steps": int(steps[-1] // settings.trajectory_blocks),
        "block_steps": [int(k) for k in steps[: len(steps) // settings.trajectory_blocks]],
        "ensemble": settings.ensemble,
    }


def open_store(
    path: str | os.PathLike, settings: SimulationSettings, seed: int, lammps_version: str
) -> Store:
    """Create the store (or reopen it for resuming, refusing different settings)."""
    p = Path(path)
    fresh = not (p.exists() and any(p.iterdir()))
    store = Store.create(p)
    attrs = store.attrs
    if fresh:
        store.root.attrs.update({"simulation": settings.physics(), "seed": int(seed), "runs": []})
    else:
        if "simulation" not in attrs:
            raise StoreError(
                f"{p} exists but was not written by `glassdyn simulate`; choose another --out"
            )
        old, new = attrs["simulation"], settings.physics()
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != _jsonable(new.get(k)))
        if diff == ["trajectory_blocks"]:
            have, want = old.get("trajectory_blocks"), new.get("trajectory_blocks")
            raise InputError(
                f"{p} was simulated with --trajectory {have or 'none'}, asked {want or 'none'}: "
                "trajectories run with each configuration as it is simulated, so they cannot be "
                "added to (or dropped from) an existing store; simulate into a new --out with "
                f"--trajectory {want or have} and the same other options"
            )
        if diff:
            what = ", ".join(f"{k}: store {old.get(k)!r} vs asked {new.get(k)!r}" for k in diff[:4])
            raise InputError(
                f"{p} was simulated with other settings ({what}); use a new --out, or the same settings to resume"
            )
        if attrs.get("seed") != int(seed):
            raise InputError(
                f"{p} was simulated with --seed {attrs.get('seed')}, asked {seed}; use the same seed to resume or a new --out"
            )
    store.root.attrs.update(
        {"lammps_version": lammps_version, "glassdyn_version": glassdyn.__version__}
    )
    for T in settings.temperatures:
        store.create_state(
            T,
            n_configs=settings.n_configs,
            n_particles=settings.n_particles,
            n_replicas=settings.n_replicas,
            times=settings.times_at(T) if settings.n_replicas > 0 else None,
            inherent=settings.inherent,
            attrs=state_attrs(settings, T, seed, lammps_version),
        )
    return store


def _jsonable(v):
    import json

    return json.loads(json.dumps(v))


def _log_run(store: Store, entry: dict) -> int:
    runs = list(store.root.attrs.get("runs", []))
    runs.append(entry)
    store.root.attrs["runs"] = runs
    return len(runs) - 1


def _update_run(store: Store, index: int, **changes) -> None:
    runs = list(store.root.attrs.get("runs", []))
    runs[index] = {**runs[index], **changes}
    store.root.attrs["runs"] = runs


# ---------------------------------------------------------------------------- execution
def _blocks(settings: SimulationSettings) -> list[tuple[int, int]]:
    R = settings.n_replicas
    block = settings.replica_block or R
    return [(r0, min(R, r0 + block)) for r0 in range(0, R, block)] if R else []


def simulate(
    settings: SimulationSettings,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    command: Sequence[str] | None = None,
    on_done: Callable[[float, int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Store:
    """Generate (or complete) the dataset ``settings`` in the store ``out``.

    ``workers`` local worker processes (1 thread each) unless ``scheduler`` (a dask scheduler
    address) is given; ``workers=0`` runs every unit in this process without dask.  Only the
    configurations whose ``done`` flag is missing, or whose arrays cannot be read back, are
    computed.  ``on_done(T, c)`` is called after each configuration is marked done; ``log(line)``
    receives the plan (MD steps, estimated time) and the damaged configurations found.

    Refuses (before touching the store) a plan whose single MD runs exceed
    :data:`glassdyn.simulate.cost.MAX_RUN_STEPS` unless their lengths are explicit, and a store
    another process is writing (:func:`glassdyn.data.lock.write_lock`).
    """
    from glassdyn.data import outputs
    from glassdyn.data.lock import write_lock
    from glassdyn.simulate import cost

    outputs.check_output(out, outputs.STORE)
    settings.validate()
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    if workers < 0:
        raise InputError(f"--workers must be >= 0, got {workers}")
    cost.check_limits(settings)
    with write_lock(out, what="store"):
        return _simulate_locked(
            settings,
            out,
            seed,
            workers,
            scheduler,
            progress,
            command,
            on_done,
            log or (lambda line: None),
        )


def _damaged_to_missing(
    store: Store, settings: SimulationSettings, log: Callable[[str], None]
) -> None:
    """Withdraw every done configuration whose arrays are not all on disk (an array or a chunk
    deleted: :meth:`~glassdyn.data.store.StatePoint.check`) or cannot be read back, so it is
    recomputed."""
    for T in settings.temperatures:
        sp = store.state(T)
        unwritten = sp.check(required=tuple(keys.FIELDS))["unwritten"]  # simulate fills them all
        for c in sp.completed:
            c = int(c)
            reason = f"{unwritten[c]} is not on disk (deleted?)" if c in unwritten else sp.damage(c)
            if reason:
                log(f"T={T:g} configuration {c}: {reason}; recomputing it")
                sp.mark_not_done(c)


def _simulate_locked(
    settings, out, seed, workers, scheduler, progress, command, on_done, log
) -> Store:
    from glassdyn.simulate import cost
    from glassdyn.simulate.engine import lammps_version

    version = lammps_version()
    store = open_store(out, settings, seed, version)
    path = os.path.abspath(store.path)  # what workers open: a remote one has another cwd
    _damaged_to_missing(store, settings, log)
    todo = [
        Unit(path, settings, seed, T, int(c))
        for T in settings.temperatures
        for c in store.state(T).missing
    ]
    counts = {T: sum(1 for u in todo if u.temperature == T) for T in settings.temperatures}
    plans = [cost.plan_state(settings, T, n) for T, n in counts.items()]
    for line in cost.describe(plans, None if scheduler else max(1, workers)):
        log(line)
    # configuration-major order, colder (slower) state points first within a configuration
    todo.sort(key=lambda u: (u.config, u.temperature))
    run_index = _log_run(
        store,
        {
            "command": list(command) if command is not None else None,
            "preset": settings.name,
            "settings": _jsonable(settings.as_dict()),
            "seed": int(seed),
            "workers": workers,
            "scheduler": scheduler,
            "host": os.uname().nodename,
            "python": sys.version.split()[0],
            "lammps_version": version,
            "glassdyn_version": glassdyn.__version__,
            "start": now(),
            "end": None,
            "status": "running",
            "configurations_to_compute": len(todo),
        },
    )
    bars = _progress_bars(store, settings, progress)
    computed = 0

    def finished(u: Unit) -> None:
        nonlocal computed
        finish_unit(u)
        computed += 1
        if bars:
            bars[u.temperature].update(1)
        if on_done is not None:
            on_done(u.temperature, u.config)

    try:
        if not todo:
            pass
        elif workers == 0 and scheduler is None:
            for u in todo:
                x0 = prepare_unit(u)
                for r0, r1 in _blocks(settings):
                    replica_unit(u, x0, r0, r1)
                if settings.trajectory_blocks:
                    trajectory_unit(u, x0)
                finished(u)
        else:
            _run_dask(todo, settings, workers, scheduler, finished)
    except BaseException as exc:
        status = (
            "interrupted"
            if isinstance(exc, KeyboardInterrupt)
            else f"failed: {type(exc).__name__}: {exc}"
        )
        _update_run(store, run_index, end=now(), status=status, configurations_computed=computed)
        raise
    finally:
        for b in bars.values():
            b.close()
    _update_run(store, run_index, end=now(), status="complete", configurations_computed=computed)
    return store


def _run_dask(
    todo: list[Unit], settings: SimulationSettings, workers: int, scheduler: str | None, finished
) -> None:
    from dask.distributed import as_completed

    per_unit = max(1, settings.n_replica_blocks() + (settings.trajectory_blocks > 0))
    blocks = _blocks(settings)
    with dask_client(min(workers, len(todo) * per_unit), scheduler) as client:
        pending: dict[Unit, int] = {}
        owner = {}
        futures = []
        n = len(todo)
        for i, u in enumerate(todo):
            # ready replica blocks run before new melts, so configurations complete in order
            prep = client.submit(prepare_unit, u, pure=False, priority=-i)
            after = [client.submit(replica_unit, u, prep, r0, r1, pure=False, priority=2 * n - i)
                     for r0, r1 in blocks]  # fmt: skip
            if settings.trajectory_blocks:
                after.append(
                    client.submit(trajectory_unit, u, prep, pure=False, priority=2 * n - i)
                )
            if not after:
                after = [prep]
            pending[u] = len(after)
            for f in after:
                futures.append(f)
                owner[f.key] = u
        for fut in as_completed(futures):
            u = owner[fut.key]
            fut.result()  # re-raises a unit's error here
            pending[u] -= 1
            if pending[u] == 0:
                finished(u)


def _progress_bars(store: Store, settings: SimulationSettings, progress: bool) -> dict:
    rows = []
    for T in settings.temperatures:
        sp = store.state(T)
        rows.append((T, sp.n_configs, int(sp.done.sum()), "configurations"))
    return progress_bars(rows, progress)
