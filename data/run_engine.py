"""The run engine of both trainers (``glassdyn train``, ``glassdyn gen fit``): open a run, one
training state, one epoch loop.

A trainer is a :class:`Trainer`: it supplies its model, its batches, one batch's loss and its
validation.  The engine owns everything else, the same way for every model:

- **open** (:func:`check_previous`, :func:`open_run`): a run already in the directory resumes only
  with the same settings (up to :data:`~glassdyn.data.runs.RESUMABLE`) on the same data (the
  fingerprint of :mod:`glassdyn.data.splits`); ``run.json`` is written and the directory locked
  (:mod:`glassdyn.data.lock`) while the run trains;
- **state** (:class:`TrainingState`, :func:`save`, :func:`restore`): model, optimiser, named random
  generators, the moving average of the weights (EMA), the history (one record per epoch) and the
  best epoch; ``best.pt`` (the weights of the best epoch: the averaged ones with EMA) and
  ``last.pt`` (everything needed to resume bit for bit);
- **loop** (:func:`run_epochs`): optimiser steps (gradient clipping, EMA update), validation (of
  the averaged weights with EMA), best on validation (the lowest ``val_select``, else
  ``val_loss``; without validation data the last epoch), both checkpoints and ``history.json``
  after every epoch, and ``max_minutes``: checked after every epoch, so a run stops after the
  epoch that passes it and a rerun resumes exactly where an uninterrupted run would be.

A minimal plug-in (the README shows it trained, resumed and evaluated)::

    class Line(Trainer):
        def model(self):            return torch.nn.Linear(1, 1)
        def batches(self, state, epoch):  yield from zip(x.split(8), y.split(8))
        def loss(self, state, batch):     return ((state.model(batch[0]) - batch[1]) ** 2).mean()
        def validate(self, state):        return {"val_loss": float(...)}

    record = RunRecord(kind="line", config={"lr": 0.1})
    with open_run(out, RunFormat("my_script"), record):
        run_epochs(out, Line(), epochs=20)

Nothing here imports torch at module level (this is the data floor): it comes with the model.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from glassdyn.data import runs
from glassdyn.data.errors import GlassdynError, InputError

CKPT_RNG = "rng"  # {name: ByteTensor} | the trainer's generators and torch's global one (last.pt)
CKPT_EMA = "ema_state_dict"  # {name: tensor} or None | the moving average of the weights (last.pt)
START_EPOCH = -1  # the history record of a starting point validated before the first epoch


def max_minutes_setting():
    """The ``max_minutes`` field of both trainers' configurations, its default and help said once."""
    from glassdyn.data.settings import setting

    return setting(
        None,
        "stop cleanly after the epoch that passes this wall time; rerun the same command to continue",
    )


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


