"""scripts/bench_gen.py: the crossover temperature and a real (tiny) run of the cost table."""

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).resolve().parents[2] / "scripts" / "bench_gen.py"
_spec = importlib.util.spec_from_file_location("bench_gen", _path)
bench_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_gen)


def test_crossover_is_interpolated_in_one_over_t():
    """Ratios 0.5 at T=0.5 and 2 at T=0.6 (log ratio -ln2 and +ln2): the crossover is halfway
    in 1/T, i.e. 1 / ((1/0.5 + 1/0.6) / 2) = 0.5455, not halfway in T (0.55)."""
    t = bench_gen.crossover([0.6, 0.5], [2.0, 0.5])
    assert t == pytest.approx(1 / ((1 / 0.5 + 1 / 0.6) / 2))
    assert bench_gen.crossover([0.8, 0.6, 0.5], [4.0, 2.0, 1.5]) is None  # MD cheaper everywhere
    assert bench_gen.crossover([0.5, 0.8, 0.6], [0.5, 4.0, 2.0]) == pytest.approx(t)  # any order


def test_a_missing_store_is_one_line(tmp_path, capsys):
    argv = ["--data", str(tmp_path / "none.zarr"), "--temperatures", "0.8"]
    assert bench_gen.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "none.zarr" in err[0]


@pytest.mark.lammps
def test_the_cost_table_runs_on_a_real_store(ka_store, tmp_path, capsys):
    out = tmp_path / "b.json"
    argv = ["--data", str(ka_store), "--temperatures", "0.8", "--n", "2", "--population", "4"]
    assert bench_gen.main([*argv, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "population annealing" in text and "crossover, population annealing" in text
    import json

    res = json.loads(out.read_text())
    rows = res["temperatures"]["0.8"]["rows"]
    assert res["base"] == 1.0 and rows["MD"]["seconds_per_effective"] > 0
    pa = rows["population annealing"]
    assert 0 < pa["effective_configurations"] <= 4 and pa["ratio"] > 0
