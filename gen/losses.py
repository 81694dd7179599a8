"""Training losses of the generative models (one batch at a time) and the validation loss.

- coupling flow: negative log-likelihood per particle, plus an optional reverse-KL term against
  the KA Boltzmann weight (:func:`reverse_kl`);
- continuous flow: the flow-matching loss on the torus;
- diffusion: denoising or target score matching (forces / T, :func:`uses_target_score`).

Each configuration is seen in the frame of a uniformly drawn A particle (:func:`random_reference`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from glassdyn.data.errors import InputError
from glassdyn.gen import reference_frame

if TYPE_CHECKING:  # annotations only
    from glassdyn.gen.config import FitConfig
    from glassdyn.gen.dataset import TrainingData


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


def batch_loss(
    model, x, types, T, box, generator=None, energy_weight: float = 0.0, forces=None
) -> torch.Tensor:
    """Training loss of one batch: NLL per particle (flow), the flow-matching loss (cnf) or the
    denoising / target score-matching loss (diffusion; ``forces`` (B, N, 3) switch on the latter)."""
    dtype = next(model.parameters()).dtype
    x, box = x.to(dtype), box.to(dtype)
    ref = random_reference(types, generator)
    if model.kind == "flow":
        loss = -model.log_prob(x, types, box, T.to(x.dtype), ref).mean() / x.shape[1]
        if energy_weight > 0:
            loss = loss + energy_weight * reverse_kl(model, types[0], box, T, generator)
        return loss
    if model.kind == "diffusion":
        score = None if forces is None else forces.to(dtype) / T.to(dtype)[:, None, None]
        return model.denoising_loss(x, types, box, T.to(x.dtype), ref, generator, score)
    return model.flow_matching_loss(x, types, box, T.to(x.dtype), ref, generator)


def data_loss(
    model, data: TrainingData, rows: torch.Tensor, generator=None, energy_weight: float = 0.0
) -> torch.Tensor:
    """:func:`batch_loss` of the configurations ``rows`` (indices into axis 0) of ``data``."""
    return batch_loss(
        model,
        data.positions[rows],
        data.types[rows],
        data.temperature[rows],
        data.box,
        generator,
        energy_weight,
        None if data.forces is None else data.forces[rows],
    )


def reverse_kl(model, types, box, T, generator=None, e_max: float = 10.0) -> torch.Tensor:
    """E_q[U/T + log q] / N with model samples at the batch temperatures; U per particle is
    softened above ``e_max`` (log growth) so a rare overlap does not blow up the gradient."""
    from glassdyn.simulate.ka import energy_torch

    n = len(T)
    N = len(types)
    dev = box.device
    types_b = types.long()[None].expand(n, -1)
    ref = torch.as_tensor(
        reference_frame.reference_index(types_b[:1].cpu().numpy()), device=dev
    ).expand(n)
    z = torch.rand(n, N, 3, generator=generator, dtype=box.dtype, device=dev)
    u, ld = model.forward_u(z, types_b, box, T.to(box.dtype), ref)
    x = u * box
    U = energy_torch(x, types.cpu().numpy(), box.cpu().numpy()) / N
    U = torch.where(U > e_max, e_max + torch.log1p(torch.clamp(U - e_max, min=0)), U)
    logq = -ld - reference_frame.log_volume(box, N)
    return (U / T.to(U.dtype) + logq / N).mean()


@torch.no_grad()
def evaluate_loss(
    model, data: TrainingData, idx: np.ndarray, batch_size: int, seed: int = 1234
) -> float:
    g = torch.Generator().manual_seed(seed)
    model.eval()
    total, count = 0.0, 0
    for s in range(0, len(idx), batch_size):
        b = torch.as_tensor(idx[s : s + batch_size])
        with torch.enable_grad() if model.kind == "cnf" else torch.no_grad():
            loss = data_loss(model, data, b, g)
        total += float(loss) * len(b)
        count += len(b)
    return total / max(count, 1)