# ------------------------------------------------------------------------------ the plug-in
class Trainer:
    """What a trainer supplies (subclass it).  Required: :meth:`model`, :meth:`batches`,
    :meth:`loss` and, with validation data, :meth:`validate`; the rest are optional hooks with
    defaults that do nothing.

    Attributes: ``lr`` (of the default Adam optimiser), ``grad_clip`` (clip the gradient norm
    to it; 0: no clipping), ``ema`` (decay of the moving average of the weights; 0: none),
    ``desc`` (the progress bar's label) and ``retry`` (the advice printed when the loss diverges).
    """

    lr: float = 1e-3
    grad_clip: float = 0.0
    ema: float = 0.0
    desc: str = "train"
    retry: str = "lower --lr and train into a new --out"

    # -------------------------------------------------------------- required
    def model(self):
        """The fresh model, on the device it trains on."""
        raise NotImplementedError

    def batches(self, state: TrainingState, epoch: int) -> Iterable:
        """The training batches of ``epoch``, in order (drawn from ``epoch`` or from generators
        of :meth:`rngs`, so that a resumed run draws what an uninterrupted one does)."""
        raise NotImplementedError

    def loss(self, state: TrainingState, batch):
        """One batch's loss: a scalar tensor the engine differentiates."""
        raise NotImplementedError

    def validate(self, state: TrainingState) -> dict | None:
        """``{"val_loss": float, ...}`` on the validation data (``val_select``, when given, is
        what the best epoch is chosen on); None when the run has no validation data."""
        return None

    # -------------------------------------------------------------- optional
    def optimizer(self, model):
        """The optimiser of a fresh run (default: Adam at ``lr``)."""
        import torch

        return torch.optim.Adam(model.parameters(), lr=self.lr)

    def rngs(self) -> dict:
        """Named ``torch.Generator`` objects that ``last.pt`` saves and a resumption restores."""
        return {}

    def start(self, state: TrainingState) -> None:
        """A fresh run (nothing to resume): e.g. start from another run's weights."""

    def resume(self, state: TrainingState, checkpoint: dict) -> None:
        """A resumed run: read the trainer's own entries of ``last.pt`` (see :meth:`checkpoint`)."""

    def begin_epoch(self, state: TrainingState, epoch: int) -> dict:
        """Before ``epoch``: e.g. set the learning rate; returns entries of its history record."""
        return {}

    def start_record(self, state: TrainingState) -> dict | None:
        """Entries of a record of the starting weights (epoch -1) when they compete for best.pt
        (validated before the first epoch); None: they do not."""
        return None

    def checkpoint(self, state: TrainingState) -> dict:
        """The trainer's entries of ``best.pt`` and ``last.pt`` (format, kind, model config...)."""
        return {}


@dataclass(frozen=True)
class RunFormat:
    """How a trainer's runs are recorded: the command that writes them (named in messages), the
    run.json key of its settings, how settings of an earlier version read today
    (``read_config``: dict -> dict), how a checkpoint of any earlier format reads under today's
    keys (``read_checkpoint(path)``), how weights load into a model (``load_weights(model,
    state_dict, path)``) and which settings may change when a run resumes."""

    command: str
    config_key: str = "config"
    read_config: Callable[[dict], dict] = dict
    read_checkpoint: Callable | None = None
    load_weights: Callable | None = None
    resumable: frozenset[str] = runs.RESUMABLE

    def checkpoint(self, path: Path) -> dict:
        if self.read_checkpoint is not None:
            return self.read_checkpoint(path)
        return runs.load_torch(path, fix=f"delete {path.parent} to start the run again")

    def load(self, model, weights: dict, path: Path) -> None:
        if self.load_weights is not None:
            return self.load_weights(model, weights, path)
        try:
            model.load_state_dict(weights)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise InputError(
                f"{path} does not fit the model its run describes ({type(exc).__name__}); "
                "start a new run (another --out)"
            ) from None


@dataclass(frozen=True)
class RunRecord:
    """What ``run.json`` records of a run: the model kind, the settings, the split, the data
    fingerprint and path (None for a run on data without a store), and the trainer's other
    entries (``extra``)."""

    kind: str
    config: dict
    split: dict | None = None
    fingerprint: dict | None = None
    data_path: str | None = None
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------ open
def check_previous(
    out, fmt: RunFormat, record: RunRecord, needs: Callable[[int], list[str]] | None = None
) -> dict | None:
    """The run.json of a run already in ``out`` (None when there is none), once resuming it with
    ``record`` is safe: same trainer, same settings up to ``fmt.resumable``, same data and split,
    and the checkpoints ``needs(epoch of last.pt)`` (default: best.pt) present; otherwise one
    clear error.  Nothing is written."""
    out = Path(out)
    if not (out / runs.RUN_FILE).exists():
        if (out / runs.LAST).exists():
            raise InputError(f"{out} holds {runs.LAST} but no {runs.RUN_FILE}; use another --out")
        return None
    old = runs.read_run_file(out)
    if fmt.config_key not in old:
        raise InputError(
            f"{out} holds a {old.get('kind')!r} run of another command, not one of "
            f"`{fmt.command}`; use another --out"
        )
    runs.check_resume(out, fmt.read_config(old[fmt.config_key]), record.config, fmt.resumable)
    if record.fingerprint is not None:
        from glassdyn.data.splits import check_same_data

        if "data_path" not in old:  # runs of the first versions recorded it in their settings
            path = old[fmt.config_key].get("data", record.data_path)
            old = {**old, "data_path": str(Path(path).resolve())}
        check_same_data(out, old, record.fingerprint, record.split, record.data_path)
    last = out / runs.LAST
    if last.exists():
        epoch = int(fmt.checkpoint(last)[runs.CKPT_EPOCH])
        runs.require_checkpoints(out, needs(epoch) if needs else [runs.BEST])
    return old


