"""What a user sets on a generative model from outside: the network of a fit, and the sampler.

:class:`NetworkOptions` holds the network settings ``glassdyn gen fit`` offers (width, coupling
layers, transformer blocks, network, the physics term) and turns them into the model's own typed
config (:meth:`NetworkOptions.model_config`: :class:`~glassdyn.gen.coupling.FlowConfig`,
:class:`~glassdyn.gen.cnf.CNFConfig` or :class:`~glassdyn.gen.diffusion.DiffusionConfig`),
refusing a setting the model does not have.  :class:`SamplerOptions` says how a fitted model
samples (``glassdyn gen sample / evaluate``); :meth:`SamplerOptions.apply` is the one place that
sets a model's sampler attributes.  The help of every field is what the command line shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from glassdyn.data.errors import InputError
from glassdyn.data.settings import setting
from glassdyn.gen.cnf import CNFConfig
from glassdyn.gen.coupling import FlowConfig
from glassdyn.gen.diffusion import DiffusionConfig

MODELS = ("cnf", "flow", "diffusion")
NETWORKS = ("pair", "local", "transformer")
SAMPLERS = ("sde", "ode")


def model_config_class(kind: str) -> type:
    """The frozen config dataclass of model ``kind`` (flow, cnf, diffusion)."""
    if kind not in MODELS:
        raise InputError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
    return {"flow": FlowConfig, "cnf": CNFConfig, "diffusion": DiffusionConfig}[kind]


def as_model_config(kind: str, settings=None):
    """The typed config of model ``kind`` from ``settings``: None (the model's defaults), a dict
    of its fields (a run file, or the keyword arguments of a script) or a config already."""
    cls = model_config_class(kind)
    if settings is None:
        return cls()
    if isinstance(settings, cls) and type(settings) is cls:
        return settings
    if not isinstance(settings, dict):
        raise InputError(f"the {kind} model takes a {cls.__name__}, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(cls.__dataclass_fields__))
    if unknown:
        raise InputError(
            f"the {kind} model has no setting {unknown[0]!r}; its settings are "
            f"{', '.join(cls.__dataclass_fields__)}"
        )
    return cls(**settings)


# the defaults of networks recorded before a field existed: (that field, the defaults then)
EARLIER_DEFAULTS = {
    "flow": ("network", {"network": "transformer", "n_layers": 6}),  # before the pair network
    "cnf": ("cooling_scale", {"cooling_scale": False}),
}


def complete_arch(kind: str, arch: dict) -> dict:
    """A recorded network of model ``kind`` (run.json, a checkpoint) with the defaults of the
    glassdyn that wrote it: a record that predates a field takes that day's values."""
    field, then = EARLIER_DEFAULTS.get(kind, (None, {}))
    if field is None or field in arch:
        return dict(arch)
    return {**then, **arch}


def build_generative_model(kind: str, arch=None):
    """The untrained model ``kind`` (flow, cnf, diffusion) with network config ``arch`` (a
    config, a dict of its fields, or None for the defaults: :func:`as_model_config`)."""
    cfg = as_model_config(kind, arch)
    if kind == "flow":
        from glassdyn.gen.coupling import CouplingFlow

        return CouplingFlow(cfg)
    if kind == "cnf":
        from glassdyn.gen.cnf import ContinuousTransport

        return ContinuousTransport(cfg)
    from glassdyn.gen.diffusion import ScoreDiffusion

    return ScoreDiffusion(cfg)


@dataclass(frozen=True)
class NetworkOptions:
    """The network settings of ``glassdyn gen fit`` (None: the model's default)."""

    hidden: int | None = setting(None, "network width")
    layers: int | None = setting(None, "coupling layers (flow)")
    blocks: int | None = setting(None, "transformer blocks per network")
    network: str | None = setting(
        None,
        "cnf: pair (default; a learned pair force, exact divergence for any N), local (learned "
        "neighbour densities) or transformer: both many-body, divergence exact up to N=32 and "
        "Hutchinson's estimator with the cumulant bias correction above; flow: pair (default; "
        "each moved coordinate's spline passes through the displacements a learned pair force "
        "gives on knots finer than the cage) or transformer (spline parameters from a "
        "transformer over particles); diffusion: local (default) or transformer",
        choices=NETWORKS,
    )
    steps: int | None = setting(None, "cnf: RK4 steps of the transport (default 8)")
    physics: bool = setting(True, "diffusion: the capped-KA-force term in the score")
    physics_sigma: float | None = setting(
        None,
        "diffusion: noise level over which the KA-force term fades, exp(-(sigma/SIGMA)^2) "
        f"(default {DiffusionConfig.prior_sigma})",
    )

    def model_config(self, kind: str):
        """The typed config of model ``kind`` with these settings (the others its defaults)."""
        given = {"hidden": self.hidden, "blocks": self.blocks}
        if self.hidden is not None and self.hidden < 1:
            raise InputError(f"--hidden must be >= 1, got {self.hidden}")
        if self.blocks is not None and self.blocks < 1:
            raise InputError(f"--blocks must be >= 1, got {self.blocks}")
        only = {
            "--layers": (self.layers is not None, ("flow",)),
            "--network": (self.network is not None, ("cnf", "flow", "diffusion")),
            "--no-physics": (not self.physics, ("diffusion",)),
            "--physics-sigma": (self.physics_sigma is not None, ("diffusion",)),
        }
        for flag, (set_, kinds) in only.items():
            if set_ and kind not in kinds:
                raise InputError(f"{flag} applies to --model {' or '.join(kinds)}, not {kind}")
        if self.network == "pair" and kind == "diffusion":
            raise InputError(
                "--network pair applies to --model cnf or flow; diffusion takes local or transformer"
            )
        if self.network == "local" and kind == "flow":
            raise InputError(
                "--network local applies to --model cnf or diffusion; flow takes pair or transformer"
            )
        if self.steps is not None:
            if kind != "cnf":
                raise InputError(f"--steps applies to --model cnf, not {kind}")
            if self.steps < 1:
                raise InputError(f"--steps must be >= 1, got {self.steps}")
            given["steps"] = self.steps
        if self.layers is not None:
            if self.layers < 1:
                raise InputError(f"--layers must be >= 1, got {self.layers}")
            given["n_layers"] = self.layers
        given["network"] = self.network
        if kind == "diffusion":
            if not self.physics:
                given["prior_force_cap"] = 0.0
            if self.physics_sigma is not None:
                if not self.physics_sigma > 0:
                    raise InputError(f"--physics-sigma must be positive, got {self.physics_sigma}")
                given["prior_sigma"] = self.physics_sigma
        return as_model_config(kind, {k: v for k, v in given.items() if v is not None})


@dataclass(frozen=True)
class SamplerOptions:
    """How a fitted model samples (None: the run's own setting)."""

    sampler: str | None = setting(
        None,
        "diffusion: reverse SDE with Langevin correction (default; better samples, no density) "
        "or the probability-flow ODE (log q, importance weights, Metropolis-Hastings)",
        choices=SAMPLERS,
    )
    steps: int | None = setting(None, "cnf / diffusion: steps of the sampler (default: the run's)")
    correctors: int | None = setting(
        None,
        "diffusion SDE: Langevin steps per noise level (default: the run's, "
        f"{DiffusionConfig.corrector_steps} unless fitted otherwise)",
    )
    snr: float | None = setting(
        None,
        f"diffusion SDE: Langevin signal-to-noise ratio (default: the run's, {DiffusionConfig.snr} "
        "unless fitted otherwise)",
    )
    final_correctors: int | None = setting(
        None, "diffusion SDE: extra Langevin steps at the smallest noise level (default 0)"
    )

    def __post_init__(self) -> None:
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise InputError(
                f"--sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}"
            )
        if self.steps is not None and self.steps < 1:
            raise InputError(f"--steps must be positive, got {self.steps}")
        for flag, value in (
            ("--correctors", self.correctors),
            ("--final-correctors", self.final_correctors),
        ):
            if value is not None and value < 0:
                raise InputError(f"{flag} must be >= 0, got {value}")
        if self.snr is not None and not self.snr > 0:
            raise InputError(f"--snr must be positive, got {self.snr}")

    def apply(self, model) -> None:
        """Set the sampler of a fitted ``model``; an option its kind has not is refused."""
        if model.kind != "diffusion":
            for flag, value in (
                ("--sampler", self.sampler),
                ("--correctors", self.correctors),
                ("--snr", self.snr),
                ("--final-correctors", self.final_correctors),
            ):
                if value is not None:
                    raise InputError(f"{flag} applies to diffusion runs, not to a {model.kind} run")
            if self.steps is not None and not hasattr(model, "steps"):
                raise InputError(
                    f"--steps applies to cnf and diffusion runs, not to a {model.kind} run"
                )
        if model.kind == "diffusion":
            model.sampler = self.sampler or "sde"
            if self.correctors is not None:
                model.corrector_steps = self.correctors
            if self.snr is not None:
                model.snr = self.snr
            if self.final_correctors is not None:
                model.final_correctors = self.final_correctors
            if self.steps is not None and model.sampler == "sde":
                model.sde_steps = self.steps
                return
        if self.steps is not None:
            model.steps = self.steps
