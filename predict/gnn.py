"""The graph networks (BOTAN, T-BOTAN, Bapst) as a plug-in of the run engine
(:mod:`glassdyn.data.run_engine`), called by :func:`glassdyn.predict.training.train` once the run
directory is checked and locked.

What the graph networks supply (:class:`GraphTrainer`): the model (seeded, its target statistics
and ridge-started skip set on the training graphs), the shuffled training batches (cube-symmetry
augmentation; a per-process shard under ``torchrun``), the loss (:func:`batch_loss`), the
validation (loss, selection score and mean per-configuration Pearsons) and BOTAN's two phases
(the learning rate of each epoch, the phase change that restarts from ``pretrain_best.pt`` with a
fresh Adam).  The engine runs the epochs, checkpoints, resumes and stops at ``--max-minutes``.
Under ``torchrun`` every rank trains on its shard and only rank 0 writes
(:mod:`glassdyn.predict.distributed`).
"""

from __future__ import annotations

import math
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from glassdyn.data import runs
from glassdyn.data.run_engine import Trainer, run_epochs
from glassdyn.data.store import Store
from glassdyn.predict.config import PRETRAIN, PRETRAIN_BEST, START, TRAIN, TrainConfig

from glassdyn.nn import keys as nk


def train_gnn(store: Store, config: TrainConfig, split: dict, out: Path, fp: dict, log) -> Path:
    """Train (or resume) a graph network into the open run ``out``; ``fp`` is the run's data
    fingerprint (its per-configuration digests key the graph cache)."""
    from glassdyn.predict.checkpoints import RUNS
    from glassdyn.predict.distributed import DistContext

    ddp = DistContext.from_env(config.device)
    device = ddp.device if ddp.enabled else runs.resolve_device(config.device)
    if device.type == "cpu" and config.tune_allocator:
        from glassdyn.nn.allocator import tune_for_large_graphs

        tune_for_large_graphs()
    trainer = GraphTrainer(store, config, split, out, fp, device, ddp)
    state = run_epochs(
        out,
        trainer,
        RUNS,
        epochs=config.total_epochs,
        max_minutes=config.max_minutes,
        progress=config.progress,
        writer=ddp.is_main,
        agree=ddp.agree,
        log=log,
    )
    if state.epoch >= config.total_epochs and config.epochs == 0 and ddp.is_main:
        shutil.copyfile(out / PRETRAIN_BEST, out / runs.BEST)  # pre-training only: its best
    ddp.barrier()
    ddp.close()
    return out


