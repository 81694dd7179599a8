"""Cage states as predictor inputs (``--input cage``, ``is+cage``, ...) and ``--input auto``
choosing among them on the validation configurations only."""

import json

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.box import wrap
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.evaluation import evaluate_run
from glassdyn.predict.training import resolve_inputs, train

from glassdyn.cli import main
from glassdyn.nn.dataset import GraphSpec, build_graph
from glassdyn.nn.descriptors import (
    DescriptorSpec,
    describe,
    descriptor_names,
    family_columns,
    family_subset,
)
from glassdyn.testing import local_density, random_ka_configuration, write_synthetic_store


def _cage_store(path, n_configs=10, T=0.8, seed=0):
    """A synthetic store whose mobility is set by the *cage* structure: each configuration's cage
    state is its own random configuration (unrelated to the thermal one), sparse cage regions
    move most, and ``cage/done`` is set; inherent structures as ``write_synthetic_store``."""
    store = write_synthetic_store(
        path, temperatures=(T,), n_configs=n_configs, n_particles=128, n_replicas=2, seed=seed
    )
    sp = store.create_state(
        T,
        n_configs=n_configs,
        n_particles=128,
        n_replicas=2,
        times=sp_times(store, T),
        fields=[keys.CAGE_POSITIONS, keys.CAGE_DONE],
    )
    rng = np.random.default_rng(seed + 1)
    for c in range(n_configs):
        types, box = sp.read(keys.TYPES, c), sp.read(keys.BOX, c)
        cage = random_ka_configuration(128, seed=1000 + c).positions
        n = local_density(cage, box)
        prop = np.exp(-(n - n.mean()) / 3.0) * (1.2 - 0.5 * types)
        prop = prop[None, :] * np.array([[0.1], [0.3], [1.0]]) * rng.uniform(0.9, 1.1, (3, 128))
        disp = np.zeros((2, 3, 128, 3), np.float32)
        disp[..., 0] = prop[None]  # |displacement| = prop in every replica
        sp.write(
            c,
            **{
                keys.CAGE_POSITIONS: wrap(cage, box),
                keys.CAGE_DONE: True,
                keys.ISO_DISPLACEMENTS: disp,
            },
        )
        sp.update_propensity(c)
    return store


def sp_times(store, T):
    return store.state(T).times


def test_cage_graphs_and_descriptors_read_the_cage_state(tmp_path):
    """The graph of input ``cage`` is the cage state's radius graph with its pair vectors;
    ``is+cage`` is the IS graph with both vectors, |r_cage - r_IS| as node input and the TS -> IS,
    TS -> cage vectors; the cage descriptor families are the thermal ones computed on the cage
    state (a cage input that silently read the thermal or inherent positions fails)."""
    store = _cage_store(tmp_path / "s.zarr", n_configs=2)
    sp = store.state(0.8)
    x, t, box, xi, xc = (
        sp.read(k, 0)
        for k in (
            keys.THERMAL_POSITIONS,
            keys.TYPES,
            keys.BOX,
            keys.INHERENT_POSITIONS,
            keys.CAGE_POSITIONS,
        )
    )
    g = build_graph(sp, 0, GraphSpec(input="cage"), targets=False)
    i, j = g.edge_index.numpy()
    d = (xc[j] - xc[i] + box / 2) % box - box / 2
    np.testing.assert_allclose(g.edge_attr.numpy(), d, atol=1e-5)
    assert np.linalg.norm(d, axis=1).max() < 2.0
    spec = GraphSpec(input="is+cage", node_vectors=True)
    assert (spec.edge_dim, spec.node_dim, spec.node_vec_dim) == (6, 1, 6)
    g = build_graph(sp, 0, spec, targets=False)
    i, j = g.edge_index.numpy()
    di = (xi[j] - xi[i] + box / 2) % box - box / 2
    assert np.linalg.norm(di, axis=1).max() < 2.0  # the IS graph
    np.testing.assert_allclose(g.edge_attr.numpy()[:, :3], di, atol=1e-5)
    dc = (xc[j] - xc[i] + box / 2) % box - box / 2
    np.testing.assert_allclose(g.edge_attr.numpy()[:, 3:], dc, atol=1e-5)
    shift = (xc - xi + box / 2) % box - box / 2
    np.testing.assert_allclose(g.node_attr.numpy()[:, 0], np.linalg.norm(shift, axis=1), atol=1e-5)
    np.testing.assert_allclose(
        g.node_vec.numpy()[:, 3:], (xc - x + box / 2) % box - box / 2, atol=1e-5
    )
    assert GraphSpec(input="ts+is+cage", edge_features="invariant").edge_dim == 5
    # descriptors: cage families = the thermal families of the cage state (local columns)
    full = DescriptorSpec().for_structures(("is", "cage"))
    X = describe(x, t, box, xi, full, xc)
    assert X.shape[1] == len(descriptor_names(full))
    ts_only = DescriptorSpec().without_inherent()
    on_cage = describe(xc, t, box, None, ts_only)
    cols = family_columns(full)
    n_local = len(descriptor_names(ts_only)) // (1 + len(ts_only.cg_lengths))
    local_cage = np.concatenate([cols[f][:1] for f in ("energy_cage",)])
    np.testing.assert_allclose(X[:, local_cage[0]], on_cage[:, n_local - 1], rtol=1e-10)
    # a family subset of the full matrix is the matrix of that subset
    sub = DescriptorSpec().for_structures(("cage",))
    np.testing.assert_allclose(
        X[:, family_subset(full, sub.families)], describe(x, t, box, None, sub, xc), rtol=1e-10
    )


