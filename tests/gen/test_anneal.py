"""Annealed transport (glassdyn.gen.anneal) against brute force: systematic resampling, Kish and
conditional ESS, the adaptive ladder, and the exact log-weight increments of a transport step.

The annealing runs here take no Hybrid Monte Carlo move (``sweeps=0``), so they need no LAMMPS and
every weight has a closed form; the moves are tested in tests/simulate/test_sampling.py and the
whole sampler through ``glassdyn gen sample`` (test_cli.py)."""

import itertools

import numpy as np
import pytest
from glassdyn.gen import anneal as A
from glassdyn.gen.sampling import energies
from glassdyn.simulate.ka import potential_energy
from glassdyn.simulate.sampling import HMCOptions

from .helpers import ka_batch

NO_MOVES = HMCOptions(sweeps=0)


def _options(**kw):
    return A.AnnealOptions(hmc=NO_MOVES, **{"resample_below": 0.0, **kw})


def test_systematic_resample_counts_are_floor_or_ceil_and_unbiased():
    """Each index appears floor(M w) or ceil(M w) times (multinomial resampling would not), never
    for a zero weight, and on average exactly M w times (an off-by-one offset would bias it)."""
    rng = np.random.default_rng(0)
    lw = rng.normal(scale=1.5, size=12)
    lw[3] = -np.inf
    w = A.normalised(lw)
    M = 20
    mean = np.zeros(12)
    for _ in range(4000):
        idx = A.systematic_resample(lw, M, rng)
        counts = np.bincount(idx, minlength=12)
        assert counts.sum() == M and counts[3] == 0
        assert np.all((counts == np.floor(M * w)) | (counts == np.ceil(M * w)))
        mean += counts / 4000
    assert np.allclose(mean, M * w, atol=0.05)
    assert A.systematic_resample(np.zeros(4), 4, rng).tolist() == [0, 1, 2, 3]


def test_kish_ess_and_normalised_weights():
    rng = np.random.default_rng(1)
    lw = rng.normal(size=30) * 2 + 700.0  # large offsets must not overflow
    w = np.exp(lw - 700.0)
    assert A.kish_ess(lw) == pytest.approx(w.sum() ** 2 / (w * w).sum())
    assert A.kish_ess(np.zeros(9)) == pytest.approx(9.0)
    assert A.kish_ess(np.array([0.0, -np.inf, np.nan])) == pytest.approx(1.0)
    assert A.kish_ess(np.full(3, -np.inf)) == 0.0
    assert np.allclose(A.normalised(np.log([1.0, 3.0])), [0.25, 0.75])
    with pytest.raises(ValueError, match="every weight is zero"):
        A.normalised(np.full(2, -np.inf))


def _cess(energy, log_w, T, T_new):
    """The conditional ESS of the identity increments from T to T_new, from its definition."""
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    inc = -(1 / T_new - 1 / T) * (energy - energy.mean())
    d = np.exp(inc - inc.max())
    return (w * d).sum() ** 2 / (w * d * d).sum()


def test_next_temperature_hits_the_target_conditional_ess():
    rng = np.random.default_rng(2)
    U = rng.normal(scale=8.0, size=64) - 1300.0
    for log_w in (np.zeros(64), rng.normal(scale=0.7, size=64)):
        T_new = A.next_temperature(U, log_w, 1.0, 0.3, 0.5)
        assert 0.3 < T_new < 1.0
        assert _cess(U, log_w, 1.0, T_new) == pytest.approx(0.5, abs=1e-6)
    # a target the whole way down keeps: the end temperature
    assert A.next_temperature(U, np.zeros(64), 1.0, 0.99, 0.5) == 0.99


