"""Continuous normalizing flow as a temperature transport: MD configurations at T_0 -> T < T_0.

The flow dx/dt = v(x, t; T_0, T) carries configurations of the Boltzmann distribution at the
base temperature T_0 (MD, cheap where tau_alpha is short) towards the one at T, as in Jung,
Biroli & Berthier, Mach. Learn.: Sci. Technol. 5, 035053 (2024).  The base density is known up
to a constant, log p_0(z) = -U(z) / T_0 - log Z_0, so a transported configuration x = phi(z) has

    log q(x) = -U(z) / T_0 - int_0^1 div v dt - log Z_0,    log w(x) = -U(x) / T - log q(x),

and the annealed sampler (:mod:`glassdyn.gen.anneal`) corrects it exactly.  Training minimises the
reverse Kullback-Leibler divergence E_z[U(phi(z)) / T - log |det dphi/dz|] over base
configurations of the training split, for target temperatures drawn between the lowest fitted one
and T_0 (the flow is conditioned on both temperatures, so one fit serves a whole ladder).

The default field is a learned **pair field**

    v_i = sum_{j: r_ij < r_c} phi(r_ij; s_i s_j, t, T_0, T) (r_j - r_i),

phi a combination of Gaussian radial functions times a smooth envelope whose coefficients, one
set per species pair, a small network computes from the flow time and both temperatures: a
learned, time-dependent pair force.  It is permutation equivariant, periodic (minimum image),
translation equivariant and momentum conserving (sum_i v_i = 0), and its divergence is exact in
closed form for any N at the cost of the field itself,

    div v = -sum_{i != j} [3 phi(r_ij) + r_ij phi'(r_ij)].  The many-body fields of
:mod:`glassdyn.gen.network` (``local``: learned neighbour densities; ``transformer``) take the
divergence from autograd: exact up to :data:`EXACT_MAX_PARTICLES` particles, Hutchinson's
estimator with the cumulant correction beyond (:mod:`glassdyn.gen.ode`).  The last layer starts
at zero: an untrained flow is the identity, i.e. plain population annealing.  Every field is
multiplied by 1 - T / T_0 (``cooling_scale``; a harmonic cage contracts by about (1 - T / T_0) / 2):
the map is the identity between equal temperatures whatever the weights, so the annealing's first
step can be as short as the weights need (without it, a fit of N=256 reached an ESS of only 0.46
on a step from T_0 = 0.8 to 0.7997, where the identity keeps ~1).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from glassdyn.gen import ode
from glassdyn.gen.reference_frame import temperature_features
from torch import nn

EXACT_MAX_PARTICLES = 32  # autograd divergence: exact up to this N, Hutchinson above (auto)
NETWORKS = ("pair", "local", "transformer")


@dataclass(frozen=True)
class CNFConfig:
    network: str = "pair"  # pair (closed-form divergence), local or transformer (autograd)
    hidden: int = 64
    n_rbf: int = 24
    r_cut: float = 2.0  # range of the pair terms (sigma_AA)
    steps: int = 8  # RK4 steps of the transport
    divergence: str = "auto"  # many-body fields: auto, exact or hutchinson
    probes: int = 2  # Hutchinson probes per evaluation (>= 2: the variance is estimated)
    heads: int = 4  # transformer field only
    blocks: int = 2
    n_freq: int = 4
    cooling_scale: bool = True  # the field times 1 - T / T_0: the identity between equal T

    def as_dict(self) -> dict:
        return asdict(self)


def conditioning(t: torch.Tensor, T_from: torch.Tensor, T_to: torch.Tensor) -> torch.Tensor:
    """(B, 9): flow time features [t, sin, cos (pi t, 2 pi t)] and both temperatures' features."""
    k = torch.tensor([1.0, 2.0], dtype=t.dtype, device=t.device) * math.pi
    tf = torch.cat([t[:, None], torch.sin(k * t[:, None]), torch.cos(k * t[:, None])], dim=-1)
    return torch.cat([tf, temperature_features(T_from), temperature_features(T_to)], dim=-1)


N_COND = 9


