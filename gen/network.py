"""A permutation-equivariant particle network shared by the coupling flow and the continuous flow.

Each particle is a token: species embedding + Fourier features sin/cos(2 pi k u) (k = 1..K) of
the coordinates the caller lets it see (fractional coordinates u = x / L in [0, 1)) + a
conditioning embedding (temperature, flow time).  Tokens go through transformer blocks whose
attention scores carry a learned bias from the periodic (minimum-image) distance between the two
particles in the visible coordinates and their species pair,

    a_ij = softmax_j( q_i . k_j / sqrt(d) + b_h(rbf(|u_i - u_j|_L), s_i + s_j) ),

so nothing depends on particle order (tokens carry no index), the parameter count does not grow
with N, and the network sees local structure directly.  The attention is dense: O(N^2) per
configuration, meant for N up to a few hundred (the flows' target sizes).
"""

from __future__ import annotations

import math

import torch
from glassdyn.gen.reference_frame import physical_species
from torch import nn


def fourier_features(u: torch.Tensor, n_freq: int) -> torch.Tensor:
    """(..., D) fractional coordinates -> (..., 2 D n_freq) sin/cos(2 pi k u), k = 1..n_freq."""
    k = torch.arange(1, n_freq + 1, dtype=u.dtype, device=u.device)
    ang = 2 * math.pi * u[..., None] * k  # (..., D, K)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1).flatten(-2)