def _bisect_identity(tolerance, T_end=0.6):
    """transport_temperature with the identity map from T=1: (T', U, the 1/T tried in order)."""
    x, types, box = ka_batch(64, batch=16)
    U = energies(x, types, box)
    pop = A.Population(x, U, np.zeros(16), np.arange(16), 1.0)
    tried = []

    def identity(y, T_from, T_to):
        tried.append(1 / T_to)
        return y, np.zeros(len(y)), None

    assert _cess(U, np.zeros(16), 1.0, T_end) < 0.5  # the bisection has something to find
    T_new = A.transport_temperature(
        identity, pop, types, box, 1.0, T_end, 0.5, np.random.default_rng(0), tolerance=tolerance
    )
    return T_new, U, tried


@pytest.mark.parametrize("tolerance", [0.0, 0.01, 0.05])
def test_transport_temperature_bisects_to_the_target_ess(tolerance):
    """With the identity map the transport's Kish ESS is the conditional ESS: the temperature it
    returns keeps the target, the end of its last bisection interval does not; the interval is
    2^-7 of the range, or the first halving within ``tolerance`` of 1/T (fewer transports)."""
    T_new, U, tried = _bisect_identity(tolerance)
    kept = [b for b in tried if _cess(U, np.zeros(16), 1.0, 1 / b) >= 0.5]
    lo = max([1.0, *kept])
    hi = min(b for b in tried if b not in kept)
    assert 1 / T_new == pytest.approx(lo)
    width = 1 / 0.6 - 1.0
    assert hi - lo <= max(tolerance * lo, width / 2**7) + 1e-12
    assert len(tried) == 8 or (hi - lo <= tolerance * lo and 2 * (hi - lo) > tolerance * lo)


def test_a_coarser_bisection_tolerance_transports_less():
    n = [len(_bisect_identity(t)[2]) for t in (0.0, 0.01, 0.05)]
    assert n[0] == 8 and n[0] > n[1] > n[2]


def test_identity_annealing_weights_are_the_boltzmann_ratio():
    """Without moves or resampling, annealing from T0 to T by any ladder gives
    log w = -(1/T - 1/T0) U: the increments telescope (a wrong sign or a skipped step fails)."""
    x, types, box = ka_batch(64, batch=6)
    U = energies(x, types, box)
    res = A.anneal(x, types, box, 1.0, 0.7, np.random.default_rng(0), options=_options(steps=3))
    pop = res.population
    assert [round(s.temperature, 12) for s in res.steps] == [
        round(t, 12) for t in A.ladder(1.0, 0.7, 3)
    ]
    assert np.allclose(1 / A.ladder(1.0, 0.7, 3), np.linspace(1.0, 1 / 0.7, 4)[1:])
    lw = -(1 / 0.7 - 1.0) * U
    assert np.allclose(pop.log_w - pop.log_w.max(), lw - lw.max(), atol=1e-9)
    assert np.array_equal(pop.positions, x) and pop.temperature == pytest.approx(0.7)
    assert not any(s.resampled for s in res.steps)
    assert res.steps[-1].ess == pytest.approx(A.kish_ess(lw) / 6)


def test_a_symmetry_of_the_energy_as_transport_gives_the_identity_weights():
    """A common shift leaves U unchanged and has log|det| = 0: its weights are the identity's."""
    x, types, box = ka_batch(64, batch=6)

    def shift(y, T_from, T_to):
        return y + np.array([0.3, -1.1, 2.9]), np.zeros(len(y)), None

    kw = {"options": _options(steps=2)}
    plain = A.anneal(x, types, box, 1.0, 0.7, np.random.default_rng(0), **kw).population
    moved = A.anneal(
        x, types, box, 1.0, 0.7, np.random.default_rng(0), transport=shift, **kw
    ).population
    assert np.allclose(moved.log_w, plain.log_w, atol=1e-8)
    assert np.allclose(moved.positions, np.mod(x + [0.3, -1.1, 2.9], box))


