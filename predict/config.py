"""The settings of one training job (:class:`TrainConfig`): every field with its default, its
help (what ``glassdyn train --help`` shows) and its checks, and how run.json files of earlier
versions read (:data:`LEGACY`, :data:`RENAMED`).  Training itself is
:mod:`glassdyn.predict.training`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.run_engine import max_minutes_setting
from glassdyn.data.settings import setting
from glassdyn.data.splits import split_settings

from glassdyn.nn.descriptors import CG_LENGTHS, INPUTS, input_structures

MODELS = ("botan", "tbotan", "bapst", "ridge", "mlp")
BASELINES = (
    "ridge",
    "mlp",
)  # descriptor models (glassdyn.predict.baselines): no epochs, no weights
PRECISIONS = ("fp32", "bf16")
PRETRAIN, TRAIN = "pretrain", "train"
START = "start"  # the history record of a starting point that competes for best.pt
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
    "cg_lengths": (1.0, 2.0),
    "energy_thermometer": False,
}
# fields run.json files of earlier versions name otherwise: old name -> TrainConfig field
RENAMED = {"p": "node_weight"}
INPUT_CHOICES = ("auto", *INPUTS)
_SPLIT = split_settings()
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
        "thermal structure (ts), inherent structure (is), cage state (cage, `glassdyn cage`) "
        "or a combination, e.g. is+cage (auto: ts+is when every configuration has an inherent "
        "structure, else ts; with cage states, the best of those and ts+cage, ts+is+cage for "
        "ridge, leave-one-configuration-out over the non-test configurations)",
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
    energy_thermometer: bool = setting(
        True,
        "T-BOTAN's temperature read-out starts from a thermometer linear in the energy per "
        "particle (fitted on the training configurations) and learns a correction from zero",
    )
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
    ema: float = setting(
        0.0,
        "GNNs: decay of a moving average of the weights, updated every step (e.g. 0.99); "
        "validation, best.pt and the kept weights are the average's, which smooths the choice of "
        "the best epoch on few validation files (0: off)",
    )
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
    max_minutes: float | None = max_minutes_setting()
    cutoff: float = setting(2.0, "graph radius (sigma_AA)")
    cg_lengths: tuple[float, ...] = setting(
        CG_LENGTHS,
        "coarse-graining lengths a (sigma_AA) of the descriptors: each local descriptor is also "
        "averaged over neighbours with weights exp(-r/a), r < 2a",
    )
    augment: bool = setting(True, "cube-symmetry augmentation of the training graphs")
    val_fraction: float = _SPLIT["val_fraction"]
    test_fraction: float = _SPLIT["test_fraction"]
    max_configs: int | None = _SPLIT["max_configs"]
    max_train: int | None = setting(
        None,
        "train on the first N training configurations per temperature only (validation and test "
        "unchanged, subsets nested: learning curves)",
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
                "--node-vectors feeds the TS -> IS displacement (or TS -> cage): it needs --input ts+is "
                "or is, or one with cage (and inherent structures: `glassdyn quench STORE`)"
            )
        if self.skip and self.node_features == "type":
            raise InputError(
                "--skip is a linear map of the descriptors: it needs --node-features descriptors"
            )
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
        if self.ema and self.model in BASELINES:
            raise InputError(
                f"--ema averages a graph network's weights over its steps; --model {self.model} "
                "has none: drop --ema, or use --model botan, tbotan or bapst"
            )
        if self.init is not None:
            object.__setattr__(self, "init", str(self.init))
        if self.model != "tbotan":  # only T-BOTAN reads a temperature: the others record False
            object.__setattr__(self, "energy_thermometer", False)
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
        object.__setattr__(self, "cg_lengths", tuple(float(a) for a in self.cg_lengths))

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
        return (
            self.input != "auto"
            and self.node_features != "auto"
            and None
            not in (
                self.node_vectors,
                self.skip,
                self.shared_decoder,
                self.cg_lengths,
            )
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
            cg_lengths=self.cg_lengths,
        )

    def data_fields(self) -> tuple[str, ...]:
        """The store paths this run reads per configuration (what its data fingerprint covers)."""
        if self.model in BASELINES:
            cage = self.input != "auto" and "cage" in input_structures(self.input)
            return BASELINE_FIELDS + ((keys.CAGE_POSITIONS,) if cage else ())
        from glassdyn.nn.dataset import graph_fields

        return graph_fields(self.graph_spec(), targets=True)

    def to_dict(self) -> dict:
        d = asdict(self)
        for name in ("times", "train_temperatures", "cg_lengths"):
            if d[name] is not None:
                d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """A config from run.json; fields a run predates take the values it was trained with,
        fields it knew by another name (:data:`RENAMED`) are read under their new one."""
        names = {f.name for f in fields(cls)}
        d = {RENAMED.get(k, k): v for k, v in d.items()}
        if d.get("cg_lengths") is not None:
            d["cg_lengths"] = tuple(float(a) for a in d["cg_lengths"])
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
        ("--ema", c.ema, 0.0 <= c.ema < 1.0, "in [0, 1), e.g. 0.99 (0: off)"),
        ("--cutoff", c.cutoff, math.isfinite(c.cutoff) and c.cutoff > 0, "positive (sigma_AA)"),
        ("--temperature-weight", c.temperature_weight, c.temperature_weight >= 0, ">= 0"),
        ("--heterogeneity-weight", c.heterogeneity_weight, c.heterogeneity_weight >= 0, ">= 0"),
        ("--max-configs", c.max_configs, c.max_configs is None or c.max_configs >= 1, ">= 1"),
        ("--max-train", c.max_train, c.max_train is None or c.max_train >= 1, ">= 1"),
        ("--readout-hops", c.readout_hops, c.readout_hops >= 0, ">= 0 (0: BOTAN's plain decoder)"),
        (
            "--cg-lengths",
            ",".join(f"{a:g}" for a in c.cg_lengths or ()),
            all(math.isfinite(a) and a > 0 for a in c.cg_lengths or ()),
            "positive lengths in sigma_AA, e.g. 1,2,3",
        ),
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
