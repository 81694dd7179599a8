"""Training losses of the generative models (one batch at a time) and their validation losses.

- **transports** (``flow``, ``cnf``): the reverse Kullback-Leibler divergence per particle from
  base configurations z (MD at the base temperature T_0) to a target temperature T drawn in the
  fitted range,

      L_energy = E_z[ U(phi(z)) / T - log |det dphi/dz| ] / N      (= KL(q || p_T) / N + const),

  and, with ``likelihood_weight`` > 0, the forward one (negative log-likelihood of the fitted
  temperatures' training configurations x under the transported base, whose density is
  exp(-U / T_0) up to a constant),

      L_likelihood = E_x[ U(phi^-1(x)) / T_0 - log |det dphi^-1/dx| ] / N.

  ``cnf`` with ``flow_matching_weight`` > 0 adds conditional flow matching on the torus
  (simulation-free): a base configuration z and a colder training configuration x, their
  particles paired within each species by least total squared periodic distance, the
  minimum-image displacement d (common translation removed), t uniform,

      L_fm = E[ |v(z + t d, t; T_0, T_x) - d|^2 ] / N.

  Their validation is :func:`transport_validation`: the reverse KL and the spread of the log
  importance weights at each fitted temperature on the validation base configurations.
- **diffusion**: denoising or target score matching (forces / T, :func:`uses_target_score`), each
  configuration seen in the frame of a uniformly drawn A particle (:func:`random_reference`); its
  validation averages the loss over a fixed grid of noise levels (:data:`VALIDATION_LEVELS`
  levels, several noise draws each) so that it measures every noise level every epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from glassdyn.data.errors import InputError

if TYPE_CHECKING:  # annotations only
    from glassdyn.gen.config import FitConfig
    from glassdyn.gen.dataset import TrainingData

TRANSPORTS = ("flow", "cnf")
VALIDATION_LEVELS = 12  # noise levels of the diffusion validation grid (uniform in log sigma)
VALIDATION_DRAWS = 2  # noise draws per level and configuration


def random_reference(types: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniformly chosen A particle per configuration: types (B, N) -> (B,) long."""
    w = (types == 0).float()
    return torch.multinomial(w, 1, generator=generator)[:, 0]


def uses_target_score(cfg: FitConfig) -> bool:
    """Whether a diffusion fit regresses on forces / T (target score matching)."""
    if cfg.score_target not in ("auto", "denoising", "target"):
        raise InputError(
            f"score_target must be 'auto', 'denoising' or 'target', got {cfg.score_target!r}"
        )
    if cfg.model != "diffusion":
        if cfg.score_target == "target":
            raise InputError("target score matching applies to --model diffusion only")
        return False
    if cfg.score_target == "target" and cfg.source != "thermal":
        raise InputError(
            "target score matching needs Boltzmann-distributed data: use --source thermal"
        )
    return cfg.score_target == "target" or (cfg.score_target == "auto" and cfg.source == "thermal")


