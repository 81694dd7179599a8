"""One syntax for lists of numbers on every command: comma-separated, spaces tolerated."""

import argparse

import pytest

from glassdyn.cli import main
from glassdyn.commands.options import index_list, indices_or_all, positive_float, positive_floats

pytestmark = pytest.mark.bad_input  # part of the bad-input suite (`pytest -m bad_input`)


def test_lists_parse_with_commas_and_tolerate_spaces():
    assert positive_floats("0.8,0.64") == (0.8, 0.64)
    assert positive_floats(" 0.8 , 0.64 ") == (0.8, 0.64)
    assert positive_floats("1e-3") == (0.001,)
    assert index_list("3, 7") == (3, 7)
    assert indices_or_all("all") is None and indices_or_all("0") == (0,)
    assert positive_float("0.44") == 0.44
    for bad in ("inf", "nan", "0", "-1", "0.8,0.6", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_float(bad)


@pytest.mark.parametrize(
    "parser, text, message",
    [
        (positive_floats, "0.8,,0.6", "empty field 2 in '0.8,,0.6'"),
        (positive_floats, "0.8,", "empty field 2"),
        (positive_floats, ",0.8", "empty field 1"),
        (positive_floats, "", "empty list"),
        (positive_floats, "0.8 0.64", "is not one number; separate numbers by commas"),
        (positive_floats, "0.8,abc", "'abc' in '0.8,abc' is not a number"),
        (positive_floats, "inf", "is not finite"),
        (positive_floats, "0.8,-inf", "is not finite"),
        (positive_floats, "nan", "is not finite"),
        (positive_floats, "0", "must be positive"),
        (positive_floats, "0.8,-0.5", "'-0.5' in '0.8,-0.5' must be positive"),
        (index_list, "1,,2", "empty field 2"),
        (index_list, "1.5", "is not an integer"),
        (index_list, "-1", "must be >= 0"),
        (indices_or_all, "al", "is not an integer"),
    ],
)
def test_bad_lists_are_errors(parser, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parser(text)


@pytest.mark.parametrize(
    "argv, option",
    [
        (["simulate", "--out", "{t}/s.zarr", "--temperatures", "0.8,,0.6"], "--temperatures"),
        (["simulate", "--out", "{t}/s.zarr", "--times", "0.1,inf"], "--times"),
        (["import", "botan", "{t}", "--out", "{t}/s.zarr", "--times", "0.1,,1"], "--times"),
        (
            ["train", "--data", "{t}/d", "--out", "{t}/r", "--train-temperatures", "0.8,nan"],
            "--train-temperatures",
        ),
        (["train", "--data", "{t}/d", "--out", "{t}/r", "--times", "3,,7"], "--times"),
        (["evaluate", "{t}/r", "--data", "{t}/d", "--temperatures", "0.8,"], "--temperatures"),
        (
            ["predict", "{t}/r", "--data", "{t}/d", "--out", "{t}/p", "--temperatures", "-1"],
            "--temperatures",
        ),
        (["analyze", "{t}/d", "--out", "{t}/a", "--temperatures", "inf"], "--temperatures"),
        (["export", "{t}/d", "--out", "{t}/x.xyz", "--config", "1,,2"], "--config"),
        (
            ["gen", "fit", "--data", "{t}/d", "--out", "{t}/g", "--temperatures", "0.8,,0.64"],
            "--temperatures",
        ),
        (
            ["gen", "evaluate", "{t}/g", "--data", "{t}/d", "--temperatures", "0.8 0.64"],
            "--temperatures",
        ),
        # single temperatures and densities: finite and positive too
        (
            ["import", "extxyz", "{t}/f.xyz", "--out", "{t}/s.zarr", "--temperature", "inf"],
            "--temperature",
        ),
        (["import", "botan", "{t}", "--out", "{t}/s.zarr", "--density", "0"], "--density"),
        (["export", "{t}/d", "--out", "{t}/x.xyz", "--temperature", "nan"], "--temperature"),
        (
            ["gen", "sample", "{t}/g", "--n", "2", "--out", "{t}/s.xyz", "--temperature", "-0.8"],
            "--temperature",
        ),
    ],
)
def test_every_command_rejects_a_bad_list_in_one_line(tmp_path, capsys, argv, option):
    argv = [a.replace("{t}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(
        f"glassdyn {' '.join(argv[:2]) if argv[0] == 'gen' else argv[0]}: error: argument {option}"
    )
    assert "--help" in err
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_the_old_space_separated_form_is_refused_not_misread(tmp_path, capsys):
    assert (
        main(
            [
                "analyze",
                str(tmp_path / "d"),
                "--out",
                str(tmp_path / "a"),
                "--temperatures",
                "0.8",
                "0.64",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err == (
        "glassdyn analyze: error: unrecognized arguments: 0.64 (lists of numbers are comma-separated, "
        "e.g. --temperatures 0.8,0.64; see `glassdyn analyze --help`)"
    )
    assert main(["gen", "evaluate", "run", "--data", "d", "--bogus"]) == 2
    assert (
        "glassdyn gen evaluate: error: unrecognized arguments: --bogus (see"
        in capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []
