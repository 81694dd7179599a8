"""Continuous flow: exact divergence = trace of the autograd Jacobian, Hutchinson is unbiased,
log q symmetric, sampling and density evaluation agree, flow matching target is geodesic."""

import pytest
import torch
from glassdyn.gen import reference_frame
from glassdyn.gen.cnf import CNFConfig, ContinuousFlow

from .helpers import a_permutation, jitter, small_system


def _model(seed=0, steps=8, network="transformer"):
    torch.manual_seed(seed)
    cfg = CNFConfig(
        hidden=16, heads=2, blocks=1, n_freq=2, pair_channels=4, steps=steps, network=network
    )
    return jitter(ContinuousFlow(cfg))


@pytest.mark.parametrize("network", ["transformer", "local"])
def test_exact_divergence_is_trace_of_jacobian(network):
    m = _model(network=network)
    types, box, T = small_system()
    ref = torch.as_tensor(reference_frame.reference_index(types.numpy()))
    tokens, free, Tf = m._prepare(types, ref, T)
    u = torch.rand(2, 5, 3) * free[..., None]
    t = torch.tensor([0.3, 0.7])
    m.divergence = "exact"
    uu = u.clone().requires_grad_(True)
    v = m.field(uu, t, tokens, box, Tf, free)
    div = m._div(v, uu, free, [])
    for b in range(2):
        J = torch.autograd.functional.jacobian(
            lambda y: m.field(
                y[None], t[b : b + 1], tokens[b : b + 1], box, Tf[b : b + 1], free[b : b + 1]
            )[0],
            u[b],
        )
        trace = torch.einsum("ndnd->", J)
        assert torch.allclose(div[b], trace, atol=1e-9)
    # the reference particle does not move
    assert torch.all(v[torch.arange(2), ref] == 0)
    # Hutchinson is unbiased: many probes approach the exact value
    m.divergence = "hutchinson"
    g = torch.Generator().manual_seed(0)
    eps = [
        (torch.randint(0, 2, u.shape, generator=g).double() * 2 - 1) * free[..., None]
        for _ in range(1500)
    ]
    est = m._div(v, uu, free, eps)
    assert torch.allclose(est, div, atol=0.1 * div.abs().max().item() + 0.05)


@pytest.mark.parametrize("network", ["transformer", "local"])
def test_log_q_symmetries_and_sample_density_agree(network):
    m = _model(seed=1, steps=8, network=network)
    types, box, T = small_system(n=5, batch=2)
    g = torch.Generator().manual_seed(0)
    x, lq = m.sample(2, types[0], box, 0.8, generator=g)
    assert (x >= 0).all() and (x < box).all()
    lp = m.log_prob(x, types, box, T).detach()
    assert torch.allclose(lp, lq, atol=1e-2)  # forward vs backward RK4 of the same ODE
    shifted = m.log_prob(x + torch.tensor([1.3, -0.2, 4.1]), types, box, T).detach()
    assert torch.allclose(shifted, lp, atol=1e-8)
    p = a_permutation(types[0].numpy())
    assert torch.allclose(m.log_prob(x[:, p], types[:, p], box, T).detach(), lp, atol=1e-8)


def test_flow_matching_loss_is_zero_for_the_geodesic_field():
    """For one data point x1, the exact field is the geodesic velocity wrap(u1 - u) / (1 - t) on the
    torus: its loss vanishes, and any other field (here shifted by 1e-2) has a loss of its squared
    error in length units.  A loss with the wrong target (unwrapped difference, wrong
    interpolation) or units fails."""
    m = _model()
    types, box, T = small_system(n=5, batch=4)
    ref = torch.as_tensor(reference_frame.reference_index(types.numpy()))
    x = (torch.rand(1, 5, 3, generator=torch.Generator().manual_seed(3)) * box).expand(4, -1, -1)
    u1 = reference_frame.to_frame(x, box, ref)

    class Geodesic(torch.nn.Module):
        def __init__(self, shift=0.0):
            super().__init__()
            self.shift = shift

        def forward(self, u, t, tokens, box, Tf, free):
            d = u1 - u
            d = d - torch.round(d)
            return (d / (1 - t)[:, None, None] + self.shift) * free[..., None]

    own = m.flow_matching_loss(x, types, box, T, ref, torch.Generator().manual_seed(0))
    assert torch.isfinite(own) and own > 0
    own.backward()
    assert all(p.grad is not None for p in m.field.parameters() if p.requires_grad)
    m.field = Geodesic()
    for seed in range(5):
        loss = m.flow_matching_loss(x, types, box, T, ref, torch.Generator().manual_seed(seed))
        assert float(loss) < 1e-20
    m.field = Geodesic(shift=1e-2)
    loss = m.flow_matching_loss(x, types, box, T, ref, torch.Generator().manual_seed(0))
    # (1e-2 L)^2 per component on the 4 free particles, averaged over particles and components
    assert float(loss) == pytest.approx(float((1e-2 * box) ** 2 @ torch.ones(3)) / 3, rel=1e-6)
