"""Command-line options built from the configuration dataclasses: every flag of before, and
defaults that are the dataclasses' own (no second copy that could drift)."""

import argparse

import pytest
from glassdyn.data.errors import InputError
from glassdyn.gen.cnf import CNFConfig
from glassdyn.gen.config import FitConfig
from glassdyn.gen.coupling import FlowConfig
from glassdyn.gen.diffusion import DiffusionConfig
from glassdyn.gen.options import NetworkOptions, SamplerOptions
from glassdyn.predict.config import MODELS, TrainConfig

from glassdyn.commands import gen as gen_cmd
from glassdyn.commands import train as train_cmd
from glassdyn.commands.options import settings_from_args

# the flags `glassdyn train` had before its options were derived from TrainConfig
TRAIN_FLAGS = [
    "--data",
    "--model",
    "--out",
    "--input",
    "--node-features",
    "--node-vectors",
    "--no-node-vectors",
    "--skip",
    "--no-skip",
    "--readout-hops",
    "--max-minutes",
    "--edge-features",
    "--times",
    "--train-temperatures",
    "--epochs",
    "--p",
    "--node-weight",
    "--pretrain-epochs",
    "--init",
    "--temperature-weight",
    "--heterogeneity-weight",
    "--lr",
    "--lr-schedule",
    "--grad-clip",
    "--ema",
    "--batch-size",
    "--hidden",
    "--steps",
    "--shared-decoder",
    "--no-shared-decoder",
    "--cutoff",
    "--no-augment",
    "--val-fraction",
    "--test-fraction",
    "--max-configs",
    "--max-train",
    "--seed",
    "--device",
    "--threads",
    "--precision",
    "--quiet",
]
FIT_FLAGS = [
    "--data",
    "--model",
    "--out",
    "--temperatures",
    "--source",
    "--epochs",
    "--batch-size",
    "--lr",
    "--max-configs",
    "--val-fraction",
    "--test-fraction",
    "--base-temperature",
    "--base-configs",
    "--likelihood-weight",
    "--max-minutes",
    "--ema",
    "--init",
    "--hidden",
    "--layers",
    "--blocks",
    "--network",
    "--score-target",
    "--physics-sigma",
    "--no-physics",
    "--seed",
    "--device",
]
SAMPLER_FLAGS = ["--sampler", "--steps", "--correctors", "--snr", "--final-correctors"]


def _parser(add):
    p = argparse.ArgumentParser()
    add(p)
    return p


def _flags(parser) -> set:
    return {s for a in parser._actions for s in a.option_strings}


def _gen_parsers():
    p = _parser(gen_cmd.add_arguments)
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return p, sub.choices


def test_train_keeps_every_flag_and_takes_its_defaults_from_train_config():
    p = _parser(train_cmd.add_arguments)
    assert set(TRAIN_FLAGS) <= _flags(p)
    args = p.parse_args(["--data", "s.zarr", "--out", "run"])
    assert settings_from_args(TrainConfig, args) == TrainConfig(data="s.zarr", out="run")
    model = next(a for a in p._actions if "--model" in a.option_strings)
    assert tuple(model.choices) == MODELS


def test_train_flags_set_their_fields():
    p = _parser(train_cmd.add_arguments)
    argv = [
        "--data",
        "s",
        "--out",
        "o",
        "--model",
        "tbotan",
        "--times",
        "3,7",
        "--train-temperatures",
        "0.8,0.64",
        "--p",
        "0.25",
        "--no-augment",
        "--quiet",
        "--no-skip",
        "--node-vectors",
        "--no-shared-decoder",
        "--readout-hops",
        "0",
        "--epochs",
        "3",
        "--max-minutes",
        "2.5",
        "--lr",
        "1e-4",
        "--input",
        "ts+is",
        "--precision",
        "bf16",
        "--max-configs",
        "5",
    ]
    cfg = settings_from_args(TrainConfig, p.parse_args(argv))
    want = dict(
        model="tbotan", times=(3, 7), train_temperatures=(0.8, 0.64), node_weight=0.25, augment=False,
        progress=False, skip=False, node_vectors=True, shared_decoder=False, readout_hops=0,
        epochs=3, max_minutes=2.5, lr=1e-4, input="ts+is", precision="bf16", max_configs=5,
    )  # fmt: skip
    assert cfg == TrainConfig(data="s", out="o", **want)
    assert (
        settings_from_args(
            TrainConfig, p.parse_args(["--data", "s", "--out", "o", "--times", "all"])
        ).times
        is None
    )


