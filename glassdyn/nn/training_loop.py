"""The epoch loop of the graph networks (BOTAN, T-BOTAN, Bapst), called by
:func:`glassdyn.training.train` once the run directory is checked and locked.

One epoch: a shuffled pass over the training graphs (cube-symmetry augmentation, Adam, gradient
clipping), the validation loss and Pearsons, then ``best.pt`` (lowest validation loss of the
phase), ``last.pt`` (everything needed to resume bit for bit) and ``history.json``.  Under
``torchrun`` every rank trains on its shard and only rank 0 writes (:mod:`glassdyn.distributed`).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from glassdyn.data import runs
from glassdyn.data.errors import GlassdynError, InputError
from glassdyn.data.store import Store
from glassdyn.nn import keys as nk
from glassdyn.training import (
    PRETRAIN,
    PRETRAIN_BEST,
    START,
    TRAIN,
    TrainConfig,
    batch_loss,
    learning_rate,
)


@dataclass
class LoopState:
    """What one epoch hands to the next (and ``last.pt`` keeps): the model and optimiser, the
    loader / augmentation generators, the next epoch, the best validation loss of the current
    phase and its epoch, the history, pre-training's best, and the ``init`` checkpoint used."""

    model: torch.nn.Module
    opt: torch.optim.Optimizer
    loader_rng: torch.Generator
    augment_rng: torch.Generator
    epoch: int = 0
    best: float = math.inf
    best_epoch: int = -1
    history: list | None = None
    pretrain: dict | None = None
    init: str | None = None


def train_gnn(store: Store, config: TrainConfig, split: dict, out: Path, fp: dict) -> Path:
    """Train (or resume) a graph network into ``out``; ``fp`` is the run's data fingerprint (its
    per-configuration digests key the graph cache)."""
    from glassdyn.distributed import DistContext
    from glassdyn.nn.dataset import GraphCache

    ddp = DistContext.from_env(config.device)
    device = ddp.device if ddp.enabled else runs.resolve_device(config.device)
    if device.type == "cpu" and config.tune_allocator:
        from glassdyn.nn.allocator import tune_for_large_graphs

        tune_for_large_graphs()
    spec = config.graph_spec()
    cache = GraphCache(out / "graphs")
    digests = {k: s["content"] for k, s in fp["states"].items()}
    graphs = {
        part: load_graphs(store, split, part, spec, cache, digests, config.progress)
        for part in ("train", "val")
    }
    state = _start(config, spec, graphs["train"], out, device)
    loader, sampler, val_loader = _loaders(config, spec, graphs, state, ddp)
    net = ddp.wrap(state.model)
    bar = runs.progress(
        range(state.epoch, config.total_epochs),
        desc=f"{config.phase(state.epoch)} {config.model}",
        initial=state.epoch,
        total=config.total_epochs,
        enabled=config.progress and ddp.is_main,
    )
    if _start_is_a_candidate(config, state, val_loader):
        record = {"epoch": -1, "phase": START, **validate(state.model, val_loader, config, device)}
        improved = _keep_best(state, record, has_validation=True)
        if ddp.is_main:
            _save_epoch(out, state, config, spec, split, record, improved)
    started = time.monotonic()
    for epoch in bar:
        phase = config.phase(epoch)
        if phase == TRAIN and epoch == config.pretrain_epochs > 0:
            ddp.barrier()  # rank 0 has written pretrain_best.pt
            _enter_main_phase(state, config, out, device)
            bar.set_description(f"{TRAIN} {config.model}")
        if sampler is not None:
            sampler.set_epoch(epoch)
        phase_config = config.for_phase(phase)
        record = {"epoch": epoch, "phase": phase}
        record["train_loss"] = _train_epoch(net, state, loader, phase_config, epoch, device, bar)
        if val_loader is not None:
            record.update(validate(state.model, val_loader, phase_config, device))
        improved = _keep_best(state, record, has_validation=val_loader is not None)
        bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k not in ("epoch", "phase")})
        if ddp.is_main:
            _save_epoch(out, state, config, spec, split, record, improved)
        if config.max_minutes is not None and _out_of_time(started, config.max_minutes, ddp):
            if ddp.is_main and epoch + 1 < config.total_epochs:
                print(
                    f"glassdyn train: stopped after epoch {epoch + 1} of {config.total_epochs} "
                    f"(--max-minutes {config.max_minutes:g}); rerun the same command to continue",
                    file=sys.stderr,
                )
            bar.close()
            ddp.barrier()
            ddp.close()
            return out
    bar.close()
    if config.epochs == 0 and ddp.is_main:  # pre-training only: its best weights are the model
        shutil.copyfile(out / PRETRAIN_BEST, out / runs.BEST)
    ddp.barrier()
    ddp.close()
    return out


