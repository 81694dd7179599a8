"""Checkpoints: ``state_dict`` + the config that built the model + versions; load on any device.

A checkpoint is a ``torch.save`` of a plain dict (format ``glassdyn-checkpoint/1``):
``model_config`` (a :class:`~glassdyn.nn.models.ModelConfig` as a dict), ``model_state``,
``train_config``, ``graph_spec``, ``versions`` and, for resuming, ``optimizer_state``, ``epoch``,
RNG states and the history.  Nothing is looked up by internal names: the model is rebuilt from
``model_config`` and loaded with ``map_location`` (CPU by default), so a checkpoint written on a
GPU opens on a laptop.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from glassdyn.data.errors import InputError
from glassdyn.data.runs import load_torch, save_torch, versions
from glassdyn.nn.models import GraphModel, ModelConfig, build_model

FORMAT = "glassdyn-checkpoint/1"


def save_checkpoint(path: str | os.PathLike, model: GraphModel, **extra) -> None:
    """Write atomically (a crash mid-write never leaves a truncated checkpoint)."""
    p = Path(path)
    state = {
        "format": FORMAT,
        "model_config": model.config.to_dict(),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "versions": versions(),
        **extra,
    }
    save_torch(p, state)


def load_checkpoint(
    path: str | os.PathLike, kind: str | None = None, map_location: str | torch.device = "cpu"
) -> dict:
    """The checkpoint dict; ``kind`` (botan / tbotan / bapst) checks which model it holds."""
    p = Path(path)
    fix = f"train one with `glassdyn train --out {p.parent}`"
    if p.exists():
        fix = "restore it, or train into a new --out"
    ckpt = load_torch(p, fix=fix, map_location=map_location)
    if ckpt.get("format") != FORMAT:
        raise InputError(
            f"{p} is not a glassdyn checkpoint (format {FORMAT!r}); was it written by another program?"
        )
    have = ckpt["model_config"].get("kind")
    if kind is not None and have != kind:
        raise InputError(
            f"checkpoint {p} holds a {have!r} model, not a {kind!r} one; pass a {kind} run or use --model {have}"
        )
    return ckpt


def load_model(
    path: str | os.PathLike, kind: str | None = None, map_location: str | torch.device = "cpu"
) -> tuple[GraphModel, dict]:
    """Rebuild the model from its config and load its weights: (model in eval mode, checkpoint)."""
    ckpt = load_checkpoint(path, kind, map_location)
    model = build_model(ModelConfig(**ckpt["model_config"]))
    load_state(model, ckpt["model_state"], path)
    return model.eval(), ckpt


# buffers added after the first checkpoints were written; their defaults are what those used
_OPTIONAL_BUFFERS = {"node_attr_mean", "node_attr_std"}


def load_state(model: GraphModel, state: dict, path: str | os.PathLike = "checkpoint") -> None:
    """``model.load_state_dict`` that accepts checkpoints without the optional buffers."""
    try:
        res = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise InputError(
            f"{path}: weights do not fit the model its config describes ({exc})"
        ) from None
    missing = set(res.missing_keys) - _OPTIONAL_BUFFERS
    if missing or res.unexpected_keys:
        raise InputError(
            f"{path}: weights do not fit the model its config describes "
            f"(missing {sorted(missing)}, unexpected {sorted(res.unexpected_keys)})"
        )
