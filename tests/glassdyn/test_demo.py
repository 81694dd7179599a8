import json
import shutil
import sys
from pathlib import Path

import pytest
from glassdyn.data.errors import GlassdynError
from glassdyn.demo import DemoConfig, DemoRun, Step, StepResult, plan, run_step
from glassdyn.gen.metrics import DISTANCES
from glassdyn.report import write_report
from glassdyn.testing import write_synthetic_store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))


def test_plan_names_every_stage(tmp_path):
    steps = plan(DemoConfig(out=tmp_path))
    names = [s.name for s in steps]
    for want in (
        "simulate",
        "train-botan",
        "train-tbotan",
        "train-ridge",
        "evaluate-bapst",
        "predict",
        "analyze",
        "gen-fit",
        "gen-sample",
    ):
        assert want in names
    assert steps[0].command.startswith("glassdyn simulate --preset tiny")
    with pytest.raises(GlassdynError, match="unknown demo preset"):
        plan(DemoConfig(out=tmp_path, preset="huge"))


def test_steps_rerun_only_when_needed(tmp_path):
    store = tmp_path / "data.zarr"
    write_synthetic_store(store, n_configs=1, n_particles=16, n_replicas=1)
    step = Step(
        "info",
        ("info", str(store), "--json"),
        (tmp_path / "info.json",),
        stdout=tmp_path / "info.json",
    )
    first = run_step(tmp_path, step, store)
    assert first.status == "ran"
    assert json.loads((tmp_path / "info.json").read_text())["temperatures"] == [0.64, 0.8]
    assert run_step(tmp_path, step, store).status == "reused"
    (tmp_path / "info.json").unlink()  # a lost output is recomputed
    assert run_step(tmp_path, step, store).status == "ran"
    bad = Step("bad", ("info", str(tmp_path / "missing.zarr")), ())
    assert run_step(tmp_path, bad, store).status == "failed"


def _fake_outputs(out: Path) -> None:
    (out / "runs" / "botan").mkdir(parents=True)
    (out / "runs" / "botan" / "evaluation.json").write_text(
        json.dumps(
            {
                "node_pearson": {"0.64": [0.3, 0.5]},
                "edge_pearson": {"0.64": [0.2, 0.4]},
                "temperature_mae": None,
            }
        )
    )
    (out / "runs" / "gen").mkdir(parents=True)
    (out / "runs" / "gen" / "evaluation.json").write_text(
        json.dumps(
            {
                "evaluations": [
                    {
                        "temperature": 0.64,
                        "md_energy": {"mean": -6.63, "se": 0.01, "n_var_over_t2": 1.5},
                        "reference": {"n": 32, "splits": 20},
                        "n_samples": 16,
                        "draws": 1,
                        "false_fail": {
                            "1": {**dict.fromkeys(DISTANCES, 0.0), "z_bb": 0.21, "any": 0.27},
                            "4": {**dict.fromkeys(DISTANCES, 0.0), "z_bb": 0.07, "any": 0.08},
                        },
                        "results": {
                            "md": {
                                "name": "MD (other half)",
                                "n": 16,
                                "corrected": True,
                                "close_contact_fraction": 0.0,
                                "energy": {"mean": -6.62, "se": 0.01, "z": 0.7},
                                "distances": {"g_AA": {"value": 0.2, "floor": 0.25}},
                            },
                            "model": {
                                "name": "flow",
                                "n": 16,
                                "corrected": True,
                                "close_contact_fraction": 0.25,
                                "energy": {"mean": -6.5, "se": 0.02, "z": 5.8},
                                "distances": {"g_AA": {"value": 0.6, "floor": 0.2}},
                                "verdict": {"all": False},
                                "report": {"base_temperature": 0.72, "base_source": 0.8},
                            },
                        },
                    }
                ]
            }
        )
    )
    (out / "info.json").write_text(
        json.dumps(
            {
                "states": [
                    {
                        "temperature": 0.64,
                        "n_particles": 10,
                        "completed": 2,
                        "n_configs": 2,
                        "n_replicas": 2,
                        "times": [1.0, 10.0],
                    }
                ]
            }
        )
    )


def test_report_is_self_contained(tmp_path):
    _fake_outputs(tmp_path)
    run = DemoRun(
        DemoConfig(out=tmp_path), [StepResult("simulate", "glassdyn simulate ...", "ran", 1.5)]
    )
    path = write_report(run)
    text = path.read_text()
    assert "data:image/png;base64," in text  # the model figure is embedded
    assert 'src="http' not in text and "<script" not in text
    assert "BOTAN" in text and "glassdyn simulate" in text
    # the generative table: every distance beside its MD-vs-MD floor, beyond 1.5x flagged
    assert "<td>flow</td><td>16</td><td>yes</td><td>0.25</td>" in text
    assert "<td>0.6 (0.2) ⚠</td>" in text and "<td>0.2 (0.25)</td>" in text
    assert "(z +5.8) ⚠" in text and "<td>fail</td>" in text
    assert "Reference: 32 MD configurations" in text and "disjoint chains in 20 ways" in text
    assert "to T=0.64 from MD at T=0.72 (equilibrated from the store's T=0.8)" in text
    # the rate at which MD itself fails the bar, beside the verdicts
    assert (
        "read it with its rate for MD itself: T=0.64: an exact sampler (independent MD sets of "
        "16, random halves of the reference) fails some distance's 1.5 x floor in 27% (z_bb 21%) "
        "of evaluations with 1 draw; with --draws 4 (each distance the mean of 4 sets) in 8% "
        "(z_bb 7%) (more: the draws share one reference"
    ) in text.replace("&#x27;", "'")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["models"]["botan"]["node_pearson"]["0.64"] == [0.3, 0.5]


