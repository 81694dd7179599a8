"""Integrating a continuous flow with its log-density: positions and log|det| together.

A continuous flow dx/dt = v(x, t) (Chen et al., NeurIPS 2018) changes the log-density of what it
carries by d log p / dt = -div v, so the map x(0) -> x(1) has

    log |det dx(1) / dx(0)| = int_0^1 div v(x(t), t) dt.

Both are integrated with the same fixed-step RK4 (the log-determinant of the discrete map is the
quadrature of the divergence; its error, O(h^4), is measured in the tests by halving the step).
The divergence comes from the field itself when it has a closed form (the pair field of
:mod:`glassdyn.gen.cnf`: exact for any N), else from autograd:

* ``exact``: one vector-Jacobian product per coordinate (3N per evaluation: small systems);
* ``hutchinson``: the unbiased estimator E_eps[eps^T (dv/dx) eps] with Rademacher probes
  (Hutchinson 1989; Grathwohl et al., ICLR 2019), ``probes`` per evaluation.  Its integral is a
  noisy log-determinant L with variance s^2 (estimated from the spread of the probes); the
  importance weight exp(L) is then biased high by exp(s^2 / 2) for Gaussian noise, and the
  samplers subtract s^2 / 2 (the cumulant correction of Hoffmann, Schebek, Klein, Noe & Rogal,
  arXiv:2602.18482; the penalty method of Ceperley & Dewing, J. Chem. Phys. 110, 9812 (1999)).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# field(x (B, N, 3), t (B,)) -> (v (B, N, 3), div (B,) or None, variance of div (B,) or None)
Field = Callable[[torch.Tensor, torch.Tensor], tuple]

RK4 = ((0.0, 1.0 / 6.0), (0.5, 1.0 / 3.0), (0.5, 1.0 / 3.0), (1.0, 1.0 / 6.0))


def autograd_divergence(
    v: torch.Tensor,
    x: torch.Tensor,
    method: str,
    probes: int = 2,
    *,
    create_graph: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """div v (B,) of v (B, N, 3) w.r.t. x (B, N, 3) (x requires grad): ``exact`` (3N products) or
    ``hutchinson`` (mean over ``probes`` Rademacher probes, and the variance of that mean)."""
    B, N, D = x.shape
    if method == "exact":
        div = torch.zeros(B, dtype=x.dtype, device=x.device)
        for i in range(N):
            for d in range(D):
                (g,) = torch.autograd.grad(
                    v[:, i, d].sum(), x, create_graph=create_graph, retain_graph=True
                )
                div = div + g[:, i, d]
        return div, None
    if method != "hutchinson":
        raise ValueError(f"divergence must be 'exact' or 'hutchinson', got {method!r}")
    if probes < 2:
        raise ValueError("the Hutchinson estimator needs >= 2 probes to estimate its own variance")
    ests = []
    for _ in range(probes):
        eps = torch.randint(0, 2, x.shape, generator=generator, device=x.device).to(x.dtype) * 2 - 1
        (g,) = torch.autograd.grad(v, x, eps, create_graph=create_graph, retain_graph=True)
        ests.append((g * eps).sum((-1, -2)))
    e = torch.stack(ests)
    return e.mean(0), e.var(0).detach() / probes


def integrate(
    field: Field, x: torch.Tensor, steps: int, *, t0: float = 0.0, t1: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fixed-step RK4 from t0 to t1 (t1 < t0 runs the flow backwards) of x (B, N, 3) and of the
    log-determinant.  Returns (x(t1), int_t0^t1 div v dt (B,), variance of that integral (B,):
    zero when the divergence is exact)."""
    h = (t1 - t0) / steps
    B = x.shape[0]
    logdet = torch.zeros(B, dtype=x.dtype, device=x.device)
    var = torch.zeros(B, dtype=x.dtype, device=x.device)
    for k in range(steps):
        t = t0 + k * h
        dx = torch.zeros_like(x)
        prev = None
        for a, w in RK4:
            xs = x if prev is None else x + (a * h) * prev
            tt = torch.full((B,), t + a * h, dtype=x.dtype, device=x.device)
            v, div, dvar = field(xs, tt)
            prev = v
            dx = dx + w * v
            logdet = logdet + (h * w) * div
            if dvar is not None:
                var = var + (h * w) ** 2 * dvar
        x = x + h * dx
    return x, logdet, var
