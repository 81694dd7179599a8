import itertools

import numpy as np
import pytest
import torch
from glassdyn.simulate.ka import KAParameters, energy_torch, forces, pair_energy, potential_energy

from glassdyn.testing import random_ka_configuration


def brute_force_energy(pos, types, box, params=KAParameters()):
    """Explicit loop over pairs and all periodic images within the cutoff."""
    rc = params.max_cutoff
    n_img = [int(np.ceil(rc / L)) for L in box]
    e = 0.0
    for a in range(len(pos)):
        for b in range(a, len(pos)):
            for s in itertools.product(*[range(-k, k + 1) for k in n_img]):
                if a == b and s == (0, 0, 0):
                    continue
                r = np.linalg.norm(pos[b] - pos[a] + np.array(s) * box)
                v = pair_energy(np.array([r]), np.array([types[a]]), np.array([types[b]]), params)[
                    0
                ]
                e += v if a != b else 0.5 * v  # self-image pairs are shared with their mirror
    return e


@pytest.mark.parametrize("n", [20, 60])
def test_energy_matches_brute_force(n):
    conf = random_ka_configuration(n, seed=n)
    e = potential_energy(conf.positions, conf.types, conf.box)
    ref = brute_force_energy(conf.positions.astype(np.float64), conf.types, conf.box)
    assert e == pytest.approx(ref, rel=1e-10, abs=1e-10)


def test_potential_is_shifted_to_zero_at_cutoff():
    p = KAParameters()
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        rc = p.r_cut[a, b]
        v = pair_energy(np.array([rc - 1e-9, rc + 1e-9]), np.array([a, a]), np.array([b, b]))
        assert abs(v[0]) < 1e-8 and v[1] == 0.0
    assert pair_energy(np.array([2 ** (1 / 6)]), np.array([0]), np.array([0]))[0] == pytest.approx(
        -1 - 4 * (2.5**-12 - 2.5**-6)
    )


def test_torch_energy_matches_numpy_and_force_is_gradient():
    conf = random_ka_configuration(80, seed=3)
    x = torch.tensor(conf.positions, dtype=torch.float64, requires_grad=True)
    e = energy_torch(
        x + torch.tensor(conf.box) * torch.tensor([1.0, -2.0, 0.0]), conf.types, conf.box
    )
    assert float(e.detach()) == pytest.approx(
        potential_energy(conf.positions, conf.types, conf.box), rel=1e-10
    )
    (g,) = torch.autograd.grad(e, x)
    # central finite difference on one coordinate
    h = 1e-6
    xp = conf.positions.astype(np.float64).copy()
    xp[5, 1] += h
    xm = conf.positions.astype(np.float64).copy()
    xm[5, 1] -= h
    fd = (
        potential_energy(xp, conf.types, conf.box) - potential_energy(xm, conf.types, conf.box)
    ) / (2 * h)
    assert float(g[5, 1]) == pytest.approx(fd, rel=1e-5, abs=1e-6)
    batch = energy_torch(torch.stack([x, x]).detach(), conf.types, conf.box)
    assert batch.shape == (2,)


def test_numpy_forces_are_the_autograd_gradient():
    conf = random_ka_configuration(80, seed=4)
    shifted = conf.positions.astype(np.float64) + conf.box * np.array([2.0, 0.0, -1.0])  # any image
    f = forces(shifted, conf.types, conf.box)
    x = torch.tensor(conf.positions, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(energy_torch(x, conf.types, conf.box), x)
    assert np.allclose(f, -g.numpy(), rtol=1e-10, atol=1e-10)
    assert np.abs(f.sum(0)).max() < 1e-8 * np.abs(f).max()  # Newton's third law
