"""Sample metrics against brute force, baselines, torch FIRE."""

import numpy as np
import pytest
import torch
from glassdyn.data.box import minimum_image
from glassdyn.gen import metrics
from glassdyn.gen.fire import FireConfig, fire_minimize, quench_ka
from glassdyn.simulate.ka import KAParameters, particle_energies

from glassdyn.testing import random_ka_configuration


def _brute_contacts(x, types, box, factor=0.7):
    sig = KAParameters().sigma
    d = np.linalg.norm(minimum_image(x[:, None] - x[None], box), axis=-1)
    iu = np.triu_indices(len(x), 1)
    return int(np.sum(d[iu] < factor * sig[types[iu[0]], types[iu[1]]]))


def test_close_contacts_brute_force():
    c = random_ka_configuration(64, seed=0)
    rng = np.random.default_rng(0)
    xs = np.stack([c.positions, rng.random((64, 3)) * c.box, rng.random((64, 3)) * c.box])
    got = metrics.close_contacts(xs, c.types, c.box)
    want = [_brute_contacts(x, c.types.astype(int), c.box) for x in xs]
    assert got.tolist() == want
    assert got[0] == 0 and got[1:].min() > 0
    assert metrics.close_contact_fraction(xs, c.types, c.box) == pytest.approx(2 / 3)


