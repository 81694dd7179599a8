"""Training of BOTAN, T-BOTAN, the Bapst GNN and the ridge baseline on a glassdyn store.

>>> from glassdyn.training import TrainConfig, train                         # doctest: +SKIP
>>> run = train(TrainConfig(data="out/ka.zarr", out="out/runs/botan", model="botan", epochs=50))
>>> # equivalent: glassdyn train --data out/ka.zarr --model botan --out out/runs/botan --epochs 50

The completed configurations of each *training* temperature are split, deterministically from
the seed, into train / validation / test (:mod:`glassdyn.data.splits`; a store that records its
dataset's own train / test files, e.g. a BOTAN import, keeps its test files as the test split);
the best checkpoint (``best.pt``) is chosen on the validation loss only; the test split is never
looked at here.  Temperatures of the store that are not training temperatures are held out whole
(all their configurations are test data).

The run directory (:mod:`glassdyn.data.runs`) holds ``run.json`` (kind, config, split, data
fingerprint, times, versions), ``last.pt`` (written after every epoch: rerunning the same command
resumes from it), ``best.pt``, ``history.json``, ``graphs/`` (the cached graph samples) and, for
the descriptor baselines, their model file and ``descriptors/`` (:mod:`glassdyn.nn.baselines`).  A rerun on data with another fingerprint, or with other settings than the
resumable ones (:data:`glassdyn.data.runs.RESUMABLE`), is refused.

BOTAN's published two-phase recipe (Shiba et al., J. Chem. Phys. 158, 084503 (2023); pyg_botan
starts from such weights): ``pretrain_epochs=E0`` first trains E0 epochs on the edge target
alone (p = 0; no node, temperature or heterogeneity term) and keeps its own best-on-validation
checkpoint ``pretrain_best.pt``; then ``epochs=E`` epochs with the node weight ``p`` start from
those weights with a fresh Adam state.  Epochs are counted globally (0 .. E0+E-1); every history
record and checkpoint names its ``phase`` (``pretrain`` or ``train``), and an interruption in
either phase resumes exactly (the phase change is replayed from ``pretrain_best.pt``).
``init=RUN`` starts the weights from another run's ``best.pt`` (or a checkpoint file) of the
same architecture; this run's own target statistics are kept.

Targets are standardised per time with the training set's mean and std (stored in the model's
buffers), so the K times of the multi-time head weigh equally in the loss; predictions come back
in LJ units.  The settings are :class:`glassdyn.train_config.TrainConfig`; the epoch loop itself is
:mod:`glassdyn.nn.training_loop`.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, replace
from pathlib import Path

from glassdyn.data import keys, runs
from glassdyn.data.errors import InputError
from glassdyn.data.runs import RUN_FILE, read_run_file, resolve_device  # noqa: F401  (public names)
from glassdyn.data.splits import check_same_data, fingerprint, plan_splits, split_configs  # noqa: F401
from glassdyn.data.store import StatePoint, Store
from glassdyn.train_config import (  # noqa: F401  (public names of this module)
    BASELINE_FIELDS,
    BASELINES,
    INPUT_CHOICES,
    LEGACY,
    MODELS,
    NODE_FEATURE_CHOICES,
    PRECISIONS,
    PRETRAIN,
    PRETRAIN_BEST,
    RENAMED,
    START,
    TRAIN,
    TrainConfig,
)


# --------------------------------------------------------------------------- data split
def require_targets(sp: StatePoint) -> None:
    """Clear error when a state point has no isoconfigurational displacements."""
    if sp.times is None or not sp.has(keys.ISO_DISPLACEMENTS):
        raise InputError(
            f"store {sp.store_path} group {sp.name} has no {keys.ISO_DISPLACEMENTS}: training needs "
            "isoconfigurational runs; run `glassdyn simulate` with --replicas > 0"
        )


def resolve_inputs(store: Store, config: TrainConfig) -> TrainConfig:
    """``config`` with its ``auto`` inputs decided by the store (what was measured best, see the
    README): a graph network on a store whose training temperatures all have inherent structures
    reads ts+is with the coarse-grained descriptors of both structures, the TS -> IS vectors and
    the ridge-started linear skip; without inherent structures, ts with the thermal descriptors
    and the skip.  A store with inherent structures for only some configurations is refused for
    ``auto`` (quench the rest); explicit settings are checked the same way."""
    if config.model in BASELINES:  # descriptor models read no graph: any settled value will do
        return replace(
            config,
            input="ts" if config.input == "auto" else config.input,
            node_features="type" if config.node_features == "auto" else config.node_features,
            node_vectors=bool(config.node_vectors),
            skip=bool(config.skip),
            shared_decoder=config.shared_decoder is not False,
            readout_hops=0,
            cg_lengths=_cg_lengths(config),
        )
    temps = list(config.train_temperatures) if config.train_temperatures else store.temperatures
    have = total = 0
    for T in temps:
        sp = store.state(T)
        done = sp.completed
        have += int(sp.inherent_done[done].sum()) if len(done) else 0
        total += len(done)
    inherent = total > 0 and have == total
    if config.input == "auto" and 0 < have < total:
        raise InputError(
            f"store {store.path} has inherent structures for {have} of its {total} completed "
            f"configurations; run `glassdyn quench {store.path}` for the others, or pass --input ts"
        )
    if config.input not in ("auto", "ts") and not inherent:
        raise InputError(
            f"--input {config.input} needs inherent structures for every configuration; store "
            f"{store.path} has {have} of {total}: run `glassdyn quench {store.path}` first"
        )
    inp = ("ts+is" if inherent else "ts") if config.input == "auto" else config.input
    feats = "descriptors" if config.node_features == "auto" else config.node_features
    vectors = inp != "ts" if config.node_vectors is None else config.node_vectors
    skip = feats == "descriptors" if config.skip is None else config.skip
    shared = config.readout_hops == 0 if config.shared_decoder is None else config.shared_decoder
    return replace(
        config,
        input=inp,
        node_features=feats,
        node_vectors=vectors,
        skip=skip,
        shared_decoder=shared,
        cg_lengths=_cg_lengths(config),
    )


def _cg_lengths(config: TrainConfig) -> tuple[float, ...]:
    """The descriptors' coarse-graining lengths: the run's, or the default ones, recorded."""
    from glassdyn.nn.descriptors import CG_LENGTHS

    return CG_LENGTHS if config.cg_lengths is None else config.cg_lengths


def plan(
    store: Store, config: TrainConfig
) -> tuple[dict[str, dict[str, list[int]]], dict[str, list[float]]]:
    """Split per temperature (keys ``"0.44"``-style strings) and the selected times per temperature."""
    all_temps = store.temperatures
    if not all_temps:
        raise InputError(f"store {store.path} has no state points; run `glassdyn simulate` first")
    train_temps = list(config.train_temperatures) if config.train_temperatures else all_temps
    for T in train_temps:
        store.state(T)  # clear StoreError naming the temperatures the store has
    from glassdyn.nn.dataset import GraphSpec

    spec = GraphSpec(times=config.times)  # the time selection (the inputs do not matter here)
    training, held_out, times = [], [], {}
    n_times = None
    for T in all_temps:
        sp = store.state(T)
        is_training = any(abs(T - t) < 5e-4 for t in train_temps)
        if is_training:
            require_targets(sp)
        if sp.times is None:
            continue
        idx = spec.time_indices(len(sp.times))
        if is_training:
            if n_times is not None and len(idx) != n_times:
                raise InputError(
                    f"temperatures of {store.path} have different numbers of selected times ({n_times} vs {len(idx)} at T={T:g}); pass --times"
                )
            n_times = len(idx)
        times[f"{T:g}"] = [float(sp.times[k]) for k in idx]
        (training if is_training else held_out).append(T)
    split = plan_splits(
        store,
        training,
        seed=config.seed,
        val_fraction=config.val_fraction,
        test_fraction=config.test_fraction,
        max_configs=config.max_configs,
        held_out=held_out,
    )
    for T in training:
        if config.max_train is not None:  # learning curves: nested subsets, same val / test
            split[f"{T:g}"]["train"] = split[f"{T:g}"]["train"][: config.max_train]
        if not split[f"{T:g}"]["train"]:
            raise InputError(
                f"store {store.path} T={T:g} has {len(store.state(T).completed)} completed "
                "configurations: too few to train on"
            )
    return split, times


# --------------------------------------------------------------------------- training
def train(config: TrainConfig) -> Path:
    """Train (or resume) the run ``config`` describes; returns the run directory.

    Every input is checked (store, split, data fingerprint, a previous run in ``out``) before the
    run directory is created or touched; under ``torchrun`` only rank 0 writes.  ``out`` follows
    :mod:`glassdyn.data.outputs`: a new path or this command's own run (resumed)."""
    from glassdyn.data import outputs
    from glassdyn.data.lock import check_unlocked

    out = Path(config.out)
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        outputs.check_output(out, outputs.TRAIN_RUN, inputs=(config.data, config.init))
        check_unlocked(out, what="run directory")
    if (
        config.model not in BASELINES and config.total_epochs < 1
    ):  # a config may hold 0 (converted runs)
        raise InputError(
            f"--epochs must be >= 1 (or --pretrain-epochs >= 1 for a pre-training-only run), got "
            f"--epochs {config.epochs} --pretrain-epochs {config.pretrain_epochs}: nothing would be trained"
        )
    store = Store.open(config.data)
    config = resolve_inputs(store, config)
    split, times = plan(store, config)
    trained = {k: s for k, s in split.items() if not s.get("held_out")}
    fp = fingerprint(store, trained, config.data_fields())
    previous = check_previous_run(out, config, split, fp) if main else None
    with runs.run_directory(out, lock=main):
        if main:
            write_run_file(out, config, split, times, _run_record(config, fp, previous))
        if config.model in BASELINES:
            from glassdyn.nn.baselines import train_baseline

            return train_baseline(store, config, split, out)
        from glassdyn.nn.training_loop import train_gnn

        return train_gnn(store, config, split, out, fp)