def _start_is_a_candidate(config: TrainConfig, state: LoopState, val_loader) -> bool:
    """Whether the starting point itself competes for best.pt: a fresh run (no ``--init``, no
    pre-training) with the ridge-started skip, whose network correction starts at zero, so that
    the start is the ridge model of its descriptors; recorded as epoch -1, phase ``start``."""
    return (
        val_loader is not None
        and bool(config.skip)
        and config.pretrain_epochs == 0
        and config.init is None
        and state.epoch == 0  # not a run resumed from an epoch (one started before this rule)
        and not any(r["phase"] == START for r in state.history)
    )


def _out_of_time(started: float, max_minutes: float, ddp) -> bool:
    """Whether ``max_minutes`` have passed (rank 0 decides, so every rank stops together)."""
    done = torch.tensor([float(time.monotonic() - started >= 60.0 * max_minutes)])
    return bool(ddp.broadcast(done)[0])


def load_graphs(store, split, part, spec, cache, digests=None, progress=False) -> list:
    """The graph samples of ``part`` of ``split`` (cached; ``digests[T][c]`` are the content
    digests of the fingerprint, so the cache need not re-read the store to key them)."""
    todo = [(T, c) for T, s in split.items() for c in s[part]]
    bar = runs.progress(todo, desc=f"graphs ({part})", enabled=progress, leave=False)
    return [
        cache.get(store.state(float(T)), c, spec, digest=(digests or {}).get(T, {}).get(str(c)))
        for T, c in bar
    ]


def _normalization(graphs: list, model) -> None:
    """Set the model's target (and node-input, temperature) statistics from ``graphs``: the
    training graphs only, never validation or test ones."""
    y = torch.cat([g.y for g in graphs])
    stats = {"node_mean": y.mean(0), "node_std": y.std(0).clamp(min=1e-6)}
    if model.config.edge_head:
        ye = torch.cat([g.y_edge for g in graphs])
        stats.update(edge_mean=ye.mean(0), edge_std=ye.std(0).clamp(min=1e-6))
    if model.config.node_dim:
        a = torch.cat([g.node_attr for g in graphs])
        stats.update(node_attr_mean=a.mean(0), node_attr_std=a.std(0).clamp(min=1e-6))
    t = torch.cat([g.temperature for g in graphs])
    std = t.std() if len(t) > 1 else torch.tensor(0.0)
    stats.update(
        temperature_mean=t.mean(), temperature_std=std if std > 1e-6 else torch.tensor(1.0)
    )
    model.set_normalization(**stats)


