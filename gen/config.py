"""The settings of one generative fit (:class:`FitConfig`): every field with its default, its help
(what ``glassdyn gen fit --help`` shows) and its checks.  Fitting itself is
:mod:`glassdyn.gen.training`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

from glassdyn.data import keys, runs
from glassdyn.data.errors import InputError
from glassdyn.data.run_engine import max_minutes_setting
from glassdyn.data.settings import setting
from glassdyn.data.splits import split_settings
from glassdyn.gen.cnf import CNFConfig
from glassdyn.gen.coupling import FlowConfig
from glassdyn.gen.diffusion import DiffusionConfig
from glassdyn.gen.options import MODELS, as_model_config, complete_arch

_SPLIT = split_settings()
# Adam's learning rate per model when --lr is not given (runs record the one they used)
DEFAULT_LR = {"flow": 1e-4, "cnf": 1e-3, "diffusion": 1e-3}


@dataclass(frozen=True)
class FitConfig:
    """How to fit: each field says what it does (its help is ``glassdyn gen fit --help``).

    ``arch`` is the model's typed network config (:class:`~glassdyn.gen.coupling.FlowConfig`,
    :class:`~glassdyn.gen.cnf.CNFConfig`, :class:`~glassdyn.gen.diffusion.DiffusionConfig`; a
    dict of its fields is converted, None means its defaults: :mod:`glassdyn.gen.options`);
    ``val_fraction`` / ``test_fraction`` split each temperature's configurations as
    ``glassdyn train`` does (a store's recorded split, e.g. a BOTAN import, is honoured)."""

    model: str = setting(
        "cnf",
        "cnf: continuous flow carrying MD configurations of --base-temperature down to colder "
        "states (exact density); flow: coupling flow doing the same; diffusion: score-based "
        "diffusion from noise (no density: its samples are refined by Hybrid Monte Carlo)",
        choices=MODELS,
    )
    temperatures: tuple[float, ...] | None = setting(
        None,
        "state points to fit (the transports' target temperatures; default: every one of the "
        "store, below the base temperature for flow and cnf)",
    )
    base_temperature: float | None = setting(
        None,
        "flow / cnf: the temperature whose MD configurations are carried down: a store "
        "temperature, or any other (a bridged base: NVT equilibrated there for 10 tau_alpha from "
        "the store's nearest temperature above).  Default: with --temperatures, the nearest store "
        "temperature above the warmest target, else the store's highest; when the identity's "
        "log-weights from it to the warmest target spread more than 4 (|1/T - 1/T0| T0 "
        "sqrt(2N); 0.8 -> 0.64 at N=256), a bridged base at spread 3 (0.72)",
    )
    base_configs: int = setting(
        64,
        "flow / cnf: base configurations fitted on, made by NVT chains (2 tau_alpha apart) from "
        "the training configurations at the base temperature (a quarter as many for validation)",
    )
    likelihood_weight: float = setting(
        0.0,
        "flow / cnf: weight of the likelihood of the training configurations of the target "
        "temperatures (forward KL) beside the energy (reverse KL)",
    )
    flow_matching_weight: float = setting(
        0.0,
        "cnf: weight of conditional flow matching on the torus (simulation-free: the field "
        "regresses on the minimum-image displacement from a base configuration to a target "
        "training configuration, particles paired within each species by optimal assignment, "
        "at a uniform time on the straight path between them) beside the energy (reverse KL)",
    )
    source: str = setting("thermal", "the positions fitted on", choices=("thermal", "inherent"))
    epochs: int = setting(20, "training epochs")
    batch_size: int = setting(32, "configurations per optimiser step")
    lr: float | None = setting(
        None,
        "Adam learning rate (default: 1e-4 for flow, whose coupling layers' pair terms overshoot "
        "at 1e-3 between close temperatures; 1e-3 for cnf and diffusion)",
    )
    val_fraction: float = _SPLIT["val_fraction"]
    test_fraction: float = _SPLIT["test_fraction"]
    max_configs: int | None = _SPLIT["max_configs"]
    score_target: str = setting(
        "auto",
        "diffusion: regress on forces / T at small noise (target score matching; auto = on "
        "thermal data) or plain denoising score matching",
        choices=("auto", "denoising", "target"),
    )
    max_minutes: float | None = max_minutes_setting()
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
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.model])
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
            ("--likelihood-weight", self.likelihood_weight, self.likelihood_weight >= 0, ">= 0"),
            (
                "--flow-matching-weight",
                self.flow_matching_weight,
                self.flow_matching_weight >= 0
                and (self.flow_matching_weight == 0 or self.model == "cnf"),
                ">= 0, and used by --model cnf only",
            ),
            ("--base-configs", self.base_configs, self.base_configs >= 2, ">= 2"),
            (
                "--base-temperature",
                self.base_temperature,
                self.base_temperature is None or self.base_temperature > 0,
                "positive",
            ),
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
        known = {f.name: f for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if isinstance(d.get("arch"), dict):
            d["arch"] = complete_arch(d.get("model", known["model"].default), d["arch"])
        return cls(**d)

    def data_fields(self) -> tuple[str, ...]:
        """The store paths a fit reads per configuration (what its data fingerprint covers)."""
        pos = keys.THERMAL_POSITIONS if self.source == "thermal" else keys.INHERENT_POSITIONS
        return (keys.TYPES, keys.BOX, pos)