def test_a_transport_log_det_enters_the_increment_with_its_sign():
    """A contraction x' = c + s (x - c) has log|det| = 3N log s; the step's increment is
    -U(x')/T1 + U(x)/T0 + log|det| - var/2, computed here particle energies by particle energies
    (using -log|det|, or forgetting the variance correction, misses it by 3N |log s| or var/2)."""
    x, types, box = ka_batch(64, batch=5)
    N, s, var = 64, 0.97, np.linspace(0.1, 0.5, 5)
    c = box / 2

    def contract(y, T_from, T_to):
        assert (T_from, T_to) == (1.0, 0.8)
        return c + s * (y - c), np.full(len(y), 3 * N * np.log(s)), var

    res = A.anneal(
        x,
        types,
        box,
        1.0,
        0.8,
        np.random.default_rng(0),
        options=_options(steps=1),
        transport=contract,
    )
    y = c + s * (x - c)
    want = np.array(
        [
            -potential_energy(y[k], types, box) / 0.8
            + potential_energy(x[k], types, box) / 1.0
            + 3 * N * np.log(s)
            - var[k] / 2
            for k in range(5)
        ]
    )
    got = res.population.log_w
    assert np.allclose(got, want, rtol=1e-10, atol=1e-8)
    assert np.allclose(res.population.positions, np.mod(y, box))
    assert np.allclose(res.population.energy, [potential_energy(p, types, box) for p in y])
    assert 3 * N * abs(np.log(s)) > 2.0  # the sign matters by this much


def test_resampling_keeps_families_and_resets_weights():
    """Always resampling: the weights restart at zero and every member is a copy of the base
    configuration of its family (no moves here)."""
    x, types, box = ka_batch(64, batch=8)
    U = energies(x, types, box)
    res = A.anneal(
        x,
        types,
        box,
        1.0,
        0.8,
        np.random.default_rng(3),
        options=_options(steps=2, resample_below=1.0),
    )
    pop = res.population
    assert all(s.resampled for s in res.steps)
    assert np.all(pop.log_w == 0)
    assert np.array_equal(pop.positions, x[pop.family]) and np.allclose(pop.energy, U[pop.family])
    assert pop.distinct_families() == len(np.unique(pop.family)) < 8


def test_adaptive_ladder_steps_keep_the_target():
    x, types, box = ka_batch(64, batch=16)
    res = A.anneal(
        x,
        types,
        box,
        1.0,
        0.3,
        np.random.default_rng(4),
        options=_options(ess_target=0.6, resample_below=0.5),
    )
    temps = [s.temperature for s in res.steps]
    assert temps[-1] == 0.3 and all(a > b for a, b in itertools.pairwise(temps))
    assert len(temps) >= 2


def test_a_fixed_ladder_ends_at_the_target_temperature():
    x, types, box = ka_batch(64, batch=4)
    res = A.anneal(x, types, box, 1.0, 0.41, np.random.default_rng(0), options=_options(steps=1))
    assert len(res.steps) == 1 and res.population.temperature == 0.41


def test_families_of_a_weighted_population():
    pop = A.Population(np.zeros((4, 1, 3)), np.zeros(4), np.zeros(4), np.array([0, 0, 1, 2]), 1.0)
    assert pop.effective_families() == pytest.approx(1 / (0.5**2 + 0.25**2 + 0.25**2))
    assert pop.distinct_families() == 3
    pop.log_w = np.array([0.0, 0.0, -np.inf, -np.inf])
    assert pop.effective_families() == pytest.approx(1.0) and pop.distinct_families() == 1
    assert pop.ess() == pytest.approx(2.0)


def test_bad_options_and_directions_are_refused():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        A.AnnealOptions(steps=0)
    with pytest.raises(ValueError, match="ess_target"):
        A.AnnealOptions(ess_target=1.0)
    x, types, box = ka_batch(64, batch=2)
    with pytest.raises(ValueError, match="goes down in temperature"):
        A.anneal(x, types, box, 0.8, 0.8, np.random.default_rng(0))
