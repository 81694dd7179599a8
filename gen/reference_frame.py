"""The reference frame that makes every model exactly invariant to a common periodic shift.

A configuration x on the torus [0, L)^{3N} is written as the position of one *reference*
particle (an A particle) and the positions of the others relative to it, in fractional units,

    u_i = ((x_i - x_ref) / L) mod 1,     u_ref = 0.

The map x -> (x_ref, u) is a volume-preserving bijection (up to the factor L per coordinate), so
a model density p(u) over the 3(N-1) free fractional coordinates defines the normalised density

    q(x) = p(u(x)) / V^N,     V = L_x L_y L_z,

which is exactly invariant under x -> x + a for every common shift a (u does not change) and,
because the networks are permutation equivariant, under every permutation of the particles of a
species that keeps the reference particle in place.  Sampling draws u from the model and places
the reference uniformly in the box.  Relabelling the reference changes q only through the model
error (the data's law is the same whichever A particle is chosen, and training picks it at random);
for importance weights and Metropolis-Hastings this does not matter, because the KA Boltzmann
weight is invariant to every relabelling and the weights use the density of the labelled proposal
itself.  This is the choice of flows for atomic systems that fix one particle (e.g. Wirnsberger
et al., Mach. Learn.: Sci. Technol. 3, 025009 (2022)), with the reference drawn at random among
A particles during training instead of a fixed lattice site.
"""

from __future__ import annotations

import numpy as np
import torch

REFERENCE = 2  # species token of the reference particle in the networks


def reference_index(types: np.ndarray) -> np.ndarray:
    """First A particle of each configuration: types (C, N) -> (C,) int64."""
    types = np.asarray(types)
    if types.ndim == 1:
        types = types[None]
    has_a = (types == 0).any(axis=1)
    if not has_a.all():
        raise ValueError(
            "every configuration needs at least one A particle (the frame's reference)"
        )
    return np.argmax(types == 0, axis=1).astype(np.int64)


def to_frame(positions: torch.Tensor, box: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """positions (B, N, 3) (any image), box (3,), ref (B,) long -> u (B, N, 3) in [0, 1), u_ref = 0."""
    B = positions.shape[0]
    x_ref = positions[torch.arange(B), ref]  # (B, 3)
    u = torch.remainder((positions - x_ref[:, None, :]) / box, 1.0)
    u = torch.where(u >= 1.0, u - 1.0, u)
    return u


def from_frame(u: torch.Tensor, box: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
    """u (B, N, 3), box (3,), origin (B, 3) position of the reference -> positions in [0, L)."""
    x = torch.remainder(u * box + origin[:, None, :], box)
    return torch.where(x >= box, x - box, x)


def species_tokens(types: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """types (B, N) long -> tokens with the reference particle marked ``REFERENCE``."""
    tok = types.clone().long()
    tok[torch.arange(tok.shape[0]), ref] = REFERENCE
    return tok


def physical_species(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens -> species 0 (A) / 1 (B): the reference particle is an A particle."""
    return torch.where(tokens == REFERENCE, torch.zeros_like(tokens), tokens)


def log_volume(box: torch.Tensor, n_particles: int) -> torch.Tensor:
    """N log V: q(x) = p(u) exp(-N log V)."""
    return n_particles * torch.log(box).sum()


def temperature_features(T: torch.Tensor) -> torch.Tensor:
    """(B,) temperatures -> (B, 2) conditioning features [T, 1/T] (centred near KA state points)."""
    return torch.stack([T - 0.7, 0.5 / T - 0.7], dim=-1)


def temperature_from_features(features: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`temperature_features`: (B, 2) -> (B,) temperatures."""
    return features[:, 0] + 0.7
