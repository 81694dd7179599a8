"""Fitting the generative models on a store: split, data fingerprint, checkpoints, resume.

A run is a directory in the layout of :mod:`glassdyn.data.runs`: ``run.json`` (the
:class:`FitConfig`, the seeded per-temperature train / validation / test split of
:mod:`glassdyn.data.splits` - the same split ``glassdyn train`` draws - the data fingerprint, the
data description and the versions), ``last.pt`` (weights, optimiser, moving average, epoch,
history), ``best.pt`` (the weights of lowest validation loss, the ones sampled) and
``history.json``.  The fit sees the training configurations only, selects on the validation ones
and never reads the test ones, which ``glassdyn gen evaluate`` compares with.  Everything loads
on CPU.  Calling :func:`fit` again on the same run resumes after the last completed epoch (same
settings, same data: both are checked), drawing the same batches and noise as an uninterrupted
fit.  Runs of the first format (``glassdyn.gen/1``: one ``checkpoint.pt``, no split) still load
for sampling and evaluation but do not resume.

``ema`` keeps an exponential moving average of the weights, updated after every optimiser step
(with the usual warm-up of the decay, :func:`ema_decay`);
validation, the kept best weights and therefore sampling use the average (the usual practice for
score models, whose raw weights jitter at a constant learning rate).  ``init`` starts a new run
from another run's best weights (fine-tuning): the network shapes must match, while settings that
do not change the weights (noise range, physics term) may differ and are logged.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from glassdyn.data import keys, runs
from glassdyn.data.errors import GlassdynError, InputError, StoreError
from glassdyn.data.settings import setting
from glassdyn.data.splits import fingerprint, plan_splits, temperature_key
from glassdyn.gen.checkpoints import (  # noqa: F401  (public names of this module before the split)
    FORMAT,
    build_model,
    check_previous,
    initial_weights,
    load_run,
    restore,
    save,
    write_run_file,
)
from glassdyn.gen.cnf import CNFConfig
from glassdyn.gen.coupling import FlowConfig
from glassdyn.gen.diffusion import DiffusionConfig
from glassdyn.gen.losses import (  # noqa: F401  (public names of this module before the split)
    batch_loss,
    data_loss,
    evaluate_loss,
    random_reference,
    reverse_kl,
    uses_target_score,
)
from glassdyn.gen.options import MODELS, as_model_config


@dataclass(frozen=True)
class FitConfig:
    """How to fit: each field says what it does (its help is ``glassdyn gen fit --help``).

    ``arch`` is the model's typed network config (:class:`~glassdyn.gen.coupling.FlowConfig`,
    :class:`~glassdyn.gen.cnf.CNFConfig`, :class:`~glassdyn.gen.diffusion.DiffusionConfig`; a
    dict of its fields is converted, None means its defaults: :mod:`glassdyn.gen.options`);
    ``val_fraction`` / ``test_fraction`` split each temperature's configurations as
    ``glassdyn train`` does (a store's recorded split, e.g. a BOTAN import, is honoured)."""

    model: str = setting(
        "diffusion",  # the model whose samples are physical (README, measured)
        "diffusion (the model whose samples are physical): score-based diffusion on the torus; "
        "flow: circular-spline coupling flow; cnf: continuous flow (flow matching on the torus)",
        choices=MODELS,
    )
    temperatures: tuple[float, ...] | None = setting(
        None, "state points to train on (default: all)"
    )
    source: str = setting("thermal", "the positions fitted on", choices=("thermal", "inherent"))
    epochs: int = setting(20, "training epochs")
    batch_size: int = setting(32, "configurations per optimiser step")
    lr: float = setting(1e-3, "Adam learning rate")
    val_fraction: float = setting(0.1, "validation configurations per temperature")
    test_fraction: float = setting(
        0.2,
        "test configurations per temperature, never fitted on (what `gen evaluate` compares with)",
    )
    max_configs: int | None = setting(None, "use at most this many configurations per temperature")
    energy_weight: float = setting(0.0, "reverse-KL weight (flow only)")
    score_target: str = setting(
        "auto",
        "diffusion: regress on forces / T at small noise (target score matching; auto = on "
        "thermal data) or plain denoising score matching",
        choices=("auto", "denoising", "target"),
    )
    max_minutes: float | None = setting(
        None, "stop after this wall time, with a checkpoint (rerun to continue)"
    )
    seed: int = setting(0, "seed of the split, the initial weights, the batches and the noise")
    ema: float = setting(
        0.0,
        "keep an exponential moving average of the weights (e.g. 0.999) and validate, keep and "
        "sample with it (usual for diffusion models; 0: off)",
    )
    init: str | None = setting(
        None,
        "start from the best weights of RUN (fine-tuning; same model and architecture options)",
    )
    arch: FlowConfig | CNFConfig | DiffusionConfig | None = None  # see the class docstring
    progress: bool = setting(True, "a progress bar over the epochs")

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InputError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        object.__setattr__(self, "arch", as_model_config(self.model, self.arch))
        if self.source not in ("thermal", "inherent"):
            raise InputError(f"source must be 'thermal' or 'inherent', got {self.source!r}")
        if self.temperatures is not None:
            object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        checks = (
            ("--epochs", self.epochs, self.epochs >= 1, ">= 1 (nothing would be fitted)"),
            ("--batch-size", self.batch_size, self.batch_size >= 1, ">= 1"),
            (
                "--lr",
                self.lr,
                math.isfinite(self.lr) and self.lr > 0,
                "a positive number, e.g. 1e-3",
            ),
            ("--ema", self.ema, 0.0 <= self.ema < 1.0, "in [0, 1), e.g. 0.999 (0: off)"),
            ("--energy-weight", self.energy_weight, self.energy_weight >= 0, ">= 0"),
            (
                "--max-configs",
                self.max_configs,
                self.max_configs is None or self.max_configs >= 1,
                ">= 1",
            ),
            (
                "--max-minutes",
                self.max_minutes,
                self.max_minutes is None or self.max_minutes > 0,
                "positive",
            ),
            ("--val-fraction", self.val_fraction, 0 <= self.val_fraction < 1, "in [0, 1)"),
            (
                "--test-fraction",
                self.test_fraction,
                0 <= self.test_fraction < 1 - self.val_fraction,
                "in [0, 1 - val_fraction)",
            ),
        )
        for flag, value, ok, want in checks:
            if not ok:
                raise InputError(f"{flag} must be {want}, got {value}")

    def to_dict(self) -> dict:
        """The config as JSON would give it back (lists, plain floats)."""
        return json.loads(json.dumps(runs.clean_json(asdict(self))))

    @classmethod
    def from_dict(cls, d: dict) -> FitConfig:
        """A config from run.json (fields a run predates take their defaults; the ``arch`` of
        earlier runs, the settings given on the command line only, completes to the full one)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def data_fields(self) -> tuple[str, ...]:
        """The store paths a fit reads per configuration (what its data fingerprint covers)."""
        pos = keys.THERMAL_POSITIONS if self.source == "thermal" else keys.INHERENT_POSITIONS
        return (keys.TYPES, keys.BOX, pos)


@dataclass
class TrainingData:
    """positions (M, N, 3) float32, types (M, N) long, temperature (M,), box (3,) float64;
    ``part`` (M,) the split part of each configuration (``train`` / ``val``; all ``train`` when
    loaded without a split)."""

    positions: torch.Tensor
    types: torch.Tensor
    temperature: torch.Tensor
    box: torch.Tensor
    store: str
    source: str
    forces: torch.Tensor | None = None  # (M, N, 3) KA forces -grad U, when asked for
    part: np.ndarray | None = None

    def with_forces(self) -> TrainingData:
        """Compute the KA forces -grad U of every configuration (float64)."""
        from glassdyn.simulate.ka import forces

        box = self.box.double().numpy()
        pos, types = self.positions.double().numpy(), self.types.numpy()
        self.forces = torch.as_tensor(
            np.stack([forces(p, t, box) for p, t in zip(pos, types)]), dtype=torch.float32
        )
        return self

    @property
    def n_particles(self) -> int:
        return int(self.positions.shape[1])

    def indices(self, part: str) -> np.ndarray:
        """Indices (into axis 0) of the configurations of ``part``."""
        labels = self.part if self.part is not None else np.full(len(self.positions), "train")
        return np.flatnonzero(labels == part)


def fit_temperatures(store, temperatures=None) -> list[float]:
    """The temperatures a fit uses: ``temperatures`` (checked) or every state point of ``store``."""
    temps = store.temperatures if not temperatures else [float(t) for t in temperatures]
    if not temps:
        raise StoreError(f"store {store.path} has no state points; simulate or import some first")
    for T in temps:
        store.state(T)  # a clear StoreError naming the temperatures the store has
    return temps


def load_data(
    store_path,
    temperatures=None,
    source: str = "thermal",
    max_configs: int | None = None,
    split: dict | None = None,
    parts=("train", "val"),
) -> TrainingData:
    """Configurations of a store at the given temperatures (all by default): with ``split``
    (:func:`glassdyn.data.splits.plan_splits`) those of ``parts``, else every completed one."""
    from glassdyn.data.store import Store

    if source not in ("thermal", "inherent"):
        raise InputError(f"source must be 'thermal' or 'inherent', got {source!r}")
    store = Store.open(store_path)
    temps = fit_temperatures(store, temperatures)
    path = keys.THERMAL_POSITIONS if source == "thermal" else keys.INHERENT_POSITIONS
    pos, typ, temp, boxes, labels = [], [], [], [], []
    for T in temps:
        sp = store.state(T)
        if split is None:
            idx = sp.completed[:max_configs] if max_configs is not None else sp.completed
            lab = ["train"] * len(idx)
        else:
            s = split[temperature_key(T)]
            idx = np.array([c for p in parts for c in s[p]], dtype=np.int64)
            lab = [p for p in parts for _ in s[p]]
        if len(idx) == 0:
            raise StoreError(
                f"store {store_path} group {sp.name} has no completed configuration to fit on"
            )
        pos.append(sp.read(path, idx))
        typ.append(sp.read(keys.TYPES, idx))
        boxes.append(sp.read(keys.BOX, idx))
        temp.append(np.full(len(idx), sp.temperature))
        labels += lab
    ns = {p.shape[1] for p in pos}
    if len(ns) > 1:
        raise InputError(
            f"state points of {store_path} have different N {sorted(ns)}; fit one N per model"
        )
    box = np.concatenate(boxes)
    if not np.allclose(box, box[0], rtol=1e-6):
        raise InputError(
            f"{store_path}: boxes differ between configurations; the samplers need one box per run"
        )
    return TrainingData(
        torch.as_tensor(np.concatenate(pos), dtype=torch.float32),
        torch.as_tensor(np.concatenate(typ), dtype=torch.long),
        torch.as_tensor(np.concatenate(temp), dtype=torch.float32),
        torch.as_tensor(box[0], dtype=torch.float64),
        str(store_path),
        source,
        part=np.array(labels),
    )


@dataclass
class FitState:
    """What one epoch hands to the next (``last.pt`` keeps it)."""

    model: torch.nn.Module
    opt: torch.optim.Optimizer
    ema: dict | None
    history: dict
    epoch: int = 0  # the next epoch
    best: float = math.inf
    best_epoch: int = -1


def fit(
    store_path, run_dir, cfg: FitConfig = FitConfig(), *, device: str = "cpu", log=print
) -> dict:
    """Fit (or resume fitting) a model into ``run_dir``; returns the history dict.

    Every input (settings, store, split, data fingerprint, a previous run, ``init``) is checked
    before the run directory is created or touched; ``run_dir`` follows
    :mod:`glassdyn.data.outputs` (a new path, or this command's own run, resumed)."""
    from glassdyn.data import outputs
    from glassdyn.data.lock import check_unlocked
    from glassdyn.data.store import Store

    run = Path(run_dir)
    outputs.check_output(run, outputs.FIT_RUN, inputs=(store_path, cfg.init))
    check_unlocked(run, what="run directory")  # before "resuming ..." is printed
    uses_target_score(cfg)  # refuses a bad combination before reading data
    store = Store.open(store_path)
    temps = fit_temperatures(store, cfg.temperatures)
    split = plan_splits(
        store,
        temps,
        seed=cfg.seed,
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        max_configs=cfg.max_configs,
    )
    fp = fingerprint(store, split, cfg.data_fields())
    previous = check_previous(run, cfg, split, fp, store_path)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, cfg.arch).float()
    if cfg.init and previous is None:  # checked before the (slow) data loading
        model.load_state_dict(initial_weights(cfg.init, model, log))
        log(f"starting from the best weights of {cfg.init}")
    data = load_data(store_path, temps, cfg.source, split=split)
    if uses_target_score(cfg):
        log(
            f"computing KA forces of {len(data.positions)} training configurations (target score matching)"
        )
        data.with_forces()
    state = FitState(
        model,
        torch.optim.Adam(model.parameters(), lr=cfg.lr),
        {k: v.detach().clone() for k, v in model.state_dict().items()} if cfg.ema > 0 else None,
        {"epoch": [], "train_loss": [], "val_loss": [], "seconds": []},
    )
    if previous is not None and (run / runs.LAST).exists():
        restore(state, run / runs.LAST)
        log(f"resuming {run} after epoch {state.epoch - 1}")
    dev = torch.device(device)
    _to_device(state, data, dev)
    with runs.run_directory(run):
        write_run_file(run, cfg, split, fp, data, store_path)
        _epochs(run, cfg, state, data, dev, log)
    return state.history


def _epochs(run: Path, cfg: FitConfig, state: FitState, data: TrainingData, dev, log) -> None:
    """Run the epochs ``state.epoch .. cfg.epochs - 1`` (or until ``max_minutes``), checkpointing each."""
    train_idx, val_idx = data.indices("train"), data.indices("val")
    g = torch.Generator(device=dev)
    deadline = None if cfg.max_minutes is None else time.perf_counter() + 60 * cfg.max_minutes
    bar = runs.progress(
        range(state.epoch, cfg.epochs),
        desc=f"fit {cfg.model}",
        initial=state.epoch,
        total=cfg.epochs,
        enabled=cfg.progress,
    )
    for epoch in bar:
        t0 = time.perf_counter()
        order = np.random.default_rng(cfg.seed + epoch).permutation(train_idx)
        g.manual_seed(
            cfg.seed + epoch
        )  # per epoch: a resumed fit draws what an uninterrupted one does
        losses = _train_epoch(state, data, order, cfg, g, dev, epoch, deadline)
        train_loss = float(np.mean(losses))
        val = _validation_loss(state, data, val_idx, cfg) if len(val_idx) else train_loss
        record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val}
        for name, v in {**record, "seconds": time.perf_counter() - t0}.items():
            state.history[name].append(v)
        improved = val < state.best
        if improved:
            state.best, state.best_epoch = val, epoch
        state.epoch = epoch + 1
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val:.4f}")
        save(run, cfg, state, data, improved)
        if deadline is not None and time.perf_counter() > deadline:
            bar.close()
            log(
                f"stopping after {cfg.max_minutes} min (checkpoint saved; rerun with more time to continue)"
            )
            break
    bar.close()


