"""Training of BOTAN, T-BOTAN, the Bapst GNN and the ridge baseline on a glassdyn store.

>>> from glassdyn.predict.config import TrainConfig                          # doctest: +SKIP
>>> from glassdyn.predict.training import train
>>> run = train(TrainConfig(data="out/ka.zarr", out="out/runs/botan", model="botan", epochs=50))
>>> # equivalent: glassdyn train --data out/ka.zarr --model botan --out out/runs/botan --epochs 50

The completed configurations of each *training* temperature are split, deterministically from
the seed, into train / validation / test (:mod:`glassdyn.data.splits`; a store that records its
dataset's own train / test files, e.g. a BOTAN import, keeps its test files as the test split);
the best checkpoint (``best.pt``) is chosen on the validation loss only; the test split is never
looked at here.  Temperatures of the store that are not training temperatures are held out whole
(all their configurations are test data).

The run directory is opened, resumed and checkpointed by the run engine
(:mod:`glassdyn.data.run_engine`, shared with ``glassdyn gen fit``); it holds ``run.json`` (kind, config, split, data
fingerprint, times, versions), ``last.pt`` (written after every epoch: rerunning the same command
resumes from it), ``best.pt``, ``history.json``, ``graphs/`` (the cached graph samples) and, for
the descriptor baselines, their model file and ``descriptors/``
(:mod:`glassdyn.predict.baselines`).  A rerun on data with another fingerprint, or with other settings than the
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
in LJ units.  The settings are :class:`glassdyn.predict.config.TrainConfig`; what the graph networks supply to
the engine (model, batches, loss, validation, the two phases) is :mod:`glassdyn.predict.gnn`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, replace
from pathlib import Path

from glassdyn.data import keys, runs
from glassdyn.data.errors import InputError
from glassdyn.data.run_engine import RunRecord, open_run
from glassdyn.data.splits import fingerprint, plan_splits
from glassdyn.data.store import StatePoint, Store
from glassdyn.predict.checkpoints import RUNS
from glassdyn.predict.config import BASELINES, PRETRAIN, PRETRAIN_BEST, TRAIN, TrainConfig


# --------------------------------------------------------------------------- data split
def require_targets(sp: StatePoint) -> None:
    """Clear error when a state point has no isoconfigurational displacements."""
    if sp.times is None or not sp.has(keys.ISO_DISPLACEMENTS):
        raise InputError(
            f"store {sp.store_path} group {sp.name} has no {keys.ISO_DISPLACEMENTS}: training needs "
            "isoconfigurational runs; run `glassdyn simulate` with --replicas > 0"
        )


def _have(store: Store, temps, flag: str) -> tuple[int, int]:
    """Completed configurations of ``temps`` with an inherent structure (``is``) or a cage
    state (``cage``), and all completed ones."""
    have = total = 0
    for T in temps:
        sp = store.state(T)
        done = sp.completed
        ok = sp.inherent_done if flag == "is" else sp.cage_done
        have += int(ok[done].sum()) if len(done) else 0
        total += len(done)
    return have, total


def resolve_inputs(
    store: Store, config: TrainConfig, split: dict | None = None, choice: dict | None = None
) -> TrainConfig:
    """``config`` with its ``auto`` inputs decided by the store (what was measured best, see the
    README): a network on a store whose training temperatures all have inherent structures
    reads ts+is with the coarse-grained descriptors of both structures, the TS -> IS vectors and
    the ridge-started linear skip; without inherent structures, ts with the thermal descriptors
    and the skip.  When every configuration also has a cage state (``glassdyn cage``), ``auto``
    is the best of that default, ts+cage and ts+is+cage for a ridge scored
    leave-one-configuration-out over the training and validation configurations of ``split``,
    never its test ones (:func:`glassdyn.predict.baselines.choose_input`; its scores go into
    ``choice``).  A store
    with inherent structures (or cage states) for only some configurations is refused for
    ``auto``; explicit inputs are checked the same way."""
    from glassdyn.nn.descriptors import input_structures

    temps = list(config.train_temperatures) if config.train_temperatures else store.temperatures
    have, total = _have(store, temps, "is")
    inherent = total > 0 and have == total
    cage_have, _ = _have(store, temps, "cage")
    cage = total > 0 and cage_have == total
    if config.input == "auto" and 0 < have < total:
        raise InputError(
            f"store {store.path} has inherent structures for {have} of its {total} completed "
            f"configurations; run `glassdyn quench {store.path}` for the others, or pass --input ts"
        )
    if config.input == "auto" and 0 < cage_have < total:
        raise InputError(
            f"store {store.path} has cage states for {cage_have} of its {total} completed "
            f"configurations; run `glassdyn cage {store.path}` for the others, or pass --input "
            f"{'ts+is' if inherent else 'ts'}"
        )
    structures = () if config.input == "auto" else input_structures(config.input)
    if "is" in structures and not inherent:
        raise InputError(
            f"--input {config.input} needs inherent structures for every configuration; store "
            f"{store.path} has {have} of {total}: run `glassdyn quench {store.path}` first"
        )
    if "cage" in structures and not cage:
        raise InputError(
            f"--input {config.input} needs cage states for every configuration; store "
            f"{store.path} has {cage_have} of {total}: run `glassdyn cage {store.path}` first"
        )
    inp = config.input
    if inp == "auto":
        inp = "ts+is" if inherent else "ts"
        if cage:
            from glassdyn.predict.baselines import choose_input

            if split is None:
                split, _ = plan(store, config)
            candidates = [inp, "ts+is+cage" if inherent else "ts+cage"]
            if inherent:
                candidates.insert(1, "ts+cage")
            inp, record = choose_input(
                store, split, candidates, cg_lengths=config.cg_lengths, times=config.times
            )
            if choice is not None:
                choice.update(record)
    if config.model in BASELINES:  # descriptor models read no graph: any settled value will do
        return replace(
            config,
            input=inp,
            node_features="type" if config.node_features == "auto" else config.node_features,
            node_vectors=bool(config.node_vectors),
            skip=bool(config.skip),
            shared_decoder=config.shared_decoder is not False,
            readout_hops=0,
        )
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
    )


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
        is_training = any(keys.same_temperature(T, t) for t in train_temps)
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
def train(config: TrainConfig, *, log=None) -> Path:
    """Train (or resume) the run ``config`` describes; returns the run directory.

    Every input is checked (store, split, data fingerprint, a previous run in ``out``) before the
    run directory is created or touched; under ``torchrun`` only rank 0 writes.  ``out`` follows
    :mod:`glassdyn.data.outputs`: a new path or this command's own run (resumed).  ``log(line)``
    receives the messages (default: stderr)."""
    from glassdyn.data import outputs
    from glassdyn.data.lock import check_unlocked

    out = Path(config.out)
    writer = int(os.environ.get("RANK", "0")) == 0
    if writer:
        outputs.check_output(out, outputs.TRAIN_RUN, inputs=(config.data, config.init))
        check_unlocked(out, what="run directory")
    if config.model not in BASELINES and config.total_epochs < 1:  # converted runs hold 0
        raise InputError(
            f"--epochs must be >= 1 (or --pretrain-epochs >= 1 for a pre-training-only run), got "
            f"--epochs {config.epochs} --pretrain-epochs {config.pretrain_epochs}: nothing would be trained"
        )
    store = Store.open(config.data)
    split, times = plan(store, config)
    choice: dict = {}
    config = resolve_inputs(store, config, split, choice)
    trained = {k: s for k, s in split.items() if not s.get("held_out")}
    fp = fingerprint(store, trained, config.data_fields())
    record = run_record(
        config, split, times, fp, config.data, {"input_choice": choice} if choice else None
    )
    with open_run(out, RUNS, record, writer=writer, needs=lambda epoch: needs(config, epoch)):
        if config.model in BASELINES:
            from glassdyn.predict.baselines import train_baseline

            return train_baseline(store, config, split, out)
        from glassdyn.predict.gnn import train_gnn

        return train_gnn(store, config, split, out, record.fingerprint, log=log or _stderr)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def needs(config: TrainConfig, epoch: int) -> list[str]:
    """The checkpoints a run with ``last.pt`` at ``epoch`` must hold to resume: pre-training's
    best (with pre-training) and, once past it, best.pt."""
    need = [PRETRAIN_BEST] if config.pretrain_epochs else []
    return need + ([runs.BEST] if epoch >= config.pretrain_epochs else [])


def run_record(
    config: TrainConfig,
    split: dict,
    times: dict,
    fp: dict | None,
    data_path: str | None,
    extra: dict | None = None,
) -> RunRecord:
    """What run.json records of a training run: kind, settings, graph spec, split, times, the
    phases of a network, the data fingerprint and path, and ``extra`` (a converted run's source)."""
    info = {"graph_spec": asdict(config.graph_spec()), "times": times}
    if config.model not in BASELINES:
        info["phases"] = [
            {"phase": PRETRAIN, "epochs": [0, config.pretrain_epochs], "node_weight": 0.0},
            {
                "phase": TRAIN,
                "epochs": [config.pretrain_epochs, config.total_epochs],
                "node_weight": config.node_weight,
            },
        ][0 if config.pretrain_epochs else 1 :]
    return RunRecord(
        kind=config.model,
        config=config.to_dict(),
        split=split,
        fingerprint=fp,
        data_path=data_path,
        extra={**info, **(extra or {})},
    )
