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
in LJ units.  The epoch loop itself is :mod:`glassdyn.nn.training_loop`.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from glassdyn.data import keys, runs
from glassdyn.data.errors import InputError
from glassdyn.data.runs import RUN_FILE, read_run_file, resolve_device  # noqa: F401  (public names)
from glassdyn.data.settings import setting
from glassdyn.data.splits import check_same_data, fingerprint, plan_splits, split_configs  # noqa: F401
from glassdyn.data.store import StatePoint, Store

MODELS = ("botan", "tbotan", "bapst", "ridge", "mlp")
BASELINES = ("ridge", "mlp")  # descriptor models (glassdyn.nn.baselines): no epochs, no weights
PRECISIONS = ("fp32", "bf16")
PRETRAIN, TRAIN = "pretrain", "train"
PRETRAIN_BEST = "pretrain_best.pt"
BASELINE_FIELDS = (
    keys.TYPES,
    keys.BOX,
    keys.THERMAL_POSITIONS,
    keys.INHERENT_POSITIONS,
    keys.ISO_PROPENSITY,
)


# what runs written before a field existed were trained with (run.json lacks the field)
LEGACY = {
    "node_features": "type",
    "node_vectors": False,
    "skip": False,
    "readout_hops": 0,
    "shared_decoder": True,
}
# fields run.json files of earlier versions name otherwise: old name -> TrainConfig field
RENAMED = {"p": "node_weight"}
INPUT_CHOICES = ("auto", "ts", "is", "ts+is")
NODE_FEATURE_CHOICES = ("auto", "type", "descriptors")


