"""One spelling per meaning across the commands, a help line for every option, and help texts
that agree with what the commands do."""

import pytest

from glassdyn.cli import build_parser


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


# gen sample / evaluate give the same samples with and without --no-progress: tests/gen/test_cli.py
