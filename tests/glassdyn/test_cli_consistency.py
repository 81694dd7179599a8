"""One spelling per meaning across the commands, a help line for every option, and help texts
that agree with what the commands do."""

import json

import pytest

from glassdyn.cli import build_parser, main
from glassdyn.testing import write_synthetic_store


def _subparsers(parser):
    """{"simulate": parser, ..., "gen fit": parser, ...}: every command's own parser."""
    import argparse

    out = {}

    def walk(p, prefix):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    full = f"{prefix} {name}".strip()
                    out[full] = sub
                    walk(sub, full)

    walk(parser, "")
    return out


COMMANDS = _subparsers(build_parser())
PROGRESS_COMMANDS = (
    "simulate",
    "quench",
    "analyze",
    "train",
    "gen fit",
    "gen sample",
    "gen evaluate",
)


@pytest.mark.parametrize("name", PROGRESS_COMMANDS)
def test_no_progress_is_one_name_everywhere_and_quiet_still_works(name):
    p = COMMANDS[name]
    flags = {s for a in p._actions for s in a.option_strings}
    assert {"--no-progress", "--quiet"} <= flags, name
    # both spellings set the same destination
    by_flag = {s: a.dest for a in p._actions for s in a.option_strings}
    assert by_flag["--no-progress"] == by_flag["--quiet"]


def test_every_option_of_every_command_has_a_help_line():
    missing = [
        f"{name} {a.option_strings[0]}"
        for name, p in COMMANDS.items()
        for a in p._actions
        if a.option_strings and a.help in (None, "") and a.option_strings[0] != "--help"
    ]
    assert not missing, missing


def test_train_description_names_every_model():
    from glassdyn.predict.config import MODELS

    text = COMMANDS["train"].description.lower()
    for model in MODELS:
        name = {"tbotan": "t-botan"}.get(model, model)
        assert name in text, model


def test_analyze_q_fit_max_help_and_the_figure_titles_say_the_same():
    from glassdyn.analysis.plots import oz_fit_range

    help_text = next(
        a.help for a in COMMANDS["analyze"]._actions if "--q-fit-max" in a.option_strings
    )
    assert "at least the 3 smallest" in help_text
    # an L ~ 6 sigma box: shells 1.05, 1.48, 1.82; --q-fit-max 1.5 holds 2, the fit takes 3
    s4 = {"q": [1.05, 1.48, 1.82, 2.1], "fit_shells": [3, 3]}
    text = oz_fit_range(s4, 1.5)
    assert "q ≤ 1.82 (3 shells)" in text and "past --q-fit-max 1.5" in text
    assert "past" not in oz_fit_range({"q": [0.4, 0.6, 0.8, 1.6], "fit_shells": [3]}, 1.5)


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quiet")
    store = tmp / "s.zarr"
    write_synthetic_store(
        store, temperatures=(0.8,), n_configs=10, n_particles=16, n_replicas=1, times=(1.0,)
    )
    run = tmp / "run"
    args = ["gen", "fit", "--data", str(store), "--model", "flow", "--out", str(run)]
    arch = ["--hidden", "16", "--layers", "2", "--blocks", "1", "--epochs", "1"]
    assert main([*args, *arch, "--batch-size", "4", "--device", "cpu", "--quiet"]) == 0
    return tmp, store, run


def test_gen_evaluate_draws_the_same_samples_with_and_without_progress(flow_run):
    """The old evaluate drew 8 samples per call with a progress bar and 64 without, so the same
    --seed gave other samples (and other scores) under --quiet."""
    tmp, store, run = flow_run
    scores = []
    for flag in ([], ["--no-progress"]):
        js = tmp / f"eval{len(flag)}.json"
        args = ["gen", "evaluate", str(run), "--data", str(store), "--n", "12"]
        args += ["--n-quench", "0", "--no-baselines", "--json", str(js), *flag]
        assert main(args) == 0
        scores.append(json.loads(js.read_text())["evaluations"][0]["results"]["model"])
    for key in ("energy_w1", "rdf_l2"):
        assert scores[0][key] == scores[1][key], key


def test_gen_sample_is_the_same_with_and_without_quiet(flow_run):
    from glassdyn.data import keys
    from glassdyn.data.store import Store

    tmp, _, run = flow_run
    xs = []
    for flag in ([], ["--quiet"]):
        out = tmp / f"samples{len(flag)}.zarr"
        args = ["gen", "sample", str(run), "--n", "3", "--temperature", "0.8"]
        assert main([*args, "--out", str(out), "--seed", "3", *flag]) == 0
        xs.append(Store.open(out).state(0.8).read(keys.THERMAL_POSITIONS))
    assert (xs[0] == xs[1]).all()
