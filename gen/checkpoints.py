"""Run directories of the generative fits: run.json, checkpoints, loading, resume checks.

Layout and file writing are :mod:`glassdyn.data.runs` (shared with ``glassdyn train``); this
module says what a generative run's files hold.  ``last.pt``: format, kind, architecture, fit
config, data description, history, raw weights, moving average, optimiser state, epoch, best
validation loss and epoch.  ``best.pt``: the same description with the weights of the epoch of
lowest validation loss (the moving average when fitted with ``ema``).  Runs of the first format
(``glassdyn.gen/1``, one ``checkpoint.pt`` without a split) load through :func:`load_run` too.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from glassdyn.data import runs
from glassdyn.data.errors import InputError
from glassdyn.data.splits import check_same_data
from glassdyn.gen.cnf import CNFConfig, ContinuousFlow
from glassdyn.gen.coupling import CouplingFlow, FlowConfig

FORMAT = "glassdyn.gen/2"
OLD_FORMAT, OLD_FILE = "glassdyn.gen/1", "checkpoint.pt"  # one file, no split: loads, never resumes
MODELS = ("flow", "cnf", "diffusion")
if TYPE_CHECKING:  # annotations only: training imports this module
    from glassdyn.gen.training import FitConfig, FitState, TrainingData

SAMPLER_FIELDS = ("steps", "sde_steps", "corrector_steps", "snr")  # sampling settings, not weights


def build_model(kind: str, arch: dict | None = None) -> torch.nn.Module:
    arch = dict(arch or {})
    if kind == "flow":
        return CouplingFlow(FlowConfig(**arch))
    if kind == "cnf":
        return ContinuousFlow(CNFConfig(**arch))
    if kind == "diffusion":
        from glassdyn.gen.diffusion import DiffusionConfig, ScoreDiffusion

        return ScoreDiffusion(DiffusionConfig(**arch))
    raise InputError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


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
    runs.check_resume(run, old["fit_config"], cfg.to_dict())
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
        state.model.load_state_dict(ck["state_dict"])
        state.opt.load_state_dict(ck["optimizer"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"{path} does not fit the model its run describes ({type(exc).__name__}); "
            "fit into a new --out"
        ) from None
    state.history, state.epoch = ck["history"], ck["epoch"] + 1
    state.best, state.best_epoch = ck["best_val"], ck["best_epoch"]
    if state.ema is not None:
        state.ema = ck["ema_state_dict"]


def save(run: Path, cfg: FitConfig, state: FitState, data: TrainingData, improved: bool) -> None:
    """``best.pt`` when improved (the averaged weights with ``ema``), ``last.pt``, ``history.json``."""
    model = state.model
    common = {
        "format": FORMAT,
        "kind": model.kind,
        "arch": model.cfg.as_dict(),
        "fit": asdict(cfg),
        "data": _data_record(data, data.store),
        "history": state.history,
        "versions": runs.versions(),
    }
    if improved:
        weights = state.ema if state.ema is not None else model.state_dict()
        runs.save_torch(
            run / runs.BEST,
            {
                **common,
                "state_dict": {k: v.detach().cpu().clone() for k, v in weights.items()},
                "epoch": state.best_epoch,
                "val_loss": state.best,
            },
        )
    runs.save_torch(
        run / runs.LAST,
        {
            **common,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "ema_state_dict": None
            if state.ema is None
            else {k: v.detach().cpu().clone() for k, v in state.ema.items()},
            "optimizer": state.opt.state_dict(),
            "epoch": state.epoch - 1,
            "best_val": state.best,
            "best_epoch": state.best_epoch,
        },
    )
    h = state.history
    runs.write_json(run / runs.HISTORY, [dict(zip(h, v)) for v in zip(*h.values())])


def load_checkpoint(path: Path, fix: str) -> dict:
    """A generative checkpoint (either format); one clear error when missing, damaged or foreign."""
    ck = runs.load_torch(path, fix=fix)
    if ck.get("format") not in (FORMAT, OLD_FORMAT):
        raise InputError(
            f"{path} is not a glassdyn.gen checkpoint (format {ck.get('format')!r}); {fix}"
        )
    return ck


def load_run(run_dir, *, best: bool = True, device: str = "cpu"):
    """(model in eval mode, checkpoint dict) from a run directory or checkpoint file.

    The dict holds ``kind``, ``arch``, ``fit``, ``data``, ``history``, ``epoch`` and, for runs of
    the current format, the ``split`` and ``fingerprint`` of run.json (None for
    ``glassdyn.gen/1`` runs, which recorded neither)."""
    p = Path(run_dir)
    fix = f"fit one with `glassdyn gen fit --out {run_dir}`"
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
    if ck["format"] == OLD_FORMAT:
        use_best = best and ck.get("best_state_dict") is not None
        state = ck["best_state_dict"] if use_best else ck["state_dict"]
        ck = {**ck, "split": None, "fingerprint": None}
    else:
        state = ck["state_dict"]
        info = runs.read_run_file(path.parent) if (path.parent / runs.RUN_FILE).exists() else {}
        ck = {**ck, "split": info.get("split"), "fingerprint": info.get("fingerprint")}
    model = build_model(ck["kind"], ck["arch"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(
            f"{path}: the weights do not fit the {ck['kind']} model it describes "
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
