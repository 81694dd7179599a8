"""Leaks between training and evaluation data (issue 12): each test failed before the run toolkit.

* resuming a run on another store trained on it silently;
* evaluating on a copy of the training store scored the training configurations as test data;
* the graph cache served stale targets after the displacements changed;
* a BOTAN import's own train / test files were ignored by the split.
"""

import json
import shutil

import numpy as np
import pytest
import torch
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.evaluation import evaluate_run, predict_run
from glassdyn.predict.training import train

from glassdyn.cli import main
from glassdyn.nn.dataset import GraphCache, GraphSpec
from glassdyn.testing import write_synthetic_store

SMALL = {"hidden": 8, "steps": 1, "progress": False, "model": "bapst"}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("leaks") / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=5, n_particles=128, n_replicas=2)
    return path


@pytest.fixture(scope="module")
def run(store_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("leakrun") / "run"
    return train(TrainConfig(data=str(store_path), out=str(out), epochs=1, **SMALL))


def _split(run):
    return json.loads((run / "run.json").read_text())["split"]["0.8"]


def test_resume_on_another_store_is_refused_and_a_moved_store_resumes(store_path, tmp_path):
    out = tmp_path / "r"
    train(TrainConfig(data=str(store_path), out=str(out), epochs=1, **SMALL))
    other = tmp_path / "other.zarr"
    write_synthetic_store(
        other, temperatures=(0.8,), n_configs=5, n_particles=128, n_replicas=2, seed=3
    )
    before = (out / "last.pt").read_bytes()
    with pytest.raises(
        InputError, match="was trained on other data than .*other.zarr .*structure of configuration"
    ):
        train(TrainConfig(data=str(other), out=str(out), epochs=2, **SMALL))
    assert (out / "last.pt").read_bytes() == before  # nothing touched
    moved = tmp_path / "moved.zarr"
    shutil.move(str(store_path.parent / "s.zarr"), moved)  # the same data at a new path resumes
    try:
        train(TrainConfig(data=str(moved), out=str(out), epochs=2, **SMALL))
    finally:
        shutil.move(str(moved), store_path)
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [-1, 0, 1]


def test_evaluate_on_a_copy_scores_the_test_split_only(run, store_path, tmp_path):
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store_path, copy)
    res = evaluate_run(run, copy, latent_png=None)
    test = _split(run)["test"]
    assert res["n_configs"]["0.8"] == len(test) == 1  # not the 5 configurations it holds
    assert res["configs"]["0.8"]["ids"] == test and res["same_store"] is True
    # re-simulated targets of the scored configuration: scored as they are now, with a warning
    sp = Store.open(copy, mode="r+").state(0.8)
    sp.write(test[0], **{keys.ISO_DISPLACEMENTS: 2 * sp.read(keys.ISO_DISPLACEMENTS, test[0])})
    res = evaluate_run(run, copy, latent_png=None)
    assert res["configs"]["0.8"]["ids"] == test
    assert any("differs from what the run recorded" in w for w in res["warnings"])
    predict_run(run, copy, tmp_path / "p.zarr")
    from glassdyn.data.predictions import read_predictions

    assert read_predictions(tmp_path / "p.zarr")[0.8].configs.tolist() == test


def test_evaluate_never_scores_training_configurations_of_another_store(run, store_path, tmp_path):
    """A store that re-assembles two training configurations with a new one: only the new one counts."""
    sp = Store.open(store_path).state(0.8)
    mixed = tmp_path / "mixed.zarr"
    dst = Store.create(mixed).create_state(
        0.8, n_configs=3, n_particles=128, n_replicas=2, times=sp.times
    )
    fresh = tmp_path / "fresh.zarr"
    write_synthetic_store(
        fresh, temperatures=(0.8,), n_configs=1, n_particles=128, n_replicas=2, seed=11
    )
    srcs = [(sp, c) for c in _split(run)["train"][:2]] + [(Store.open(fresh).state(0.8), 0)]
    fields = (
        keys.TYPES,
        keys.BOX,
        keys.THERMAL_POSITIONS,
        keys.INHERENT_POSITIONS,
        keys.INHERENT_MAX_FORCE,
        keys.ISO_DISPLACEMENTS,
    )
    for k, (s, c) in enumerate(srcs):
        dst.write(k, **{f: s.read(f, c) for f in fields})
        dst.update_propensity(k)
        dst.mark_done(k)
    res = evaluate_run(run, mixed, latent_png=None)
    assert res["n_configs"]["0.8"] == 1 and res["configs"]["0.8"]["ids"] == [2]
    assert res["configs"]["0.8"]["excluded_training"] == 2
    assert any("not scored" in w for w in res["warnings"])


def test_graph_cache_never_serves_stale_targets(tmp_path):
    path = tmp_path / "c.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=1, n_particles=128, n_replicas=2)
    cache = GraphCache(tmp_path / "graphs")
    spec = GraphSpec()
    y0 = cache.get(Store.open(path).state(0.8), 0, spec).y.clone()
    sp = Store.open(path, mode="r+").state(0.8)
    d = sp.read(keys.ISO_DISPLACEMENTS, 0)
    sp.write(0, **{keys.ISO_DISPLACEMENTS: 2 * d})  # re-simulated: every displacement doubles
    for c in (cache, GraphCache(tmp_path / "graphs")):  # in memory and from disk
        y1 = c.get(Store.open(path).state(0.8), 0, spec).y
        torch.testing.assert_close(y1, 2 * y0)


def test_training_honours_the_split_a_botan_import_records(tmp_path):
    path = tmp_path / "botan.zarr"
    write_synthetic_store(path, temperatures=(0.44,), n_configs=8, n_particles=128, n_replicas=2)
    sp = Store.open(path, mode="r+").state(0.44)
    labels = ["train", "test", "train", "train", "test", "train", "train", "train"]
    sp.group.attrs["import"] = {"format": "botan", "ids": list(range(8)), "splits": labels}
    out = tmp_path / "r"
    assert (
        main(
            [
                "train",
                "--data",
                str(path),
                "--model",
                "bapst",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--steps",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    s = json.loads((out / "run.json").read_text())["split"]["0.44"]
    assert s["test"] == [1, 4] and s["source"] == "import.splits"
    assert set(s["val"]) <= {0, 2, 3, 5, 6, 7} and len(s["val"]) == 1
    res = evaluate_run(out, path, latent_png=None)
    assert res["configs"]["0.44"]["ids"] == [1, 4]
    assert np.isfinite(res["node_pearson"]["0.44"][0])