def _train_epoch(
    state: FitState, data: TrainingData, order, cfg: FitConfig, g, dev, epoch, deadline
) -> list:
    """One pass over the training configurations in ``order``; returns the batch losses."""
    model, opt = state.model, state.opt
    model.train()
    losses = []
    for s in range(0, len(order), cfg.batch_size):
        b = torch.as_tensor(order[s : s + cfg.batch_size], device=dev)
        loss = data_loss(model, data, b, g, cfg.energy_weight)
        if not torch.isfinite(loss):
            raise GlassdynError(
                f"the training loss became {float(loss)} at epoch {epoch}; lower --lr and fit into a new --out"
            )
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if state.ema is not None:
            _ema_update(state.ema, model, ema_decay(cfg.ema, _optimizer_steps(opt)))
        losses.append(float(loss.detach()))
        if deadline is not None and time.perf_counter() > deadline:
            break  # the epoch ends early; checkpointed by the caller
    return losses


def _validation_loss(state: FitState, data: TrainingData, val_idx, cfg: FitConfig) -> float:
    """Validation loss of the averaged weights when fitted with ``ema`` (else of the raw ones)."""
    if state.ema is None:
        return evaluate_loss(state.model, data, val_idx, cfg.batch_size)
    raw = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
    state.model.load_state_dict(state.ema)
    try:
        return evaluate_loss(state.model, data, val_idx, cfg.batch_size)
    finally:
        state.model.load_state_dict(raw)


def _to_device(state: FitState, data: TrainingData, dev) -> None:
    state.model.to(dev)
    data.positions, data.types, data.temperature = (
        data.positions.to(dev),
        data.types.to(dev),
        data.temperature.to(dev),
    )
    data.box = data.box.to(dev)
    if data.forces is not None:
        data.forces = data.forces.to(dev)
    if state.ema is not None:
        state.ema = {k: v.to(dev) for k, v in state.ema.items()}


def ema_decay(decay: float, step: int) -> float:
    """The decay used at optimiser step ``step`` (1, 2, ...): min(decay, (1 + step) / (10 + step)),
    so that a short fit's average is not stuck near the initial weights."""
    return min(decay, (1.0 + step) / (10.0 + step))


def _optimizer_steps(opt: torch.optim.Optimizer) -> int:
    """Steps taken by an Adam optimiser (restored with its state on resume)."""
    for state in opt.state.values():
        if "step" in state:
            return int(state["step"])
    return 0


def _ema_update(ema: dict, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay ema + (1 - decay) weights (floating-point entries; others copied)."""
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(decay).add_(v.detach(), alpha=1.0 - decay)
            else:
                ema[k].copy_(v)