def write_run_file(out, fmt: RunFormat, record: RunRecord, previous: dict | None = None) -> Path:
    """``run.json``: kind, settings, split, fingerprint, data path, the trainer's entries, the
    versions, and the versions the run started with when a resumption runs on others."""
    info = {"kind": record.kind, fmt.config_key: record.config, **record.extra}
    if record.split is not None:
        info["split"] = record.split
    if record.fingerprint is not None:
        info["fingerprint"] = record.fingerprint
    if record.data_path is not None:
        info["data_path"] = str(Path(record.data_path).resolve())
    info["versions"] = runs.versions()
    if previous is not None and previous.get("versions") != info["versions"]:
        info["started_with_versions"] = previous.get(
            "started_with_versions", previous.get("versions")
        )
    return runs.write_json(Path(out) / runs.RUN_FILE, info, indent=2)


_UNCHECKED = object()


@contextmanager
def open_run(
    out, fmt: RunFormat, record: RunRecord, previous=_UNCHECKED, *, writer: bool = True, needs=None
) -> Iterator[Path]:
    """Hold the run directory ``out`` for the ``with`` block: checked (:func:`check_previous`,
    unless its result is passed as ``previous``), created, locked, with run.json written.  A
    first attempt that fails before a ``last.pt`` exists leaves nothing behind.  ``writer=False``
    (the other processes of a distributed run) neither checks, locks nor writes."""
    if writer and previous is _UNCHECKED:
        previous = check_previous(out, fmt, record, needs)
    with runs.run_directory(out, lock=writer) as d:
        if writer:
            write_run_file(d, fmt, record, None if previous is _UNCHECKED else previous)
        yield d


# ------------------------------------------------------------------------------ state
@dataclass
class TrainingState:
    """What one epoch hands to the next (``last.pt`` keeps it): the model and optimiser, the
    trainer's named generators, the moving average of the weights (None: none), the next epoch,
    the best selection score and its epoch, the history (one record per epoch), the file the
    best weights go to and the trainer's own entries (``extra``)."""

    model: object
    optimizer: object
    rngs: dict = field(default_factory=dict)
    ema: dict | None = None
    epoch: int = 0
    best: float = math.inf
    best_epoch: int = -1
    history: list = field(default_factory=list)
    best_file: str = runs.BEST
    extra: dict = field(default_factory=dict)


def _cpu(weights: dict) -> dict:
    return {k: v.detach().cpu() for k, v in weights.items()}


def save(out, state: TrainingState, entries: dict, improved: bool) -> None:
    """``state.best_file`` when ``improved`` (the averaged weights with EMA), then ``last.pt`` and
    ``history.json``; ``entries``: the trainer's keys of both checkpoints."""
    import torch

    out = Path(out)
    common = {
        **entries,
        runs.CKPT_BEST_VAL: state.best,
        runs.CKPT_BEST_EPOCH: state.best_epoch,
        runs.CKPT_HISTORY: state.history,
        runs.CKPT_VERSIONS: runs.versions(),
    }
    if improved:
        weights = state.ema if state.ema is not None else state.model.state_dict()
        best = {**common, runs.CKPT_STATE_DICT: _cpu(weights), runs.CKPT_EPOCH: state.best_epoch}
        runs.save_torch(out / state.best_file, best)
    rng = {name: g.get_state() for name, g in state.rngs.items()}
    last = {
        **common,
        runs.CKPT_STATE_DICT: _cpu(state.model.state_dict()),
        runs.CKPT_EPOCH: state.epoch - 1,
        runs.CKPT_OPTIMIZER_STATE: state.optimizer.state_dict(),
        CKPT_RNG: {**rng, "torch": torch.get_rng_state()},
        CKPT_EMA: None if state.ema is None else _cpu(state.ema),
    }
    runs.save_torch(out / runs.LAST, last)
    runs.write_json(out / runs.HISTORY, state.history)


