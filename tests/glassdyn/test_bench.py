"""The benchmark script runs (tiny graph) and the allocator switch is reversible."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from glassdyn.nn import allocator


def test_allocator_switch():
    applied = allocator.tune_for_large_graphs()
    assert isinstance(applied, bool)
    assert allocator.restore_default() == applied


def test_bench_script_runs_on_a_small_graph(capsys):
    path = Path(__file__).resolve().parents[2] / "scripts" / "bench_botan.py"
    spec = importlib.util.spec_from_file_location("bench_botan", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    argv = ["--n", "128", "--repeats", "1", "--devices", "cpu", "--batch", "1,2"]
    assert mod.main(argv) == 0
    out = capsys.readouterr().out
    for variant in ("ours ", "split ", "naive ", "ours B=2 "):
        assert f"  {variant}" in out, variant
    assert "x ours" in out and "cpu" in out


def test_compare_script_runs(tmp_path, capsys):
    from glassdyn.testing import write_synthetic_store

    store = write_synthetic_store(tmp_path / "s.zarr", n_configs=4)
    path = Path(__file__).resolve().parents[2] / "scripts" / "compare_botan.py"
    spec = importlib.util.spec_from_file_location("compare_botan", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    argv = [
        "--data",
        str(store.path),
        "--out",
        str(tmp_path / "cmp"),
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--steps",
        "1",
    ]
    assert mod.main(argv) == 0
    out = capsys.readouterr().out
    assert "botan" in out and "bapst" in out and "ridge" in out
    assert (tmp_path / "cmp" / "comparison.json").exists()
    assert mod.alpha_index([1.0, 2.0, 3.0], [0.1, 0.35, 0.5], 0.3) == 1


def test_benchmark_predictors_runs_on_the_recorded_split(tmp_path, capsys):
    """Descriptor baselines, a family ablation and a trained run (converted BOTAN weights) side by
    side; the store's recorded test files are the test configurations."""
    import json

    import torch
    from glassdyn.data.store import Store
    from glassdyn.predict.convert import convert_pyg_botan

    from glassdyn.nn.pyg_botan import layout
    from glassdyn.testing import write_synthetic_store

    write_synthetic_store(
        tmp_path / "s.zarr", temperatures=(0.8,), n_configs=5, n_particles=128, times=(0.5, 5.0)
    )
    labels = ["train", "test", "train", "train", "test"]
    Store.open(tmp_path / "s.zarr", mode="r+").state(0.8).group.attrs["import"] = {
        "format": "botan",
        "splits": labels,
    }
    g = torch.Generator().manual_seed(0)
    torch.save(
        {k: 0.2 * torch.randn(s, generator=g) for k, s in layout().items()}, tmp_path / "m.pth"
    )
    convert_pyg_botan(tmp_path / "m.pth", tmp_path / "run", data=tmp_path / "s.zarr", time=5.0)
    path = Path(__file__).resolve().parents[2] / "scripts" / "benchmark_predictors.py"
    spec = importlib.util.spec_from_file_location("benchmark_predictors", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_predictors"] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    argv = ["--data", str(tmp_path / "s.zarr"), "--models", "ridge", "ridge[energy+displacement]",
            f"run:{tmp_path / 'run'}", "--times", "1", "--json", str(tmp_path / "b.json")]  # fmt: skip
    assert mod.main(argv) == 0
    out = capsys.readouterr().out
    assert "test configurations [[1, 4]]" in out
    rows = {r["model"]: r for r in json.loads((tmp_path / "b.json").read_text())["results"]}
    assert set(rows) == {"ridge", "ridge[energy+displacement]", f"run:{tmp_path / 'run'}"}
    assert (
        np.array(rows["ridge"]["node_pearson"]).shape == (2, 1)
        and rows["ridge"]["edge_pearson"] is None
    )
    assert np.array(rows[f"run:{tmp_path / 'run'}"]["edge_pearson"]).shape == (2, 1)
    assert np.mean(rows["ridge"]["node_pearson"]) > 0.4  # the synthetic mobility is learnable
    ceiling = json.loads((tmp_path / "b.json").read_text())["noise_ceiling"]
    assert "replica-noise ceiling" in out and np.array(ceiling).shape == (2, 1)
    assert np.all(np.array(ceiling) >= np.array(rows["ridge"]["node_pearson"]) - 0.05)


