"""Fitting the generative models on a store: the samplers as a plug-in of the run engine.

What is fitted: the transports (``flow``, ``cnf``) carry MD configurations of the base
temperature (NVT pools of :mod:`glassdyn.gen.mdpool`, made from the base temperature's training
configurations) down to the target temperatures, trained on the reverse KL with the KA energy
and optionally the likelihood of the targets' training configurations
(:mod:`glassdyn.gen.losses`); they are fitted in float64, since their importance weights need
energies to 1e-6.  The diffusion model learns the score of the training configurations.  An
untrained transport is the identity (what population annealing starts from) and an untrained
diffusion network adds nothing to its physics term: both compete for ``best.pt`` as the start
record (epoch -1), so a fit that never validates better keeps its start, and its history says so.

A fit is a run of :mod:`glassdyn.data.run_engine` (shared with ``glassdyn train``): ``run.json`` (the
:class:`~glassdyn.gen.config.FitConfig`, the seeded per-temperature train / validation / test
split of :mod:`glassdyn.data.splits` - the same split ``glassdyn train`` draws - the data
fingerprint, the data description and the versions), ``last.pt`` (weights, optimiser, moving
average, epoch, history), ``best.pt`` (the weights of lowest validation loss, the ones sampled)
and ``history.json`` (one record per epoch).  The fit sees the training configurations only,
selects on the validation ones and never reads the test ones, which ``glassdyn gen evaluate``
compares with.  Calling :func:`fit` again on the same run resumes after the last completed epoch
(same settings, same data: both are checked), drawing the same batches and noise as an
uninterrupted fit; ``max_minutes`` stops after the epoch that passes it.  Runs of earlier
formats (``glassdyn.gen/1``: one ``checkpoint.pt``, no split; ``/2`` to ``/4``) still load for
sampling and evaluation where their model allows (flow and cnf runs before ``/5`` came from
uniform noise and are refused) but do not resume.

**The plug-in** (:class:`Fitter`, what a new loss or new training data changes): the model
builder (:func:`~glassdyn.gen.options.build_generative_model`), the batches of an epoch (a seeded
permutation of the training configurations; the noise generator reseeded per epoch), one batch's
loss (:func:`glassdyn.gen.losses.data_loss`) and the validation loss
(:func:`glassdyn.gen.losses.evaluate_loss`).  The engine owns the loop, the optimiser steps
(gradient norm clipped to 5), the moving average (``ema``: updated after every step with the
warm-up of :func:`glassdyn.data.run_engine.ema_decay`; validation, the kept best weights and therefore
sampling use it, the usual practice for score models), checkpoints, resume, deadline and history.
``init`` starts a new run from another run's best weights (fine-tuning): the network shapes must
match, while settings that do not change the weights (noise range, physics term) may differ and
are logged.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.keys import same_temperature
from glassdyn.data.run_engine import RunRecord, Trainer, check_previous, open_run, run_epochs
from glassdyn.data.splits import fingerprint, plan_splits
from glassdyn.gen.checkpoints import (
    FORMAT,
    RUNS,
    checkpoint_entries,
    initial_weights,
    refuse_earlier_formats,
)
from glassdyn.gen.config import FitConfig
from glassdyn.gen.dataset import TrainingData, fit_temperatures, load_data
from glassdyn.gen.losses import (
    TRANSPORTS,
    data_loss,
    diffusion_validation,
    transport_validation,
    uses_target_score,
)
from glassdyn.gen.mdpool import base_source
from glassdyn.gen.options import build_generative_model


def fit(
    store_path, run_dir, cfg: FitConfig | None = None, *, device: str = "cpu", log=print
) -> Path:
    """Fit (or resume fitting) a model into ``run_dir``; returns the run directory (its history:
    :func:`glassdyn.data.run_engine.read_history`).

    Every input (settings, store, split, data fingerprint, a previous run, ``init``) is checked
    before the run directory is created or touched, and before the data is loaded; ``run_dir``
    follows :mod:`glassdyn.data.outputs` (a new path, or this command's own run, resumed)."""
    from glassdyn.data import outputs
    from glassdyn.data.lock import check_unlocked
    from glassdyn.data.store import Store

    run, cfg = Path(run_dir), cfg or FitConfig()
    outputs.check_output(run, outputs.FIT_RUN, inputs=(store_path, cfg.init))
    check_unlocked(run, what="run directory")  # before "resuming ..." is printed
    uses_target_score(cfg)  # refuses a bad combination before reading data
    model = build_generative_model(cfg.model, cfg.arch)  # refuses a network that cannot be built
    store = Store.open(store_path)
    cfg = _recorded_base(run, cfg)
    cfg = resolve_temperatures(store, cfg, log)
    temps = fit_temperatures(store, cfg.temperatures)
    source = (
        [base_source(store.temperatures, cfg.base_temperature)] if cfg.model in TRANSPORTS else []
    )
    read = sorted({*temps, *source})
    split = plan_splits(
        store,
        read,
        seed=cfg.seed,
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        max_configs=cfg.max_configs,
    )
    fp = fingerprint(store, split, cfg.data_fields())
    record = RunRecord(cfg.model, cfg.to_dict(), split, fp, str(store_path), {"format": FORMAT})
    refuse_earlier_formats(run)
    previous = check_previous(run, RUNS, record)
    initial = None
    if cfg.init and previous is None:  # checked before the (slow) data loading
        initial = initial_weights(cfg.init, _precision(model, cfg), log)
    data = load_data(store_path, temps, cfg.source, split=split)
    if cfg.model in TRANSPORTS:
        data.target_temperatures = tuple(temps)
        data.with_base_pools(store_path, split, cfg, log)
    if uses_target_score(cfg):
        log(
            f"computing KA forces of {len(data.positions)} training configurations (target score matching)"
        )
        data.with_forces()
    trainer = Fitter(cfg, data.to(torch.device(device)), initial, log)
    record = replace(record, extra={**record.extra, "data": trainer.description})
    with open_run(run, RUNS, record, previous):
        run_epochs(
            run,
            trainer,
            RUNS,
            epochs=cfg.epochs,
            max_minutes=cfg.max_minutes,
            progress=cfg.progress,
            log=log,
        )
    return run


def _recorded_base(run: Path, cfg: FitConfig) -> FitConfig:
    """A transport resumed without --base-temperature keeps the base its run recorded (runs made
    before bridged bases took the store's 0.8 where today's default is 0.72: "rerun the same
    command to continue" must still continue them)."""
    from glassdyn.data import runs

    if cfg.model not in TRANSPORTS or cfg.base_temperature is not None:
        return cfg
    if not (run / runs.RUN_FILE).exists():
        return cfg
    old = runs.read_run_file(run).get("fit_config")  # not a gen run: check_previous says so
    base = old.get("base_temperature") if isinstance(old, dict) else None
    if (
        not isinstance(old, dict)
        or old.get("model") != cfg.model
        or not isinstance(base, (int, float))
    ):
        return cfg
    return replace(cfg, base_temperature=float(base))


def resolve_temperatures(store, cfg: FitConfig, log=None) -> FitConfig:
    """``cfg`` with the temperatures a fit of ``store`` uses written out: for a transport the base
    temperature and the targets (default every store temperature below the base).  The default
    base is the nearest store temperature above the warmest of the given targets (the store's
    highest without targets); when the identity's log-weights from there to the warmest target
    spread more than ``mdpool.SPREAD_BRIDGE``, a bridged base closer to it
    (:func:`glassdyn.gen.mdpool.bridge_temperature`).  A base the store lacks is bridged: its MD
    starts from the store's nearest temperature above (``log`` says so)."""
    from glassdyn.gen.mdpool import SPREAD_BRIDGE, bridge_temperature, log_weight_spread

    if cfg.model not in TRANSPORTS:
        if cfg.base_temperature is not None:
            raise InputError("--base-temperature applies to --model flow or cnf (the transports)")
        return cfg
    temps = store.temperatures
    if not temps:
        raise StoreError(f"store {store.path} has no state points; simulate or import some first")
    base = cfg.base_temperature
    chosen = base is None
    if chosen:  # the closer the base, the more of its population survives the annealing
        above = [t for t in temps if cfg.temperatures and t > max(cfg.temperatures)]
        above = [t for t in above if not same_temperature(t, max(cfg.temperatures))]
        base = min(above) if above else max(temps)
    base = float(base)
    targets = (
        [float(t) for t in cfg.temperatures]
        if cfg.temperatures
        else [t for t in temps if t < base and not same_temperature(t, base)]
    )
    if not targets or any(t >= base or same_temperature(t, base) for t in targets):
        raise InputError(
            f"a {cfg.model} transport carries MD configurations of --base-temperature {base:g} down "
            f"to colder states, but the targets are {targets or 'none'} (store temperatures "
            f"{', '.join(f'{t:g}' for t in temps)}); fit on a store with a temperature above the "
            "targets and pass it as --base-temperature"
        )
    source = base_source(temps, base)
    N = store.state(source).n_particles
    warmest = max(targets)
    if chosen and (bridge := bridge_temperature(warmest, base, N)) is not None:
        if log:
            log(
                f"base T={bridge:g} (MD equilibrated from the store's T={base:g}): from T={base:g} "
                f"the identity's log-weights at T={warmest:g} spread "
                f"{log_weight_spread(warmest, base, N):.1f} for N={N}, too far for the population "
                f"to survive the annealing (--base-temperature {base:g} to use it all the same)"
            )
        base, source = bridge, base
    elif not same_temperature(source, base) and log:
        log(f"base T={base:g} is not a store temperature: its MD is equilibrated from T={source:g}")
    for t in sorted(t for t in targets if log_weight_spread(t, base, N) > SPREAD_BRIDGE):
        if log:
            log(
                f"T={t:g} is far from the base T={base:g} (log-weight spread "
                f"{log_weight_spread(t, base, N):.1f} > {SPREAD_BRIDGE:g} for N={N}): few of the "
                "population's families will survive to it; a transport of its own keeps more "
                f"(`gen fit --temperatures {t:g}` without --base-temperature: the nearest store "
                "temperature above, or a bridged base closer when that is far)"
            )
    return replace(cfg, base_temperature=base, temperatures=tuple(sorted(targets)))


def _precision(model, cfg: FitConfig):
    """Transports in float64 (their importance weights need energies to 1e-6), diffusion float32."""
    return model.double() if cfg.model in TRANSPORTS else model.float()


class Fitter(Trainer):
    """A generative model on ``data`` (the plug-in of the module docstring); ``initial``: the
    starting weights of a fine-tuning (``init``), None for a fresh network."""

    grad_clip = 5.0
    retry = "lower --lr and fit into a new --out"

    def __init__(self, cfg: FitConfig, data: TrainingData, initial: dict | None = None, log=print):
        self.cfg, self.data, self.initial, self.log = cfg, data, initial, log
        self.lr, self.ema, self.desc = cfg.lr, cfg.ema, f"fit {cfg.model}"
        self.device = data.positions.device
        if data.base is not None:  # transports: batches of base configurations
            self.train_idx = np.arange(len(data.base))
            self.val_idx = np.arange(len(data.base_val))
        else:
            self.train_idx, self.val_idx = data.indices("train"), data.indices("val")
        self.noise = torch.Generator(device=self.device)  # reseeded per epoch
        self.description = data.describe()

    def model(self):
        torch.manual_seed(self.cfg.seed)
        return _precision(build_generative_model(self.cfg.model, self.cfg.arch), self.cfg).to(
            self.device
        )

    def start(self, state) -> None:
        if self.initial is not None:
            state.model.load_state_dict(self.initial)
            self.log(f"starting from the best weights of {self.cfg.init}")

    def batches(self, state, epoch: int):
        """A permutation of the training configurations and the noise, both drawn from the seed
        and the epoch: a resumed fit draws what an uninterrupted one does."""
        order = np.random.default_rng(self.cfg.seed + epoch).permutation(self.train_idx)
        self.noise.manual_seed(self.cfg.seed + epoch)
        for s in range(0, len(order), self.cfg.batch_size):
            yield torch.as_tensor(order[s : s + self.cfg.batch_size], device=self.device)

    def loss(self, state, batch):
        return data_loss(state.model, self.data, batch, self.cfg, self.noise)

    def start_record(self, state) -> dict | None:
        """The start competes for best.pt (the identity transport, the bare physics term)."""
        return {"train_loss": None} if len(self.val_idx) else None

    def validate(self, state) -> dict | None:
        if not len(self.val_idx):
            return None
        val, details = validation_loss(state.model, self.data, self.val_idx, self.cfg)
        return {"val_loss": val, "validation": details}

    def checkpoint(self, state) -> dict:
        return checkpoint_entries(state.model, self.cfg, self.description)


def validation_loss(model, data: TrainingData, val_idx, cfg: FitConfig) -> tuple[float, dict]:
    """(the loss selected on, details): for a transport the reverse KL per particle summed over
    the fitted temperatures on the validation base pool (details: per temperature its KL, the
    spread and Kish ESS of the log weights); for the diffusion model its loss on a fixed grid of
    noise levels."""
    if data.base is not None:
        per = transport_validation(model, data, cfg.batch_size)
        return float(sum(v["kl"] for v in per.values())), per
    val, levels = diffusion_validation(model, data, val_idx)
    return val, {"by_noise_level": levels}
