"""Continuous normalizing flow on the periodic box, trained by flow matching on the torus.

Vector field v_theta(u, t; T) on the fractional coordinates u in [0, 1)^{3N} (reference frame of
:mod:`glassdyn.gen.reference_frame`, the reference particle does not move).  Training: Riemannian flow
matching (Chen & Lipman, ICLR 2024) with geodesic paths on the flat torus from uniform noise z to
a data point u1,

    delta = wrap(u1 - z) in [-1/2, 1/2),   u_t = (z + t delta) mod 1,   L_FM = E |v(u_t, t) - delta|^2,

Sampling integrates du/dt = v from t = 0 to 1 (torchdiffeq, fixed-step RK4 by default) and the
log density along it, d log p_t / dt = -div v (Chen et al., NeurIPS 2018), with the exact
divergence (one vector-Jacobian product per coordinate, for small systems) or Hutchinson's
estimator E_eps[eps^T (dv/du) eps] (Grathwohl et al., ICLR 2019; unbiased for the divergence,
so log q and importance weights are noisy).  The reference is Jung et al., Mach. Learn.: Sci.
Technol. (2024), a CNF for glass configurations.

The network: :class:`ParticleTransformer` token states h_i, and

    v_i = W h_i + sum_{j != i} g(h_i, h_j, |r_ij|) r_ij,

a per-particle term plus pairwise radial terms (minimum image, smooth cutoff; r_ij rather than
its unit vector keeps the field and its divergence smooth when two particles meet), permutation
equivariant and shift equivariant (depends on u only through the frame).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from glassdyn.gen import reference_frame
from glassdyn.gen.network import LocalField, ParticleTransformer, minimum_image_vectors
from torch import nn


@dataclass(frozen=True)
class CNFConfig:
    hidden: int = 64
    heads: int = 4
    blocks: int = 3
    n_freq: int = 4
    pair_channels: int = 16
    r_cut: float = 2.0  # pairwise term cutoff (sigma_AA)
    steps: int = 20  # RK4 steps for sampling and density evaluation
    network: str = "transformer"  # or "local" (:class:`~glassdyn.gen.network.LocalField`)

    def as_dict(self) -> dict:
        return asdict(self)


class VectorField(nn.Module):
    """v(u, t; T) (B, N, 3) in fractional units per unit flow time."""

    def __init__(self, cfg: CNFConfig):
        super().__init__()
        self.cfg = cfg
        self.net = ParticleTransformer(
            3,
            3,
            n_cond=2 + 5,
            hidden=cfg.hidden,
            heads=cfg.heads,
            layers=cfg.blocks,
            n_freq=cfg.n_freq,
        )
        self.node = nn.Linear(cfg.hidden, cfg.pair_channels)
        self.pair = nn.Sequential(
            nn.Linear(self.net.n_rbf + 3, 32), nn.SiLU(), nn.Linear(32, cfg.pair_channels)
        )

    @staticmethod
    def time_features(t: torch.Tensor) -> torch.Tensor:
        """(B,) -> (B, 5)."""
        k = torch.tensor([1.0, 2.0], dtype=t.dtype, device=t.device) * math.pi
        return torch.cat([t[:, None], torch.sin(k * t[:, None]), torch.cos(k * t[:, None])], dim=-1)

    def forward(self, u, t, tokens, box, Tfeat, free):
        cond = torch.cat([Tfeat, self.time_features(t)], dim=-1)
        pf = self.net.pair_features(u, tokens, box)
        h = self.net.hidden_states(u, tokens, box, cond, pf)
        v = self.net.head(h)  # (B, N, 3), in length units
        rij = minimum_image_vectors(u, box)  # (B, N, N, 3)
        r = torch.sqrt((rij * rij).sum(-1) + 1e-12)
        rc = min(self.cfg.r_cut, 0.5 * float(box.min()))  # beyond L/2 the minimum image jumps
        env = torch.where(r < rc, torch.cos(0.5 * math.pi * r / rc) ** 2, torch.zeros_like(r))
        a = self.node(h)
        g = (self.pair(pf) * (a[:, :, None, :] + a[:, None, :, :])).sum(-1) * env  # (B, N, N)
        eye = torch.eye(u.shape[1], dtype=torch.bool, device=u.device)
        g = g.masked_fill(eye, 0.0)
        v = v + (g[..., None] * rij).sum(2)
        return (v / box) * free[..., None]


class LocalVectorField(nn.Module):
    """v(u, t; T) from :class:`~glassdyn.gen.network.LocalField` (pairs within r_cut only)."""

    def __init__(self, cfg: CNFConfig):
        super().__init__()
        self.cfg = cfg
        self.net = LocalField(2 + 5, hidden=cfg.hidden, r_cut=cfg.r_cut)

    def forward(self, u, t, tokens, box, Tfeat, free):
        cond = torch.cat([Tfeat, VectorField.time_features(t)], dim=-1)
        return self.net(u, tokens, box, cond, free) / box


def make_field(cfg: CNFConfig) -> nn.Module:
    """The network named by ``cfg.network``."""
    if cfg.network == "transformer":
        return VectorField(cfg)
    if cfg.network == "local":
        return LocalVectorField(cfg)
    raise ValueError(f"unknown network {cfg.network!r}; choose 'transformer' or 'local'")


class ContinuousFlow(nn.Module):
    """Temperature-conditioned CNF; same interface as :class:`~glassdyn.gen.coupling.CouplingFlow`.

    ``divergence`` selects the log-density estimator: "exact" (3N vector-Jacobian products per
    function evaluation), "hutchinson" (``n_probes`` Rademacher probes, fixed along a trajectory),
    or "auto" (exact up to ``EXACT_MAX_PARTICLES`` particles)."""

    kind = "cnf"
    EXACT_MAX_PARTICLES = 32

    def __init__(self, cfg: CNFConfig = CNFConfig()):
        super().__init__()
        self.cfg = cfg
        self.field = make_field(cfg)
        self.divergence = (
            "auto"  # "exact", "hutchinson", or "auto": exact up to EXACT_MAX_PARTICLES
        )
        self.n_probes = 1
        self.steps = cfg.steps  # RK4 steps; may be changed after loading (more: more accurate)

    def _prepare(self, types, ref, T):
        tokens = reference_frame.species_tokens(types, ref)
        return tokens, tokens != reference_frame.REFERENCE, reference_frame.temperature_features(T)

    # ---------------------------------------------------------------- training
    def flow_matching_loss(self, positions, types, box, T, ref, generator=None):
        """Mean squared error of the vector field against the geodesic target (scalar)."""
        tokens, free, Tf = self._prepare(types, ref, T)
        u1 = reference_frame.to_frame(positions, box, ref)
        B = u1.shape[0]
        z = torch.rand(u1.shape, generator=generator, dtype=u1.dtype, device=u1.device)
        t = torch.rand(B, generator=generator, dtype=u1.dtype, device=u1.device)
        delta = u1 - z
        delta = (delta - torch.round(delta)) * free[..., None]
        ut = torch.remainder(z + t[:, None, None] * delta, 1.0) * free[..., None]
        v = self.field(ut, t, tokens, box, Tf, free)
        err = ((v - delta) * box) ** 2  # length units
        return err.sum((-1, -2)).div(free.sum(-1)).mean() / 3.0

    # ------------------------------------------------------ divergence and ODE
    def _div(self, v, u, free, eps):
        exact = self.divergence == "exact" or (
            self.divergence == "auto" and u.shape[1] <= self.EXACT_MAX_PARTICLES
        )
        if exact:
            B, N, _ = u.shape
            div = torch.zeros(B, dtype=u.dtype, device=u.device)
            for i in range(N):
                if not bool(free[:, i].any()):
                    continue
                for d in range(3):
                    (g,) = torch.autograd.grad(
                        v[:, i, d].sum(), u, create_graph=self.training, retain_graph=True
                    )
                    div = div + g[:, i, d]
            return div
        total = 0.0
        for e in eps:
            (g,) = torch.autograd.grad(v, u, e, create_graph=self.training, retain_graph=True)
            total = total + (g * e).sum((-1, -2))
        return total / len(eps)

    def _dynamics(self, tokens, box, Tf, free, eps):
        def f(t, state):
            u, _ = state
            with torch.enable_grad():
                u = u if u.requires_grad else u.requires_grad_(True)
                tt = t.expand(u.shape[0]).to(u.dtype)
                v = self.field(u, tt, tokens, box, Tf, free)
                div = self._div(v, u, free, eps)
            return v, -div

        return f

    def _integrate(self, u, tokens, box, Tf, free, t0, t1, generator=None):
        from torchdiffeq import odeint

        eps = [
            (torch.randint(0, 2, u.shape, generator=generator, device=u.device).to(u.dtype) * 2 - 1)
            * free[..., None]
            for _ in range(self.n_probes)
        ]
        f = self._dynamics(tokens, box, Tf, free, eps)
        ts = torch.tensor([t0, t1], dtype=u.dtype, device=u.device)
        lp0 = torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
        us, lps = odeint(f, (u, lp0), ts, method="rk4", options={"step_size": 1.0 / self.steps})
        return us[-1], lps[-1]

    def log_prob(self, positions, types, box, T, ref=None):
        """log q(x) (B,), integrating the ODE backwards from the data to the uniform base."""
        if ref is None:
            ref = torch.as_tensor(
                reference_frame.reference_index(types.cpu().numpy()), device=positions.device
            )
        tokens, free, Tf = self._prepare(types, ref, T)
        u = reference_frame.to_frame(positions, box, ref)
        _, dlp = self._integrate(u, tokens, box, Tf, free, 1.0, 0.0)
        # backwards from t=1 with lambda(1) = 0: lambda(0) = int_0^1 div v dt = log p_0 - log p_1, log p_0 = 0
        return -dlp - reference_frame.log_volume(box, positions.shape[1])

    def sample(self, n, types, box, T, generator=None):
        """n configurations (n, N, 3) in [0, L) and their log q (n,) at temperature T."""
        dev = box.device
        types_b = types.to(dev).long()[None].expand(n, -1)
        ref = torch.as_tensor(
            reference_frame.reference_index(types_b[:1].cpu().numpy()), device=dev
        ).expand(n)
        tokens, free, Tf = self._prepare(
            types_b, ref, torch.full((n,), float(T), dtype=box.dtype, device=dev)
        )
        z = (
            torch.rand(n, types_b.shape[1], 3, generator=generator, dtype=box.dtype, device=dev)
            * free[..., None]
        )
        with torch.no_grad():
            u, dlp = self._integrate(z, tokens, box, Tf, free, 0.0, 1.0, generator)
        u = torch.remainder(u.detach(), 1.0)
        origin = torch.rand(n, 3, generator=generator, dtype=box.dtype, device=dev) * box
        return reference_frame.from_frame(
            u, box, origin
        ), dlp.detach() - reference_frame.log_volume(box, types_b.shape[1])
