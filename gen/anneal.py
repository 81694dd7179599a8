"""Annealed transport: population annealing from a higher temperature, with an optional learned map.

A population of M configurations drawn from the Boltzmann distribution at T_0 (MD at a higher
temperature, :mod:`glassdyn.gen.mdpool`) is carried down a ladder T_0 > T_1 > ... > T_K = T.  At a
step from T_k to T_k+1 every member is moved by the transport x' = f(x; T_k, T_k+1) (the identity
for plain population annealing), and its log weight gains the exact increment

    log w += -U(x') / T_k+1 + U(x) / T_k + log |det df / dx|(x)

(for a stochastic estimate of the log-determinant with variance s^2, ``- s^2 / 2`` more: the
cumulant correction that makes exp of a Gaussian estimate unbiased).  When the Kish ESS of the
weights falls below ``resample_below`` M the population is resampled (systematic resampling),
then every member takes Hybrid Monte Carlo moves at T_k+1 (:func:`glassdyn.simulate.sampling.hmc`),
which leave exp(-U / T_k+1) invariant.  A learned transport makes the first step, from the base
temperature it was fitted from, as far down as its weights allow (bisection on a few members for
the ESS target); the steps after it are plain population annealing, each chosen so that the
identity increments keep a conditional ESS of ``ess_target``.  This is sequential Monte Carlo with annealed importance
weights (Neal, Stat. Comput. 11, 125 (2001); population annealing: Hukushima & Iba 2003,
Machta 2010; with learned transports: Arbel, Matthews & Doucet, ICML 2021): weighted averages over
the final population are consistent for the Boltzmann distribution at T for any transport and any
ladder, the transport and the ladder only decide the variance.  Jung, Biroli & Berthier (Mach.
Learn.: Sci. Technol. 5, 035053 (2024)) found normalizing flows from high-temperature
configurations to perform like population annealing on a supercooled liquid; with the identity
transport this module *is* population annealing, the ablation of every learned transport.

Quality of a run: the ESS of the final weights and the effective number of families
M^2 / sum_f n_f^2 (n_f members descending from base configuration f; Wang, Machta & Katzgraber,
Phys. Rev. E 92, 063307 (2015)): members of one family are correlated, so the smaller of the two
bounds the number of independent configurations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from glassdyn.simulate.sampling import HMCOptions, MoveStats, hmc

# transport(x (M, N, 3), T_from, T_to) -> (x', log|det| (M,), variance of the log|det| estimate (M,) or None)
Transport = Callable[[np.ndarray, float, float], tuple[np.ndarray, np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class AnnealOptions:
    """The ladder and the moves.  ``steps``: temperature steps (None: chosen adaptively so that each
    step's identity increments keep a conditional ESS of ``ess_target`` M); ``resample_below``:
    resample when ESS / M falls below it; ``hmc``: the moves after each step (the sampler's
    longer refinement at the target temperature is its own: :func:`glassdyn.gen.sampler.transported`)."""

    steps: int | None = None
    ess_target: float = 0.5
    resample_below: float = 0.5
    hmc: HMCOptions = HMCOptions(leapfrog=50, sweeps=4)

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"annealing steps must be >= 1, got {self.steps}")
        if not 0 < self.ess_target < 1 or not 0 <= self.resample_below <= 1:
            raise ValueError("ess_target must be in (0, 1) and resample_below in [0, 1]")


@dataclass
class Population:
    """positions (M, N, 3), total energies (M,), log weights (M,), family (M,) (index of the base
    configuration each member descends from), at ``temperature``."""

    positions: np.ndarray
    energy: np.ndarray
    log_w: np.ndarray
    family: np.ndarray
    temperature: float

    @property
    def size(self) -> int:
        return len(self.energy)

    def ess(self) -> float:
        return kish_ess(self.log_w)

    def effective_families(self) -> float:
        """M^2 / sum_f n_f^2 over the families of the (weighted) population."""
        w = normalised(self.log_w)
        share = np.bincount(self.family, weights=w)
        return float(1.0 / np.sum(share**2))

    def distinct_families(self) -> int:
        return int(len(np.unique(self.family[normalised(self.log_w) > 0])))


@dataclass
class StepRecord:
    temperature: float
    ess: float  # Kish ESS / M of the weights after the step's increment (before resampling)
    increment_std: float  # standard deviation of the step's log-weight increments
    resampled: bool
    acceptance: float  # of the HMC moves that followed
    families: int  # distinct families after the step
    seconds: float


@dataclass
class AnnealResult:
    population: Population
    steps: list[StepRecord] = field(default_factory=list)
    moves: MoveStats = field(default_factory=MoveStats)
    transport_seconds: float = 0.0
    energy_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.moves.seconds + self.transport_seconds + self.energy_seconds


def normalised(log_w: np.ndarray) -> np.ndarray:
    """Weights summing to one from log weights (non-finite -> 0)."""
    lw = np.where(np.isfinite(log_w), log_w, -np.inf)
    if not np.isfinite(lw).any():
        raise ValueError("every weight is zero (no finite log weight)")
    w = np.exp(lw - lw.max())
    return w / w.sum()


def kish_ess(log_w: np.ndarray) -> float:
    """(sum w)^2 / sum w^2; 0 when no weight is finite."""
    lw = np.asarray(log_w, dtype=np.float64)
    if not np.isfinite(lw).any():
        return 0.0
    w = normalised(lw)
    return float(1.0 / np.sum(w * w))


def systematic_resample(log_w: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (m,) drawn with probabilities proportional to the weights, systematic scheme
    (one uniform offset; each index appears floor or ceil of m w_k times)."""
    cdf = np.cumsum(normalised(log_w))
    cdf[-1] = 1.0
    u = (rng.random() + np.arange(m)) / m
    return np.searchsorted(cdf, u, side="right").astype(np.int64)


def next_temperature(
    energy: np.ndarray, log_w: np.ndarray, T: float, T_end: float, target: float
) -> float:
    """The lowest T' in [T_end, T) whose identity increments -(1/T' - 1/T) U keep the conditional
    ESS (sum w dw)^2 / (sum w sum w dw^2) at least ``target`` (bisection in 1/T)."""
    w = normalised(log_w)
    u = energy - np.average(energy, weights=w)

    def cess(beta: float) -> float:
        lw = -(beta - 1.0 / T) * u
        d = np.exp(lw - lw.max())
        return float((w * d).sum() ** 2 / ((w * d * d).sum()))

    lo, hi = 1.0 / T, 1.0 / T_end
    if cess(hi) >= target:
        return float(T_end)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if cess(mid) >= target else (lo, mid)
    return float(1.0 / lo)


def transport_increments(transport, x, energy, types, box, T, T_next):
    """(log-weight increments (M,), transported positions, their energies) of one transport step."""
    from glassdyn.gen.sampling import energies as total_energies

    y, logdet, var = transport(x, T, T_next)
    U_new = total_energies(y, types, box)
    inc = -U_new / T_next + energy / T + logdet - (0.0 if var is None else 0.5 * var)
    return np.where(np.isfinite(inc), inc, -np.inf), y, U_new


def transport_temperature(
    transport,
    pop: Population,
    types,
    box,
    T: float,
    T_end: float,
    target: float,
    rng: np.random.Generator,
    probe: int = 16,
    tolerance: float = 0.01,
) -> float:
    """The lowest T' in [T_end, T) that the transport reaches from T with a conditional ESS of at
    least ``target``, by bisection in 1/T on ``probe`` members drawn by weight (each trial
    transports only them), to a relative ``tolerance`` in 1/T (finer would chase the noise of an
    ESS of ``probe`` members, and each trial is a transport: most of a slow map's cost)."""
    rows = systematic_resample(pop.log_w, min(probe, pop.size), rng)
    x, e = pop.positions[rows], pop.energy[rows]

    def ess(T_next: float) -> float:
        inc = transport_increments(transport, x, e, types, box, T, T_next)[0]
        return kish_ess(inc) / len(inc)

    if ess(T_end) >= target:
        return float(T_end)
    lo, hi = 1.0 / T, 1.0 / T_end
    for _ in range(7):
        if hi - lo <= tolerance * lo:
            break
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ess(1.0 / mid) >= target else (lo, mid)
    return float(1.0 / lo) if lo > 1.0 / T else float(1.0 / (1.0 / T + 0.1 * (hi - 1.0 / T)))


def ladder(T_from: float, T_to: float, steps: int) -> np.ndarray:
    """``steps`` temperatures after T_from, uniform in 1/T, ending at T_to."""
    betas = np.linspace(1.0 / T_from, 1.0 / T_to, steps + 1)[1:]
    out = 1.0 / betas
    out[-1] = T_to  # exactly: 1 / (1 / T_to) can round above T_to
    return out


def anneal(
    positions: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    T_from: float,
    T_to: float,
    rng: np.random.Generator,
    *,
    options: AnnealOptions = AnnealOptions(),
    transport: Transport | None = None,
    energies: np.ndarray | None = None,
    log=None,
) -> AnnealResult:
    """Carry base configurations (M, N, 3), Boltzmann at ``T_from``, to ``T_to``; see the module
    docstring.  ``energies``: their total potential energies (computed when None)."""
    from glassdyn.gen.sampling import energies as total_energies

    if not T_to < T_from:
        raise ValueError(f"annealing goes down in temperature: T_to={T_to} >= T_from={T_from}")
    x = np.asarray(positions, dtype=np.float64).copy()
    M = len(x)
    t0 = time.perf_counter()
    U = total_energies(x, types, box) if energies is None else np.asarray(energies, np.float64)
    result = AnnealResult(Population(x, U, np.zeros(M), np.arange(M), float(T_from)))
    result.energy_seconds += time.perf_counter() - t0
    fixed = None if options.steps is None else list(ladder(T_from, T_to, options.steps))
    T = float(T_from)
    first = True
    while T > T_to:
        t_step = time.perf_counter()
        pop = result.population
        use_map = transport is not None and first
        if use_map and fixed is None:
            t0 = time.perf_counter()
            T_next = transport_temperature(
                transport, pop, types, box, T, T_to, options.ess_target, rng
            )
            result.transport_seconds += time.perf_counter() - t0
        elif fixed is not None:
            T_next = fixed.pop(0)
        else:
            T_next = next_temperature(pop.energy, pop.log_w, T, T_to, options.ess_target)
        if fixed is None and abs(T_next - T_to) < 1e-9:
            T_next = float(T_to)
        first = False
        if not use_map:
            inc = -pop.energy / T_next + pop.energy / T
        else:
            t0 = time.perf_counter()
            inc, x_new, U_new = transport_increments(
                transport, pop.positions, pop.energy, types, box, T, T_next
            )
            result.transport_seconds += time.perf_counter() - t0
            pop.positions, pop.energy = np.mod(x_new, box), U_new
        inc = np.where(np.isfinite(inc), inc, -np.inf)
        pop.log_w = pop.log_w + inc
        ess = pop.ess() / M
        resampled = ess < options.resample_below
        if resampled:
            idx = systematic_resample(pop.log_w, M, rng)
            pop.positions, pop.energy, pop.family = (
                pop.positions[idx],
                pop.energy[idx],
                pop.family[idx],
            )
            pop.log_w = np.zeros(M)
        pop.temperature = T = float(T_next)
        acc = float("nan")
        if options.hmc.sweeps:
            pop.positions, pop.energy, _, stats = hmc(
                pop.positions, types, box, T, rng, options.hmc
            )
            result.moves = result.moves.add(stats)
            acc = stats.acceptance
        finite = inc[np.isfinite(inc)]
        rec = StepRecord(
            temperature=T,
            ess=ess,
            increment_std=float(finite.std()) if len(finite) else float("inf"),
            resampled=resampled,
            acceptance=acc,
            families=pop.distinct_families(),
            seconds=time.perf_counter() - t_step,
        )
        result.steps.append(rec)
        if log is not None:
            log(
                f"  T={T:.4g}: ESS/M {ess:.3f}{' (resampled)' if resampled else ''}, "
                f"HMC acceptance {acc:.2f}, {rec.families} families"
            )
    return result
