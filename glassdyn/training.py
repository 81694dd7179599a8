"""Training of BOTAN, T-BOTAN, the Bapst GNN and the ridge baseline on a glassdyn store.

>>> from glassdyn.training import TrainConfig, train                         # doctest: +SKIP
>>> run = train(TrainConfig(data="out/ka.zarr", out="out/runs/botan", model="botan", epochs=50))
>>> # equivalent: glassdyn train --data out/ka.zarr --model botan --out out/runs/botan --epochs 50

The completed configurations of each *training* temperature are split, deterministically from
the seed, into train / validation / test; the best checkpoint (``best.pt``) is chosen on the
validation loss only; the test split is never looked at here.  Temperatures of the store that are
not training temperatures are held out whole (all their configurations are test data).

The run directory holds ``run.json`` (kind, config, split, times, versions), ``last.pt`` (written
after every epoch: rerunning the same command resumes from it), ``best.pt``, ``history.json``,
``graphs/`` (the cached graph samples) and, for ridge, ``ridge.npz``.

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
in LJ units.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.store import StatePoint, Store

MODELS = ("botan", "tbotan", "bapst", "ridge")
RUN_FILE = "run.json"
# fields that may change between an interrupted run and its resumption
_RESUMABLE = {"epochs", "device", "progress", "out", "data", "tune_allocator", "precision"}
PRECISIONS = ("fp32", "bf16")
PRETRAIN, TRAIN = "pretrain", "train"
PRETRAIN_BEST = "pretrain_best.pt"


@dataclass(frozen=True)
class TrainConfig:
    """One training job.  ``data``: store path; ``out``: run directory.

    times: indices into the store's times (None = all K, one multi-time model);
    train_temperatures: the temperatures trained on (None = all in the store);
    p: node weight of BOTAN's loss p MSE_node + (1 - p) MSE_edge (Bapst: node only);
    temperature_weight: weight of T-BOTAN's temperature MSE (normalised T);
    heterogeneity_weight: weight of the GlassMLP-style spread / correlation penalty (0 = off);
    lr_schedule: constant, or cosine decay from lr to lr/100 over the epochs (of each phase);
    pretrain_epochs: epochs of edge-only pre-training (p = 0) before the ``epochs`` with ``p``
    (BOTAN's published recipe; 0 = none); init: a run directory (its best.pt) or checkpoint whose
    weights start this run (same model architecture);
    lr, grad_clip, batch_size: Adam settings (the reference uses lr 1e-4 after pre-training;
    1e-3 converges faster from scratch); val_fraction / test_fraction: per-temperature split;
    shared_decoder: one decoder for node and edge embeddings, as the reference (False: two);
    tune_allocator: on CPU, keep large tensors in glibc's heap (:mod:`glassdyn.nn.allocator`;
    process-wide, hence off by default; measured 1.35 s instead of 2.13 s of CPU time per
    N=4096 BOTAN step);
    precision: fp32, or bf16 (the forward pass under ``torch.autocast`` with bfloat16: products
    in bfloat16, sums and weights in float32; on a CPU with avx512_bf16 ~1.6x faster steps).
    """

    data: str
    out: str
    model: str = "botan"
    input: str = "ts"
    edge_features: str = "vector"
    times: tuple[int, ...] | None = None
    train_temperatures: tuple[float, ...] | None = None
    epochs: int = 100
    p: float = 0.4
    pretrain_epochs: int = 0
    init: str | None = None
    temperature_weight: float = 1.0
    heterogeneity_weight: float = 0.0
    lr: float = 1e-3
    lr_schedule: str = "constant"
    grad_clip: float = 1.0
    batch_size: int = 1
    hidden: int = 64
    steps: int = 7
    shared_decoder: bool = True
    cutoff: float = 2.0
    augment: bool = True
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    max_configs: int | None = None
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    tune_allocator: bool = False
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"--precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise InputError(f"--lr-schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.model not in MODELS:
            raise InputError(f"--model must be one of {MODELS}, got {self.model!r}")
        if not 0.0 <= self.p <= 1.0:
            raise InputError(f"--p must lie in [0, 1], got {self.p}")
        if self.epochs < 0 or self.pretrain_epochs < 0:
            raise InputError(
                f"--epochs and --pretrain-epochs must be >= 0, got {self.epochs} and {self.pretrain_epochs}"
            )
        if self.pretrain_epochs and self.model not in ("botan", "tbotan"):
            raise InputError(
                f"--pretrain-epochs trains on the edge target, which --model {self.model} has no head for; "
                "use --model botan or tbotan, or drop --pretrain-epochs"
            )
        if self.init is not None and self.model == "ridge":
            raise InputError(
                "--init starts a network from saved weights; ridge has none to start from"
            )
        if self.init is not None:
            object.__setattr__(self, "init", str(self.init))
        if (
            self.val_fraction < 0
            or self.test_fraction < 0
            or self.val_fraction + self.test_fraction >= 1
        ):
            raise InputError("val_fraction and test_fraction must be >= 0 and sum to less than 1")
        for name in ("times", "train_temperatures"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, tuple(v))

    @property
    def total_epochs(self) -> int:
        """Pre-training plus training epochs (epochs are numbered 0 .. total_epochs - 1)."""
        return self.pretrain_epochs + self.epochs

    def phase(self, epoch: int) -> str:
        """``pretrain`` for the first ``pretrain_epochs`` epochs, ``train`` after."""
        return PRETRAIN if epoch < self.pretrain_epochs else TRAIN

    def for_phase(self, phase: str) -> TrainConfig:
        """The loss settings of a phase: pre-training is the edge MSE alone (p = 0, no other term)."""
        if phase == PRETRAIN:
            return replace(self, p=0.0, temperature_weight=0.0, heterogeneity_weight=0.0)
        return self

    def graph_spec(self):
        from glassdyn.nn.dataset import GraphSpec

        return GraphSpec(
            input=self.input, edge_features=self.edge_features, cutoff=self.cutoff, times=self.times
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        for name in ("times", "train_temperatures"):
            if d[name] is not None:
                d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def resolve_device(name: str = "auto"):
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a clear error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            "--device cuda asked for, but torch sees no CUDA device; use --device cpu or auto"
        )
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise InputError(f"--device must be auto, cpu or cuda[:N], got {name!r}")
    return torch.device(name)


# --------------------------------------------------------------------------- data split
def split_configs(
    completed: np.ndarray, seed: int, temperature: float, val_fraction: float, test_fraction: float
) -> dict[str, list[int]]:
    """Deterministic train / val / test split of configuration indices at one temperature.

    At least one test and one validation configuration when there are three or more.
    """
    completed = np.asarray(completed, dtype=np.int64)
    C = len(completed)
    rng = np.random.default_rng([int(seed), round(temperature * 1000)])
    perm = completed[rng.permutation(C)]
    n_test = round(test_fraction * C)
    n_val = round(val_fraction * C)
    if C >= 3:
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
    n_test = min(n_test, max(C - 1, 0))
    n_val = min(n_val, max(C - 1 - n_test, 0))
    return {
        "test": sorted(perm[:n_test].tolist()),
        "val": sorted(perm[n_test : n_test + n_val].tolist()),
        "train": sorted(perm[n_test + n_val :].tolist()),
    }


def require_targets(sp: StatePoint) -> None:
    """Clear error when a state point has no isoconfigurational displacements."""
    if sp.times is None or not sp.has(keys.ISO_DISPLACEMENTS):
        raise InputError(
            f"store {sp.store_path} group {sp.name} has no {keys.ISO_DISPLACEMENTS}: training needs "
            "isoconfigurational runs; run `glassdyn simulate` with --replicas > 0"
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
    spec = config.graph_spec()
    split: dict[str, dict[str, list[int]]] = {}
    times: dict[str, list[float]] = {}
    n_times = None
    for T in all_temps:
        sp = store.state(T)
        training = any(abs(T - t) < 5e-4 for t in train_temps)
        if training:
            require_targets(sp)
        if sp.times is None:
            continue
        idx = spec.time_indices(len(sp.times))
        if training:
            if n_times is not None and len(idx) != n_times:
                raise InputError(
                    f"temperatures of {store.path} have different numbers of selected times ({n_times} vs {len(idx)} at T={T:g}); pass --times"
                )
            n_times = len(idx)
        completed = sp.completed
        if config.max_configs is not None:
            completed = completed[: config.max_configs]
        key = f"{T:g}"
        times[key] = [float(sp.times[k]) for k in idx]
        if training:
            split[key] = split_configs(
                completed, config.seed, T, config.val_fraction, config.test_fraction
            )
            if not split[key]["train"]:
                raise InputError(
                    f"store {store.path} T={T:g} has {len(completed)} completed configurations: too few to train on"
                )
        else:
            split[key] = {"train": [], "val": [], "test": completed.tolist(), "held_out": True}
    return split, times


def write_run_file(
    out: Path, config: TrainConfig, split: dict, times: dict, extra: dict | None = None
) -> None:
    from glassdyn.nn.checkpoint import versions

    info = {
        "kind": config.model,
        "train_config": config.to_dict(),
        "graph_spec": asdict(config.graph_spec()),
        "split": split,
        "times": times,
        "versions": versions(),
        **(extra or {}),
    }
    tmp = out / f"{RUN_FILE}.{os.getpid()}.tmp"  # atomic: readers never see half a file
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, out / RUN_FILE)


def read_run_file(run_dir: str | os.PathLike) -> dict:
    p = Path(run_dir) / RUN_FILE
    if not p.exists():
        raise InputError(
            f"{run_dir} is not a glassdyn run directory (no {RUN_FILE}); train one with `glassdyn train --out {run_dir}`"
        )
    return json.loads(p.read_text())


def _check_resumable(run_dir: Path, config: TrainConfig) -> None:
    p = run_dir / RUN_FILE
    if not p.exists():
        return
    old = TrainConfig.from_dict(read_run_file(run_dir)["train_config"]).to_dict()
    new = config.to_dict()
    diff = [k for k in new if k not in _RESUMABLE and old.get(k) != new[k]]
    if diff:
        k = diff[0]
        raise InputError(
            f"{run_dir} holds a run with different settings ({k}: {old.get(k)!r} there, {new[k]!r} now); "
            "use another --out, or the same settings to resume it"
        )


# --------------------------------------------------------------------------- training
def train(config: TrainConfig) -> Path:
    """Train (or resume) the run ``config`` describes; returns the run directory."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_resumable(out, config)
    store = Store.open(config.data)
    split, times = plan(store, config)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 writes
        extra = {"data_path": str(Path(config.data).resolve())}
        if config.model != "ridge":
            extra["phases"] = [
                {"phase": PRETRAIN, "epochs": [0, config.pretrain_epochs], "p": 0.0},
                {
                    "phase": TRAIN,
                    "epochs": [config.pretrain_epochs, config.total_epochs],
                    "p": config.p,
                },
            ][0 if config.pretrain_epochs else 1 :]
        write_run_file(out, config, split, times, extra)
    if config.model == "ridge":
        return _train_ridge(store, config, split, out)
    return _train_gnn(store, config, split, out)