class GraphTrainer(Trainer):
    """BOTAN, T-BOTAN or Bapst on the graphs of ``split`` (see the module docstring)."""

    retry = "lower --lr (or --grad-clip) and train into a new --out"

    def __init__(self, store, config: TrainConfig, split, out: Path, fp, device, ddp):
        from glassdyn.nn.dataset import GraphCache

        self.config, self.split, self.out, self.device, self.ddp = config, split, out, device, ddp
        self.spec = config.graph_spec()
        self.lr, self.grad_clip, self.desc = config.lr, config.grad_clip, config.model
        self.ema = config.ema
        cache = GraphCache(out / "graphs")
        digests = {k: s["content"] for k, s in fp["states"].items()}
        self.graphs = {
            part: load_graphs(store, split, part, self.spec, cache, digests, config.progress)
            for part in ("train", "val")
        }
        self.loader_rng = torch.Generator().manual_seed(config.seed)
        self.augment_rng = torch.Generator().manual_seed(config.seed + 1)
        self.loader, self.sampler, self.val_loader = _loaders(
            config, self.spec, self.graphs, self.augment_rng, self.loader_rng, ddp
        )
        self.phase_config = config.for_phase(config.phase(0))
        self.net = None  # the model as the forward pass sees it (DDP-wrapped when distributed)

    # ------------------------------------------------------------------ the engine's calls
    def model(self):
        """Seeded, with the training graphs' target statistics (and ridge-started skip)."""
        from glassdyn.predict.warm_start import init_skip, init_thermometer

        from glassdyn.nn.models import ModelConfig, build_model

        c = self.config
        torch.manual_seed(c.seed)
        mc = ModelConfig(
            kind=c.model,
            n_types=2,
            node_dim=self.spec.node_dim,
            edge_dim=self.spec.edge_dim,
            n_outputs=self.graphs["train"][0].y.shape[1],
            hidden=c.hidden,
            steps=c.steps,
            shared_decoder=c.shared_decoder,
            node_vec_dim=self.spec.node_vec_dim,
            skip=c.skip,
            readout_hops=c.readout_hops,
            thermometer=c.model == "tbotan" and c.energy_thermometer,
        )
        model = build_model(mc)
        _normalization(self.graphs["train"], model)
        if mc.skip:
            init_skip(model, self.graphs["train"])
        if mc.thermometer:
            init_thermometer(model, self.graphs["train"])
        model.to(self.device)
        unused = self._unused_parameters(model) if self.ddp.enabled else False
        self.net = self.ddp.wrap(model, find_unused_parameters=unused)
        return model

    def _unused_parameters(self, model) -> bool:
        """Whether some parameter gets no gradient in one of the run's phases (edge pre-training
        leaves the node decoder out, a zero temperature weight T-BOTAN's read-out): DDP must then
        look for unused parameters every step; when none is, it must not (it warns, and is slower).
        One forward and backward pass on a training graph per phase decides it."""
        from torch_geometric.data import Batch

        batch = Batch.from_data_list([self.graphs["train"][0]]).to(self.device)
        c, unused = self.config, False
        for phase in {c.phase(0), c.phase(c.total_epochs - 1)}:
            model.zero_grad(set_to_none=True)
            batch_loss(model, batch, c.for_phase(phase))[0].backward()
            unused |= any(p.grad is None for p in model.parameters() if p.requires_grad)
        model.zero_grad(set_to_none=True)
        return unused

    def rngs(self) -> dict:
        return {"loader": self.loader_rng, "augment": self.augment_rng}

    def start(self, state) -> None:
        state.extra = {"pretrain": self._pretrain_record(), "init": None}
        if self.config.init is not None:
            from glassdyn.predict.warm_start import init_weights

            path = init_weights(state.model, self.config.init, self.device, self.spec)
            state.extra["init"] = str(path)

    def resume(self, state, checkpoint: dict) -> None:
        state.extra = {
            "pretrain": checkpoint.get("pretrain", self._pretrain_record()),
            "init": checkpoint.get("init"),
        }

    def begin_epoch(self, state, epoch: int) -> dict:
        """The phase of ``epoch`` (entering the main phase from pre-training's best weights with a
        fresh Adam), its loss settings and learning rate, and the shard of this epoch."""
        c = self.config
        phase = c.phase(epoch)
        if phase == TRAIN and epoch == c.pretrain_epochs > 0:
            self.ddp.barrier()  # rank 0 has written pretrain_best.pt
            self._enter_main_phase(state)
        state.best_file = PRETRAIN_BEST if phase == PRETRAIN else runs.BEST
        self.phase_config = c.for_phase(phase)
        for group in state.optimizer.param_groups:
            group["lr"] = learning_rate(self.phase_config, epoch)
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        return {"phase": phase}

    def batches(self, state, epoch: int):
        for batch in self.loader:
            yield batch.to(self.device)

    def loss(self, state, batch):
        return batch_loss(state.model, batch, self.phase_config, forward=self.net)[0]

    def validate(self, state) -> dict | None:
        if self.val_loader is None:
            return None
        return validate(state.model, self.val_loader, self.phase_config, self.device)

    def start_record(self, state) -> dict | None:
        """The starting point competes for best.pt when it is the ridge model of the
        descriptors: a fresh run (no ``--init``, no pre-training) with the ridge-started skip,
        whose network correction starts at zero; recorded as epoch -1, phase ``start``."""
        c = self.config
        fresh = c.pretrain_epochs == 0 and c.init is None
        if self.val_loader is not None and bool(c.skip) and fresh:
            return {"phase": START}
        return None

    def checkpoint(self, state) -> dict:
        from glassdyn.predict.checkpoints import checkpoint_entries

        pretrain = state.extra["pretrain"]
        phase = state.history[-1]["phase"]
        if phase == PRETRAIN:  # pre-training's best so far
            pretrain = {**pretrain, "best_val": state.best, "best_epoch": state.best_epoch}
            state.extra["pretrain"] = pretrain
        return {
            **checkpoint_entries(state.model),
            runs.CKPT_TRAIN_CONFIG: self.config.to_dict(),
            "graph_spec": asdict(self.spec),
            "split": self.split,
            "phase": phase,
            "pretrain": pretrain,
            "init": state.extra["init"],
        }

    # ------------------------------------------------------------------ helpers
    def _pretrain_record(self) -> dict:
        return {"epochs": self.config.pretrain_epochs, "best_val": math.inf, "best_epoch": -1}

    def _enter_main_phase(self, state) -> None:
        """Phase change: start from pre-training's best-on-validation weights with a fresh Adam."""
        from glassdyn.predict.checkpoints import load_checkpoint, load_state

        path = self.out / PRETRAIN_BEST
        ckpt = load_checkpoint(path, kind=self.config.model, map_location=self.device)
        load_state(state.model, ckpt[runs.CKPT_STATE_DICT], path)
        state.optimizer = self.optimizer(state.model)
        state.best, state.best_epoch = math.inf, -1
        if state.ema is not None:  # the average starts again from the weights the phase starts
            state.ema = {k: v.detach().clone() for k, v in state.model.state_dict().items()}


# --------------------------------------------------------------------------- data
def load_graphs(store, split, part, spec, cache, digests=None, progress=False) -> list:
    """The graph samples of ``part`` of ``split`` (cached; ``digests[T][c]`` are the content
    digests of the fingerprint, so the cache need not re-read the store to key them)."""
    todo = [(T, c) for T, s in split.items() for c in s[part]]
    bar = runs.progress(todo, desc=f"graphs ({part})", enabled=progress, leave=False)
    return [
        cache.get(store.state(float(T)), c, spec, digest=(digests or {}).get(T, {}).get(str(c)))
        for T, c in bar
    ]


def _loaders(config: TrainConfig, spec, graphs: dict, augment_rng, loader_rng, ddp):
    """(training loader, its DDP sampler or None, validation loader or None)."""
    from torch_geometric.loader import DataLoader

    from glassdyn.nn.dataset import GraphDataset

    train_set = GraphDataset(graphs["train"], spec, augment=config.augment, generator=augment_rng)
    sampler = ddp.sampler(train_set, config.seed)
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=loader_rng,
    )
    val_loader = None
    if graphs["val"]:
        val_loader = DataLoader(GraphDataset(graphs["val"], spec), batch_size=config.batch_size)
    return loader, sampler, val_loader


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


# --------------------------------------------------------------------------- loss, schedule
def batch_loss(model, batch, config: TrainConfig, forward=None):
    """Total loss of one batch (normalised units) and its parts, for training and validation.

    ``forward`` runs the model (the DDP wrapper when distributed); ``model`` holds the buffers.
    """
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


# --------------------------------------------------------------------------- validation
def validate(model, loader, config: TrainConfig, device) -> dict:
    """Validation loss, selection score and mean per-configuration Pearsons (node on A, edge on
    AA < 1.35)."""
    from glassdyn.predict.metrics import pearson

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
