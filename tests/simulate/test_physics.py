"""Physics of the LAMMPS protocols: energies, conservation, thermostat, minimiser, mobility."""

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.simulate import protocols
from glassdyn.simulate.ka import potential_energy
from glassdyn.simulate.presets import get_preset

from glassdyn.testing import random_ka_configuration

pytestmark = pytest.mark.lammps


def test_lammps_energy_equals_numpy_ka_energy(reference_store):
    conf = random_ka_configuration(256, seed=3)
    system = protocols.System(256)
    # random_ka_configuration shuffles types; the protocols put A first: reorder to match
    order = np.argsort(conf.types, kind="stable")
    x = conf.positions[order].astype(np.float64)
    assert np.array_equal(conf.types[order], system.types)
    e_lmp = protocols.energy(system, x)
    e_np = potential_energy(x, system.types, system.box) / 256
    assert abs(e_lmp - e_np) < 1e-6
    # stored thermal energies are the energies of the stored (float32) positions
    sp = reference_store.state(0.8)
    for c in sp.completed:
        xs = sp.read(keys.THERMAL_POSITIONS, c).astype(np.float64)
        e_np = potential_energy(xs, sp.read(keys.TYPES, c), sp.read(keys.BOX, c)) / sp.n_particles
        assert abs(sp.read(keys.THERMAL_ENERGY, c) - e_np) < 1e-6
        assert abs(protocols.energy(system, xs) - e_np) < 1e-6


def test_nve_energy_drift_small_over_1e4_steps(reference_store):
    x = reference_store.state(0.8).read(keys.THERMAL_POSITIONS, 0).astype(np.float64)
    tr = protocols.thermo_trace(
        protocols.System(256), x, 0.8, 10_000, 100, np.random.default_rng(0)
    )
    e = tr["total"]
    slope = np.polyfit(tr["time"], e, 1)[0]  # per particle per LJ time
    assert abs(e[-1] - e[0]) < 2e-3, e[[0, -1]]
    assert abs(slope) * tr["time"][-1] < 1e-3
    assert abs(e[-1] - e[0]) / abs(e[0]) < 5e-4


def test_nvt_mean_kinetic_temperature_within_2_percent(reference_store):
    x = reference_store.state(0.8).read(keys.THERMAL_POSITIONS, 1).astype(np.float64)
    tr = protocols.thermo_trace(
        protocols.System(256), x, 0.8, 20_000, 20, np.random.default_rng(1), ensemble="nvt"
    )
    assert abs(tr["temperature"].mean() / 0.8 - 1) < 0.02


def test_maxwell_boltzmann_exact_temperature_zero_momentum():
    v = protocols.maxwell_boltzmann(np.random.default_rng(0), 500, 0.64)
    assert protocols.kinetic_temperature(v) == pytest.approx(0.64, rel=1e-12)
    assert np.abs(v.sum(axis=0)).max() < 1e-10
    # Gaussian components: kurtosis of a normal is 3
    z = v.ravel() / v.std()
    assert abs(np.mean(z**4) - 3) < 0.3


def test_every_inherent_structure_converged(reference_store):
    tol = get_preset("ci").minimizer.ftol
    for sp in reference_store.states():
        f = sp.read(keys.INHERENT_MAX_FORCE)
        assert np.all(f < tol), f
        e_is, e_th = sp.read(keys.INHERENT_ENERGY), sp.read(keys.THERMAL_ENERGY)
        assert np.all(e_is < e_th - 0.5)  # quench removes the vibrational energy
        # the stored IS is a minimum of the numpy energy too
        c = int(sp.completed[0])
        xi = sp.read(keys.INHERENT_POSITIONS, c).astype(np.float64)
        types, box = sp.read(keys.TYPES, c), sp.read(keys.BOX, c)
        assert potential_energy(xi, types, box) / sp.n_particles == pytest.approx(e_is[0], abs=1e-5)


def test_inherent_structure_matches_max_force_from_lammps():
    system = protocols.System(256)
    x = protocols.equilibrate(
        system, 1.0, 1.0, np.random.default_rng(5), protocols.Melt(melt_time=1.0)
    )
    opts = protocols.MinimizerOptions(ftol=1e-7)
    inh = protocols.inherent_structure(system, x, opts)
    assert inh.max_force < 1e-7 and inh.iterations > 10
    assert inh.energy < protocols.energy(system, x)
    again = protocols.inherent_structure(system, x, opts)  # pinned options: deterministic
    assert np.array_equal(again.positions, inh.positions)


