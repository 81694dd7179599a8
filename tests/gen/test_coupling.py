"""Coupling flow: invertibility, exact log-det, symmetries, samples in the box."""

import numpy as np
import pytest
import torch
from glassdyn.gen import reference_frame
from glassdyn.gen.coupling import CouplingFlow, FlowConfig

from glassdyn.testing import random_ka_configuration


def _model(seed=0, noise=0.08, layers=3):
    torch.manual_seed(seed)
    m = CouplingFlow(
        FlowConfig(n_layers=layers, n_bins=6, hidden=16, heads=2, blocks=1, n_freq=2)
    ).double()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(noise * torch.randn_like(p))  # away from the identity initialisation
    return m


def _system(n=6, batch=3, seed=0):
    c = random_ka_configuration(n, seed=seed)
    types = torch.as_tensor(c.types, dtype=torch.long)[None].expand(batch, -1).clone()
    box = torch.as_tensor(c.box, dtype=torch.float64)
    T = torch.full((batch,), 0.8)
    return types, box, T


def test_identity_at_initialisation():
    m = CouplingFlow(FlowConfig(n_layers=3, hidden=16, heads=2, blocks=1)).double()
    types, box, T = _system()
    x = torch.rand(3, 6, 3) * box
    lq = m.log_prob(x, types, box, T)
    assert torch.allclose(lq, torch.full((3,), -6 * torch.log(box).sum().item()), atol=1e-10)


def test_invertible_x_z_x():
    m = _model()
    types, box, T = _system()
    ref = torch.as_tensor(reference_frame.reference_index(types.numpy()))
    x = torch.rand(3, 6, 3) * box
    u = reference_frame.to_frame(x, box, ref)
    z, ld_inv = m.inverse_u(u, types, box, T, ref)
    u2, ld_fwd = m.forward_u(z, types, box, T, ref)
    d = u2 - u
    d = d - torch.round(d)  # equal on the circle
    assert d.abs().max() < 1e-5
    assert torch.allclose(ld_inv, -ld_fwd, atol=1e-6)
    x2 = reference_frame.from_frame(u2, box, x[torch.arange(3), ref])
    dx = (x2 - x) / box
    assert (dx - torch.round(dx)).abs().max() * box.max() < 1e-5


def test_logdet_equals_autograd_jacobian():
    m = _model(seed=1)
    types, box, T = _system(n=5, batch=1)
    ref = torch.as_tensor(reference_frame.reference_index(types.numpy()))
    free = torch.ones(5, dtype=torch.bool)
    free[ref[0]] = False
    z0 = torch.rand(1, 5, 3)
    z0[0, ref[0]] = 0.0

    def f(zf):
        z = z0.clone()
        z[0, free] = zf.view(-1, 3)
        u, _ = m.forward_u(z, types, box, T, ref)
        return u[0, free].reshape(-1)

    J = torch.autograd.functional.jacobian(f, z0[0, free].reshape(-1))
    _, ld = m.forward_u(z0, types, box, T, ref)
    sign, logabs = torch.linalg.slogdet(J)
    assert sign > 0
    assert torch.allclose(ld[0], logabs, atol=1e-8)


def test_log_prob_invariant_to_species_permutation_and_common_shift():
    m = _model(seed=2)
    types, box, T = _system(n=8)
    x = torch.rand(3, 8, 3) * box
    lq = m.log_prob(x, types, box, T)
    t = types[0].numpy()
    ref = int(reference_frame.reference_index(t)[0])
    a = [i for i in np.flatnonzero(t == 0) if i != ref]
    b = list(np.flatnonzero(t == 1))
    perm = np.arange(8)
    perm[a] = np.roll(a, 1)
    perm[b] = np.roll(b, 1)
    perm_t = torch.as_tensor(perm)
    assert torch.allclose(m.log_prob(x[:, perm_t], types[:, perm_t], box, T), lq, atol=1e-10)
    shift = torch.tensor([0.37, -1.9, 2.6])
    assert torch.allclose(m.log_prob(x + shift, types, box, T), lq, atol=1e-8)
    assert torch.allclose(
        m.log_prob(x + box * torch.tensor([1.0, -2.0, 0.0]), types, box, T), lq, atol=1e-8
    )


def test_samples_in_box_and_log_q_consistent():
    m = _model(seed=3)
    types, box, T = _system(n=7, batch=5)
    g = torch.Generator().manual_seed(0)
    x, lq = m.sample(5, types[0], box, 0.8, generator=g)
    assert x.shape == (5, 7, 3)
    assert (x >= 0).all() and (x < box).all()
    assert torch.allclose(m.log_prob(x, types, box, torch.full((5,), 0.8)), lq, atol=1e-6)


def test_parameters_do_not_grow_with_n_and_temperature_matters():
    m = _model(seed=4)
    n_par = sum(p.numel() for p in m.parameters())
    for n in (5, 20):
        types, box, T = _system(n=n, batch=2)
        assert torch.isfinite(m.log_prob(torch.rand(2, n, 3) * box, types, box, T)).all()
    assert sum(p.numel() for p in m.parameters()) == n_par
    types, box, T = _system(n=6, batch=2)
    x = torch.rand(2, 6, 3) * box
    assert not torch.allclose(m.log_prob(x, types, box, T), m.log_prob(x, types, box, T * 0 + 0.5))


def test_reference_index_needs_an_a_particle():
    with pytest.raises(ValueError, match="A particle"):
        reference_frame.reference_index(np.ones((1, 4), dtype=np.int8))