def restore(state: TrainingState, checkpoint: dict, fmt: RunFormat, path: Path) -> None:
    """Put ``last.pt`` (``checkpoint``, under today's keys) back into ``state``: weights,
    optimiser, generators, moving average, next epoch, best, history."""
    import torch

    fmt.load(state.model, checkpoint[runs.CKPT_STATE_DICT], path)
    try:
        state.optimizer.load_state_dict(checkpoint[runs.CKPT_OPTIMIZER_STATE])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"{path}: its optimiser state does not fit the model ({type(exc).__name__}); "
            "start a new run (another --out)"
        ) from None
    saved = checkpoint.get(CKPT_RNG) or {}
    for name, g in state.rngs.items():
        if name in saved:
            g.set_state(saved[name])
    if "torch" in saved:
        torch.set_rng_state(saved["torch"])
    state.epoch = int(checkpoint[runs.CKPT_EPOCH]) + 1
    state.best = checkpoint[runs.CKPT_BEST_VAL]
    state.best_epoch = checkpoint[runs.CKPT_BEST_EPOCH]
    state.history = list(checkpoint[runs.CKPT_HISTORY])
    if state.ema is not None:
        device = next(iter(state.ema.values())).device
        saved_ema = checkpoint.get(CKPT_EMA) or checkpoint[runs.CKPT_STATE_DICT]
        state.ema = {k: v.to(device) for k, v in saved_ema.items()}


def read_history(run_dir) -> list[dict]:
    """The history of a run: one record per epoch (``epoch``, ``train_loss``, ``val_loss``, ...)."""
    return runs.read_json(Path(run_dir) / runs.HISTORY, what="history")


# ------------------------------------------------------------------------------ averaging
def ema_decay(decay: float, step: int) -> float:
    """The decay used at optimiser step ``step`` (1, 2, ...): min(decay, (1 + step) / (10 + step)),
    so that a short fit's average is not stuck near the initial weights."""
    return min(decay, (1.0 + step) / (10.0 + step))


def update_average(ema: dict, model, decay: float) -> None:
    """ema <- decay ema + (1 - decay) weights (floating-point entries; others copied)."""
    import torch

    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(decay).add_(v.detach(), alpha=1.0 - decay)
            else:
                ema[k].copy_(v)


def _optimizer_steps(opt) -> int:
    """Steps taken by an Adam-like optimiser (restored with its state on resume)."""
    for s in opt.state.values():
        if "step" in s:
            return int(s["step"])
    return 0


@contextmanager
def averaged_weights(state: TrainingState):
    """The moving average in the model for the ``with`` block (nothing changes without EMA)."""
    if state.ema is None:
        yield state.model
        return
    raw = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
    state.model.load_state_dict(state.ema)
    try:
        yield state.model
    finally:
        state.model.load_state_dict(raw)


# ------------------------------------------------------------------------------ loop
def run_epochs(
    out,
    trainer: Trainer,
    fmt: RunFormat,
    *,
    epochs: int,
    max_minutes: float | None = None,
    progress: bool = True,
    writer: bool = True,
    agree: Callable[[bool], bool] | None = None,
    log: Callable[[str], None] = _stderr,
) -> TrainingState:
    """Train ``trainer``'s model into the open run ``out`` up to ``epochs`` epochs: resumed from
    ``last.pt`` when the run has one, else fresh (:meth:`Trainer.start`).  Returns the state.

    ``writer=False`` (the other processes of a distributed run): no file is written;
    ``agree(flag)`` makes every process take the first one's decision on ``max_minutes``."""
    out = Path(out)
    model = trainer.model()
    state = TrainingState(model, trainer.optimizer(model), rngs=trainer.rngs())
    last = out / runs.LAST
    if last.exists():
        if trainer.ema > 0:
            state.ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
        checkpoint = fmt.checkpoint(last)
        restore(state, checkpoint, fmt, last)
        trainer.resume(state, checkpoint)
        if writer and state.epoch < epochs:
            log(f"{fmt.command}: resuming {out} after epoch {state.epoch - 1}")
    else:
        trainer.start(state)
        if trainer.ema > 0:
            state.ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    _epochs(out, state, trainer, fmt.command, epochs, max_minutes, progress, writer, agree, log)
    return state