def test_gen_fit_keeps_every_flag_and_takes_its_defaults_from_fit_config():
    _, sub = _gen_parsers()
    assert set(FIT_FLAGS) <= _flags(sub["fit"])
    for name in ("sample", "evaluate"):
        assert set(SAMPLER_FLAGS) <= _flags(sub[name])
    args = sub["fit"].parse_args(["--data", "s", "--out", "o"])
    arch = settings_from_args(NetworkOptions, args).model_config(args.model)
    assert settings_from_args(FitConfig, args, arch=arch) == FitConfig()
    assert arch == CNFConfig()  # nothing given: the default model's own defaults (cnf)
    args = sub["fit"].parse_args(
        [
            "--data",
            "s",
            "--out",
            "o",
            "--model",
            "diffusion",
            "--hidden",
            "8",
            "--blocks",
            "1",
            "--no-physics",
            "--physics-sigma",
            "0.3",
            "--network",
            "transformer",
            "--ema",
            "0.99",
            "--quiet",
            "--temperatures",
            "0.8",
        ]
    )
    arch = settings_from_args(NetworkOptions, args).model_config(args.model)
    cfg = settings_from_args(FitConfig, args, arch=arch)
    assert cfg.arch == DiffusionConfig(
        hidden=8, blocks=1, prior_force_cap=0.0, prior_sigma=0.3, network="transformer"
    )
    assert cfg.ema == 0.99 and not cfg.progress and cfg.temperatures == (0.8,)


@pytest.mark.parametrize(
    "options, kind, message",
    [
        (dict(layers=3), "diffusion", "--layers applies to --model flow"),
        (dict(network="local"), "flow", "--network local applies to --model cnf or diffusion"),
        (dict(network="pair"), "diffusion", "--network pair applies to --model cnf or flow"),
        (dict(physics=False), "flow", "--no-physics applies to --model diffusion"),
        (dict(physics_sigma=0.2), "cnf", "--physics-sigma applies to --model diffusion"),
        (dict(physics_sigma=-1.0), "diffusion", "--physics-sigma must be positive"),
        (dict(hidden=0), "flow", "--hidden must be >= 1"),
    ],
)
def test_network_options_a_model_has_not_are_refused(options, kind, message):
    with pytest.raises(InputError, match=message):
        NetworkOptions(**options).model_config(kind)


def test_a_fit_config_takes_a_dict_or_the_typed_config_and_records_the_whole_network():
    a = FitConfig(model="flow", arch={"hidden": 16})
    assert a == FitConfig(model="flow", arch=NetworkOptions(hidden=16).model_config("flow"))
    assert a.to_dict()["arch"]["n_layers"] == 12  # the full network, not only what was given
    assert FitConfig.from_dict({**a.to_dict(), "arch": {"hidden": 16, "network": "pair"}}) == a
    # run.json of runs before the pair network: their transformer with that day's 6 layers
    old = FitConfig.from_dict({**a.to_dict(), "arch": {"hidden": 16}})
    assert old.arch == FlowConfig(network="transformer", n_layers=6, hidden=16)
    with pytest.raises(InputError, match="no setting 'widht'"):
        FitConfig(model="flow", arch={"widht": 16})
    with pytest.raises(InputError, match="takes a FlowConfig, got DiffusionConfig"):
        FitConfig(model="flow", arch=DiffusionConfig())


def test_sampler_options_set_the_model_and_refuse_what_it_has_not():
    from glassdyn.gen.options import build_generative_model as build_model

    d = build_model("diffusion", {"hidden": 8, "blocks": 1, "n_freq": 2, "pair_channels": 4})
    SamplerOptions(steps=5, correctors=0, snr=0.3, final_correctors=4).apply(d)
    assert (d.sampler, d.sde_steps, d.corrector_steps, d.snr, d.final_correctors) == (
        "sde",
        5,
        0,
        0.3,
        4,
    )
    assert d.steps == DiffusionConfig().steps  # the ODE's steps stay
    SamplerOptions(sampler="ode", steps=7).apply(d)
    assert d.sampler == "ode" and d.steps == 7
    flow = build_model("flow", {"hidden": 8, "blocks": 1, "n_layers": 3})
    with pytest.raises(InputError, match="--snr applies to diffusion runs, not to a flow run"):
        SamplerOptions(snr=0.3).apply(flow)
    with pytest.raises(InputError, match="--steps applies to cnf and diffusion runs"):
        SamplerOptions(steps=3).apply(flow)
    for bad, message in ((dict(steps=0), "--steps must be positive"), (dict(snr=0.0), "--snr must be positive"),
                         (dict(correctors=-1), "--correctors must be >= 0")):  # fmt: skip
        with pytest.raises(InputError, match=message):
            SamplerOptions(**bad)


def test_run_files_that_name_the_node_weight_p_still_load():
    cfg = TrainConfig(data="s", out="o", node_weight=0.3)
    old = {("p" if k == "node_weight" else k): v for k, v in cfg.to_dict().items()}
    assert TrainConfig.from_dict(old) == cfg
