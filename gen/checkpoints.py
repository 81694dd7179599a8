"""Run directories of the generative fits: run.json, checkpoints, loading, resume checks.

Layout and file writing are :mod:`glassdyn.data.runs` (shared with ``glassdyn train``); this
module says what a generative run's files hold, under the checkpoint keys both trainers share
(``CKPT_*`` of :mod:`glassdyn.data.runs`).  ``last.pt``: format, kind, model config (the network
settings), train config (the :class:`~glassdyn.gen.training.FitConfig`), ``data`` (the data
description), history, raw weights, ``ema_state_dict`` (the moving average), optimiser state,
epoch, best validation loss and epoch.  ``best.pt``: the same description with the weights of the
epoch of lowest validation loss (the moving average when fitted with ``ema``).  Checkpoints of
``glassdyn.gen/2`` (``arch``, ``fit``, ``optimizer``, ``val_loss``) load under today's keys, and
runs of the first format (``glassdyn.gen/1``, one ``checkpoint.pt`` without a split) load through
:func:`load_run` too.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from glassdyn.data import runs
from glassdyn.data.errors import InputError
from glassdyn.data.splits import check_same_data
from glassdyn.gen.cnf import ContinuousFlow
from glassdyn.gen.coupling import CouplingFlow
from glassdyn.gen.options import MODELS, as_model_config  # noqa: F401  (MODELS: public name)

FORMAT = "glassdyn.gen/3"
OLD_FORMAT, OLD_FILE = "glassdyn.gen/1", "checkpoint.pt"  # one file, no split: loads, never resumes
_RENAMES = {  # keys of the earlier formats -> today's
    "arch": runs.CKPT_MODEL_CONFIG,
    "fit": runs.CKPT_TRAIN_CONFIG,
    "optimizer": runs.CKPT_OPTIMIZER_STATE,
    "val_loss": runs.CKPT_BEST_VAL,
}
_EARLIER = ("glassdyn.gen/2", OLD_FORMAT)
if TYPE_CHECKING:  # annotations only: training imports this module
    from glassdyn.gen.training import FitConfig, FitState, TrainingData

SAMPLER_FIELDS = ("steps", "sde_steps", "corrector_steps", "snr")  # sampling settings, not weights


def build_model(kind: str, arch=None) -> torch.nn.Module:
    """The untrained model ``kind`` with network config ``arch`` (a config, a dict of its fields,
    or None for the defaults: :func:`glassdyn.gen.options.as_model_config`)."""
    cfg = as_model_config(kind, arch)
    if kind == "flow":
        return CouplingFlow(cfg)
    if kind == "cnf":
        return ContinuousFlow(cfg)
    from glassdyn.gen.diffusion import ScoreDiffusion

    return ScoreDiffusion(cfg)


def check_previous(run: Path, cfg: FitConfig, split: dict, fp: dict, data) -> dict | None:
    """run.json of a fit already in ``run`` once resuming it is safe (None: nothing there)."""
    if (run / OLD_FILE).exists() and not (run / runs.RUN_FILE).exists():
        raise InputError(
            f"{run} holds a fit in the first format ({OLD_FORMAT}: {OLD_FILE}, no recorded split); "
            "it still samples and evaluates, but cannot be resumed: fit into a new --out"
        )
    if not (run / runs.RUN_FILE).exists():
        if (run / runs.LAST).exists():
            raise InputError(f"{run} holds {runs.LAST} but no {runs.RUN_FILE}; use another --out")
        return None
    old = runs.read_run_file(run)
    if "fit_config" not in old:
        raise InputError(
            f"{run} holds a {old.get('kind')!r} run of `glassdyn train`, not a generative fit; "
            "use another --out"
        )
    runs.check_resume(run, type(cfg).from_dict(old["fit_config"]).to_dict(), cfg.to_dict())
    check_same_data(run, old, fp, split, data)
    if (run / runs.LAST).exists():
        load_checkpoint(run / runs.LAST, fix=f"delete {run} to fit it again from scratch")
        runs.require_checkpoints(run, [runs.BEST])
    return old


def _data_record(data: TrainingData, store_path) -> dict:
    return {
        "store": str(store_path),
        "source": data.source,
        "temperatures": sorted({round(float(t), 6) for t in data.temperature.cpu().numpy()}),
        "n_particles": data.n_particles,
        "types": data.types[0].cpu().numpy().tolist(),
        "box": data.box.cpu().numpy().tolist(),
    }


def write_run_file(
    run: Path, cfg: FitConfig, split: dict, fp: dict, data: TrainingData, store_path
) -> None:
    runs.write_json(
        run / runs.RUN_FILE,
        {
            "kind": cfg.model,
            "format": FORMAT,
            "fit_config": cfg.to_dict(),
            "split": split,
            "fingerprint": fp,
            "data_path": str(Path(store_path).resolve()),
            "data": _data_record(data, store_path),
            "versions": runs.versions(),
        },
        indent=2,
    )


def restore(state: FitState, path: Path) -> None:
    ck = load_checkpoint(path, fix="delete the run directory to fit it again from scratch")
    try:
        state.model.load_state_dict(ck[runs.CKPT_STATE_DICT])
        state.opt.load_state_dict(ck[runs.CKPT_OPTIMIZER_STATE])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"{path} does not fit the model its run describes ({type(exc).__name__}); "
            "fit into a new --out"
        ) from None
    state.history, state.epoch = ck[runs.CKPT_HISTORY], ck[runs.CKPT_EPOCH] + 1
    state.best, state.best_epoch = ck[runs.CKPT_BEST_VAL], ck[runs.CKPT_BEST_EPOCH]
    if state.ema is not None:
        state.ema = ck["ema_state_dict"]


def save(run: Path, cfg: FitConfig, state: FitState, data: TrainingData, improved: bool) -> None:
    """``best.pt`` when improved (the averaged weights with ``ema``), ``last.pt``, ``history.json``."""
    model = state.model
    common = {
        runs.CKPT_FORMAT: FORMAT,
        runs.CKPT_KIND: model.kind,
        runs.CKPT_MODEL_CONFIG: model.cfg.as_dict(),
        runs.CKPT_TRAIN_CONFIG: asdict(cfg),
        "data": _data_record(data, data.store),
        runs.CKPT_HISTORY: state.history,
        runs.CKPT_VERSIONS: runs.versions(),
    }
    if improved:
        weights = state.ema if state.ema is not None else model.state_dict()
        runs.save_torch(
            run / runs.BEST,
            {
                **common,
                runs.CKPT_STATE_DICT: {k: v.detach().cpu().clone() for k, v in weights.items()},
                runs.CKPT_EPOCH: state.best_epoch,
                runs.CKPT_BEST_VAL: state.best,
                runs.CKPT_BEST_EPOCH: state.best_epoch,
            },
        )
    runs.save_torch(
        run / runs.LAST,
        {
            **common,
            runs.CKPT_STATE_DICT: {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "ema_state_dict": None
            if state.ema is None
            else {k: v.detach().cpu().clone() for k, v in state.ema.items()},
            runs.CKPT_OPTIMIZER_STATE: state.opt.state_dict(),
            runs.CKPT_EPOCH: state.epoch - 1,
            runs.CKPT_BEST_VAL: state.best,
            runs.CKPT_BEST_EPOCH: state.best_epoch,
        },
    )
    h = state.history
    runs.write_json(run / runs.HISTORY, [dict(zip(h, v)) for v in zip(*h.values())])


def load_checkpoint(path: Path, fix: str) -> dict:
    """A generative checkpoint (any format, under today's keys; ``format`` stays the file's);
    one clear error when missing, damaged or foreign."""
    ck = runs.load_torch(path, fix=fix)
    have = ck.get(runs.CKPT_FORMAT)
    if have in _EARLIER:
        return {**runs.upgrade_checkpoint(ck, _RENAMES, FORMAT), runs.CKPT_FORMAT: have}
    if have != FORMAT:
        raise InputError(
            f"{path} is not a glassdyn.gen checkpoint (format {have!r}; this glassdyn reads "
            f"{', '.join((FORMAT, *_EARLIER))}); {fix}"
        )
    return ck


def load_run(run_dir, *, best: bool = True, device: str = "cpu"):
    """(model in eval mode, checkpoint dict) from a run directory or checkpoint file.

    The dict holds ``kind``, ``model_config``, ``train_config``, ``data``, ``history``, ``epoch``
    and, for runs with a run.json, the ``split`` and ``fingerprint`` it records (None for
    ``glassdyn.gen/1`` runs, which recorded neither)."""
    from glassdyn.data.outputs import describe

    p = Path(run_dir)
    found = describe(p)
    if found.kind in ("missing", "empty"):
        fix = f"fit one with `glassdyn gen fit --data STORE --out {run_dir}`"
    else:
        fix = "fit one into a new directory with `glassdyn gen fit --data STORE --out NEW_RUN`"
    if found.kind not in ("missing", "empty", "file", "fit-run", "old-fit", "directory"):
        raise InputError(f"{p} is {found.text}, not a run of `glassdyn gen fit`; {fix}")
    if p.is_dir():
        if (p / runs.LAST).exists() or (p / runs.BEST).exists():
            path = p / (runs.BEST if best else runs.LAST)
        elif (p / OLD_FILE).exists():
            path = p / OLD_FILE
        else:
            raise InputError(f"no checkpoint at {p}; {fix}")
    else:
        path = p
    ck = load_checkpoint(path, fix=f"restore it, or {fix}" if path.exists() else fix)
    if ck[runs.CKPT_FORMAT] == OLD_FORMAT:
        use_best = best and ck.get("best_state_dict") is not None
        state = ck["best_state_dict"] if use_best else ck[runs.CKPT_STATE_DICT]
        ck = {**ck, "split": None, "fingerprint": None}
    else:
        state = ck[runs.CKPT_STATE_DICT]
        info = runs.read_run_file(path.parent) if (path.parent / runs.RUN_FILE).exists() else {}
        ck = {**ck, "split": info.get("split"), "fingerprint": info.get("fingerprint")}
    model = build_model(ck[runs.CKPT_KIND], ck[runs.CKPT_MODEL_CONFIG])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(
            f"{path}: the weights do not fit the {ck[runs.CKPT_KIND]} model it describes "
            f"({str(exc)[:120]}); fit into a new --out"
        ) from None
    return model.to(device).eval(), ck


def initial_weights(run_dir, model: torch.nn.Module, log=print) -> dict:
    """The best weights of another run for ``model`` (``init``): same kind and network shapes.

    Settings that do not change the weights (noise range, physics term, samplers) may differ;
    they are listed in the log."""
    src, _ = load_run(run_dir)
    theirs, ours = src.cfg.as_dict(), model.cfg.as_dict()
    state, mine = src.state_dict(), model.state_dict()
    shapes_differ = set(state) != set(mine) or any(state[k].shape != mine[k].shape for k in mine)
    changed = sorted(
        k
        for k in set(theirs) | set(ours)
        if k not in SAMPLER_FIELDS and theirs.get(k) != ours.get(k)
    )
    what = ", ".join(f"{k} {theirs.get(k)} -> {ours.get(k)}" for k in changed)
    if src.kind != model.kind or shapes_differ:
        raise InputError(
            f"--init {run_dir}: that run is a {src.kind} network of another shape than the {model.kind} network "
            f"asked for ({what or 'different layers'}); pass the same model and architecture options"
        )
    if changed:
        log("fine-tuning with changed settings: " + what)
    return state
