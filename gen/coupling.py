"""Coupling flow on the periodic box: circular rational-quadratic splines (normflows) with a
permutation-equivariant conditioner.

Layer l transforms one Cartesian axis d of every free particle, conditioned on the other two
axes of all particles (splits x|yz, y|xz, z|xy in turn):

    u'_{i,d} = ( RQS_{theta_i}(u_{i,d}) + phi_i ) mod 1,   theta_i, phi_i = NN(u_{., not d}, species, T)_i

RQS is the circular rational-quadratic spline of Durkan et al. (NeurIPS 2019) / Rezende et al.
(ICML 2020) on [0, 1] with equal end derivatives (``normflows.utils.splines``), phi a rotation of
the circle; both are diffeomorphisms of the circle.  The Jacobian is triangular:
log|det| = sum_i log RQS'(u_{i,d}).  NN is :class:`~glassdyn.gen.network.ParticleTransformer`,
so the flow is equivariant under permutations of particles and its parameter count does not depend
on N.  The base is uniform on the torus; the frame (:mod:`glassdyn.gen.reference_frame`) makes log q exactly
invariant to common shifts.  Direction: ``forward`` maps base z -> data u (sampling),
``inverse`` maps u -> z (density evaluation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from glassdyn.gen import reference_frame
from glassdyn.gen.network import ParticleTransformer
from normflows.utils.splines import DEFAULT_MIN_DERIVATIVE, rational_quadratic_spline
from torch import nn


@dataclass(frozen=True)
class FlowConfig:
    n_layers: int = 6  # coupling layers (axes x, y, z in turn)
    n_bins: int = 12
    hidden: int = 64
    heads: int = 4
    blocks: int = 2  # transformer blocks per conditioner
    n_freq: int = 4

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


class CircularCoupling(nn.Module):
    """One coupling layer transforming axis ``axis`` of every non-reference particle."""

    def __init__(self, axis: int, cfg: FlowConfig):
        super().__init__()
        self.axis, self.n_bins = axis, cfg.n_bins
        self.visible = [a for a in range(3) if a != axis]
        self.net = ParticleTransformer(
            2,
            3 * cfg.n_bins + 1,
            hidden=cfg.hidden,
            heads=cfg.heads,
            layers=cfg.blocks,
            n_freq=cfg.n_freq,
        )
        # identity at initialisation: equal bins, unit derivatives, no rotation
        nn.init.zeros_(self.net.head.weight)
        with torch.no_grad():
            self.net.head.bias.zero_()
            self.net.head.bias[2 * cfg.n_bins : 3 * cfg.n_bins] = float(
                np.log(np.exp(1 - DEFAULT_MIN_DERIVATIVE) - 1)
            )

    def _params(self, u, tokens, box, cond):
        out = self.net(u[..., self.visible], tokens, box[self.visible], cond)
        return out[..., :-1], out[..., -1]

    def forward(self, u, tokens, box, cond, free):
        """z -> x direction.  u (B, N, 3), free (B, N) bool; returns (u', logdet (B,))."""
        params, phi = self._params(u, tokens, box, cond)
        y, ld = _circular_spline(u[..., self.axis], params, self.n_bins, inverse=False)
        y = torch.remainder(y + phi, 1.0)
        y = torch.where(free, y, u[..., self.axis])
        out = u.clone()
        out[..., self.axis] = y
        return out, (ld * free).sum(-1)

    def inverse(self, u, tokens, box, cond, free):
        """x -> z direction; returns (u', logdet of this inverse map (B,))."""
        params, phi = self._params(u, tokens, box, cond)
        y = torch.remainder(u[..., self.axis] - phi, 1.0)
        y, ld = _circular_spline(y, params, self.n_bins, inverse=True)
        y = torch.where(free, y, u[..., self.axis])
        out = u.clone()
        out[..., self.axis] = y
        return out, (ld * free).sum(-1)


class CouplingFlow(nn.Module):
    """Temperature-conditioned coupling flow for binary periodic configurations (any N)."""

    kind = "flow"

    def __init__(self, cfg: FlowConfig = FlowConfig()):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(
            [CircularCoupling(layer % 3, cfg) for layer in range(cfg.n_layers)]
        )

    def _prepare(self, types, ref, T):
        tokens = reference_frame.species_tokens(types, ref)
        free = tokens != reference_frame.REFERENCE
        return tokens, free, reference_frame.temperature_features(T)

    def forward_u(self, z, types, box, T, ref):
        """Base (B, N, 3) in [0, 1) -> frame coordinates u; returns (u, log|det dz->u| (B,))."""
        tokens, free, cond = self._prepare(types, ref, T)
        ld = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        for layer in self.layers:
            z, d = layer(z, tokens, box, cond, free)
            ld = ld + d
        return z, ld

    def inverse_u(self, u, types, box, T, ref):
        """Frame coordinates u -> base z; returns (z, log|det du->z| (B,))."""
        tokens, free, cond = self._prepare(types, ref, T)
        ld = torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
        for layer in reversed(self.layers):
            u, d = layer.inverse(u, tokens, box, cond, free)
            ld = ld + d
        return u, ld

    def log_prob(self, positions, types, box, T, ref=None):
        """log q(x) (B,) of positions (B, N, 3) [length units], types (B, N), box (3,), T (B,).

        ``ref`` (B,) picks the reference particle (default: the first A particle)."""
        if ref is None:
            ref = torch.as_tensor(
                reference_frame.reference_index(types.cpu().numpy()), device=positions.device
            )
        u = reference_frame.to_frame(positions, box, ref)
        _, ld = self.inverse_u(u, types, box, T, ref)
        return ld - reference_frame.log_volume(box, positions.shape[1])

    def sample(self, n, types, box, T, generator=None):
        """n configurations at temperature T with the composition ``types`` (N,).

        Returns positions (n, N, 3) in [0, L) and log q (n,)."""
        dev = box.device
        types_b = types.to(dev).long()[None].expand(n, -1)
        ref = torch.as_tensor(
            reference_frame.reference_index(types_b[:1].cpu().numpy()), device=dev
        ).expand(n)
        z = torch.rand(n, types_b.shape[1], 3, generator=generator, dtype=box.dtype, device=dev)
        z[torch.arange(n), ref] = 0.0
        u, ld = self.forward_u(
            z, types_b, box, torch.full((n,), float(T), dtype=box.dtype, device=dev), ref
        )
        origin = torch.rand(n, 3, generator=generator, dtype=box.dtype, device=dev) * box
        x = reference_frame.from_frame(u, box, origin)
        return x, -ld - reference_frame.log_volume(box, types_b.shape[1])