def _graphs(store: Store, split: dict, part: str, spec, cache, progress: bool = False) -> list:
    from tqdm.auto import tqdm

    todo = [(float(T), c) for T, s in split.items() for c in s[part]]
    return [
        cache.get(store.state(T), c, spec)
        for T, c in tqdm(todo, desc=f"graphs ({part})", disable=not progress, leave=False)
    ]


def _normalization(graphs: list, model) -> None:
    import torch

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


def batch_loss(model, batch, config: TrainConfig, forward=None):
    """Total loss of one batch (normalised units) and its parts, for training and validation.

    ``forward`` runs the model (the DDP wrapper when distributed); ``model`` holds the buffers.
    """
    import torch

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
        loss = botan_loss(out["node"], y, out["edge"], ye, config.p)
    else:
        loss = botan_loss(out["node"], y, None, None)
    parts["mobility"] = float(loss.detach())
    if out["temperature"] is not None and config.temperature_weight > 0:
        tl = temperature_loss(
            out["temperature"], (batch.temperature - model.temperature_mean) / model.temperature_std
        )
        parts["temperature"] = float(tl.detach())
        loss = loss + config.temperature_weight * tl
    if config.heterogeneity_weight > 0:
        hl = heterogeneity_loss(
            out["node"],
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


def _validate(model, loader, config, device) -> dict:
    import torch

    from glassdyn.metrics import pearson

    def mean_r(p, t):
        return np.nanmean([pearson(p[:, k], t[:, k]) for k in range(p.shape[1])])

    model.eval()
    losses, rs, rs_edge = [], [], []
    with torch.no_grad():
        for batch in loader:
            batch = batch.to(device)
            loss, _, out = batch_loss(model, batch, config)
            losses.append(float(loss.detach()))
            m = batch.node_mask.cpu().numpy()
            rs.append(mean_r(out["node"].cpu().numpy()[m], batch.y.cpu().numpy()[m]))
            if out.get("edge") is not None:
                me = batch.edge_mask.cpu().numpy()
                rs_edge.append(
                    mean_r(out["edge"].cpu().numpy()[me], batch.y_edge.cpu().numpy()[me])
                )
    model.train()
    record = {
        "val_loss": float(np.mean(losses)),
        "val_node_pearson": float(np.nanmean(rs)) if rs else float("nan"),
    }
    if rs_edge:
        record["val_edge_pearson"] = float(np.nanmean(rs_edge))
    return record


def init_weights(model, source: str | os.PathLike, device=None) -> Path:
    """Load another run's weights (``source``: run directory -> its best.pt, or a checkpoint file)
    into ``model``; the architectures must match.  Normalisation buffers are not copied (this
    run's target statistics stay).  Returns the checkpoint path used."""
    from glassdyn.nn.checkpoint import load_checkpoint

    src = Path(source)
    path = src / "best.pt" if src.is_dir() else src
    if src.is_dir() and not path.exists():
        raise InputError(
            f"--init {src}: that run has no best.pt yet; train it first (or pass a checkpoint file)"
        )
    ckpt = load_checkpoint(path, map_location=device or "cpu")
    have, want = ckpt["model_config"], model.config.to_dict()
    diff = [k for k in want if have.get(k) != want[k]]
    if diff:
        what = ", ".join(f"{k}: {have.get(k)!r} there, {want[k]!r} here" for k in diff)
        raise InputError(
            f"--init {path}: its model does not match this run's ({what}); --init needs the same "
            "architecture: use the same --model, --hidden, --steps, --input, --edge-features, "
            "--times and decoder setting as the run it starts from"
        )
    params = {name for name, _ in model.named_parameters()}
    state = {k: v for k, v in ckpt["model_state"].items() if k in params}
    missing = params - set(state)
    if missing:
        raise InputError(f"--init {path}: the checkpoint lacks weights {sorted(missing)}")
    model.load_state_dict(state, strict=False)
    return path


def _train_gnn(store: Store, config: TrainConfig, split: dict, out: Path) -> Path:
    import torch
    from torch_geometric.loader import DataLoader
    from tqdm.auto import tqdm

    from glassdyn.distributed import DistContext
    from glassdyn.nn.checkpoint import load_checkpoint, load_state, save_checkpoint
    from glassdyn.nn.dataset import GraphCache, GraphDataset
    from glassdyn.nn.models import ModelConfig, build_model

    ddp = DistContext.from_env(config.device)
    device = ddp.device if ddp.enabled else resolve_device(config.device)
    if device.type == "cpu" and config.tune_allocator:
        from glassdyn.nn.allocator import tune_for_large_graphs

        tune_for_large_graphs()
    spec = config.graph_spec()
    cache = GraphCache(out / "graphs")
    train_graphs = _graphs(store, split, "train", spec, cache, config.progress)
    val_graphs = _graphs(store, split, "val", spec, cache, config.progress)
    K = train_graphs[0].y.shape[1]
    torch.manual_seed(config.seed)
    mc = ModelConfig(
        kind=config.model,
        n_types=2,
        node_dim=spec.node_dim,
        edge_dim=spec.edge_dim,
        n_outputs=K,
        hidden=config.hidden,
        steps=config.steps,
        shared_decoder=config.shared_decoder,
    )
    model = build_model(mc)
    _normalization(train_graphs, model)
    model.to(device)
    last = out / "last.pt"
    init_path = None
    if config.init is not None:  # checked (and recorded) on resume too: a clear error, not a mix
        init_path = init_weights(model, config.init, device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    aug = torch.Generator().manual_seed(config.seed + 1)
    start, best, best_epoch, history = 0, math.inf, -1, []
    pretrain = {"epochs": config.pretrain_epochs, "best_val": math.inf, "best_epoch": -1}
    if last.exists():
        ckpt = load_checkpoint(last, kind=config.model, map_location=device)
        load_state(model, ckpt["model_state"], last)
        opt.load_state_dict(ckpt["optimizer_state"])
        gen.set_state(ckpt["rng"]["loader"])
        aug.set_state(ckpt["rng"]["augment"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        start, best, best_epoch, history = (
            ckpt["epoch"] + 1,
            ckpt["best_val"],
            ckpt["best_epoch"],
            ckpt["history"],
        )
        pretrain = ckpt.get("pretrain", pretrain)
    train_set = GraphDataset(train_graphs, spec, augment=config.augment, generator=aug)
    sampler = ddp.sampler(train_set, config.seed)
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=gen,
    )
    net = ddp.wrap(model)
    val_loader = (
        DataLoader(GraphDataset(val_graphs, spec), batch_size=config.batch_size)
        if val_graphs
        else None
    )
    model.train()
    bar = tqdm(
        range(start, config.total_epochs),
        desc=f"{config.phase(start)} {config.model}",
        initial=start,
        total=config.total_epochs,
        disable=not (config.progress and ddp.is_main),
    )
    for epoch in bar:
        phase = config.phase(epoch)
        if phase == TRAIN and epoch == config.pretrain_epochs > 0:
            # phase change: start from pre-training's best-on-validation weights, fresh Adam
            ddp.barrier()  # rank 0 has written pretrain_best.pt
            ckpt = load_checkpoint(out / PRETRAIN_BEST, kind=config.model, map_location=device)
            load_state(model, ckpt["model_state"], out / PRETRAIN_BEST)
            opt = torch.optim.Adam(model.parameters(), lr=config.lr)
            best, best_epoch = math.inf, -1
            bar.set_description(f"{TRAIN} {config.model}")
        phase_config = config.for_phase(phase)
        if sampler is not None:
            sampler.set_epoch(epoch)
        for group in opt.param_groups:
            group["lr"] = learning_rate(config, epoch)
        losses = []
        for batch in loader:
            batch = batch.to(device)
            opt.zero_grad(set_to_none=True)
            loss, _parts, _ = batch_loss(model, batch, phase_config, forward=net)
            loss.backward()
            if config.grad_clip and config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses):.4f}", refresh=False)
        record = {"epoch": epoch, "phase": phase, "train_loss": float(np.mean(losses))}
        if val_loader is not None:
            record.update(_validate(model, val_loader, phase_config, device))
            score = record["val_loss"]
        else:
            score = record["train_loss"]  # no validation configurations: keep the last epoch
        history.append(record)
        improved = score <= best or val_loader is None
        if improved:
            best, best_epoch = score, epoch
            if phase == PRETRAIN:
                pretrain = {**pretrain, "best_val": best, "best_epoch": best_epoch}
        bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k not in ("epoch", "phase")})
        extra = {
            "train_config": config.to_dict(),
            "graph_spec": asdict(spec),
            "split": split,
            "epoch": epoch,
            "phase": phase,
            "best_val": best,
            "best_epoch": best_epoch,
            "pretrain": pretrain,
            "init": str(init_path) if init_path else None,
            "history": history,
        }
        if not ddp.is_main:
            continue
        if improved:
            save_checkpoint(
                out / (PRETRAIN_BEST if phase == PRETRAIN else "best.pt"), model, **extra
            )
        save_checkpoint(
            last,
            model,
            optimizer_state=opt.state_dict(),
            rng={
                "loader": gen.get_state(),
                "augment": aug.get_state(),
                "torch": torch.get_rng_state(),
            },
            **extra,
        )
        (out / "history.json").write_text(json.dumps(history, indent=1))
    bar.close()
    if config.epochs == 0 and config.pretrain_epochs > 0 and ddp.is_main:
        # pre-training only: its best weights are the run's model
        import shutil

        shutil.copyfile(out / PRETRAIN_BEST, out / "best.pt")
    ddp.barrier()
    ddp.close()
    return out