def test_propensity_grows_with_time_and_temperature(reference_store):
    hot, cold = reference_store.state(1.0), reference_store.state(0.8)
    assert np.array_equal(hot.times, cold.times)
    p_hot = hot.read(keys.ISO_PROPENSITY).mean(axis=(0, 2))  # (K,)
    p_cold = cold.read(keys.ISO_PROPENSITY).mean(axis=(0, 2))
    assert np.all(np.diff(p_hot) > 0) and np.all(np.diff(p_cold) > 0)
    assert np.all(p_hot > p_cold)
    # ballistic start: <|dr|> = sqrt(8 T / pi) t for Maxwell-Boltzmann velocities
    t0 = hot.times[0]
    assert p_hot[0] == pytest.approx(np.sqrt(8 * 1.0 / np.pi) * t0, rel=0.1)


def test_replica_rejects_bad_input():
    system = protocols.System(256)
    x = random_ka_configuration(256, seed=1).positions
    rng = np.random.default_rng(0)
    with pytest.raises(protocols.SimulationError, match="increasing"):
        protocols.replica(system, x, 1.0, np.array([5, 3]), rng)
    with pytest.raises(protocols.SimulationError, match="ensemble"):
        protocols.replica(system, x, 1.0, np.array([1, 2]), rng, ensemble="npt")
    with pytest.raises(protocols.SimulationError, match="shape"):
        protocols.build(system, x[:10])


def test_deck_states_truncated_shifted_per_pair_cutoffs():
    deck = protocols.deck(protocols.System(1000))
    assert "pair_modify shift yes" in deck
    assert "pair_coeff 1 2 1.5 0.8 2.0" in deck
    assert "pair_coeff 2 2 0.5 0.88 2.2" in deck


def test_unwrapped_displacements_are_continuous_across_boundaries():
    system = protocols.System(256)
    x = protocols.equilibrate(
        system, 2.0, 1.0, np.random.default_rng(0), protocols.Melt(melt_time=1.0)
    )
    steps = np.arange(20, 4001, 20)
    d = protocols.replica(system, x, 2.0, steps, np.random.default_rng(1))
    assert np.abs(np.diff(d, axis=0)).max() < 0.5  # no jumps of a box length
    assert np.abs(d[-1]).max() > system.box_length / 2  # some particles crossed the box
    # chunked sampling = one straight run to the same step
    d_end = protocols.replica(system, x, 2.0, np.array([4000]), np.random.default_rng(1))
    np.testing.assert_allclose(d_end[0], d[-1], atol=1e-8)


@pytest.mark.slow
def test_nvt_potential_energy_fluctuations_are_canonical():
    """In the canonical ensemble N Var(e) / T^2 = c_v = d<e>/dT (e: potential energy per particle;
    the fluctuation-response relation T-BOTAN's thermometer floor rests on).  Three 500-time-unit
    NVT runs of N=256 at T = 0.75, 0.80, 0.85: the fluctuations give c_v within 20% of the slope of
    the mean energies (measured 1.72 vs 1.67; an NVE run, or energies other than the potential
    one, gives about half)."""
    system = protocols.System(256)
    x = protocols.equilibrate(
        system, 0.8, 20.0, np.random.default_rng(0), protocols.Melt(melt_time=2.0)
    )
    u = {}
    for T in (0.75, 0.8, 0.85):
        tr = protocols.thermo_trace(
            system, x, T, 100_000, 200, np.random.default_rng(int(T * 100)), ensemble="nvt"
        )
        u[T] = tr["potential"][100:]  # from t = 100 on, one sample per LJ time
    slope = (u[0.85].mean() - u[0.75].mean()) / 0.1
    fluct = np.mean([system.n_particles * v.var() / T**2 for T, v in u.items()])
    assert 1.2 < slope < 2.2  # KA's configurational heat capacity near T = 0.8
    assert fluct == pytest.approx(slope, rel=0.2)
