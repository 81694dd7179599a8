"""Hybrid Monte Carlo and NVT chains with LAMMPS, against plain numpy references and physics."""

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.simulate import sampling
from glassdyn.simulate.ka import forces, potential_energy

pytestmark = pytest.mark.lammps


def _config(reference_store, T=0.8, c=0):
    sp = reference_store.state(T)
    return (
        sp.read(keys.THERMAL_POSITIONS, c).astype(np.float64),
        sp.read(keys.TYPES, c),
        sp.read(keys.BOX, c),
    )


def velocity_verlet(x, p, types, box, dt, steps):
    """The integrator of an HMC move in plain numpy (unit masses): the reference of LAMMPS' fix nve."""
    f = forces(x, types, box)
    for _ in range(steps):
        p = p + 0.5 * dt * f
        x = x + dt * p
        f = forces(x, types, box)
        p = p + 0.5 * dt * f
    return x, p


def reference_hmc(x, types, box, T, rng, dt, leapfrog, sweeps):
    """Plain numpy HMC drawing from ``rng`` in the order of :func:`sampling.hmc`."""
    u_cur = potential_energy(x, types, box)
    decisions = []
    for _ in range(sweeps):
        p0 = rng.normal(scale=np.sqrt(T), size=x.shape)
        u = rng.random()
        x1, p1 = velocity_verlet(x, p0, types, box, dt, leapfrog)
        u1 = potential_energy(x1, types, box)
        dH = u1 + 0.5 * np.sum(p1 * p1) - u_cur - 0.5 * np.sum(p0 * p0)
        decisions.append(bool(np.log(u) < -dH / T))
        if decisions[-1]:
            x, u_cur = np.mod(x1, box), u1
    return x, u_cur, decisions


def test_hmc_moves_are_numpy_velocity_verlet_and_metropolis(reference_store):
    """Move by move, LAMMPS' chain is the numpy one: same trajectories (fix nve = velocity Verlet)
    and the same accept / reject decisions with Delta H = Delta U + Delta K.  The step is coarse
    enough that both happen, so accepting every move, leaving out the kinetic energy or flipping a
    sign changes the final configuration."""
    x, types, box = _config(reference_store)
    opts = sampling.HMCOptions(dt=0.013, leapfrog=10, sweeps=8)
    y, energy, accepted, stats = sampling.hmc(
        x[None], types, box, 0.8, np.random.default_rng(3), opts
    )
    want, u_want, decisions = reference_hmc(
        x, types, box, 0.8, np.random.default_rng(3), opts.dt, opts.leapfrog, opts.sweeps
    )
    assert 0 < sum(decisions) < opts.sweeps, decisions  # both accepted and rejected moves
    assert accepted[0] == sum(decisions)
    d = y[0] - want
    d -= box * np.round(d / box)
    assert np.abs(d).max() < 1e-7
    assert energy[0] == pytest.approx(u_want, abs=1e-6)
    assert stats.proposals == 8 and stats.md_steps == 1 + 8 * (opts.leapfrog + 1)


def test_hmc_rejects_a_move_whose_energy_error_is_huge(reference_store):
    """dt = 0.05 blows the integration up: every move is rejected, the configuration is kept."""
    x, types, box = _config(reference_store, c=1)
    y, energy, accepted, stats = sampling.hmc(
        x[None],
        types,
        box,
        0.8,
        np.random.default_rng(0),
        sampling.HMCOptions(dt=0.05, leapfrog=20, sweeps=3),
    )
    assert accepted[0] == 0 and stats.acceptance == 0.0
    assert np.allclose(y[0], np.mod(x, box), atol=1e-6)
    assert energy[0] == pytest.approx(potential_energy(x, types, box), rel=1e-9)


def test_hmc_keeps_the_canonical_energy_with_a_coarse_integrator(reference_store):
    """With a step that rejects a quarter of the moves, HMC still samples exp(-U/T): the mean
    energy stays at the NVT one (measured: within 0.002 per particle; leaving the kinetic energy
    out of Delta H cools the chain by 0.08)."""
    x, types, box = _config(reference_store, c=2)
    rng = np.random.default_rng(5)
    chain, e_md, _ = sampling.nvt_chain(x, types, box, 0.8, 40, 1.0, rng)
    y, e, acc, stats = sampling.hmc(
        chain, types, box, 0.8, rng, sampling.HMCOptions(dt=0.012, leapfrog=10, sweeps=12)
    )
    n = len(types)
    assert 0.2 < stats.acceptance < 0.95
    assert abs(e.mean() / n - e_md.mean() / n) < 0.03, (e.mean() / n, e_md.mean() / n)


def test_nvt_chain_energies_and_reproducibility(reference_store):
    x, types, box = _config(reference_store)
    a, ea, cost = sampling.nvt_chain(
        x, types, box, 0.8, 3, 0.5, np.random.default_rng(1), warmup=0.2
    )
    b, eb, _ = sampling.nvt_chain(x, types, box, 0.8, 3, 0.5, np.random.default_rng(1), warmup=0.2)
    assert np.array_equal(a, b) and np.array_equal(ea, eb)
    assert cost.md_steps == 40 + 3 * 100
    for k in range(3):
        assert ea[k] == pytest.approx(potential_energy(a[k], types, box), abs=1e-6)
        assert np.all((a[k] >= 0) & (a[k] < box))
    assert np.abs(a[1] - a[0]).max() > 1e-3  # the chain moves
    with pytest.raises(sampling.SimulationError, match="n >= 1"):
        sampling.nvt_chain(x, types, box, 0.8, 0, 0.5, np.random.default_rng(1))