@pytest.mark.slow
def test_tbotan_physics_script_runs_every_part_on_held_out_data(tmp_path):
    """The T-BOTAN physics recipe on a tiny three-temperature store: tables and plots written,
    the middle temperature held out of the held-out runs, the learning curve on nested subsets."""
    import json

    from glassdyn.testing import write_synthetic_store

    write_synthetic_store(
        tmp_path / "s.zarr",
        temperatures=(0.6, 0.7, 0.8),
        n_configs=6,
        n_particles=128,
        n_replicas=2,
    )
    path = Path(__file__).resolve().parents[2] / "scripts" / "tbotan_physics.py"
    spec = importlib.util.spec_from_file_location("tbotan_physics", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "phys"
    assert (
        mod.main(
            [
                "--data",
                str(tmp_path / "s.zarr"),
                "--out",
                str(out),
                "--minutes",
                "0.02",
                "--sizes",
                "1,2",
                "--cg-lengths",
                "1,2",
            ]
        )
        == 0
    )
    res = json.loads((out / "physics.json").read_text())
    for run_dir in ("readout_ts", "heldout_mse", "curve_botan_1", "curve_ridge_1"):  # every run
        cfg = json.loads((out / run_dir / "run.json").read_text())["train_config"]
        assert cfg["cg_lengths"] == [1.0, 2.0]
    assert set(res["readout"]) == {"ts", "is", "ts+is"}
    assert res["heldout"]["held_out"] == 0.7 and res["heldout"]["trained_on"] == [0.6, 0.8]
    run = json.loads((out / "heldout_mse" / "run.json").read_text())
    assert run["split"]["0.7"].get("held_out") and not run["split"]["0.7"]["train"]
    curve = json.loads((out / "curve_botan_1" / "run.json").read_text())["split"]["0.6"]
    assert len(curve["train"]) == 1 and len(res["curve"]["models"]["ridge"]) == 2
    for png in (
        "heldout_mse_s4.png",
        "heldout_heterogeneity_s4.png",
        "heldout_pdf.png",
        "learning_curve.png",
    ):
        assert (out / png).stat().st_size > 0


@pytest.mark.slow
def test_learning_curve_script_runs_nested_sizes_with_error_bars(tmp_path, capsys):
    """scripts/learning_curve.py on a small synthetic store: a point per (model, size), error bars
    over seeds x test configurations, the ceiling and the figure; a rerun reuses every run; a
    model trained on one temperature (``ridge@0.8``) is scored there alone."""
    import json

    from glassdyn.testing import write_synthetic_store

    write_synthetic_store(
        tmp_path / "s.zarr", temperatures=(0.64, 0.8), n_configs=6, n_particles=128, n_replicas=2
    )
    path = Path(__file__).resolve().parents[2] / "scripts" / "learning_curve.py"
    spec = importlib.util.spec_from_file_location("learning_curve", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    argv = ["--data", str(tmp_path / "s.zarr"), "--out", str(tmp_path / "lc"), "--sizes", "1,3",
            "--models", "ridge@0.8,ridge,tbotan", "--seeds", "0,1", "--epochs", "1", "--hidden", "8"]  # fmt: skip
    assert mod.main(argv) == 0
    res = json.loads((tmp_path / "lc" / "curve.json").read_text())
    row = res["table"]["ridge"]["3"]["0.8"]
    assert len(row["mean"]) == 3 and row["n"] >= 2 and np.isfinite(row["sem"]).all()
    assert set(res["table"]["tbotan"]) == {"1", "3"} and (tmp_path / "lc" / "curve.png").exists()
    assert set(res["ceiling"]) == {"0.64", "0.8"}
    runs = sorted(p.name for p in (tmp_path / "lc").iterdir() if p.is_dir())
    assert len(runs) == 12  # 3 models x 2 sizes x 2 seeds
    assert set(res["table"]["ridge@0.8"]["3"]) == {"0.8"}
    one = json.loads((tmp_path / "lc" / "ridge_T0.8_n3_s0" / "run.json").read_text())
    assert one["train_config"]["train_temperatures"] == [0.8]
    assert not one["split"]["0.64"]["train"]
    every = json.loads((tmp_path / "lc" / "ridge_n3_s0" / "run.json").read_text())
    assert one["split"]["0.8"]["test"] == every["split"]["0.8"]["test"]  # the same test set
    # the ceiling at T=0.64 is that of its test configurations, not of the one-temperature run's
    # held-out 0.64 (all its configurations), although that run comes first
    from glassdyn.predict.evaluation import evaluate_run

    test_ceiling = evaluate_run(tmp_path / "lc" / "ridge_n1_s0", tmp_path / "s.zarr")[
        "noise_ceiling"
    ]
    held_out = evaluate_run(tmp_path / "lc" / "ridge_T0.8_n1_s0", tmp_path / "s.zarr")[
        "noise_ceiling"
    ]
    assert held_out["0.64"] != test_ceiling["0.64"]  # the case the check is about
    assert res["ceiling"]["0.64"] == pytest.approx(test_ceiling["0.64"])
    first = capsys.readouterr().out
    assert "replica-noise ceiling T=0.8" in first
    for bad, says in (("ridge@x", "botan@0.56"), ("ridge@0.7", "no T=0.7")):
        with pytest.raises(SystemExit) as ex:  # one line, exit 2, before any run
            mod.main([*argv[:7], bad, *argv[8:]])
        assert ex.value.code == 2 and says in capsys.readouterr().err
    assert mod.main(argv) == 0  # reuses the runs: the same table
    assert json.loads((tmp_path / "lc" / "curve.json").read_text())["table"] == res["table"]
    # --merge: a second curve of the same store and test set joins the table and the figure; a
    # curve of another test set (seed 1 draws other test configurations) is refused in one line
    base = ["--data", str(tmp_path / "s.zarr"), "--sizes", "1", "--models", "mlp", "--epochs", "1"]
    assert mod.main([*base, "--out", str(tmp_path / "lc2"), "--seeds", "0"]) == 0
    capsys.readouterr()
    merged = tmp_path / "merged"
    assert mod.main(["--merge", str(tmp_path / "lc"), str(tmp_path / "lc2"), "--out", str(merged)]) == 0  # fmt: skip
    both = json.loads((merged / "curve.json").read_text())
    assert set(both["table"]) == {"ridge@0.8", "ridge", "tbotan", "mlp"}
    assert both["table"]["ridge"] == res["table"]["ridge"] and (merged / "curve.png").exists()
    assert "mlp      n=1" in capsys.readouterr().out
    assert mod.main([*base, "--out", str(tmp_path / "lc3"), "--seeds", "1"]) == 0
    capsys.readouterr()
    for bad, says in (
        ([str(tmp_path / "lc"), str(tmp_path / "lc3")], "ceiling at T="),
        ([str(tmp_path / "lc"), str(tmp_path / "nothing")], "no curve.json"),
    ):
        with pytest.raises(SystemExit) as ex:
            mod.main(["--merge", *bad, "--out", str(tmp_path / "m2")])
        assert ex.value.code == 2 and says in capsys.readouterr().err
    with pytest.raises(SystemExit) as ex:  # never over a trained curve
        mod.main(["--merge", str(tmp_path / "lc2"), "--out", str(tmp_path / "lc")])
    assert ex.value.code == 2 and "holds a trained curve" in capsys.readouterr().err
    assert json.loads((tmp_path / "lc" / "curve.json").read_text())["table"] == res["table"]