def _ridge_samples(store: Store, split: dict, part: str, spec, inherent: bool) -> list:
    from glassdyn.nn.descriptors import local_descriptors

    samples = []
    for T, s in split.items():
        sp = store.state(float(T))
        for c in s[part]:
            idx = spec.time_indices(len(sp.times))
            feats = local_descriptors(
                sp.read(keys.THERMAL_POSITIONS, c),
                sp.read(keys.TYPES, c),
                sp.read(keys.BOX, c),
                sp.read(keys.INHERENT_POSITIONS, c) if inherent else None,
            )
            y = sp.read(keys.ISO_PROPENSITY, c)[idx].T  # (N, K)
            samples.append((feats, sp.read(keys.TYPES, c), y))
    return samples


def _train_ridge(store: Store, config: TrainConfig, split: dict, out: Path) -> Path:
    from glassdyn.nn.descriptors import descriptor_names
    from glassdyn.nn.ridge import fit_ridge

    spec = config.graph_spec()
    inherent = all(store.state(float(T)).has(keys.INHERENT_POSITIONS) for T in split)
    train_s = _ridge_samples(store, split, "train", spec, inherent)
    val_s = _ridge_samples(store, split, "val", spec, inherent)
    model = fit_ridge(train_s, val_s, descriptor_names(inherent), inherent)
    model.save(out / "ridge.npz")
    return out
