"""`glassdyn analyze TRAJECTORY...`: the store's JSON layout and figures, a source naming the
files, and one line (exit 2) for bad input."""

import json

import pytest

from glassdyn.cli import main


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    from glassdyn.simulate.testing import lammps_dumps

    return lammps_dumps(tmp_path_factory.mktemp("cmd"), frames=25, every=20, styles=("unwrapped",))[
        "unwrapped"
    ]


@pytest.mark.lammps
def test_analyze_a_dump_end_to_end(dump, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            str(dump),
            "--out",
            str(out),
            "--temperature",
            "1.0",
            "--dt",
            "0.005",
            "--max-lags",
            "8",
            "--structure-frames",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    rep = json.loads((out / "heterogeneity.json").read_text())
    assert rep["kind"] == "trajectory" and rep["source"] == [str(dump)]
    res = rep["temperatures"]["1.000"]
    assert res["source"][0]["path"] == str(dump) and res["source"][0]["n_frames"] == 25
    assert res["source"][0]["unwrap"] == "unwrapped" and res["temperature"] == 1.0
    K = len(res["times"])
    assert 4 <= K <= 8 and len(res["n_origins"]) == K and min(res["n_origins"]) >= 5
    for s in ("A", "B", "total"):
        for key in ("Q", "Fs", "MSD", "alpha2", "chi4", "chi4_err", "chi4_Fs"):
            assert len(res["species"][s][key]) == K, (s, key)
    assert len(res["s4"]["S4"]) == K and len(res["s4"]["xi4"]) == K
    assert res["structure"]["n_frames"] == 2 and set(res["structure"]["g"]) == {
        "AA",
        "AB",
        "BB",
        "total",
    }
    for name in ("chi4.png", "dynamics.png", "s4_T1.000.png", "structure_T1.000.png"):
        assert (out / name).stat().st_size > 10_000, name
    err = capsys.readouterr().err
    assert "T=1: " in err and "time origins per lag" in err and "tau_alpha(A)=" in err


@pytest.mark.lammps
def test_truncated_file_is_analysed_and_said(dump, tmp_path, capsys):
    raw = dump.read_bytes()
    cut = tmp_path / "cut.lammpstrj"
    cut.write_bytes(raw[:-500])
    code = main(
        [
            "analyze",
            str(cut),
            "--out",
            str(tmp_path / "o"),
            "--max-lags",
            "4",
            "--no-structure",
            "--no-plots",
            "--no-progress",
        ]
    )
    assert code == 0
    assert "using the 24 complete frames" in capsys.readouterr().err
    rep = json.loads((tmp_path / "o" / "heterogeneity.json").read_text())
    assert rep["temperatures"]["trajectory"]["source"][0]["n_frames"] == 24


@pytest.mark.lammps
def test_bad_trajectory_input_is_one_line_and_exit_2(dump, tmp_path, capsys):
    cases = [
        ([str(tmp_path / "nope.dump")], "no store or trajectory file at"),
        ([str(dump), "--species", "A,B"], "do not map to A/B with --species A,B"),
        ([str(dump), "--predictions", "p.zarr"], "apply to stores"),
        ([str(dump), "--lags", "0.0123"], "lag 0.0123 is not a difference of frame times"),
        ([str(dump), "--min-origins", "100"], "no lag has 100 time origins"),
        ([str(dump), "--dt", "-1"], "--dt must be a positive"),
        (
            [str(dump), "--temperature", "nan"],
            "argument --temperature: 'nan' must be a finite number > 0",
        ),
        ([str(dump), "--chunk-frames", "0"], "--chunk-frames must be >= 1, got 0"),
        ([str(dump), "--max-lags", "0"], "--max-lags must be >= 1, got 0"),
    ]
    for argv, message in cases:
        out = tmp_path / "never"
        try:
            code = main(["analyze", *argv, "--out", str(out), "--no-progress"])
        except SystemExit as exc:  # an option argparse refuses: one line, exit 2
            code = exc.code
        err = capsys.readouterr().err.strip()
        assert code == 2, argv
        assert message in err and err.count("\n") == 0 and "Traceback" not in err, err
        assert not out.exists()  # nothing written before the input was checked