@pytest.mark.slow
def test_report_renders_in_chromium(tmp_path):
    """Headless Chromium renders the report: every figure decodes to a non-empty image, every
    table has rows, every table of figures has no empty cell, every section is there."""
    from screenshot_report import find_chromium, inspect, screenshot

    from tests.glassdyn.test_report import _demo_outputs

    if find_chromium() is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    _demo_outputs(tmp_path)
    steps = [StepResult("simulate", "glassdyn simulate ...", "ran", 1.5)]
    html = write_report(DemoRun(DemoConfig(out=tmp_path), steps))
    seen = inspect(html)
    assert seen["figures"] == len(seen["images"]) >= 2  # Pearson vs t, training curves
    for alt, width, height in seen["images"]:
        assert width > 100 and height > 100, alt
    assert all(rows > 0 for _, rows, _ in seen["tables"]), seen["tables"]
    assert sum(c == "figures" for c, _, _ in seen["tables"]) == 6
    assert all(empty == 0 for c, _, empty in seen["tables"] if c == "figures")
    titles = " | ".join(seen["sections"])
    for want in ("1. Dataset", "2. Mobility predictors", "3. Dynamic heterogeneity", "Weak"):
        assert want in titles
    png = screenshot(html, tmp_path / "r.png", height=1200)
    assert png.stat().st_size > 10_000


def _statuses(out: Path) -> dict[str, str]:
    return {s["name"]: s["status"] for s in json.loads((out / "summary.json").read_text())["steps"]}


def test_failing_step_stops_the_demo_with_exit_2_and_a_report(tmp_path, capfd):
    """A store the demo did not write sits at out/data.zarr of a demo folder: `simulate` refuses
    it, the demo stops there (exit 2, one line naming the step and its command) and still writes
    the report.  A folder that is not a demo's is refused before any step."""
    from glassdyn.cli import main

    out = tmp_path / "demo"
    write_synthetic_store(out / "data.zarr", n_configs=1, n_particles=16, n_replicas=1)
    assert main(["demo", "--preset", "ci", "--out", str(out)]) == 2
    assert "is a directory, not a demo folder" in capfd.readouterr().err
    assert not (out / "report.html").exists()
    (out / ".steps").mkdir()  # a demo folder whose data.zarr was replaced
    assert main(["demo", "--preset", "ci", "--out", str(out)]) == 2
    err = capfd.readouterr().err.strip().splitlines()  # the step runs as a subprocess
    assert err[-1].startswith(
        "glassdyn demo: error: demo step 'simulate' failed (exit code 2): glassdyn simulate --preset ci"
    )
    assert any(
        "not written by `glassdyn simulate`" in line for line in err
    )  # the step's own message
    assert _statuses(out) == {"simulate": "failed"}
    assert (out / "report.html").exists() and not (out / "runs").exists()


@pytest.mark.slow
@pytest.mark.lammps
def test_demo_ci_runs_every_step_and_a_rerun_reuses_them(tmp_path):
    """The README's main job end to end on the `ci` plan (1m40s of CPU, 6 min wall on a loaded machine), then a rerun
    after losing one output: only that step runs again."""
    from glassdyn.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--preset", "ci", "--out", str(out)]) == 0
    first = _statuses(out)
    assert [n for n, s in first.items() if s != "ran"] == []
    assert len(first) == len(plan(DemoConfig(out=out, preset="ci")))
    summary = json.loads((out / "summary.json").read_text())
    for model in ("botan", "tbotan", "bapst", "ridge"):
        r = summary["models"][model]
        assert r["split"] == "test" and all(len(v) == 4 for v in r["node_pearson"].values())
    het = json.loads((out / "analysis" / "heterogeneity.json").read_text())["temperatures"]
    assert sorted(het) == ["0.800", "1.000"] and "predictions" in het["0.800"]
    assert (out / "samples.extxyz").exists() and (out / "runs" / "gen" / "evaluation.json").exists()
    # the analysis lost (the whole folder: without heterogeneity.json it is no longer a report
    # directory, which `analyze --overwrite` leaves alone)
    shutil.rmtree(out / "analysis")
    assert main(["demo", "--preset", "ci", "--out", str(out)]) == 0
    again = _statuses(out)
    assert again.pop("analyze") == "ran"
    assert set(again.values()) == {"reused"}
