"""RK4 integration of a flow with its log-determinant (glassdyn.gen.ode) against closed forms."""

import pytest
import torch
from glassdyn.gen import ode


def _linear(A):
    """v = A x on the flattened coordinates, div v = tr A (exact), no variance."""

    def field(x, t):
        B = x.shape[0]
        v = (x.reshape(B, -1) @ A.T).reshape(x.shape)
        return v, torch.full((B,), float(torch.trace(A))), None

    return field


def test_linear_field_gives_the_matrix_exponential_and_trace():
    """x(1) = exp(A) x(0), log|det| = tr A; backwards exp(-A) and -tr A.  A wrong stage (e.g. the
    stage positions built from x instead of the previous slope) or wrong weights break the
    O(h^4) agreement; a sign error of the backward step breaks the inverse."""
    g = torch.Generator().manual_seed(0)
    A = 0.6 * torch.randn(6, 6, generator=g)
    x = torch.randn(3, 2, 3, generator=g)
    flat = x.reshape(3, -1)
    want = (flat @ torch.linalg.matrix_exp(A).T).reshape(x.shape)
    errs = []
    for steps in (10, 20):
        y, logdet, var = ode.integrate(_linear(A), x, steps)
        errs.append(float((y - want).abs().max()))
        assert torch.allclose(logdet, torch.full((3,), float(torch.trace(A))), atol=1e-12)
        assert torch.all(var == 0)
    assert errs[1] < 1e-6 and errs[0] / errs[1] > 12  # fourth order: 2^4 = 16
    back, ld_back, _ = ode.integrate(_linear(A), want, 20, t0=1.0, t1=0.0)
    assert torch.allclose(back, x, atol=1e-6)
    assert torch.allclose(ld_back, torch.full((3,), -float(torch.trace(A))), atol=1e-12)


def test_log_det_quadrature_has_simpson_weights_and_adds_variances():
    """div v = c t^3 is integrated exactly by RK4's Simpson weights (c / 4 with one step), t^4 is
    not; a divergence estimate of variance s^2 per evaluation gives sum (h w)^2 s^2."""

    def field_pow(p, c=2.0, s2=0.3):
        def field(x, t):
            return torch.zeros_like(x), c * t**p, torch.full_like(t, s2)

        return field

    x = torch.zeros(2, 1, 3)
    _, ld, var = ode.integrate(field_pow(3), x, 1)
    assert torch.allclose(ld, torch.full((2,), 0.5), atol=1e-14)  # 2 * 1/4
    _, ld4, _ = ode.integrate(field_pow(4), x, 1)
    assert abs(float(ld4[0]) - 0.4) > 1e-3  # 2 * 1/5 is not reached with one step
    w = torch.tensor([1 / 6, 1 / 3, 1 / 3, 1 / 6])
    assert torch.allclose(var, torch.full((2,), 0.3 * float((w**2).sum())), atol=1e-14)
    _, _, var5 = ode.integrate(field_pow(3), x, 5)
    assert torch.allclose(var5, torch.full((2,), 5 * 0.3 * float(((w / 5) ** 2).sum())))


def _quadratic_field(x):
    """A nonlinear field v(x) (B, N, 3) coupling every coordinate, for the divergence tests."""
    B = x.shape[0]
    f = x.reshape(B, -1)
    M = torch.linspace(-1, 1, f.shape[1] ** 2).reshape(f.shape[1], f.shape[1])
    return (torch.tanh(f @ M) + 0.3 * f * f.roll(1, dims=1)).reshape(x.shape)


def test_autograd_divergence_exact_and_hutchinson():
    """``exact`` = the trace of the autograd Jacobian; ``hutchinson`` is unbiased and its returned
    variance is that of the mean of its probes: brute force from the Jacobian,
    Var(e^T J e) = sum_{i<j} (J_ij + J_ji)^2 for Rademacher e."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 3, generator=g).requires_grad_(True)
    v = _quadratic_field(x)
    div, var = ode.autograd_divergence(v, x, "exact")
    assert var is None
    for b in range(2):
        J = torch.autograd.functional.jacobian(
            lambda y: _quadratic_field(y[None])[0].reshape(-1), x[b].detach()
        ).reshape(9, 9)
        assert float(div[b]) == pytest.approx(float(torch.trace(J)), abs=1e-12)
    J = torch.autograd.functional.jacobian(
        lambda y: _quadratic_field(y[None])[0].reshape(-1), x[0].detach()
    ).reshape(9, 9)
    S = J + J.T
    single = float((torch.triu(S, 1) ** 2).sum())
    probes, K = 4, 600
    ests, vars_ = [], []
    for _ in range(K):
        d, s2 = ode.autograd_divergence(v, x, "hutchinson", probes, generator=g)
        ests.append(float(d[0]))
        vars_.append(float(s2[0]))
    ests = torch.tensor(ests)
    assert abs(float(ests.mean()) - float(div[0])) < 4 * (single / probes / K) ** 0.5
    assert float(torch.tensor(vars_).mean()) == pytest.approx(single / probes, rel=0.15)
    assert float(ests.var()) == pytest.approx(single / probes, rel=0.2)
    with pytest.raises(ValueError, match=">= 2 probes"):
        ode.autograd_divergence(v, x, "hutchinson", 1)
    with pytest.raises(ValueError, match="exact"):
        ode.autograd_divergence(v, x, "trace")
