"""Importance weights, Kish ESS and the independence Metropolis-Hastings chain."""

import numpy as np
import pytest
from glassdyn.data.errors import InputError
from glassdyn.gen import sampling
from glassdyn.simulate.ka import potential_energy

from glassdyn.testing import random_ka_configuration


def test_kish_ess_brute_force():
    rng = np.random.default_rng(0)
    lw = rng.normal(size=50) * 2 + 100.0
    w = np.exp(lw - 100.0)
    assert np.isclose(sampling.kish_ess(lw), w.sum() ** 2 / (w**2).sum())
    assert np.isclose(sampling.kish_ess(np.zeros(7)), 7.0)
    assert sampling.kish_ess(np.array([0.0, -np.inf, np.nan])) == pytest.approx(1.0)
    assert sampling.kish_ess(np.full(3, -np.inf)) == 0.0


def test_log_weights_and_self_normalised_mean():
    lw = sampling.log_weights(np.array([1.0, 2.0]), np.array([0.5, -0.5]), 0.5)
    assert np.allclose(lw, [-2.5, -3.5])
    with pytest.raises(InputError):
        sampling.log_weights(np.zeros(2), np.zeros(3), 1.0)
    assert sampling.self_normalised_mean(np.array([1.0, 3.0]), np.log([1.0, 3.0])) == pytest.approx(
        2.5
    )


def test_independence_chain_samples_the_target_exactly():
    """Proposal N(0, 2^2), target N(1, 1): chain moments match the target, not the proposal."""
    rng = np.random.default_rng(1)
    x = rng.normal(scale=2.0, size=60000)
    log_q = -0.5 * (x / 2.0) ** 2
    log_pi = -0.5 * (x - 1.0) ** 2
    states, acc = sampling.independence_chain(log_pi - log_q, seed=2)
    chain = x[states]
    assert abs(chain.mean() - 1.0) < 0.05
    assert abs(chain.var() - 1.0) < 0.05
    assert 0.3 < acc < 0.9
    assert sampling.self_normalised_mean(x, log_pi - log_q) == pytest.approx(1.0, abs=0.05)
    # a perfect proposal accepts everything
    _, acc = sampling.independence_chain(np.zeros(100))
    assert acc == 1.0


def test_energies_match_the_ka_reference():
    c = random_ka_configuration(32, seed=3)
    e = sampling.energies(c.positions[None].repeat(2, 0), c.types, c.box)
    assert np.allclose(e, potential_energy(c.positions, c.types, c.box))


def _ar1(phi, n, seed):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n)
    a = np.empty(n)
    a[0] = e[0] / np.sqrt(1 - phi**2)
    for k in range(1, n):
        a[k] = phi * a[k - 1] + e[k]
    return a


def test_integrated_autocorrelation_time_of_known_series():
    """Independent draws: 1; AR(1) with coefficient phi: (1 + phi) / (1 - phi) (9 for 0.8, 3 for
    0.5); a chain that never moves: its length.  An estimator without the factor 2, or summing
    the noisy tail of rho to the end, misses these."""
    iat = sampling.integrated_autocorrelation_time
    assert iat(np.random.default_rng(0).normal(size=50000)) == pytest.approx(1.0, abs=0.05)
    assert iat(_ar1(0.8, 50000, 1)) == pytest.approx(9.0, rel=0.15)
    assert iat(_ar1(0.5, 50000, 2)) == pytest.approx(3.0, rel=0.1)
    assert iat(np.full(40, -6.3)) == 40.0
    # an independence chain that rarely moves: its states repeat, tau grows with the stickiness
    lw = np.random.default_rng(3).normal(scale=3.0, size=4000)
    states, acc = sampling.independence_chain(lw, seed=0)
    values = np.random.default_rng(4).normal(size=4000)
    assert acc < 0.3 and iat(values[states]) > 3 * iat(values)
