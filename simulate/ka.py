"""The Kob-Andersen binary Lennard-Jones mixture (Phys. Rev. E 51, 4626 (1995)).

V_ab(r) = 4 eps_ab [(s_ab/r)^12 - (s_ab/r)^6] - V_ab(r_c,ab) for r < r_c,ab = cutoff * s_ab
(truncated and shifted; forces are not shifted), the convention of LAMMPS ``pair_modify shift
yes``.  Energies here are independent references for the LAMMPS runs and the energy of the
generative models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from glassdyn.data.neighbors import neighbor_pairs


@dataclass(frozen=True)
class KAParameters:
    """Interaction parameters, LJ units; index 0 = A, 1 = B."""

    eps_aa: float = 1.0
    eps_ab: float = 1.5
    eps_bb: float = 0.5
    sigma_aa: float = 1.0
    sigma_ab: float = 0.8
    sigma_bb: float = 0.88
    cutoff: float = 2.5  # in units of sigma_ab
    shift: bool = True
    mass: float = 1.0

    @property
    def epsilon(self) -> np.ndarray:
        """(2, 2) eps_ab."""
        return np.array([[self.eps_aa, self.eps_ab], [self.eps_ab, self.eps_bb]])

    @property
    def sigma(self) -> np.ndarray:
        """(2, 2) sigma_ab."""
        return np.array([[self.sigma_aa, self.sigma_ab], [self.sigma_ab, self.sigma_bb]])

    @property
    def r_cut(self) -> np.ndarray:
        """(2, 2) cutoff distances cutoff * sigma_ab."""
        return self.cutoff * self.sigma

    @property
    def max_cutoff(self) -> float:
        return float(self.r_cut.max())

    def as_dict(self) -> dict:
        return asdict(self)


def pair_energy(
    r: np.ndarray, ti: np.ndarray, tj: np.ndarray, params: KAParameters = KAParameters()
) -> np.ndarray:
    """V_ab(r) per pair, zero beyond the cutoff; r (P,), ti/tj (P,) types."""
    eps = params.epsilon[ti, tj]
    sig = params.sigma[ti, tj]
    rc = params.r_cut[ti, tj]
    sr6 = (sig / r) ** 6
    v = 4 * eps * (sr6 * sr6 - sr6)
    if params.shift:
        src6 = (sig / rc) ** 6
        v = v - 4 * eps * (src6 * src6 - src6)
    return np.where(r < rc, v, 0.0)


def particle_energies(
    positions: np.ndarray, types: np.ndarray, box: np.ndarray, params: KAParameters = KAParameters()
) -> np.ndarray:
    """Potential energy of each particle (N,), half of each pair energy to each partner."""
    pos = np.asarray(positions, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    i, j, s = neighbor_pairs(pos, box, params.max_cutoff)
    d = pos[j] - pos[i] + s * box
    r = np.linalg.norm(d, axis=1)
    types = np.asarray(types, dtype=np.int64)
    v = pair_energy(r, types[i], types[j], params)
    e = np.zeros(len(pos))
    np.add.at(e, i, 0.5 * v)
    np.add.at(e, j, 0.5 * v)
    return e


def forces(
    positions: np.ndarray, types: np.ndarray, box: np.ndarray, params: KAParameters = KAParameters()
) -> np.ndarray:
    """Forces f = -grad U (N, 3) (numpy, float64; unshifted forces, zero beyond the cutoff).

    -dV/dr = 24 eps [2 (s/r)^12 - (s/r)^6] / r along the pair separation."""
    box = np.asarray(box, dtype=np.float64)
    pos = np.mod(np.asarray(positions, dtype=np.float64), box)
    i, j, s = neighbor_pairs(pos, box, params.max_cutoff)
    d = pos[j] - pos[i] + s * box  # r_j - r_i
    r2 = (d * d).sum(1)
    types = np.asarray(types, dtype=np.int64)
    ti, tj = types[i], types[j]
    sr6 = (params.sigma[ti, tj] ** 2 / r2) ** 3
    mag = np.where(
        r2 < params.r_cut[ti, tj] ** 2,
        24 * params.epsilon[ti, tj] * (2 * sr6 * sr6 - sr6) / r2,
        0.0,
    )
    fij = mag[:, None] * d  # force on j from i
    f = np.zeros_like(pos)
    np.add.at(f, j, fij)
    np.add.at(f, i, -fij)
    return f


def potential_energy(
    positions: np.ndarray, types: np.ndarray, box: np.ndarray, params: KAParameters = KAParameters()
) -> float:
    """Total potential energy (numpy, float64); divide by N for the per-particle value."""
    return float(particle_energies(positions, types, box, params).sum())


def energy_torch(positions, types, box, params: KAParameters = KAParameters()):
    """Differentiable potential energy of a batch, torch.

    positions (B, N, 3) or (N, 3) tensor, types (N,) long, box (3,).  The pair list is rebuilt
    per configuration with vesin (not differentiated; the shifted potential is continuous at
    the cutoff).  Returns (B,) or scalar total energies.
    """
    import torch

    single = positions.dim() == 2
    x = positions[None] if single else positions
    box_t = torch.as_tensor(np.asarray(box, dtype=np.float64), dtype=x.dtype, device=x.device)
    t = torch.as_tensor(types, dtype=torch.long, device=x.device)
    eps = torch.as_tensor(params.epsilon, dtype=x.dtype, device=x.device)
    sig = torch.as_tensor(params.sigma, dtype=x.dtype, device=x.device)
    rc = torch.as_tensor(params.r_cut, dtype=x.dtype, device=x.device)
    out = []
    for xb in x:
        wrapped = torch.remainder(xb.detach(), box_t).cpu().double().numpy()
        i, j, s = neighbor_pairs(wrapped, np.asarray(box, dtype=np.float64), params.max_cutoff)
        i_t = torch.as_tensor(i, device=x.device)
        j_t = torch.as_tensor(j, device=x.device)
        # work with the unwrapped input: image shift from the wrapping enters via floor(x/L)
        img = torch.floor(xb.detach() / box_t)
        d = (
            (xb[j_t] - img[j_t] * box_t)
            - (xb[i_t] - img[i_t] * box_t)
            + torch.as_tensor(s, dtype=x.dtype, device=x.device) * box_t
        )
        r2 = (d * d).sum(-1)
        ti, tj = t[i_t], t[j_t]
        e_ij, s_ij, rc_ij = eps[ti, tj], sig[ti, tj], rc[ti, tj]
        sr6 = (s_ij * s_ij / r2) ** 3
        v = 4 * e_ij * (sr6 * sr6 - sr6)
        if params.shift:
            src6 = (s_ij / rc_ij) ** 6
            v = v - 4 * e_ij * (src6 * src6 - src6)
        v = torch.where(r2 < rc_ij * rc_ij, v, torch.zeros_like(v))
        out.append(v.sum())
    e = torch.stack(out)
    return e[0] if single else e
