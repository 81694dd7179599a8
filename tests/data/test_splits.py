"""Splits and data fingerprints (glassdyn.data.splits), on stores the tests write."""

import shutil

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.splits import (
    fingerprint,
    fingerprint_difference,
    identity,
    plan_splits,
    split_configs,
    training_identities,
    unseen_configs,
)
from glassdyn.data.store import Store

from glassdyn.testing import write_synthetic_store

FIELDS = (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS, keys.ISO_DISPLACEMENTS)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("splits") / "s.zarr"
    write_synthetic_store(path, temperatures=(0.64, 0.8), n_configs=5, n_particles=32, n_replicas=2)
    return path


def test_split_is_disjoint_covering_and_seeded():
    for C in range(1, 30):
        completed = np.arange(C) * 3 + 1  # ids need not be 0..C-1
        for vf, tf in ((0.1, 0.2), (0.0, 0.3), (0.25, 0.0), (0.3, 0.3)):
            for seed in (0, 7):
                s = split_configs(completed, seed, 0.44, vf, tf)
                parts = [set(s[p]) for p in ("train", "val", "test")]
                assert sum(map(len, parts)) == C and set().union(*parts) == set(completed.tolist())
                assert s["train"], "something is always left to train on"
                if C >= 3:
                    assert (len(s["test"]) >= 1) == (tf > 0) and (len(s["val"]) >= 1) == (vf > 0)
                assert s == split_configs(completed, seed, 0.44, vf, tf)
    a = split_configs(np.arange(40), 0, 0.44, 0.1, 0.2)
    assert a != split_configs(np.arange(40), 1, 0.44, 0.1, 0.2)
    assert a != split_configs(np.arange(40), 0, 0.8, 0.1, 0.2)  # per temperature


def test_recorded_split_keeps_the_datasets_test_files():
    labels = ["train"] * 10 + ["test"] * 5  # BOTAN's sample: 10 train files, 5 test files
    s = split_configs(np.arange(15), 0, 0.44, 0.1, 0.2, recorded=labels)
    assert s["test"] == list(range(10, 15)) and s["source"] == "import.splits"
    assert len(s["val"]) == 1 and set(s["val"]) | set(s["train"]) == set(range(10))
    assert split_configs(np.arange(15), 3, 0.44, 0.3, 0.2, recorded=labels)["val"] != s["val"]
    # only completed configurations take part
    s2 = split_configs(np.array([0, 1, 2, 11]), 0, 0.44, 0.1, 0.2, recorded=labels)
    assert s2["test"] == [11] and sorted(s2["train"] + s2["val"]) == [0, 1, 2]


def test_plan_honours_import_splits_recorded_in_the_store(tmp_path):
    path = tmp_path / "b.zarr"
    write_synthetic_store(path, temperatures=(0.44, 0.8), n_configs=6, n_particles=32, n_replicas=1)
    sp = Store.open(path, mode="r+").state(0.44)
    sp.group.attrs["import"] = {
        "format": "botan",
        "splits": ["test", "train", "train", "test", "train", "train"],
    }
    split = plan_splits(Store.open(path), [0.44, 0.8], seed=0, val_fraction=0.1, test_fraction=0.2)
    assert split["0.44"]["test"] == [0, 3] and split["0.44"]["source"] == "import.splits"
    assert set(split["0.44"]["val"]) < {1, 2, 4, 5} and len(split["0.44"]["val"]) == 1
    assert split["0.8"]["source"] == "seed"


def test_fingerprint_follows_content_not_path(store_path, tmp_path):
    split = plan_splits(
        Store.open(store_path), [0.64, 0.8], seed=0, val_fraction=0.2, test_fraction=0.2
    )
    fp = fingerprint(Store.open(store_path), split, FIELDS)
    moved = tmp_path / "elsewhere" / "moved.zarr"
    shutil.copytree(store_path, moved)
    assert fingerprint(Store.open(moved), split, FIELDS) == fp  # same data, another path
    # one displacement of one replica changes: the content digest of that configuration only
    sp = Store.open(moved, mode="r+").state(0.8)
    d = sp.read(keys.ISO_DISPLACEMENTS, 2)
    d[1, 0, 5, 0] += 1e-3
    sp.write(2, **{keys.ISO_DISPLACEMENTS: d})
    fp2 = fingerprint(Store.open(moved), split, FIELDS)
    assert (
        fingerprint_difference(fp, fp2)
        == "T=0.8: the data (positions or targets) of configuration 2 changed"
    )
    assert fp2["states"]["0.8"]["identity"] == fp["states"]["0.8"]["identity"]  # same structures
    # without the displacements among the fields, nothing changed
    few = (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS)
    assert fingerprint(Store.open(moved), split, few) == fingerprint(
        Store.open(store_path), split, few
    )
    other = tmp_path / "other.zarr"
    write_synthetic_store(
        other, temperatures=(0.64, 0.8), n_configs=5, n_particles=32, n_replicas=2, seed=9
    )
    why = fingerprint_difference(fp, fingerprint(Store.open(other), split, FIELDS))
    assert why.startswith("T=0.64: the structure of configuration")


def test_unseen_configs_never_include_training_structures(store_path, tmp_path):
    store = Store.open(store_path)
    split = plan_splits(store, [0.8], seed=0, val_fraction=0.2, test_fraction=0.2, held_out=[0.64])
    fp = fingerprint(store, {"0.8": split["0.8"]}, FIELDS)
    ids = training_identities(fp, split)
    assert len(ids) == len(split["0.8"]["train"]) + len(split["0.8"]["val"])
    sp = store.state(0.8)
    same = unseen_configs(sp, "test", split["0.8"], fp["states"]["0.8"], ids, FIELDS)
    assert same == {"from": "split", "configs": split["0.8"]["test"], "excluded": [], "changed": []}
    held = unseen_configs(store.state(0.64), "test", split["0.64"], None, ids)
    assert held["from"] == "store" and held["configs"] == [0, 1, 2, 3, 4]
    # a store that re-assembles training configurations with new ones (another order, another T)
    mixed = tmp_path / "mixed.zarr"
    new = Store.create(mixed)
    dst = new.create_state(0.7, n_configs=3, n_particles=32, n_replicas=2, times=sp.times)
    src = [split["0.8"]["train"][0], split["0.8"]["test"][0]]
    for k, c in enumerate(src):
        dst.write(k, **{f: sp.read(f, c) for f in FIELDS})
        dst.mark_done(k)
    other = Store.open(store_path).state(0.64)
    dst.write(2, **{f: other.read(f, 0) for f in FIELDS})
    dst.mark_done(2)
    sel = unseen_configs(Store.open(mixed).state(0.7), "test", None, None, ids)
    assert sel["from"] == "store" and sel["excluded"] == [0] and sel["configs"] == [1, 2]
    assert identity(dst, 0) == fp["states"]["0.8"]["identity"][str(src[0])]
    with pytest.raises(InputError, match="has no val split"):
        unseen_configs(Store.open(mixed).state(0.7), "val", None, None, ids)
