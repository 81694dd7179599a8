"""Checkpoints: ``state_dict`` + the config that built the model + versions; load on any device.

A checkpoint is a ``torch.save`` of a plain dict (format ``glassdyn-checkpoint/2``) with the keys
both trainers share (:mod:`glassdyn.data.runs`, ``CKPT_*``, written by the run engine
:mod:`glassdyn.data.run_engine`): ``kind``, ``model_config`` (a
:class:`~glassdyn.nn.models.ModelConfig` as a dict), ``state_dict``, ``train_config``,
``versions`` and, for resuming, ``optimizer_state``, ``epoch``, the history, the RNG states;
``glassdyn train`` adds ``graph_spec``, ``split``, ``phase``, ``pretrain`` and ``init``.  Nothing is looked up by internal names: the
model is rebuilt from ``model_config`` and loaded with ``map_location`` (CPU by default), so a
checkpoint written on a GPU opens on a laptop.  Checkpoints of the first format
(``glassdyn-checkpoint/1``: ``model_state`` for the weights, no ``kind``) load as well.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from glassdyn.data import runs
from glassdyn.data.errors import InputError
from glassdyn.data.run_engine import RunFormat
from glassdyn.predict.config import TrainConfig

from glassdyn.nn.models import GraphModel, ModelConfig, build_model

FORMAT = "glassdyn-checkpoint/2"
# earlier formats and how their keys map to today's
_EARLIER = {"glassdyn-checkpoint/1": {"model_state": runs.CKPT_STATE_DICT}}


def checkpoint_entries(model: GraphModel) -> dict:
    """The entries that say what a checkpoint holds: format, kind, the config that rebuilds it."""
    return {
        runs.CKPT_FORMAT: FORMAT,
        runs.CKPT_KIND: model.config.kind,
        runs.CKPT_MODEL_CONFIG: model.config.to_dict(),
    }


def save_checkpoint(path: str | os.PathLike, model: GraphModel, **extra) -> None:
    """Write atomically (a crash mid-write never leaves a truncated checkpoint); the training
    checkpoints are the run engine's (:func:`glassdyn.data.run_engine.save`)."""
    state = {
        **checkpoint_entries(model),
        runs.CKPT_STATE_DICT: {k: v.detach().cpu() for k, v in model.state_dict().items()},
        runs.CKPT_VERSIONS: runs.versions(),
        **extra,
    }
    runs.save_torch(Path(path), state)


def load_checkpoint(
    path: str | os.PathLike, kind: str | None = None, map_location: str | torch.device = "cpu"
) -> dict:
    """The checkpoint dict (under today's keys); ``kind`` (botan / tbotan / bapst) checks which
    model it holds."""
    p = Path(path)
    fix = f"train one with `glassdyn train --out {p.parent}`"
    if p.exists():
        fix = "restore it, or train into a new --out"
    ckpt = runs.load_torch(p, fix=fix, map_location=map_location)
    have_format = ckpt.get(runs.CKPT_FORMAT)
    if have_format in _EARLIER:
        ckpt = runs.upgrade_checkpoint(ckpt, _EARLIER[have_format], FORMAT)
        ckpt[runs.CKPT_KIND] = ckpt[runs.CKPT_MODEL_CONFIG].get("kind")
    elif have_format != FORMAT:
        raise InputError(
            f"{p} is not a glassdyn checkpoint (format {have_format!r}, this glassdyn reads "
            f"{FORMAT} and {', '.join(_EARLIER)}); was it written by another program?"
        )
    have = ckpt[runs.CKPT_KIND]
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
    model = build_model(ModelConfig(**ckpt[runs.CKPT_MODEL_CONFIG]))
    load_state(model, ckpt[runs.CKPT_STATE_DICT], path)
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


# how `glassdyn train` records its runs: run.json's settings (fields a run predates take the
# values it was trained with), checkpoints of every format, weights without optional buffers
RUNS = RunFormat(
    command="glassdyn train",
    config_key="train_config",
    read_config=lambda d: TrainConfig.from_dict(d).to_dict(),
    read_checkpoint=load_checkpoint,
    load_weights=load_state,
)