def periodic_distance(u: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Minimum-image distances (B, N, N) from fractional coordinates u (B, N, D) and lengths box (D,)."""
    d = u[:, :, None, :] - u[:, None, :, :]
    d = (d - torch.round(d)) * box
    return torch.sqrt((d * d).sum(-1) + 1e-12)


def minimum_image_vectors(u: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Separation vectors r_j - r_i (B, N, N, D) in length units, minimum image."""
    d = u[:, None, :, :] - u[:, :, None, :]
    return (d - torch.round(d)) * box


class _Block(nn.Module):
    def __init__(self, hidden: int, heads: int, n_rbf: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.bias = nn.Sequential(nn.Linear(n_rbf + 3, 32), nn.SiLU(), nn.Linear(32, heads))
        self.norm2 = nn.LayerNorm(hidden)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, 2 * hidden), nn.SiLU(), nn.Linear(2 * hidden, hidden)
        )

    def forward(self, h: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
        B, N, H = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(B, N, 3, self.heads, H // self.heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, heads, N, dh)
        bias = self.bias(pair).permute(0, 3, 1, 2)  # (B, heads, N, N)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias, dim=-1)
        h = h + self.out((att @ v).transpose(1, 2).reshape(B, N, H))
        return h + self.mlp(self.norm2(h))


class ParticleTransformer(nn.Module):
    """Per-particle outputs (B, N, out_features) from visible fractional coordinates.

    Parameters
    ----------
    n_visible: how many coordinates per particle the network sees (2 in a coupling layer, 3 in
        the continuous flow).
    out_features: outputs per particle.
    n_cond: width of the conditioning vector (e.g. temperature features, flow time).
    """

    def __init__(
        self,
        n_visible: int,
        out_features: int,
        *,
        n_cond: int = 2,
        hidden: int = 64,
        heads: int = 4,
        layers: int = 2,
        n_freq: int = 4,
        n_rbf: int = 16,
        r_max: float = 2.5,
    ):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden={hidden} must be a multiple of heads={heads}")
        self.n_visible, self.n_freq, self.n_rbf, self.r_max = n_visible, n_freq, n_rbf, r_max
        self.species = nn.Embedding(3, hidden)  # A, B, reference particle
        self.inp = nn.Linear(2 * n_visible * n_freq, hidden)
        self.cond = nn.Sequential(nn.Linear(n_cond, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.blocks = nn.ModuleList([_Block(hidden, heads, n_rbf) for _ in range(layers)])
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, out_features)
        self.register_buffer("centres", torch.linspace(0.0, r_max, n_rbf))

    def pair_features(
        self, u: torch.Tensor, species: torch.Tensor, box: torch.Tensor
    ) -> torch.Tensor:
        """(B, N, N, n_rbf + 3): Gaussian RBFs of the periodic distance and a one-hot species pair."""
        r = periodic_distance(u, box)
        width = self.r_max / self.n_rbf
        rbf = torch.exp(-(((r[..., None] - self.centres) / width) ** 2))
        s = physical_species(species)
        kind = nn.functional.one_hot(s[:, :, None] + s[:, None, :], 3).to(u.dtype)  # AA, AB, BB
        return torch.cat([rbf, kind], dim=-1)

    def embed(self, u, species, cond):
        return (
            self.inp(fourier_features(u, self.n_freq))
            + self.species(species)
            + self.cond(cond)[:, None, :]
        )

    def forward(
        self, u: torch.Tensor, species: torch.Tensor, box: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """u (B, N, n_visible) in [0, 1); species (B, N) long in {0: A, 1: B, 2: reference};
        box (n_visible,) lengths of the visible axes; cond (B, n_cond)."""
        h = self.embed(u, species, cond)
        pair = self.pair_features(u, species, box)
        for blk in self.blocks:
            h = blk(h, pair)
        return self.head(self.norm(h))

    def hidden_states(self, u, species, box, cond, pair=None):
        """Token states (B, N, hidden) before the head (used by pairwise output heads); ``pair``:
        the caller's :meth:`pair_features` of the same input, if it has them already."""
        h = self.embed(u, species, cond)
        pair = self.pair_features(u, species, box) if pair is None else pair
        for blk in self.blocks:
            h = blk(h, pair)
        return self.norm(h)


class LocalField(nn.Module):
    """A cheaper, local equivariant field: pair terms over neighbours within ``r_cut`` only.

    Two rounds on the periodic radius graph (minimum image, r < r_c):

        h_i = MLP_node( sum_j e(r_ij) phi(rbf(r_ij), s_i s_j, c),  s_i, c ),
        F_i = sum_j e(r_ij) f(rbf(r_ij), s_i s_j, c, h_i + h_j, h_i * h_j) r_ij,

    with e(r) = cos^2(pi r / 2 r_c) a smooth envelope and c the conditioning (temperature, flow
    time or noise level).  h_i are learned local densities (like coarse-grained shell counts), so
    F is a density-dependent pair force: exact in form for the small-noise score of a pairwise
    potential at temperature T (-grad U / T), permutation equivariant, translation equivariant,
    parameters independent of N.  Cost O(N n_neighbours) for the learned parts (distances are
    computed densely, O(N^2) cheap arithmetic).
    """

    def __init__(
        self, out_scale_cond: int, *, hidden: int = 64, n_rbf: int = 24, r_cut: float = 2.5
    ):
        super().__init__()
        self.hidden, self.n_rbf, self.r_cut = hidden, n_rbf, r_cut
        self.cond = nn.Sequential(
            nn.Linear(out_scale_cond, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.edge1 = nn.Sequential(
            nn.Linear(n_rbf + 3, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.species = nn.Embedding(3, hidden)
        self.node = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.edge2_in = nn.Linear(n_rbf + 3, hidden)
        self.edge2_h = nn.Linear(2 * hidden, hidden, bias=False)
        self.edge2 = nn.Sequential(
            nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1)
        )

    def forward(
        self,
        u: torch.Tensor,
        tokens: torch.Tensor,
        box: torch.Tensor,
        cond: torch.Tensor,
        free: torch.Tensor,
    ) -> torch.Tensor:
        """u (B, N, 3) in [0, 1), tokens (B, N) in {0: A, 1: B, 2: reference A}, box (3,),
        cond (B, n_cond), free (B, N) -> F (B, N, 3) in length units."""
        B, N, _ = u.shape
        rc = min(self.r_cut, 0.5 * float(box.min()))  # beyond L/2 the minimum image jumps
        with torch.no_grad():
            d = u[:, None, :, :] - u[:, :, None, :]
            d = (d - torch.round(d)) * box
            close = (d * d).sum(-1) < rc * rc
            close &= ~torch.eye(N, dtype=torch.bool, device=u.device)
            b, i, j = close.nonzero(as_tuple=True)
        # differentiable separation vectors of the selected pairs only
        dv = u[b, j] - u[b, i]
        dv = (dv - torch.round(dv).detach()) * box
        r = torch.sqrt((dv * dv).sum(-1) + 1e-12)
        env = torch.cos(0.5 * math.pi * r / rc) ** 2
        centres = torch.linspace(0.0, rc, self.n_rbf, dtype=u.dtype, device=u.device)
        width = rc / self.n_rbf
        rbf = torch.exp(-(((r[:, None] - centres) / width) ** 2))
        s = physical_species(tokens)
        kind = nn.functional.one_hot(s[b, i] + s[b, j], 3).to(u.dtype)
        feat = torch.cat([rbf, kind], dim=-1)
        c = self.cond(cond)  # (B, H)
        m = self.edge1(feat) * (1.0 + c[b]) * env[:, None]
        h = torch.zeros(B, N, self.hidden, dtype=u.dtype, device=u.device).index_put_(
            (b, i), m, accumulate=True
        )
        h = self.node(h / 16.0 + self.species(tokens) + c[:, None, :])
        hi, hj = h[b, i], h[b, j]
        z = self.edge2_in(feat) + self.edge2_h(torch.cat([hi + hj, hi * hj], dim=-1)) + c[b]
        f = self.edge2(z)[:, 0] * env  # (E,)
        F = torch.zeros(B, N, 3, dtype=u.dtype, device=u.device).index_put_(
            (b, i), f[:, None] * dv, accumulate=True
        )
        return F * free[..., None]


def time_features(t: torch.Tensor) -> torch.Tensor:
    """(B,) flow time or noise level in [0, 1] -> (B, 5): [t, sin, cos of pi t and 2 pi t]."""
    k = torch.tensor([1.0, 2.0], dtype=t.dtype, device=t.device) * math.pi
    return torch.cat([t[:, None], torch.sin(k * t[:, None]), torch.cos(k * t[:, None])], dim=-1)


class VectorField(nn.Module):
    """v(u, t; T) (B, N, 3) in fractional units per unit flow time: :class:`ParticleTransformer`
    token states h_i and pairwise radial terms, v_i = W h_i + sum_{j != i} g(h_i, h_j, |r_ij|) r_ij
    (minimum image, smooth cutoff), permutation and shift equivariant; the network of the
    diffusion model's ``transformer`` option (``cfg``: hidden, heads, blocks, n_freq,
    pair_channels, r_cut)."""

    def __init__(self, cfg):
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

    def forward(self, u, t, tokens, box, Tfeat, free):
        cond = torch.cat([Tfeat, time_features(t)], dim=-1)
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
    """v(u, t; T) from :class:`LocalField` (pairs within r_cut only): the diffusion model's
    default ``local`` network."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.net = LocalField(2 + 5, hidden=cfg.hidden, r_cut=cfg.r_cut)

    def forward(self, u, t, tokens, box, Tfeat, free):
        cond = torch.cat([Tfeat, time_features(t)], dim=-1)
        return self.net(u, tokens, box, cond, free) / box


def make_field(cfg) -> nn.Module:
    """The network named by ``cfg.network``: ``transformer`` or ``local``."""
    if cfg.network == "transformer":
        return VectorField(cfg)
    if cfg.network == "local":
        return LocalVectorField(cfg)
    raise ValueError(f"unknown network {cfg.network!r}; choose 'transformer' or 'local'")