def check_previous_run(out: Path, config: TrainConfig, split: dict, fp: dict) -> dict | None:
    """The run.json of a run already in ``out`` (None when there is none), once resuming it with
    ``config`` on data with fingerprint ``fp`` is safe; otherwise one clear error."""
    if not (out / RUN_FILE).exists():
        if out.exists() and (out / runs.LAST).exists():
            raise InputError(f"{out} holds {runs.LAST} but no {RUN_FILE}; use another --out")
        return None
    old = read_run_file(out)
    if "train_config" not in old:
        raise InputError(
            f"{out} holds a run of another kind ({old.get('kind')!r}); use another --out"
        )
    prev = TrainConfig.from_dict(old["train_config"])
    runs.check_resume(out, prev.to_dict(), config.to_dict())
    if "data_path" not in old:  # runs of the first versions recorded the path in the config
        old = {**old, "data_path": str(Path(prev.data).resolve())}
    check_same_data(out, old, fp, split, config.data)
    last = out / runs.LAST
    if last.exists() and config.model not in BASELINES:
        epoch = int(runs.load_torch(last, fix=f"delete it to restart {out}")[runs.CKPT_EPOCH])
        need = [PRETRAIN_BEST] if config.pretrain_epochs else []
        runs.require_checkpoints(
            out, need + ([runs.BEST] if epoch >= config.pretrain_epochs else [])
        )
    return old