def _start(config: TrainConfig, spec, train_graphs: list, out: Path, device) -> LoopState:
    """The model (seeded, normalised on the training graphs) and the loop state: fresh (from
    ``init`` weights when asked) or restored from ``last.pt``."""
    from glassdyn.nn.checkpoint import load_checkpoint, load_state
    from glassdyn.nn.models import ModelConfig, build_model

    torch.manual_seed(config.seed)
    mc = ModelConfig(
        kind=config.model,
        n_types=2,
        node_dim=spec.node_dim,
        edge_dim=spec.edge_dim,
        n_outputs=train_graphs[0].y.shape[1],
        hidden=config.hidden,
        steps=config.steps,
        shared_decoder=config.shared_decoder,
        node_vec_dim=spec.node_vec_dim,
        skip=config.skip,
        readout_hops=config.readout_hops,
    )
    model = build_model(mc)
    _normalization(train_graphs, model)
    if mc.skip:
        init_skip(model, train_graphs)
    model.to(device)
    state = LoopState(
        model=model,
        opt=torch.optim.Adam(model.parameters(), lr=config.lr),
        loader_rng=torch.Generator().manual_seed(config.seed),
        augment_rng=torch.Generator().manual_seed(config.seed + 1),
        history=[],
        pretrain={"epochs": config.pretrain_epochs, "best_val": math.inf, "best_epoch": -1},
    )
    last = out / runs.LAST
    if not last.exists():
        if config.init is not None:
            state.init = str(init_weights(model, config.init, device, spec))
        return state
    ckpt = load_checkpoint(last, kind=config.model, map_location=device)
    load_state(model, ckpt[runs.CKPT_STATE_DICT], last)
    state.opt.load_state_dict(ckpt[runs.CKPT_OPTIMIZER_STATE])
    state.loader_rng.set_state(ckpt["rng"]["loader"])
    state.augment_rng.set_state(ckpt["rng"]["augment"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    state.epoch, state.best, state.best_epoch = (
        ckpt[runs.CKPT_EPOCH] + 1,
        ckpt[runs.CKPT_BEST_VAL],
        ckpt[runs.CKPT_BEST_EPOCH],
    )
    state.history = ckpt[runs.CKPT_HISTORY]
    state.pretrain = ckpt.get("pretrain", state.pretrain)
    state.init = ckpt.get("init")
    return state


def _loaders(config: TrainConfig, spec, graphs: dict, state: LoopState, ddp):
    """(training loader, its DDP sampler or None, validation loader or None)."""
    from torch_geometric.loader import DataLoader

    from glassdyn.nn.dataset import GraphDataset

    train_set = GraphDataset(
        graphs["train"], spec, augment=config.augment, generator=state.augment_rng
    )
    sampler = ddp.sampler(train_set, config.seed)
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=state.loader_rng,
    )
    val_loader = None
    if graphs["val"]:
        val_loader = DataLoader(GraphDataset(graphs["val"], spec), batch_size=config.batch_size)
    return loader, sampler, val_loader


def _enter_main_phase(state: LoopState, config: TrainConfig, out: Path, device) -> None:
    """Phase change: start from pre-training's best-on-validation weights with a fresh Adam."""
    from glassdyn.nn.checkpoint import load_checkpoint, load_state

    ckpt = load_checkpoint(out / PRETRAIN_BEST, kind=config.model, map_location=device)
    load_state(state.model, ckpt[runs.CKPT_STATE_DICT], out / PRETRAIN_BEST)
    state.opt = torch.optim.Adam(state.model.parameters(), lr=config.lr)
    state.best, state.best_epoch = math.inf, -1


def _train_epoch(net, state: LoopState, loader, phase_config, epoch: int, device, bar) -> float:
    """One pass over the training graphs; returns the mean loss (normalised units)."""
    model, opt = state.model, state.opt
    for group in opt.param_groups:
        group["lr"] = learning_rate(phase_config, epoch)
    model.train()
    losses = []
    for batch in loader:
        batch = batch.to(device)
        opt.zero_grad(set_to_none=True)
        loss, _parts, _ = batch_loss(model, batch, phase_config, forward=net)
        if not torch.isfinite(loss):
            raise GlassdynError(
                f"the training loss became {float(loss)} at epoch {epoch}; lower --lr (or "
                "--grad-clip) and train into a new --out"
            )
        loss.backward()
        if phase_config.grad_clip and phase_config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), phase_config.grad_clip)
        opt.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(losses):.4f}", refresh=False)
    return float(np.mean(losses))


def validate(model, loader, config: TrainConfig, device) -> dict:
    """Validation loss and mean per-configuration Pearsons (node on A, edge on AA < 1.35)."""
    from glassdyn.metrics import pearson

    def mean_r(p, t):
        return np.nanmean([pearson(p[:, k], t[:, k]) for k in range(p.shape[1])])

    model.eval()
    losses, scores, rs, rs_edge = [], [], [], []
    with torch.no_grad():
        for batch in loader:
            batch = batch.to(device)
            loss, parts, out = batch_loss(model, batch, config)
            losses.append(float(loss.detach()))
            scores.append(_selection_score(model, batch, out, parts, config, float(loss)))
            m = batch.node_mask.cpu().numpy()
            rs.append(mean_r(out[nk.NODE].cpu().numpy()[m], batch.y.cpu().numpy()[m]))
            if out.get(nk.EDGE) is not None:
                me = batch.edge_mask.cpu().numpy()
                rs_edge.append(
                    mean_r(out[nk.EDGE].cpu().numpy()[me], batch.y_edge.cpu().numpy()[me])
                )
    model.train()
    record = {
        "val_loss": float(np.mean(losses)),
        "val_select": float(np.mean(scores)),
        "val_node_pearson": float(np.nanmean(rs)) if rs else float("nan"),
    }
    if rs_edge:
        record["val_edge_pearson"] = float(np.nanmean(rs_edge))
    return record


