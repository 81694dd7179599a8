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
would hide every neighbour's coordinate along the moved axis.
Layers cycle through the axes and slab axes with shifted slab offsets.  The spline parameters
start at the identity: an untrained flow is plain population annealing.

Two conditioners (``network``):

- ``pair`` (default): the spline of a moved coordinate passes through knots t_k + D_i(t_k) / L
  finer than the cage (``knot_spacing`` apart), with D_i(t) the displacement along the axis
  that a learned pair term gives particle i if it sat at t, from the particles the layer keeps
  (:class:`KnotCoupling`): the pair-force form of the cnf's default field, which carries MD
  configurations down by contracting each particle's vibration in its cage.
- ``transformer``: the spline parameters (``n_bins`` bins) come from a transformer over particles
  whose attention carries a learned bias from the pair distance (the full distance between two
  particles outside S_l, the distance across axis a otherwise) and the species pair
  (:class:`SlabCoupling`).  Its bins are as wide as the box over ``n_bins``, coarser than a cage:
  on N=256 KA it validated no better than the identity in a 15-minute fit (README, section 3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from glassdyn.gen import reference_frame
from glassdyn.gen.cnf import pair_function
from glassdyn.gen.network import _Block, fourier_features, periodic_distance
from normflows.utils.splines import DEFAULT_MIN_DERIVATIVE, rational_quadratic_spline
from torch import nn

NETWORKS = ("pair", "transformer")


@dataclass(frozen=True)
class FlowConfig:
    network: str = "pair"  # pair (knots of a learned pair displacement) or transformer
    n_layers: int = 12  # coupling layers (axes x, y, z in turn)
    knot_spacing: float = 0.09  # pair network: distance between spline knots (sigma_AA)
    n_bins: int = 16  # transformer network: spline bins
    hidden: int = 64
    heads: int = 4
    blocks: int = 2  # transformer blocks per conditioner
    n_freq: int = 6
    slab: float = 1.0  # width of the slabs that split the particles (sigma_AA)
    n_rbf: int = 16
    r_max: float = 2.5

    def __post_init__(self):
        if not self.knot_spacing > 0:
            raise ValueError(f"knot_spacing must be positive, got {self.knot_spacing}")
        if self.network not in NETWORKS:
            raise ValueError(
                f"flow network must be one of {', '.join(NETWORKS)}, got {self.network!r}"
            )

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


class _Coupling(nn.Module):
    """Layer ``index``: moves axis ``axis`` of the free particles of the even slabs across
    ``slab_axis`` by a circular spline of ``bins`` bins and a rotation, both conditioned on
    everything else (:meth:`_params`)."""

    def __init__(self, index: int, cfg: FlowConfig):
        super().__init__()
        self.axis = index % 3
        self.slab_axis = (self.axis + 1 + (index // 3) % 2) % 3
        self.offset = float((index * 0.618034) % 1.0)
        self.cfg = cfg

    def bins(self, box) -> int:
        """Bins of the spline across the box."""
        return self.cfg.n_bins

    def _params(self, u, tokens, box, cond, moving):
        """Spline parameters (B, N, 3 bins) and rotation (B, N) of every particle."""
        raise NotImplementedError

    def forward(self, u, tokens, box, cond, free, inverse: bool = False):
        """u (B, N, 3) -> (u', log|det| (B,)) of this layer (``inverse``: its inverse map)."""
        a, b = self.axis, self.slab_axis
        moving = free & slab_set(u[..., b], float(box[b]), self.cfg.slab, self.offset)
        params, rho = self._params(u, tokens, box, cond, moving)
        if inverse:
            y = torch.remainder(u[..., a] - rho, 1.0)
            y, ld = _circular_spline(y, params, self.bins(box), inverse=True)
        else:
            y, ld = _circular_spline(u[..., a], params, self.bins(box), inverse=False)
            y = torch.remainder(y + rho, 1.0)
        y = torch.where(moving, y, u[..., a])
        out = u.clone()
        out[..., a] = y
        return out, (ld * moving).sum(-1)


class SlabCoupling(_Coupling):
    """The transformer network's layer: spline parameters from a transformer over particles."""

    def __init__(self, index: int, cfg: FlowConfig):
        super().__init__(index, cfg)
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


MIN_SLOPE = 0.05  # pair network: smallest slope of a bin (the knots stay ordered)
TABLE = 256  # pair network: points of the tabulated pair function on [0, r_max]


class KnotCoupling(_Coupling):
    """The pair network's layer: the moved coordinate's spline passes through the knots

        (t_k, t_k + D_i(t_k) / L_a),  t_k = k / K,   D_i(t) = sum_j phi_ij(r_ij(t)) (x_j,a - t)_L,

    the displacement along axis a that a learned pair term (the cnf's pair-force form, one
    function of distance per species pair, its coefficients from both temperatures) gives
    particle i if it sat at t, from the particles j the layer does not move within r_max across
    the other axes.  The slopes between knots are kept >= MIN_SLOPE (a bijection whatever the
    network), the derivative at a knot is the mean of its bins' slopes, and the rotation is
    D_i(t_0) / L_a.  A cage-scale contraction needs knots finer than the cage (``knot_spacing``
    apart, K = L_a / spacing rounded up, at least 8); phi starts at zero: the identity."""

    def __init__(self, index: int, cfg: FlowConfig):
        super().__init__(index, cfg)
        h = cfg.hidden
        self.coef = nn.Sequential(
            nn.Linear(4, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, 3 * cfg.n_rbf)
        )
        nn.init.zeros_(self.coef[-1].weight)
        nn.init.zeros_(self.coef[-1].bias)
        self.register_buffer("centres", torch.linspace(0.7, cfg.r_max, cfg.n_rbf))
        self.register_buffer("grid", torch.linspace(0.0, cfg.r_max, TABLE))

    def bins(self, box) -> int:
        return max(8, int(np.ceil(float(box[self.axis]) / self.cfg.knot_spacing - 1e-9)))

    def table(self, cond):
        """phi (B, 3 pair kinds, TABLE) on ``grid``: Gaussians of distance with coefficients from
        the temperatures times 1 - T / T_0 (the map is the identity between equal temperatures,
        and a harmonic cage contracts by about (1 - T / T_0) / 2), times cos^2(pi r / 2 r_max)
        (zero at r_max): the cnf's pair function (:func:`glassdyn.gen.cnf.pair_function`)."""
        T_from = reference_frame.temperature_from_features(cond[:, :2])
        T_to = reference_frame.temperature_from_features(cond[:, 2:])
        coef = self.coef(cond).view(-1, 3, self.cfg.n_rbf) * (1.0 - T_to / T_from)[:, None, None]
        grid, centres = self.grid.to(coef.dtype), self.centres.to(coef.dtype)
        return pair_function(grid, coef[:, :, None, :], centres, self.cfg.r_max)[0]

    def displacements(self, u, tokens, box, cond, moving):
        """D (B, N, K): the displacement of each particle along the axis at each knot (length units)."""
        a = self.axis
        perp = [d for d in range(3) if d != a]
        B, N, _ = u.shape
        K, rc = self.bins(box), self.cfg.r_max
        d = u[:, None, :, perp] - u[:, :, None, perp]  # (B, i, j, 2): j - i
        d = (d - torch.round(d)) * box[perp]
        rho2 = (d * d).sum(-1)
        near = moving[:, :, None] & (~moving)[:, None, :] & (rho2 < rc * rc)
        bi, ii, jj = near.nonzero(as_tuple=True)
        knots = torch.arange(K, dtype=u.dtype, device=u.device) / K
        dx = u[bi, jj, a][:, None] - knots  # (P, K)
        dx = (dx - torch.round(dx)) * box[a]
        r = torch.sqrt(dx * dx + rho2[bi, ii, jj][:, None])
        species = reference_frame.physical_species(tokens)
        kind = species[bi, ii] + species[bi, jj]
        pos = r * ((TABLE - 1) / rc)
        k0 = pos.detach().floor().clamp(max=TABLE - 2).long()
        f = (pos - k0).clamp(max=1.0)
        flat = self.table(cond).reshape(-1)
        row = ((bi * 3 + kind) * TABLE)[:, None]
        phi = flat[row + k0] * (1 - f) + flat[row + k0 + 1] * f
        D = torch.zeros(B, N, K, dtype=u.dtype, device=u.device)
        return D.index_put_((bi, ii), phi * dx, accumulate=True)

    def _params(self, u, tokens, box, cond, moving):
        K = self.bins(box)
        d = self.displacements(u, tokens, box, cond, moving) / box[self.axis]  # fractions
        heights = (1.0 / K + torch.roll(d, -1, dims=-1) - d).clamp(min=MIN_SLOPE / K)
        heights = heights / heights.sum(-1, keepdim=True)
        slope = heights * K
        deriv = 0.5 * (slope + torch.roll(slope, 1, dims=-1))  # at knot k: bins k - 1 and k
        params = torch.cat(
            [
                torch.zeros_like(heights),  # equal widths
                torch.log(heights),  # softmax gives the heights back
                _inverse_softplus(deriv - DEFAULT_MIN_DERIVATIVE),
            ],
            dim=-1,
        )
        return params, d[..., 0]


def _inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


class CouplingFlow(nn.Module):
    """The ``flow`` model: ``transport(x, T_from, T_to)`` with its exact log-determinant."""

    kind = "flow"

    def __init__(self, cfg: FlowConfig = FlowConfig()):
        super().__init__()
        self.cfg = cfg
        layer = KnotCoupling if cfg.network == "pair" else SlabCoupling
        self.layers = nn.ModuleList([layer(k, cfg) for k in range(cfg.n_layers)])

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
