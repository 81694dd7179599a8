"""Pools of Boltzmann configurations from MD: the base of the transports, the reference of evaluations.

Both start from stored, equilibrated configurations at the pool's temperature and continue them
with NVT chains (:func:`glassdyn.simulate.sampling.nvt_chain`) that save a configuration every
``spacing`` LJ time units, by default 2 tau_alpha(T) (the suite's unit of one independent MD
configuration).  The base of a transport (MD at a higher temperature, where tau_alpha is short) is
cheap to extend this way; the reference of ``glassdyn gen evaluate`` starts only from held-out
(test) configurations, never from what a fit saw.
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
    progress=None,
) -> Pool:
    """``n`` configurations at ``temperature`` from NVT chains continuing ``starts`` (S, N, 3)
    (equilibrated at that temperature): start k gives configurations k, k + S, ... of the pool,
    each chain saving one every ``spacing`` (default 2 tau_alpha).  ``progress(done)``: called
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
        x, e, c = nvt_chain(starts[k], types, box, temperature, per[k], spacing, rng)
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