@dataclass(frozen=True)
class TrainConfig:
    """One training job: each field says what it does (its help is ``glassdyn train --help``).

    The ``auto`` / None inputs resolve against the store (:func:`resolve_inputs`): with inherent
    structures ts+is, descriptors, TS -> IS vectors and the skip; without, ts, descriptors and
    the skip.  The loss is BOTAN's p MSE_node + (1 - p) MSE_edge (Bapst: node only) plus
    T-BOTAN's temperature term and the optional heterogeneity penalty; targets are normalised
    per time.  ``lr`` 1e-3 converges faster from scratch; the reference uses 1e-4 after
    pre-training.
    """

    data: str = setting(help="glassdyn Zarr store with isoconfigurational displacements")
    out: str = setting(help="run directory (checkpoints, run.json, cached graphs)")
    model: str = setting(
        "botan",
        "graph networks, or ridge / mlp on coarse-grained descriptors (IS descriptors added "
        "when the store has inherent structures: `glassdyn quench`)",
        choices=MODELS,
    )
    input: str = setting(
        "auto",
        "thermal structure, inherent structure or both (auto: ts+is when every configuration "
        "has an inherent structure, else ts)",
        choices=INPUT_CHOICES,
    )
    edge_features: str = setting(
        "vector",
        "relative vectors with cube-symmetry augmentation (BOTAN) or rotation-invariant features",
        choices=("vector", "invariant"),
    )
    times: tuple[int, ...] | None = setting(
        None, "'all' (default: one multi-time model) or time indices, e.g. 7 or 3,7"
    )
    train_temperatures: tuple[float, ...] | None = setting(
        None,
        "temperatures to train on (default all); the others are held out for evaluate/predict",
    )
    epochs: int = setting(100, "training epochs (after --pretrain-epochs)")
    node_weight: float = setting(
        0.4,
        "node weight p of the BOTAN loss p MSE_node + (1-p) MSE_edge (BOTAN's paper calls it p)",
    )
    pretrain_epochs: int = setting(
        0,
        "BOTAN's published recipe: first E0 epochs on the edge target alone (p=0, best on "
        "validation kept as pretrain_best.pt), then --epochs with --p from those weights",
    )
    init: str | None = setting(
        None,
        "start from the weights of another run (its best.pt) or a checkpoint file; same "
        "architecture (extra inputs start at zero)",
    )
    temperature_weight: float = setting(1.0, "T-BOTAN temperature loss weight (normalised T)")
    heterogeneity_weight: float = setting(
        0.0, "weight of the GlassMLP-style spread/correlation penalty (0 = off)"
    )
    lr: float = setting(1e-3, "Adam learning rate")
    lr_schedule: str = setting(
        "constant",
        "constant (as published) or cosine decay to lr/100 over the epochs (of each phase)",
        choices=("constant", "cosine"),
    )
    grad_clip: float = setting(1.0, "gradient-norm clipping (0: none)")
    batch_size: int = setting(1, "graphs per optimiser step")
    hidden: int = setting(64, "MLP width")
    steps: int = setting(7, "message-passing steps")
    shared_decoder: bool | None = setting(
        None,
        "one decoder for nodes and edges, as the reference (default: shared unless "
        "--readout-hops > 0)",
    )
    node_features: str = setting(
        "auto",
        "graph networks' node input: the particle type alone (BOTAN as published) or with the "
        "coarse-grained descriptors of the input structures (auto: descriptors)",
        choices=NODE_FEATURE_CHOICES,
    )
    node_vectors: bool | None = setting(
        None,
        "feed each particle's TS -> IS displacement vector (default: with inherent structures)",
    )
    skip: bool | None = setting(
        None,
        "a linear skip from the descriptors to the node output, started at the ridge solution "
        "(default: with descriptors)",
    )
    readout_hops: int = setting(
        2,
        "coarse-grained node readout: decode [x, C x, C^2 x] with C the neighbour average of "
        "Boattini et al. (0: BOTAN's plain decoder)",
    )
    max_minutes: float | None = setting(
        None,
        "stop cleanly after the epoch that passes this wall time; rerun the same command to "
        "continue",
    )
    cutoff: float = setting(2.0, "graph radius (sigma_AA)")
    augment: bool = setting(True, "cube-symmetry augmentation of the training graphs")
    val_fraction: float = setting(0.1, "validation configurations per temperature")
    test_fraction: float = setting(0.2, "test configurations per temperature, never trained on")
    max_configs: int | None = setting(
        None, "use at most this many configurations per temperature"
    )
    seed: int = setting(0, "seed of the split, the initial weights and the batches")
    device: str = setting("auto", "auto | cpu | cuda[:N]")
    progress: bool = setting(True, "progress bars")
    tune_allocator: bool = setting(
        True,
        "on CPU, keep large tensors in glibc's heap (glassdyn.nn.allocator; process-wide; "
        "measured 1.35 s instead of 2.13 s of CPU time per N=4096 BOTAN step)",
    )
    precision: str = setting(
        "fp32",
        "bf16: forward under bfloat16 autocast (products in bfloat16, sums and weights in "
        "float32; faster on CPUs with avx512_bf16 and GPUs)",
        choices=PRECISIONS,
    )

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"--precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise InputError(f"--lr-schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.model not in MODELS:
            raise InputError(f"--model must be one of {MODELS}, got {self.model!r}")
        if self.input not in INPUT_CHOICES:
            raise InputError(f"--input must be one of {INPUT_CHOICES}, got {self.input!r}")
        if self.node_features not in NODE_FEATURE_CHOICES:
            raise InputError(
                f"--node-features must be one of {NODE_FEATURE_CHOICES}, got {self.node_features!r}"
            )
        if self.node_vectors and self.input == "ts":
            raise InputError(
                "--node-vectors feeds the TS -> IS displacement: it needs --input ts+is or is "
                "(and inherent structures: `glassdyn quench STORE`)"
            )
        if self.skip and self.node_features == "type":
            raise InputError("--skip is a linear map of the descriptors: it needs --node-features descriptors")
        if self.readout_hops and self.shared_decoder:
            raise InputError(
                "a coarse-grained readout (--readout-hops > 0) decodes nodes and edges separately: "
                "drop --shared-decoder or pass --readout-hops 0"
            )
        if not 0.0 <= self.node_weight <= 1.0:
            raise InputError(f"--p (--node-weight) must lie in [0, 1], got {self.node_weight}")
        _check_numbers(self)
        if self.pretrain_epochs and self.model not in ("botan", "tbotan"):
            raise InputError(
                f"--pretrain-epochs trains on the edge target, which --model {self.model} has no head for; "
                "use --model botan or tbotan, or drop --pretrain-epochs"
            )
        if self.init is not None and self.model in BASELINES:
            raise InputError(
                f"--init starts a graph network from saved weights; --model {self.model} has none to start from"
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
            return replace(self, node_weight=0.0, temperature_weight=0.0, heterogeneity_weight=0.0)
        return self

    @property
    def resolved(self) -> bool:
        """Whether no input setting is left to ``auto`` (see :func:`resolve_inputs`)."""
        return self.input != "auto" and self.node_features != "auto" and None not in (
            self.node_vectors,
            self.skip,
            self.shared_decoder,
        )

    def graph_spec(self):
        from glassdyn.nn.dataset import GraphSpec

        if not self.resolved:
            raise InputError("internal: resolve the 'auto' inputs against a store first")
        return GraphSpec(
            input=self.input,
            edge_features=self.edge_features,
            cutoff=self.cutoff,
            times=self.times,
            node_features=self.node_features,
            node_vectors=self.node_vectors,
        )

    def data_fields(self) -> tuple[str, ...]:
        """The store paths this run reads per configuration (what its data fingerprint covers)."""
        if self.model in BASELINES:
            return BASELINE_FIELDS
        from glassdyn.nn.dataset import graph_fields

        return graph_fields(self.graph_spec(), targets=True)

    def to_dict(self) -> dict:
        d = asdict(self)
        for name in ("times", "train_temperatures"):
            if d[name] is not None:
                d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """A config from run.json; fields a run predates take the values it was trained with,
        fields it knew by another name (:data:`RENAMED`) are read under their new one."""
        names = {f.name for f in fields(cls)}
        d = {RENAMED.get(k, k): v for k, v in d.items()}
        return cls(**{**LEGACY, **{k: v for k, v in d.items() if k in names}})


def _check_numbers(c: TrainConfig) -> None:
    """One clear line for a number no training can run with (before anything is read or written)."""
    if c.epochs < 0 or c.pretrain_epochs < 0:
        raise InputError(
            f"--epochs and --pretrain-epochs must be >= 0, got {c.epochs} and {c.pretrain_epochs}"
        )
    checks = (
        ("--batch-size", c.batch_size, c.batch_size >= 1, ">= 1"),
        ("--lr", c.lr, math.isfinite(c.lr) and c.lr > 0, "a positive number, e.g. 1e-3"),
        ("--hidden", c.hidden, c.hidden >= 1, ">= 1 (the MLP width, e.g. 64)"),
        ("--steps", c.steps, c.steps >= 0, ">= 0 (message-passing steps, e.g. 7)"),
        ("--grad-clip", c.grad_clip, c.grad_clip >= 0, ">= 0 (0: no clipping)"),
        ("--cutoff", c.cutoff, math.isfinite(c.cutoff) and c.cutoff > 0, "positive (sigma_AA)"),
        ("--temperature-weight", c.temperature_weight, c.temperature_weight >= 0, ">= 0"),
        ("--heterogeneity-weight", c.heterogeneity_weight, c.heterogeneity_weight >= 0, ">= 0"),
        ("--max-configs", c.max_configs, c.max_configs is None or c.max_configs >= 1, ">= 1"),
        ("--readout-hops", c.readout_hops, c.readout_hops >= 0, ">= 0 (0: BOTAN's plain decoder)"),
        (
            "--max-minutes",
            c.max_minutes,
            c.max_minutes is None or (math.isfinite(c.max_minutes) and c.max_minutes > 0),
            "a positive number of minutes",
        ),
    )
    for flag, value, ok, want in checks:
        if not ok:
            raise InputError(f"{flag} must be {want}, got {value}")


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
    run directory is created or touched; under ``torchrun`` only rank 0 writes."""
    out = Path(config.out)
    if config.model not in BASELINES and config.total_epochs < 1:  # a config may hold 0 (converted runs)
        raise InputError(
            f"--epochs must be >= 1 (or --pretrain-epochs >= 1 for a pre-training-only run), got "
            f"--epochs {config.epochs} --pretrain-epochs {config.pretrain_epochs}: nothing would be trained"
        )
    store = Store.open(config.data)
    config = resolve_inputs(store, config)
    split, times = plan(store, config)
    trained = {k: s for k, s in split.items() if not s.get("held_out")}
    fp = fingerprint(store, trained, config.data_fields())
    main = int(os.environ.get("RANK", "0")) == 0
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