def write_run_file(
    out: Path, config: TrainConfig, split: dict, times: dict, extra: dict | None = None
) -> None:
    """Write ``run.json``: kind, config, graph spec, split, times, versions, the phases of a
    network, and ``extra`` (the data fingerprint and path; a converted run's source)."""
    info = {
        "kind": config.model,
        "train_config": config.to_dict(),
        "graph_spec": asdict(config.graph_spec()),
        "split": split,
        "times": times,
        "versions": runs.versions(),
    }
    if config.model not in BASELINES:
        info["phases"] = [
            {"phase": PRETRAIN, "epochs": [0, config.pretrain_epochs], "node_weight": 0.0},
            {
                "phase": TRAIN,
                "epochs": [config.pretrain_epochs, config.total_epochs],
                "node_weight": config.node_weight,
            },
        ][0 if config.pretrain_epochs else 1 :]
    runs.write_json(out / RUN_FILE, {**info, **(extra or {})}, indent=2)


def _run_record(config: TrainConfig, fp: dict, previous: dict | None) -> dict:
    """What ``train`` adds to run.json: the data fingerprint and path, and the versions the run
    started with when a resumption runs on others."""
    extra = {"fingerprint": fp, "data_path": str(Path(config.data).resolve())}
    if previous is not None and previous.get("versions") != runs.versions():
        extra["started_with_versions"] = previous.get(
            "started_with_versions", previous.get("versions")
        )
    return extra


# --------------------------------------------------------------------------- losses
def batch_loss(model, batch, config: TrainConfig, forward=None):
    """Total loss of one batch (normalised units) and its parts, for training and validation.

    ``forward`` runs the model (the DDP wrapper when distributed); ``model`` holds the buffers.
    """
    import torch

    from glassdyn.nn import keys as nk
    from glassdyn.nn.losses import botan_loss, heterogeneity_loss, temperature_loss

    low = config.precision == "bf16"
    with torch.autocast(batch.edge_index.device.type, dtype=torch.bfloat16, enabled=low):
        out = (forward or model)(batch)
    if low:  # losses in float32
        out = {k: v.float() if torch.is_tensor(v) else v for k, v in out.items()}
    y = (batch.y - model.node_mean) / model.node_std
    parts = {}
    if model.config.edge_head:
        ye = (batch.y_edge - model.edge_mean) / model.edge_std
        loss = botan_loss(out[nk.NODE], y, out[nk.EDGE], ye, config.node_weight)
    else:
        loss = botan_loss(out[nk.NODE], y, None, None)
    parts["mobility"] = float(loss.detach())
    if out[nk.OUT_TEMPERATURE] is not None and config.temperature_weight > 0:
        tl = temperature_loss(
            out[nk.OUT_TEMPERATURE],
            (batch.temperature - model.temperature_mean) / model.temperature_std,
        )
        parts["temperature"] = float(tl.detach())
        loss = loss + config.temperature_weight * tl
    if config.heterogeneity_weight > 0:
        hl = heterogeneity_loss(
            out[nk.NODE],
            y,
            batch.edge_index,
            getattr(batch, "batch", None),
            int(getattr(batch, "num_graphs", 1)),
        )
        parts["heterogeneity"] = float(hl.detach())
        loss = loss + config.heterogeneity_weight * hl
    return loss, parts, out


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """Learning rate of (global) ``epoch``: a function of the epoch alone, so resuming reproduces
    it; the cosine schedule restarts at the phase change (it runs over each phase's epochs)."""
    if config.lr_schedule == "cosine":
        floor = 0.01
        if epoch < config.pretrain_epochs:
            e, n = epoch, config.pretrain_epochs
        else:
            e, n = epoch - config.pretrain_epochs, config.epochs
        return config.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * e / max(n, 1))))
    return config.lr
