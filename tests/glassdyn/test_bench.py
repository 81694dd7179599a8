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
    assert mod.main(["--n", "128", "--repeats", "1", "--devices", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "naive" in out and "x ours-default" in out