class PairList:
    """Candidate pairs of a batch (each unordered pair once, within r_c + skin at construction),
    reused while no particle has moved more than skin / 2: concatenated over configurations as
    b, i, j (P,) and the periodic shifts (P, 3) such that r_j - r_i + shift * box is the
    separation."""

    def __init__(self, x: torch.Tensor, box: torch.Tensor, cutoff: float, skin: float = 0.4):
        from glassdyn.data.neighbors import neighbor_pairs

        self.cutoff, self.skin = cutoff, skin
        self.x0 = x.detach().clone()
        box_np = box.detach().cpu().double().numpy()
        wrapped = np.mod(x.detach().cpu().double().numpy(), box_np)
        img = torch.floor(x.detach() / box)  # (B, N, 3): x = wrapped + img * box
        bs, is_, js, ss = [], [], [], []
        for k, p in enumerate(wrapped):
            i, j, s = neighbor_pairs(p, box_np, cutoff + skin)
            other = i != j  # a particle's own periodic images (box < cutoff) move nothing
            i, j, s = i[other], j[other], s[other]
            bs.append(np.full(len(i), k))
            is_.append(i)
            js.append(j)
            ss.append(s)
        dev = x.device
        self.b, self.i, self.j = (
            torch.as_tensor(np.concatenate(a), dtype=torch.long, device=dev) for a in (bs, is_, js)
        )
        s = torch.as_tensor(np.concatenate(ss), dtype=x.dtype, device=dev)
        # shifts for the unwrapped x: r_j - r_i = (w_j - w_i) + (img_j - img_i) box
        self.shift = s - (img[self.b, self.j] - img[self.b, self.i])

    def valid(self, x: torch.Tensor) -> bool:
        d = (x.detach() - self.x0).norm(dim=-1).max()
        return bool(d < 0.5 * self.skin)

    def vectors(self, x: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        """Separation vectors r_j - r_i (P, 3) of the candidate pairs, differentiable in x."""
        return x[self.b, self.j] - x[self.b, self.i] + self.shift * box


def pair_function(r: torch.Tensor, c: torch.Tensor, centres: torch.Tensor, r_cut: float):
    """phi(r) = cos^2(pi r / 2 r_cut) sum_k c_k exp(-((r - centre_k) / w)^2) (zero beyond r_cut;
    w = 1.5 (r_cut - centre_0) / n_rbf) and dphi/dr at distances r (...), coefficients c
    (..., n_rbf) broadcasting against r[..., None]."""
    width = 1.5 * (r_cut - float(centres[0])) / len(centres)
    z = (r[..., None] - centres) / width
    g = torch.exp(-z * z)
    dg = -2 * z / width * g
    inside = r < r_cut
    a = 0.5 * math.pi / r_cut
    env = torch.where(inside, torch.cos(a * r) ** 2, torch.zeros_like(r))
    denv = torch.where(inside, -a * torch.sin(2 * a * r), torch.zeros_like(r))
    cg, cdg = (c * g).sum(-1), (c * dg).sum(-1)
    return cg * env, cdg * env + cg * denv


class PairField(nn.Module):
    """v_i = sum_j phi(r_ij) (r_j - r_i) with phi(r) = env(r) sum_k c_k g_k(r): Gaussian radial
    functions g_k whose coefficients c (B, 3 pair kinds, n_rbf) a small network computes from the
    flow time and both temperatures.  phi' is analytic, so the divergence is exact and cheap."""

    closed_form_divergence = True

    def __init__(self, cfg: CNFConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.coef = nn.Sequential(
            nn.Linear(N_COND, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, 3 * cfg.n_rbf)
        )
        nn.init.zeros_(self.coef[-1].weight)
        nn.init.zeros_(self.coef[-1].bias)
        self.register_buffer("centres", torch.linspace(0.7, cfg.r_cut, cfg.n_rbf))

    def phi(self, r: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """phi (P,) and dphi/dr (P,) at distances r (P,) with coefficients c (P, n_rbf)."""
        return pair_function(r, c, self.centres, self.cfg.r_cut)

    def forward(self, x, t, types, box, T_from, T_to, pairs: PairList):
        """v (B, N, 3), div (B,), None (the divergence is exact)."""
        B = x.shape[0]
        dv = pairs.vectors(x, box)
        r = torch.sqrt((dv * dv).sum(-1))
        coef = self.coef(conditioning(t, T_from, T_to)).view(B, 3, self.cfg.n_rbf)
        kind = types[pairs.b, pairs.i] + types[pairs.b, pairs.j]
        ph, dph = self.phi(r, coef[pairs.b, kind])
        f = ph[:, None] * dv  # on i; -f on j
        v = torch.zeros_like(x).index_put_((pairs.b, pairs.i), f, accumulate=True)
        v = v.index_put_((pairs.b, pairs.j), -f, accumulate=True)
        # div = -sum over ordered pairs (3 phi + r phi') = -2 sum over unordered pairs
        div = torch.zeros(B, dtype=x.dtype, device=x.device).index_add_(
            0, pairs.b, -2 * (3 * ph + r * dph)
        )
        return v, div, None


class ManyBodyField(nn.Module):
    """The ``local`` or ``transformer`` field of :mod:`glassdyn.gen.network` on x / L, divergence
    by autograd (exact or Hutchinson)."""

    closed_form_divergence = False

    def __init__(self, cfg: CNFConfig):
        super().__init__()
        from glassdyn.gen.network import LocalField, ParticleTransformer

        self.cfg = cfg
        if cfg.network == "local":
            self.net = LocalField(N_COND, hidden=cfg.hidden, r_cut=cfg.r_cut)
            last = self.net.edge2[-1]
        else:
            self.net = ParticleTransformer(
                3,
                3,
                n_cond=N_COND,
                hidden=cfg.hidden,
                heads=cfg.heads,
                layers=cfg.blocks,
                n_freq=cfg.n_freq,
            )
            last = self.net.head
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def velocity(self, x, t, types, box, T_from, T_to):
        u = torch.remainder(x / box, 1.0)
        c = conditioning(t, T_from, T_to)
        if self.cfg.network == "local":
            free = torch.ones(types.shape, dtype=x.dtype, device=x.device)
            return self.net(u, types, box, c, free)
        return self.net(u, types, box, c) * box

    def forward(self, x, t, types, box, T_from, T_to, pairs=None):
        method = self.cfg.divergence
        if method == "auto":
            method = "exact" if x.shape[1] <= EXACT_MAX_PARTICLES else "hutchinson"
        training = torch.is_grad_enabled()
        with torch.enable_grad():
            xx = x if x.requires_grad else x.detach().requires_grad_(True)
            v = self.velocity(xx, t, types, box, T_from, T_to)
            div, var = ode.autograd_divergence(
                v, xx, method, self.cfg.probes, create_graph=training
            )
        if not training:
            v, div = v.detach(), div.detach()
        return v, div, var


class ContinuousTransport(nn.Module):
    """The ``cnf`` model: ``transport(x, T_from, T_to)`` and its log-determinant."""

    kind = "cnf"

    def __init__(self, cfg: CNFConfig = CNFConfig()):
        super().__init__()
        if cfg.network not in NETWORKS:
            raise ValueError(
                f"unknown network {cfg.network!r}; choose one of {', '.join(NETWORKS)}"
            )
        self.cfg = cfg
        self.field = PairField(cfg) if cfg.network == "pair" else ManyBodyField(cfg)
        self.steps = cfg.steps

    def transport(self, x, types, box, T_from, T_to, *, reverse: bool = False):
        """x (B, N, 3) positions, types (B, N) long, box (3,), T_from / T_to (B,) ->
        (phi(x) (B, N, 3) unwrapped, log|det dphi/dx| (B,), variance of that log-det (B,)).
        ``reverse``: the inverse map (from T_to back to T_from) and its log-determinant."""
        types = types.long()
        state = {"pairs": None}
        scale = self._cooling(T_from, T_to, x.dtype)

        def field(xs, t):
            if self.cfg.network == "pair" and (
                state["pairs"] is None or not state["pairs"].valid(xs)
            ):
                state["pairs"] = PairList(xs, box, self.cfg.r_cut)
            v, div, var = self.field(xs, t, types, box, T_from, T_to, state["pairs"])
            if scale is None:
                return v, div, var
            return v * scale[:, None, None], div * scale, None if var is None else var * scale**2

        t0, t1 = (1.0, 0.0) if reverse else (0.0, 1.0)
        return ode.integrate(field, x, self.steps, t0=t0, t1=t1)

    def velocity(self, x, types, box, T_from, T_to, t):
        """The field (B, N, 3) that :meth:`transport` integrates, cooling scale included, at
        positions x (B, N, 3) and flow times t (B,): what flow matching regresses."""
        types = types.long()
        if self.cfg.network == "pair":
            v, _, _ = self.field(x, t, types, box, T_from, T_to, PairList(x, box, self.cfg.r_cut))
        else:
            v = self.field.velocity(x, t, types, box, T_from, T_to)
        scale = self._cooling(T_from, T_to, x.dtype)
        return v if scale is None else v * scale[:, None, None]

    def _cooling(self, T_from, T_to, dtype):
        """The factor 1 - T_to / T_from (B,) of every field (None without ``cooling_scale``)."""
        return (1.0 - T_to / T_from).to(dtype) if self.cfg.cooling_scale else None
