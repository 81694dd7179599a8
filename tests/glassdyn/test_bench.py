"""The benchmark script runs (tiny graph) and the allocator switch is reversible."""

import importlib.util
from pathlib import Path

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
