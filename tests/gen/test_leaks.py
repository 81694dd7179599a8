"""Leaks between a generative fit and its evaluation (issue 12): a run resumes only on the data it
was fitted on (wherever that store lies now), and its held-out configurations are recognised by
content, not by path.  (``gen evaluate`` refusing a store of fitted configurations, and taking an
unseen store whole: test_cli.py.)"""

import shutil

import pytest
from glassdyn.gen.checkpoints import load_run
from glassdyn.gen.evaluation import held_out_reference

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

from .helpers import CNF, fit_args

pytestmark = pytest.mark.lammps


def test_a_fit_resumes_only_on_its_own_data(ka_store, cnf_run, copy_of, tmp_path, capsys):
    run = copy_of(cnf_run, "run")
    other = tmp_path / "other.zarr"
    write_synthetic_store(
        other, temperatures=(0.8, 1.0), n_configs=8, n_particles=216, n_replicas=1
    )
    assert main([*fit_args(other, run, CNF), "--epochs", "2"]) == 2
    assert "trained on other data than" in capsys.readouterr().err
    # the same data elsewhere is the same data: the run resumes (epoch 1 after epoch 0)
    moved = tmp_path / "moved.zarr"
    shutil.copytree(ka_store, moved)
    assert main([*fit_args(moved, run, CNF), "--epochs", "2"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert load_run(run, best=False)[1]["epoch"] == 1


def test_a_copy_of_the_store_holds_the_same_held_out_configurations(ka_store, cnf_run, tmp_path):
    _, ck = load_run(cnf_run)
    copy = tmp_path / "copy.zarr"
    shutil.copytree(ka_store, copy)
    test = ck["split"]["0.8"]["test"]
    for store in (ka_store, copy):
        sel = held_out_reference(ck, store, 0.8)
        assert sel["from"] == "split" and sel["configs"] == test and not sel["unchecked"]