def test_explicit_cage_inputs_reach_the_descriptor_models(tmp_path):
    """ridge and mlp train and evaluate with --input cage / is+cage; on data whose mobility the
    cage state sets, ridge on cage descriptors beats ridge on thermal ones on the test split
    (cage descriptors that never reached the model would tie)."""
    path = tmp_path / "s.zarr"
    _cage_store(path, n_configs=8)
    scores = {}
    for model, inp in (("ridge", "ts"), ("ridge", "cage"), ("mlp", "is+cage")):
        out = tmp_path / f"{model}_{inp}"
        train(TrainConfig(data=str(path), out=str(out), model=model, input=inp, progress=False))
        res = evaluate_run(out, str(path), latent_png=None)
        scores[(model, inp)] = np.mean(res["node_pearson"]["0.8"])
        fams = json.loads((out / "baseline.json").read_text())["families"]
        assert ("energy_cage" in fams) == ("cage" in inp) and ("energy_is" in fams) == (
            "is" in inp.split("+")
        )
    assert scores[("ridge", "cage")] > scores[("ridge", "ts")] + 0.2, scores


@pytest.mark.slow
def test_graph_networks_train_on_cage_inputs(tmp_path):
    """BOTAN and T-BOTAN train, record and evaluate with --input is+cage / cage."""
    path = tmp_path / "s.zarr"
    _cage_store(path, n_configs=8)
    for model, inp in (("botan", "is+cage"), ("tbotan", "cage")):
        out = tmp_path / f"{model}_{inp}"
        cfg = dict(hidden=8, steps=1, epochs=1, progress=False, input=inp, model=model)
        train(TrainConfig(data=str(path), out=str(out), **cfg))
        run = json.loads((out / "run.json").read_text())
        assert run["train_config"]["input"] == inp
        assert np.isfinite(
            evaluate_run(out, str(path), latent_png=None)["node_pearson"]["0.8"]
        ).all()


@pytest.mark.slow  # 10 s: explicit cage inputs stay in the fast tier
def test_auto_chooses_cage_without_test_data(tmp_path, capsys):
    """With cage states, --input auto picks, by a ridge scored leave-one-configuration-out over
    the training and validation configurations, an input with the cage state on data whose
    mobility it sets; replacing the *test* configurations' propensities changes nothing in the
    choice or its scores (a choice that looked at test data would move)."""
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    _cage_store(a, n_configs=10)
    store_b = _cage_store(b, n_configs=10)
    cfg = TrainConfig(data=str(a), out=str(tmp_path / "r"), model="ridge")
    from glassdyn.predict.training import plan

    split, _ = plan(Store.open(a), cfg)
    sp = store_b.state(0.8)
    rng = np.random.default_rng(5)
    for c in split["0.8"]["test"]:  # nonsense on the test files of b only
        sp.array(keys.ISO_PROPENSITY)[c] = rng.uniform(size=(3, 128)).astype(np.float32)
    choices = []
    for path in (a, b):
        choice = {}
        config = resolve_inputs(
            Store.open(path), TrainConfig(data=str(path), out="r"), None, choice
        )
        choices.append(choice)
        assert "cage" in config.input and config.input == choice["chosen"]
        assert config.node_vectors and config.skip
    assert choices[0] == choices[1]
    sc = choices[0]["loo_pearson_A"]
    assert set(sc) == {"ts+is", "ts+cage", "ts+is+cage"} and sc["ts+cage"] > sc["ts+is"] + 0.2
    assert choices[0]["n_configs"] == len(split["0.8"]["train"]) + len(split["0.8"]["val"]) < 10
    # recorded in run.json; the ridge fitted with the chosen input
    out = tmp_path / "ridge"
    assert main(["train", "--data", str(a), "--model", "ridge", "--out", str(out), "--quiet"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["input_choice"]["chosen"] == run["train_config"]["input"]
    # a store with cage states for some configurations only: auto refused, one line
    Store.open(a, mode="r+").state(0.8).array(keys.CAGE_DONE)[0] = False
    with pytest.raises(InputError, match="cage states for 9 of its 10 .*glassdyn cage"):
        resolve_inputs(Store.open(a), TrainConfig(data=str(a), out="r"))
    assert (
        main(
            [
                "train",
                "--data",
                str(a),
                "--model",
                "ridge",
                "--input",
                "cage",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs cage states" in err and "glassdyn cage" in err