def _selection_score(model, batch, out, parts: dict, config: TrainConfig, loss: float) -> float:
    """What a checkpoint is chosen on: in pre-training (p = 0) its loss, the edge MSE; in the
    main phase the node MSE (normalised) plus the temperature and heterogeneity terms, without
    BOTAN's auxiliary edge term, so that the kept model is the best propensity predictor."""
    if config.node_weight <= 0.0 or out.get(nk.EDGE) is None:
        return loss
    y = (batch.y - model.node_mean) / model.node_std
    score = float(torch.mean((out[nk.NODE] - y) ** 2))
    score += config.temperature_weight * parts.get("temperature", 0.0)
    return score + config.heterogeneity_weight * parts.get("heterogeneity", 0.0)


def _keep_best(state: LoopState, record: dict, has_validation: bool) -> bool:
    """Whether this epoch is the best of its phase so far (lowest validation selection score,
    :func:`_selection_score`; without validation configurations the last epoch); updates
    ``state``."""
    epoch = record["epoch"]
    if has_validation and not math.isfinite(record["val_loss"]):
        raise GlassdynError(
            f"the validation loss is {record['val_loss']} at epoch {epoch}; lower --lr and train "
            "into a new --out"
        )
    score = (
        record.get("val_select", record.get("val_loss")) if has_validation else record["train_loss"]
    )
    state.history.append(record)
    improved = score <= state.best or not has_validation
    if improved:
        state.best, state.best_epoch = score, epoch
        if record["phase"] == PRETRAIN:
            state.pretrain = {**state.pretrain, "best_val": score, "best_epoch": epoch}
    return improved


def _save_epoch(out: Path, state: LoopState, config, spec, split, record: dict, improved: bool):
    """``best.pt`` (or ``pretrain_best.pt``) when improved, then ``last.pt`` and ``history.json``."""
    from glassdyn.nn.checkpoint import save_checkpoint

    extra = {
        runs.CKPT_TRAIN_CONFIG: config.to_dict(),
        "graph_spec": asdict(spec),
        "split": split,
        runs.CKPT_EPOCH: record["epoch"],
        "phase": record["phase"],
        runs.CKPT_BEST_VAL: state.best,
        runs.CKPT_BEST_EPOCH: state.best_epoch,
        "pretrain": state.pretrain,
        "init": state.init,
        runs.CKPT_HISTORY: state.history,
    }
    if improved:
        name = PRETRAIN_BEST if record["phase"] == PRETRAIN else runs.BEST
        save_checkpoint(out / name, state.model, **extra)
    rng = {
        "loader": state.loader_rng.get_state(),
        "augment": state.augment_rng.get_state(),
        "torch": torch.get_rng_state(),
    }
    extra = {**extra, runs.CKPT_OPTIMIZER_STATE: state.opt.state_dict(), "rng": rng}
    save_checkpoint(out / runs.LAST, state.model, **extra)
    runs.write_json(out / runs.HISTORY, state.history)


