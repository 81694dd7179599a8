"""Coupling flow as a temperature transport: circular rational-quadratic splines with slab couplings.

Like the continuous flow (:mod:`glassdyn.gen.cnf`), the ``flow`` model carries MD configurations of
the base temperature T_0 to a colder T (Jung, Biroli & Berthier, Mach. Learn.: Sci. Technol. 5,
035053 (2024)); its log-determinant is exact by construction.  It works in the reference-particle
frame (:mod:`glassdyn.gen.reference_frame`: fractional coordinates u relative to one A particle,
so every map is invariant to common shifts).  Layer l moves one Cartesian axis a of the particles
of one set S_l, conditioned on everything else:

    u'_{i,a} = ( RQS_{theta_i}(u_{i,a}) + rho_i ) mod 1    for i in S_l,
    theta_i, rho_i = NN( u_j for j not in S_l,  u_{i, not a} for i in S_l,  species,  T_0, T )_i,

with RQS the circular rational-quadratic spline of Durkan et al. (NeurIPS 2019) / Rezende et al.
(ICML 2020) on [0, 1] (``normflows.utils.splines``) and rho a rotation of the circle; the Jacobian
is triangular, log|det| = sum_{i in S_l} log RQS'(u_{i,a}).  The set S_l is the particles in every
other slab of width ``slab`` across a second axis b != a: a particle's slab depends only on its
b coordinate, which the layer does not change, so the partition is a function of the input and of
the output alike (the layer is invertible) and of positions only (the flow is permutation
equivariant).  A moved particle thereby sees the complete positions of the particles in the
neighbouring slabs, about half of its cage, where a plain axis split (x | yz of every particle)
would hide every neighbour's coordinate along the moved axis.  The conditioner is a transformer
over particles whose attention carries a learned bias from the pair distance (the full distance
between two particles outside S_l, the distance across axis a otherwise) and the species pair.
Layers cycle through the axes and slab axes with shifted slab offsets.  The spline parameters
start at the identity: an untrained flow is plain population annealing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from glassdyn.gen import reference_frame
from glassdyn.gen.network import _Block, fourier_features, periodic_distance
from normflows.utils.splines import DEFAULT_MIN_DERIVATIVE, rational_quadratic_spline
from torch import nn


@dataclass(frozen=True)
class FlowConfig:
    n_layers: int = 6  # coupling layers (axes x, y, z in turn)
    n_bins: int = 16
    hidden: int = 64
    heads: int = 4
    blocks: int = 2  # transformer blocks per conditioner
    n_freq: int = 6
    slab: float = 1.0  # width of the slabs that split the particles (sigma_AA)
    n_rbf: int = 16
    r_max: float = 2.5

    def as_dict(self) -> dict:
        return asdict(self)


def _circular_spline(u, params, n_bins, inverse):
    """u (...,) in [0, 1]; params (..., 3K): circular RQS with the last derivative = the first."""
    w, h, d = params[..., :n_bins], params[..., n_bins : 2 * n_bins], params[..., 2 * n_bins :]
    d = torch.cat([d, d[..., :1]], dim=-1)  # K + 1 knots, periodic derivative
    u = u.clamp(0.0, 1.0)
    return rational_quadratic_spline(
        u, w, h, d, inverse=inverse, left=0.0, right=1.0, bottom=0.0, top=1.0
    )


def slab_set(u_b: torch.Tensor, length: float, width: float, offset: float) -> torch.Tensor:
    """(B, N) bool: particles in the even slabs across an axis of ``length`` cut into an even
    number of slabs of about ``width`` (so that the slabs alternate around the periodic box)."""
    m = max(2, 2 * int(round(length / (2 * width))))
    return torch.remainder(torch.floor(u_b * m + offset), 2) == 0


class SlabCoupling(nn.Module):
    """Layer ``index``: moves axis ``axis`` of the free particles of the even slabs across
    ``slab_axis``, conditioned on everything else."""

    def __init__(self, index: int, cfg: FlowConfig):
        super().__init__()
        self.axis = index % 3
        self.slab_axis = (self.axis + 1 + (index // 3) % 2) % 3
        self.offset = float((index * 0.618034) % 1.0)
        self.cfg = cfg
        h = cfg.hidden
        self.inp = nn.Linear(6 * cfg.n_freq, h)
        self.species = nn.Embedding(3, h)  # A, B, reference
        self.moved = nn.Embedding(2, h)  # in the moved set or not
        self.cond = nn.Sequential(nn.Linear(4, h), nn.SiLU(), nn.Linear(h, h))
        self.blocks = nn.ModuleList(
            [_Block(h, cfg.heads, cfg.n_rbf + 1) for _ in range(cfg.blocks)]
        )
        self.norm = nn.LayerNorm(h)
        self.head = nn.Linear(h, 3 * cfg.n_bins + 1)
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():  # equal bins, unit derivatives, no rotation
            self.head.bias.zero_()
            self.head.bias[2 * cfg.n_bins : 3 * cfg.n_bins] = float(
                np.log(np.exp(1 - DEFAULT_MIN_DERIVATIVE) - 1)
            )
        self.register_buffer("centres", torch.linspace(0.0, cfg.r_max, cfg.n_rbf))

    def _pair(self, u, species, box, moving):
        """(B, N, N, n_rbf + 4): RBFs of the visible distance, species pair, both-visible flag."""
        a = self.axis
        perp = [d for d in range(3) if d != a]
        full = periodic_distance(u, box)
        across = periodic_distance(u[..., perp], box[perp])
        both = (~moving)[:, :, None] & (~moving)[:, None, :]
        r = torch.where(both, full, across)
        width = self.cfg.r_max / self.cfg.n_rbf
        rbf = torch.exp(-(((r[..., None] - self.centres) / width) ** 2))
        kind = nn.functional.one_hot(species[:, :, None] + species[:, None, :], 3).to(u.dtype)
        return torch.cat([rbf, kind, both[..., None].to(u.dtype)], dim=-1)

    def _params(self, u, tokens, box, cond, moving):
        feats = fourier_features(u, self.cfg.n_freq).view(*u.shape[:2], 3, -1)
        feats = feats * torch.where(  # a moved particle does not see its own moved coordinate
            moving[..., None, None] & (torch.arange(3, device=u.device) == self.axis)[:, None],
            0.0,
            1.0,
        )
        h = (
            self.inp(feats.flatten(-2))
            + self.species(tokens)
            + self.moved(moving.long())
            + self.cond(cond)[:, None, :]
        )
        pair = self._pair(u, reference_frame.physical_species(tokens), box, moving)
        for blk in self.blocks:
            h = blk(h, pair)
        out = self.head(self.norm(h))
        return out[..., :-1], out[..., -1]

    def forward(self, u, tokens, box, cond, free, inverse: bool = False):
        """u (B, N, 3) -> (u', log|det| (B,)) of this layer (``inverse``: its inverse map)."""
        a, b = self.axis, self.slab_axis
        moving = free & slab_set(u[..., b], float(box[b]), self.cfg.slab, self.offset)
        params, rho = self._params(u, tokens, box, cond, moving)
        if inverse:
            y = torch.remainder(u[..., a] - rho, 1.0)
            y, ld = _circular_spline(y, params, self.cfg.n_bins, inverse=True)
        else:
            y, ld = _circular_spline(u[..., a], params, self.cfg.n_bins, inverse=False)
            y = torch.remainder(y + rho, 1.0)
        y = torch.where(moving, y, u[..., a])
        out = u.clone()
        out[..., a] = y
        return out, (ld * moving).sum(-1)


class CouplingFlow(nn.Module):
    """The ``flow`` model: ``transport(x, T_from, T_to)`` with its exact log-determinant."""

    kind = "flow"

    def __init__(self, cfg: FlowConfig = FlowConfig()):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList([SlabCoupling(k, cfg) for k in range(cfg.n_layers)])

    def transport(self, x, types, box, T_from, T_to, *, reverse: bool = False):
        """x (B, N, 3), types (B, N), box (3,), T_from / T_to (B,) -> (phi(x) (B, N, 3) in the
        box, log|det dphi/dx| (B,), None: exact).  ``reverse``: the inverse map."""
        types = types.long()
        ref = torch.as_tensor(reference_frame.reference_index(types.cpu().numpy()), device=x.device)
        tokens = reference_frame.species_tokens(types, ref)
        free = tokens != reference_frame.REFERENCE
        cond = torch.cat(
            [
                reference_frame.temperature_features(T_from),
                reference_frame.temperature_features(T_to),
            ],
            dim=-1,
        ).to(x.dtype)
        u = reference_frame.to_frame(x, box, ref)
        logdet = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        layers = reversed(self.layers) if reverse else self.layers
        for layer in layers:
            u, ld = layer(u, tokens, box, cond, free, inverse=reverse)
            logdet = logdet + ld
        origin = x[torch.arange(x.shape[0]), ref]
        return reference_frame.from_frame(u, box, origin), logdet, None