def _epochs(out, state, trainer, command, epochs, max_minutes, progress, writer, agree, log):
    started = time.monotonic()
    bar = runs.progress(
        range(state.epoch, epochs),
        desc=trainer.desc,
        initial=state.epoch,
        total=epochs,
        enabled=progress and writer,
    )
    try:
        start = trainer.start_record(state) if state.epoch == 0 else None
        if start is not None and not any(r["epoch"] == START_EPOCH for r in state.history):
            record = {"epoch": START_EPOCH, **start, **_validation(state, trainer, START_EPOCH)}
            improved = keep_best(state, record, validated=True)
            if writer:
                save(out, state, trainer.checkpoint(state), improved)
        for epoch in bar:
            t0 = time.perf_counter()
            record = {"epoch": epoch, **trainer.begin_epoch(state, epoch)}
            if "phase" in record:
                bar.set_description(f"{record['phase']} {trainer.desc}")
            record["train_loss"] = _train_epoch(state, trainer, epoch, bar)
            record.update(_validation(state, trainer, epoch))
            record["seconds"] = time.perf_counter() - t0
            improved = keep_best(state, record, validated="val_loss" in record)
            state.epoch = epoch + 1
            bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if "loss" in k})
            if writer:
                save(out, state, trainer.checkpoint(state), improved)
            passed = max_minutes is not None and time.monotonic() - started >= 60.0 * max_minutes
            if agree is not None:
                passed = agree(passed)
            if passed:
                if writer and state.epoch < epochs:
                    log(
                        f"{command}: stopped after epoch {state.epoch} of {epochs} "
                        f"(--max-minutes {max_minutes:g}); rerun the same command to continue"
                    )
                break
    finally:
        bar.close()


def _train_epoch(state: TrainingState, trainer: Trainer, epoch: int, bar) -> float:
    """One pass over ``trainer.batches``: loss, backward, clipping, step, moving average."""
    import torch

    model = state.model
    model.train()
    losses = []
    for batch in trainer.batches(state, epoch):
        loss = trainer.loss(state, batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise GlassdynError(
                f"the training loss became {value} at epoch {epoch}; {trainer.retry}"
            )
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if trainer.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.grad_clip)
        state.optimizer.step()
        if state.ema is not None:
            decay = ema_decay(trainer.ema, _optimizer_steps(state.optimizer))
            update_average(state.ema, model, decay)
        losses.append(value)
        if not bar.disable:
            bar.set_postfix(loss=f"{np.mean(losses):.4f}", refresh=False)
    return float(np.mean(losses)) if losses else math.nan


def _validation(state: TrainingState, trainer: Trainer, epoch: int) -> dict:
    """The trainer's validation of the (averaged) weights; {} without validation data."""
    with averaged_weights(state):
        record = trainer.validate(state)
    if record is None:
        return {}
    if not math.isfinite(record["val_loss"]):
        raise GlassdynError(
            f"the validation loss is {record['val_loss']} at epoch {epoch}; {trainer.retry}"
        )
    return record


def keep_best(state: TrainingState, record: dict, validated: bool) -> bool:
    """Append ``record`` to the history; whether its epoch is the best so far (lowest
    ``val_select``, else ``val_loss``; ties go to the later epoch; without validation every
    epoch is, so the last one is kept), updating ``state.best``."""
    score = record.get("val_select", record.get("val_loss")) if validated else record["train_loss"]
    state.history.append(record)
    improved = not validated or score <= state.best
    if improved:
        state.best, state.best_epoch = score, record["epoch"]
    return improved