def init_skip(model, graphs: list) -> dict:
    """Set the linear skip to the ridge solution on the training graphs (standardised inputs,
    normalised targets; per species and time), its strength chosen by leave-one-configuration-out
    cross-validation over those graphs (:func:`glassdyn.nn.ridge_cv.fit_ridge_loo`, as the ridge
    baseline).  The skip stays fixed in training: the network learns a correction to the best
    linear model of its descriptors instead of starting from nothing; the node decoder's last
    layer starts at zero (with separate decoders), so the model starts as that linear model.
    Returns the chosen strengths per species."""
    from glassdyn.nn.ridge_cv import fit_ridge_loo

    chosen = {}
    with torch.no_grad():
        for s in range(model.config.n_types):
            groups = []
            for g in graphs:
                m = g.types == s
                z = (g.node_attr[m] - model.node_attr_mean) / model.node_attr_std
                y = (g.y[m] - model.node_mean) / model.node_std
                if int(m.sum()) > 1:
                    groups.append((z.double().numpy(), y.double().numpy()))
            if not groups:
                continue
            fit = fit_ridge_loo(groups)
            model.skip_weight[s] = torch.as_tensor(fit["weights"], dtype=torch.float32)
            model.skip_bias[s] = torch.as_tensor(fit["intercept"], dtype=torch.float32)
            chosen["AB"[s] if s < 2 else str(s)] = np.asarray(fit["alpha"]).tolist()
    model.skip_weight.requires_grad_(False)
    model.skip_bias.requires_grad_(False)
    if not (model.config.shared_decoder and model.config.edge_head):  # the start is the ridge
        with torch.no_grad():
            model.node_decoder.fc3.weight.zero_()
            model.node_decoder.fc3.bias.zero_()
    return chosen


def init_weights(model, source: str | os.PathLike, device=None, spec=None) -> Path:
    """Load another run's weights (``source``: run directory -> its best.pt, or a checkpoint file)
    into ``model``.  The architectures must match, except that this model may read more inputs
    (descriptors, TS -> IS vectors, IS pair vectors: :mod:`glassdyn.nn.transfer` starts their
    weights at zero) and have a linear skip or a BOTAN -> T-BOTAN global feature the source lacks
    (kept at their initialisation).  Normalisation buffers are not copied (this run's target
    statistics stay).  ``spec``: this run's :class:`~glassdyn.nn.dataset.GraphSpec`; a source that
    read descriptors of other coarse-graining lengths is refused (its columns would not line up).
    Returns the checkpoint path used."""
    from glassdyn.nn.checkpoint import load_checkpoint
    from glassdyn.nn.transfer import GROWABLE, transfer_state

    src = Path(source)
    path = src / runs.BEST if src.is_dir() else src
    if src.is_dir() and not path.exists():
        raise InputError(
            f"--init {src}: that run has no best.pt yet; train it first (or pass a checkpoint file)"
        )
    ckpt = load_checkpoint(path, map_location=device or "cpu")
    have, want = ckpt[runs.CKPT_MODEL_CONFIG], model.config.to_dict()
    defaults = {"node_vec_dim": 0, "skip": False, "readout_hops": 0}
    diff = [
        k
        for k in want
        if k not in GROWABLE
        and have.get(k, defaults.get(k)) != want[k]
        and not (k == "kind" and (have.get(k), want[k]) == ("botan", "tbotan"))
    ]
    if diff:
        what = ", ".join(f"{k}: {have.get(k)!r} there, {want[k]!r} here" for k in diff)
        raise InputError(
            f"--init {path}: its model does not match this run's ({what}); --init needs the same "
            "architecture (--model, --hidden, --steps, --times, --readout-hops, decoder setting); "
            "extra node / edge inputs and the skip are fine"
        )
    _check_descriptor_layout(ckpt, spec, path)
    transfer_state(model, ckpt[runs.CKPT_STATE_DICT], f"--init {path}")
    return path


def _check_descriptor_layout(ckpt: dict, spec, path: Path) -> None:
    """Refuse ``--init`` from a run whose descriptor columns differ from this run's: both read
    descriptors, at other coarse-graining lengths (runs before ``cg_lengths`` used 1, 2)."""
    from glassdyn.train_config import LEGACY

    src = ckpt.get(runs.CKPT_TRAIN_CONFIG) or {}
    if spec is None or spec.node_features != "descriptors":
        return
    if src.get("node_features", LEGACY["node_features"]) != "descriptors":
        return
    have = tuple(float(a) for a in src.get("cg_lengths", LEGACY["cg_lengths"]))
    if have != spec.cg_lengths:
        fmt = ",".join(f"{a:g}" for a in have)
        raise InputError(
            f"--init {path}: that run read descriptors coarse-grained at lengths {fmt}, this one "
            f"at {','.join(f'{a:g}' for a in spec.cg_lengths)}; pass --cg-lengths {fmt}"
        )
