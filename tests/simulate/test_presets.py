"""Presets, overrides and the sampling-time grids (no LAMMPS)."""

import numpy as np
import pytest
from glassdyn.data.errors import InputError
from glassdyn.simulate.presets import (
    BOTAN_TIMES_T044,
    PRESETS,
    TAU_ALPHA_ESTIMATES,
    get_preset,
    tau_alpha_estimate,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid(name):
    s = get_preset(name)
    s.validate()
    for T in s.temperatures:
        steps = s.sample_steps(T)
        assert np.all(np.diff(steps) > 0) and steps[0] >= 1
        assert len(steps) == (len(s.times) if s.times else s.n_times)
        assert np.allclose(s.times_at(T), steps * s.dt)


def test_preset_sizes_follow_the_issue():
    tiny, small, botan = get_preset("tiny"), get_preset("small"), get_preset("botan")
    assert (
        tiny.n_particles <= 400
        and len(tiny.temperatures) == 2
        and 3 <= tiny.n_configs <= 4
        and tiny.n_replicas == 4
    )
    assert (
        small.n_particles == 1000
        and {0.8, 0.64} <= set(small.temperatures)
        and small.n_configs >= 10
        and small.n_replicas >= 16
    )
    assert botan.n_particles == 4096 and botan.box_length == pytest.approx(15.05658, abs=1e-5)
    assert botan.temperatures == (0.44, 0.47, 0.5, 0.56, 0.64, 0.8)
    assert botan.n_configs == 500 and botan.n_replicas == 32
    # BOTAN's times at T=0.44 (to the dt grid), scaled by tau_alpha elsewhere
    np.testing.assert_allclose(botan.times_at(0.44), BOTAN_TIMES_T044, rtol=0.02)
    ratio = botan.times_at(0.64)[-1] / botan.times_at(0.44)[-1]
    assert ratio == pytest.approx(botan.tau(0.64) / botan.tau(0.44), rel=0.01)
    # tiny reaches a few tau_alpha at each of its temperatures
    for T in tiny.temperatures:
        assert 2 * tiny.tau(T) <= tiny.times_at(T)[-1] <= 5 * tiny.tau(T)


def test_tau_alpha_estimate_interpolates_table():
    for T, tau in TAU_ALPHA_ESTIMATES:
        assert tau_alpha_estimate(T) == pytest.approx(tau)
    assert 9.4 < tau_alpha_estimate(0.6) < 27
    assert tau_alpha_estimate(1.5) < 1.0 and tau_alpha_estimate(0.42) > 4000
    with pytest.raises(InputError):
        tau_alpha_estimate(-1)


def test_bad_names_and_values_give_clear_errors():
    with pytest.raises(InputError, match="unknown preset 'huge'.*tiny"):
        get_preset("huge")
    tiny = get_preset("tiny")
    for change, msg in [
        (dict(n_configs=0), "--configs"),
        (dict(n_replicas=-1), "--replicas"),
        (dict(temperatures=(0.8, -1.0)), "--temperatures"),
        (dict(temperatures=(float("inf"),)), "--temperatures must be positive and finite"),
        (dict(temperatures=(float("nan"),)), "--temperatures must be positive and finite"),
        (dict(times=(1.0, float("inf"))), "--times"),
        (dict(dt=float("nan")), "dt must be positive and finite"),
        (dict(equilibration_fixed_time=float("inf")), "--equilibration-time"),
        (dict(temperatures=(0.8, 0.8001)), "three decimals"),
        (dict(ensemble="npt"), "ensemble"),
        (dict(times=(1.0, 0.5)), "--times"),
        (dict(n_particles=100), "shorter than twice the cutoff"),
        (dict(bogus=1), "unknown simulation setting"),
    ]:
        with pytest.raises(InputError, match=msg):
            tiny.replace(**change)


def test_replace_ignores_none_and_physics_excludes_bookkeeping():
    tiny = get_preset("tiny")
    assert tiny.replace(n_configs=None) == tiny
    a, b = tiny.physics(), tiny.replace(replica_block=2, temperatures=(1.0,)).physics()
    assert a == b
    assert tiny.replace(dt=0.002).physics() != a
    assert tiny.n_replica_blocks() == 1 and tiny.replace(replica_block=3).n_replica_blocks() == 2


def test_explicit_equilibration_time_replaces_the_tau_estimate():
    ci = get_preset("ci")
    fixed = ci.replace(equilibration_fixed_time=5.0)
    assert fixed.equilibration_time(0.3) == fixed.equilibration_time(1.0) == 5.0
    assert ci.equilibration_time(0.8) == 2.0 * ci.tau(0.8)
    # it decides the arrays: a resume with another value is a different dataset
    assert fixed.physics() != ci.physics() and ci.physics()["equilibration_fixed_time"] is None