def total_energy(x: torch.Tensor, types: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Differentiable total KA energies (B,) of x (B, N, 3) with one composition ``types`` (N,)."""
    from glassdyn.simulate.ka import energy_torch

    return energy_torch(x, types.cpu().numpy(), box.detach().cpu().numpy())


def energy_loss(model, z, types, box, T_from, T_to) -> torch.Tensor:
    """Reverse KL per particle of transporting base configurations z (B, N, 3) from T_from to
    T_to (both (B,)); ``types`` (N,)."""
    B, N, _ = z.shape
    y, logdet, _ = model.transport(z, types[None].expand(B, -1), box, T_from, T_to)
    U = total_energy(y, types, box)
    return ((U / T_to - logdet) / N).mean()


def likelihood_loss(model, x, types, box, T_from, T_to) -> torch.Tensor:
    """Negative log-likelihood per particle (up to the constant log Z_0 / N) of configurations x
    (B, N, 3) at T_to under base configurations of T_from carried down by the transport."""
    B, N, _ = x.shape
    z, logdet, _ = model.transport(x, types[None].expand(B, -1), box, T_from, T_to, reverse=True)
    U = total_energy(z, types, box)
    return ((U / T_from - logdet) / N).mean()


def paired_displacements(z: np.ndarray, x: np.ndarray, types_z, types_x, box) -> np.ndarray:
    """The minimum-image displacements (B, N, 3) that carry base configurations z to target
    configurations x (both (B, N, 3), each with its own species order ``types_z`` (N,) /
    ``types_x`` (B, N)): the particles of each species paired by the assignment of least total
    squared periodic distance (Hungarian), the common translation removed (the fields conserve
    momentum)."""
    from scipy.optimize import linear_sum_assignment

    z, x, box = np.asarray(z), np.asarray(x), np.asarray(box, dtype=np.float64)
    types_z, types_x = np.asarray(types_z), np.asarray(types_x)
    d = np.empty_like(z, dtype=np.float64)
    for b in range(len(z)):
        for s in np.unique(types_z):
            i = np.flatnonzero(types_z == s)
            j = np.flatnonzero(types_x[b] == s)
            if len(i) != len(j):
                raise ValueError(f"species {s}: {len(i)} base and {len(j)} target particles")
            delta = x[b, j][None, :, :] - z[b, i][:, None, :]
            delta -= box * np.round(delta / box)
            rows, cols = linear_sum_assignment((delta * delta).sum(-1))
            d[b, i[rows]] = delta[rows, cols]
        d[b] -= d[b].mean(axis=0)
    return d


def flow_matching_loss(model, z, d, types, box, T_from, T_to, generator=None) -> torch.Tensor:
    """Conditional flow matching per particle: at a uniform flow time t on the straight path
    x_t = z + t d from base configurations z (B, N, 3) along their displacements d (B, N, 3) to the
    targets (:func:`paired_displacements`), the mean squared difference of the field from d."""
    B, N, _ = z.shape
    t = torch.rand(B, generator=generator, dtype=z.dtype, device=z.device)
    xt = torch.remainder(z + t[:, None, None] * d, box)
    v = model.velocity(xt, types[None].expand(B, -1), box, T_from, T_to, t)
    return ((v - d) ** 2).sum(dim=(-1, -2)).mean() / N


def target_temperatures(data: TrainingData, n: int, generator=None) -> torch.Tensor:
    """n target temperatures (n,) uniform in [lowest fitted T, base T)."""
    lo, hi = float(min(data.target_temperatures)), float(data.base_temperature)
    u = torch.rand(n, generator=generator, dtype=data.box.dtype, device=data.box.device)
    return lo + (hi - lo) * u


def transport_loss(model, data: TrainingData, rows, cfg: FitConfig, generator=None) -> torch.Tensor:
    """The training loss of one batch of base configurations ``rows`` (indices into the base pool)."""
    z = data.base.to(data.box.dtype)[rows]
    B = len(rows)
    T_from = torch.full((B,), float(data.base_temperature), dtype=z.dtype, device=z.device)
    loss = energy_loss(
        model,
        z,
        data.base_types,
        data.box,
        T_from,
        target_temperatures(data, B, generator).to(z.dtype),
    )
    if cfg.likelihood_weight > 0:
        k = torch.randint(0, len(data.positions), (B,), generator=generator, device=z.device)
        k = torch.as_tensor(data.indices("train"), device=z.device)[k % len(data.indices("train"))]
        x = data.positions[k].to(z.dtype)
        T_to = data.temperature[k].to(z.dtype)
        loss = loss + cfg.likelihood_weight * likelihood_loss(
            model, x, data.base_types, data.box, T_from, T_to
        )
    if cfg.flow_matching_weight > 0:
        train = torch.as_tensor(data.indices("train"), device=z.device)
        train = train[data.temperature[train] < float(data.base_temperature)]  # colder targets
        k = train[torch.randint(0, len(train), (B,), generator=generator, device=z.device)]
        d = paired_displacements(
            z.detach().cpu().numpy(),
            data.positions[k].cpu().numpy(),
            data.base_types.cpu().numpy(),
            data.types[k].cpu().numpy(),
            data.box.cpu().numpy(),
        )
        loss = loss + cfg.flow_matching_weight * flow_matching_loss(
            model,
            z,
            torch.as_tensor(d, dtype=z.dtype, device=z.device),
            data.base_types,
            data.box,
            T_from,
            data.temperature[k].to(z.dtype),
            generator,
        )
    return loss


@torch.no_grad()
def transport_validation(model, data: TrainingData, batch_size: int) -> dict:
    """At each fitted temperature T below the base one, over the validation base configurations:
    ``kl`` the reverse KL per particle (mean of U/T - log|det|, the selection criterion summed
    over T), ``std`` the spread of the log weights and ``ess`` their Kish ESS per configuration."""
    from glassdyn.gen.anneal import kish_ess

    model.eval()
    z_all = data.base_val.to(data.box.dtype)
    out = {}
    for T in data.target_temperatures:
        lw, kl = [], []
        for s in range(0, len(z_all), batch_size):
            z = z_all[s : s + batch_size]
            B, N, _ = z.shape
            T_from = torch.full((B,), float(data.base_temperature), dtype=z.dtype, device=z.device)
            T_to = torch.full((B,), float(T), dtype=z.dtype, device=z.device)
            y, logdet, var = model.transport(
                z, data.base_types[None].expand(B, -1), data.box, T_from, T_to
            )
            U = total_energy(y, data.base_types, data.box)
            U0 = data.base_val_energy[s : s + batch_size].to(z.dtype)
            w = -U / T_to + U0 / T_from + logdet - (0.0 if var is None else 0.5 * var)
            lw.append(w.double().cpu())
            kl.append(((U / T_to - logdet) / N).double().cpu())
        lw = torch.cat(lw).numpy()
        out[f"{float(T):g}"] = {
            "kl": float(torch.cat(kl).mean()),
            "std": float(np.std(lw)),
            "ess": kish_ess(lw) / len(lw),
        }
    return out


def batch_loss(model, x, types, T, box, generator=None, forces=None) -> torch.Tensor:
    """The diffusion model's loss of one batch: denoising or (with ``forces`` (B, N, 3)) target
    score matching."""
    dtype = next(model.parameters()).dtype
    x, box = x.to(dtype), box.to(dtype)
    ref = random_reference(types, generator)
    score = None if forces is None else forces.to(dtype) / T.to(dtype)[:, None, None]
    return model.denoising_loss(x, types, box, T.to(x.dtype), ref, generator, score)


def data_loss(model, data: TrainingData, rows: torch.Tensor, cfg: FitConfig, generator=None):
    """The training loss of the configurations (diffusion) or base configurations (transports)
    ``rows`` of ``data``."""
    if model.kind in TRANSPORTS:
        return transport_loss(model, data, rows, cfg, generator)
    return batch_loss(
        model,
        data.positions[rows],
        data.types[rows],
        data.temperature[rows],
        data.box,
        generator,
        None if data.forces is None else data.forces[rows],
    )


@torch.no_grad()
def diffusion_validation(
    model, data: TrainingData, idx: np.ndarray, seed: int = 1234
) -> tuple[float, list]:
    """The diffusion loss of configurations ``idx`` averaged over a fixed grid of noise levels
    (:data:`VALIDATION_LEVELS`, uniform in log sigma, :data:`VALIDATION_DRAWS` draws each), and
    per level [sigma, loss] (the same noise every epoch)."""
    g = torch.Generator(device=data.box.device).manual_seed(seed)
    model.eval()
    levels = (torch.arange(VALIDATION_LEVELS, dtype=torch.float64) + 0.5) / VALIDATION_LEVELS
    per = []
    for t in levels:
        total, count = 0.0, 0
        for _ in range(VALIDATION_DRAWS):
            for s in range(0, len(idx), 32):
                rows = torch.as_tensor(idx[s : s + 32], device=data.box.device)
                dtype = next(model.parameters()).dtype
                x, box = data.positions[rows].to(dtype), data.box.to(dtype)
                T = data.temperature[rows].to(dtype)
                ref = random_reference(data.types[rows], g)
                forces = (
                    None if data.forces is None else data.forces[rows].to(dtype) / T[:, None, None]
                )
                loss = model.denoising_loss(x, data.types[rows], box, T, ref, g, forces, t=float(t))
                total += float(loss) * len(rows)
                count += len(rows)
        sigma = float(model.field.sigma(torch.tensor([float(t)]), data.box.cpu())[0])
        per.append([sigma, total / max(count, 1)])
    return float(np.mean([p[1] for p in per])), per
