"""Pools of Boltzmann configurations from MD: the base of the transports, the reference of evaluations.

Both start from stored, equilibrated configurations at the pool's temperature and continue them
with NVT chains (:func:`glassdyn.simulate.sampling.nvt_chain`) that save a configuration every
``spacing`` LJ time units, by default 2 tau_alpha(T) (the suite's unit of one independent MD
configuration).  The base of a transport (MD at a higher temperature, where tau_alpha is short) is
cheap to extend this way; the reference of ``glassdyn gen evaluate`` starts only from held-out
(test) configurations, never from what a fit saw.

A base temperature the store lacks is *bridged*: its chains start from the store's configurations
at the nearest temperature above (:func:`base_source`) and first run ``BRIDGE_TAU_ALPHAS``
tau_alpha at the base temperature (``warmup``).  The transports' default base is bridged when the
store's nearest temperature above the target is too far for its population to survive the
annealing (:func:`bridge_temperature`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from glassdyn.simulate.sampling import MoveStats, nvt_chain


def tau_alpha(temperature: float, n_particles: int) -> float:
    """The suite's tau_alpha estimate at T for a system of ``n_particles`` (the N=256 table below
    N=600, the N=1000 one above): :func:`glassdyn.simulate.presets.tau_alpha_estimate`."""
    from glassdyn.simulate.presets import TAU_ALPHA_ESTIMATES, TAU_ALPHA_N256, tau_alpha_estimate

    table = TAU_ALPHA_N256 if n_particles < 600 else TAU_ALPHA_ESTIMATES
    return tau_alpha_estimate(float(temperature), table)


@dataclass
class Pool:
    """positions (n, N, 3) wrapped, total energies (n,), ``start`` (n,) the index of the starting
    configuration of each one's chain, and what the chains cost."""

    positions: np.ndarray
    energy: np.ndarray
    start: np.ndarray
    temperature: float
    spacing: float
    cost: MoveStats


# How far a base may be.  The identity's log-weights from T0 to T, -(1/T - 1/T0) U, have the
# standard deviation |1/T - 1/T0| T0 sqrt(N c_v) with c_v the potential energy's heat capacity per
# particle (~2 for KA at T=0.5-0.8: 0.8-2.3 from 32 configurations of each N=256 store state).
# Measured at N=256 (docs/benchmarks.md, fifth and sixth rounds): bases at spread 2.7-3.2
# (0.72 -> 0.64, 0.64 -> 0.56, 0.56 -> 0.5) kept 6-15 families and passed every test, the spread
# 5.7 of 0.8 -> 0.64 kept 1.5-4 and failed the chemical order even with a population of 256.
HEAT_CAPACITY = 2.0
SPREAD_BRIDGE = 4.0  # a store base farther than this from the warmest target is bridged ...
SPREAD_TARGET = 3.0  # ... by one this far (rounded down to 0.01)
BRIDGE_TAU_ALPHAS = 10.0  # NVT at a bridged base temperature before its chains save anything


def log_weight_spread(temperature: float, base: float, n_particles: int) -> float:
    """The standard deviation of the identity's log-weights from ``base`` to ``temperature``
    (canonical energy fluctuations at the base, heat capacity ``HEAT_CAPACITY``)."""
    return abs(1 / temperature - 1 / base) * base * math.sqrt(n_particles * HEAT_CAPACITY)


def bridge_temperature(temperature: float, base: float, n_particles: int) -> float | None:
    """The base temperature that should replace ``base`` for a target ``temperature`` (None when
    ``base`` is close enough): the spread ``SPREAD_TARGET`` above the target, to 0.01 below."""
    if log_weight_spread(temperature, base, n_particles) <= SPREAD_BRIDGE:
        return None
    t = close_base(temperature, n_particles)
    return t if t > temperature + 1e-9 and t < base else None


def close_base(temperature: float, n_particles: int) -> float:
    """The base temperature whose identity log-weights at ``temperature`` spread
    ``SPREAD_TARGET``, rounded down to 0.01."""
    t = temperature * (1 + SPREAD_TARGET / math.sqrt(n_particles * HEAT_CAPACITY))
    return math.floor(t * 100 + 1e-9) / 100


def base_source(store_temperatures, base: float) -> float:
    """The store temperature whose configurations start the chains of a base at ``base``: itself
    when the store has it, else the nearest above (the nearest below when none is above)."""
    from glassdyn.data.keys import same_temperature

    temps = [float(t) for t in store_temperatures]
    if not temps:
        raise ValueError("a store without temperatures has no base configurations")
    for t in temps:
        if same_temperature(t, base):
            return t
    above = [t for t in temps if t > base]
    return min(above) if above else max(temps)


def bridge_warmup(base: float, source: float, n_particles: int) -> float:
    """LJ time of NVT at ``base`` before a chain from ``source`` configurations saves anything."""
    from glassdyn.data.keys import same_temperature

    if same_temperature(base, source):
        return 0.0
    return BRIDGE_TAU_ALPHAS * tau_alpha(base, n_particles)


def chain_of(n: int, n_starts: int) -> np.ndarray:
    """The chain each of the ``n`` configurations of :func:`md_pool` comes from (``n_starts``
    starting configurations: start k gives configurations k, k + S, ...)."""
    return np.arange(n) % n_starts


def md_pool(
    starts: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    temperature: float,
    n: int,
    rng: np.random.Generator,
    *,
    spacing: float | None = None,
    warmup: float = 0.0,
    progress=None,
) -> Pool:
    """``n`` configurations at ``temperature`` from NVT chains continuing ``starts`` (S, N, 3)
    (equilibrated at that temperature): start k gives configurations k, k + S, ... of the pool,
    each chain saving one every ``spacing`` (default 2 tau_alpha) after ``warmup`` LJ time units
    (the equilibration of starts from another temperature).  ``progress(done)``: called
    after each chain with the number of configurations made so far."""
    starts = np.asarray(starts, dtype=np.float64)
    if starts.ndim != 3 or len(starts) == 0:
        raise ValueError(f"md_pool needs starting configurations (S, N, 3), got {starts.shape}")
    N = starts.shape[1]
    spacing = 2.0 * tau_alpha(temperature, N) if spacing is None else float(spacing)
    S = len(starts)
    per = [len(range(k, n, S)) for k in range(S)]
    pos = np.empty((n, N, 3))
    energy = np.empty(n)
    origin = chain_of(n, S)
    cost = MoveStats()
    done = 0
    for k in range(min(S, n)):
        x, e, c = nvt_chain(starts[k], types, box, temperature, per[k], spacing, rng, warmup=warmup)
        rows = np.arange(k, n, S)
        pos[rows], energy[rows] = x, e
        cost = cost.add(c)
        done += per[k]
        if progress is not None:
            progress(done)
    return Pool(pos, energy, origin, float(temperature), spacing, cost)


def chains_needed(n: int, n_starts: int) -> int:
    """Configurations per chain when ``n`` come from ``n_starts`` starting configurations."""
    return math.ceil(n / max(n_starts, 1))
