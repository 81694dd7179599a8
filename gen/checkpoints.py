"""What a generative run's files hold: the checkpoint format, its earlier formats, loading a
fitted model, and the starting weights of a fine-tuning (``init``).

The run directory and its files are the run engine's (:mod:`glassdyn.data.run_engine`, shared with
``glassdyn train``): ``run.json``, ``best.pt``, ``last.pt``, ``history.json``, under the
checkpoint keys both trainers share (``CKPT_*`` of :mod:`glassdyn.data.runs`).  A generative
checkpoint adds ``format``, ``kind``, ``model_config`` (the network settings), ``train_config``
(the :class:`~glassdyn.gen.config.FitConfig`) and ``data`` (the data description: N, types, box,
temperatures).  ``best.pt`` holds the weights of the epoch of lowest validation loss (the moving
average when fitted with ``ema``).

Earlier formats load under today's keys: ``glassdyn.gen/3`` (its history as columns),
``glassdyn.gen/2`` (``arch``, ``fit``, ``optimizer``, ``val_loss``), and runs of the first format
(``glassdyn.gen/1``, one ``checkpoint.pt`` without a split) load through :func:`load_run` too but
never resume.
"""

from __future__ import annotations

from pathlib import Path

import torch
from glassdyn.data import runs
from glassdyn.data.errors import InputError
from glassdyn.data.run_engine import RunFormat
from glassdyn.gen.config import FitConfig
from glassdyn.gen.options import build_generative_model, complete_arch

FORMAT = "glassdyn.gen/5"  # 5: flow and cnf are temperature transports (base: MD at T_0)
OLD_FORMAT, OLD_FILE = "glassdyn.gen/1", "checkpoint.pt"  # one file, no split: loads, never resumes
_RENAMES = {  # keys of the earlier formats -> today's
    "arch": runs.CKPT_MODEL_CONFIG,
    "fit": runs.CKPT_TRAIN_CONFIG,
    "optimizer": runs.CKPT_OPTIMIZER_STATE,
    "val_loss": runs.CKPT_BEST_VAL,
}
_EARLIER = ("glassdyn.gen/4", "glassdyn.gen/3", "glassdyn.gen/2", OLD_FORMAT)
# flow and cnf runs of the earlier formats came from uniform noise: their samples overlap
_NOISE_BASED = ("flow", "cnf")
SAMPLER_FIELDS = ("steps", "sde_steps", "corrector_steps", "snr")  # sampling settings, not weights


def checkpoint_entries(model: torch.nn.Module, cfg: FitConfig, data: dict) -> dict:
    """A checkpoint's entries besides the engine's: format, kind, network config, fit config
    and the data description (``data``: :meth:`~glassdyn.gen.dataset.TrainingData.describe`)."""
    from dataclasses import asdict

    return {
        runs.CKPT_FORMAT: FORMAT,
        runs.CKPT_KIND: model.kind,
        runs.CKPT_MODEL_CONFIG: model.cfg.as_dict(),
        runs.CKPT_TRAIN_CONFIG: asdict(cfg),
        "data": data,
    }


def load_checkpoint(path: Path, fix: str = "fit into a new --out") -> dict:
    """A generative checkpoint (any format, under today's keys, its history as records;
    ``format`` stays the file's); one clear error when missing, damaged or foreign."""
    ck = runs.load_torch(path, fix=fix)
    have = ck.get(runs.CKPT_FORMAT)
    if have in _EARLIER:
        if ck.get(runs.CKPT_KIND) in _NOISE_BASED:
            raise InputError(
                f"{path} is a {ck[runs.CKPT_KIND]} fitted by an earlier glassdyn (format {have}) from "
                "uniform noise, whose samples overlap; fit it again: `glassdyn gen fit --model "
                f"{ck[runs.CKPT_KIND]} --data STORE --out NEW_RUN` carries MD configurations of a "
                "higher temperature down instead"
            )
        ck = {**runs.upgrade_checkpoint(ck, _RENAMES, FORMAT), runs.CKPT_FORMAT: have}
        h = ck.get(runs.CKPT_HISTORY)
        if isinstance(h, dict):  # columns up to glassdyn.gen/3: one record per epoch today
            ck[runs.CKPT_HISTORY] = [dict(zip(h, v)) for v in zip(*h.values())]
    elif have != FORMAT:
        raise InputError(
            f"{path} is not a glassdyn.gen checkpoint (format {have!r}; this glassdyn reads "
            f"{', '.join((FORMAT, *_EARLIER))}); {fix}"
        )
    return ck


# how `glassdyn gen fit` records its runs (run.json's settings, checkpoints of every format)
RUNS = RunFormat(
    command="glassdyn gen fit",
    config_key="fit_config",
    read_config=lambda d: FitConfig.from_dict(d).to_dict(),
    read_checkpoint=lambda path: load_checkpoint(path, f"delete {path.parent} to fit it again"),
)


def refuse_earlier_formats(run: Path) -> None:
    """A run of an earlier format samples and evaluates (where its model allows) but does not
    resume: its validation measured something else, so best-on-validation would mix two scales."""
    if (run / OLD_FILE).exists() and not (run / runs.RUN_FILE).exists():
        raise InputError(
            f"{run} holds a fit in the first format ({OLD_FORMAT}: {OLD_FILE}, no recorded split); "
            "it still samples and evaluates, but cannot be resumed: fit into a new --out"
        )
    if (run / runs.RUN_FILE).exists():
        old = runs.read_run_file(run)
        if "fit_config" in old and old.get("format", FORMAT) != FORMAT:
            raise InputError(
                f"{run} holds a fit of an earlier glassdyn (format {old.get('format')}); it still "
                "samples and evaluates where its model allows, but does not resume: fit into a "
                "new --out"
            )


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
        ck = {
            **ck,
            "split": info.get("split"),
            "fingerprint": info.get("fingerprint"),
            "data_path": info.get("data_path"),
        }
    arch = complete_arch(ck[runs.CKPT_KIND], ck[runs.CKPT_MODEL_CONFIG])
    model = build_generative_model(ck[runs.CKPT_KIND], arch)
    floats = [v for v in state.values() if torch.is_tensor(v) and v.is_floating_point()]
    if floats:
        model = model.to(floats[0].dtype)  # the precision it was fitted in
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