def test_rdf_l2_and_energy_w1():
    c = random_ka_configuration(128, seed=1)
    x = c.positions[None].astype(np.float64)
    d = metrics.rdf_l2(x, x, c.types, c.types, c.box)
    assert all(v == 0.0 for v in d.values())
    u, logq = metrics.uniform_baseline(4, c.types, c.box, seed=0)
    assert metrics.rdf_l2(u, x, c.types, c.types, c.box)["sum"] > 0.5
    assert np.allclose(logq, -128 * np.log(np.prod(c.box)))
    assert metrics.energy_w1([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert metrics.energy_w1([0.0], [1.0]) == pytest.approx(1.0)


def test_lattice_baseline_density_and_tuning():
    c = random_ka_configuration(27, seed=2)
    x, logq = metrics.lattice_baseline(40, c.types, c.box, sigma=0.1, seed=0)
    assert x.shape == (40, 27, 3) and (x >= 0).all() and (x < c.box).all()
    # log q = log N(noise; 0, sigma^2 I): the chi^2 part averages -3N/2 (sd sqrt(3N/2) per sample)
    chi2_half = logq + 0.5 * 3 * 27 * np.log(2 * np.pi * 0.1**2)
    assert abs(chi2_half.mean() + 1.5 * 27) < 4 * np.sqrt(1.5 * 27 / 40)
    sigma, scores = metrics.tune_lattice_sigma(
        c.positions[None], c.types, c.box, grid=[0.05, 0.2], n=2
    )
    assert sigma in (0.05, 0.2) and set(scores) == {0.05, 0.2}


def test_fire_two_particle_lj_minimum():
    """Two A particles: the minimum of the shifted LJ pair is at r = 2^(1/6)."""

    def e(x):
        d = x[:, 1] - x[:, 0]
        r2 = (d * d).sum(-1)
        sr6 = 1 / r2**3
        return 4 * (sr6 * sr6 - sr6)

    x0 = torch.tensor([[[0.0, 0, 0], [1.5, 0.1, 0]], [[0.0, 0, 0], [0.95, 0, 0]]])
    x, en, fmax, steps = fire_minimize(e, x0, FireConfig(max_force=1e-8))
    r = (x[:, 1] - x[:, 0]).norm(dim=-1)
    assert torch.allclose(r, torch.full((2,), 2 ** (1 / 6)), atol=1e-6)
    assert torch.allclose(en, torch.full((2,), -1.0), atol=1e-10)
    assert (fmax < 1e-8).all() and (steps > 0).all()


@pytest.mark.slow
def test_quench_ka_lowers_energy_to_a_minimum():
    c = random_ka_configuration(32, seed=4)
    x, e_is, fmax = quench_ka(c.positions[None], c.types, c.box, FireConfig(max_force=1e-6))
    assert fmax[0] < 1e-6
    assert e_is[0] < particle_energies(c.positions, c.types, c.box).mean()


@pytest.mark.slow
@pytest.mark.lammps
def test_lammps_and_torch_quench_reach_minima():
    from glassdyn.gen.fire import quench, quench_lammps
    from glassdyn.simulate.protocols import System

    s = System(64)
    x0 = random_ka_configuration(64, seed=5).positions[None].astype(np.float64)  # no overlaps
    e0 = particle_energies(x0[0], s.types, s.box).mean()
    xl, el, fl = quench_lammps(x0, s.types, s.box)
    xt, et, ft = quench_ka(x0, s.types, s.box, FireConfig(max_force=1e-3))
    assert fl[0] < 1e-5 and ft[0] < 1e-3
    assert el[0] < e0 and et[0] < e0
    assert abs(el[0] - et[0]) < 0.3  # both land in a KA minimum (not necessarily the same one)
    assert np.isclose(particle_energies(xl[0], s.types, s.box).mean(), el[0], atol=1e-6)
    # one minimiser per call: LAMMPS when it takes the layout (the same minimum as quench_lammps)
    q = quench(x0, s.types, s.box)
    assert q.minimiser == "lammps" and q.energy[0] == pytest.approx(el[0]) and q.converged.all()
    # shuffled types are not the simulate layout: torch FIRE for the whole call
    t = s.types[::-1].copy()
    q2 = quench(x0, t, s.box)
    assert q2.minimiser == "torch" and q2.energy[0] < particle_energies(x0[0], t, s.box).mean()
    # an overlapping start loses atoms in LAMMPS: reported as failed, never quenched by another minimiser
    xu = np.random.default_rng(0).random((1, 64, 3)) * s.box
    q3 = quench(np.concatenate([x0, xu]), s.types, s.box, "lammps")
    assert q3.failed == [1] and np.isnan(q3.energy[1]) and q3.converged.tolist() == [True, False]
    assert q3.summary()["minimiser"].startswith("lammps FIRE") and q3.summary()["converged"] == 1
    q4 = quench(xu, s.types, s.box, "torch")
    assert np.isfinite(q4.energy[0]) and q4.energy[0] < 0


def test_coordination_numbers_brute_force():
    """Shell counts against a double loop over every pair and its nearest images; small box
    (L = 3.2 < 2 x 1.4 is not needed: the minimum image is unique below L / 2 = 1.6)."""
    rng = np.random.default_rng(4)
    box = np.array([3.2, 3.4, 3.3])
    x = rng.random((3, 30, 3)) * box
    types = np.array([0] * 22 + [1] * 8)
    z = metrics.coordination_numbers(x, types, box)
    cut = np.array([[1.40, 1.20], [1.20, 1.07]])
    want = np.zeros((2, 2))
    for p in x:
        for i in range(30):
            for j in range(30):
                if (
                    i != j
                    and np.linalg.norm(minimum_image(p[j] - p[i], box)) < cut[types[i], types[j]]
                ):
                    want[types[i], types[j]] += 1
    n = np.array([22, 8]) * 3
    assert z["AA"] == pytest.approx(want[0, 0] / n[0]) and z["AB"] == pytest.approx(
        want[0, 1] / n[0]
    )
    assert z["BA"] == pytest.approx(want[1, 0] / n[1]) and z["BB"] == pytest.approx(
        want[1, 1] / n[1]
    )
    assert z["AB"] * 22 == pytest.approx(z["BA"] * 8)  # every AB pair counted from both sides
    # per-configuration types and custom shells
    z2 = metrics.coordination_numbers(x, np.broadcast_to(types, (3, 30)), box, cutoffs={"BB": 0.0})
    assert z2["BB"] == 0.0 and z2["AA"] == z["AA"]
