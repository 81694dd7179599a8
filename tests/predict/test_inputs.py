"""IS-aware inputs of the graph networks: descriptors and TS -> IS vectors as node inputs, the
ridge-started linear skip, the coarse-grained readout, weights moved across input layouts, the
``auto`` defaults and ``--max-minutes``."""

import json

import numpy as np
import pytest
import torch
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.training import resolve_inputs, train
from glassdyn.predict.warm_start import init_skip, transfer_state

from glassdyn.nn.dataset import (
    GraphDataset,
    GraphSpec,
    apply_symmetry,
    cube_symmetries,
    graph_from_arrays,
)
from glassdyn.nn.descriptors import describe
from glassdyn.nn.models import ModelConfig, build_model, coarse_grained
from glassdyn.testing import random_ka_configuration, write_synthetic_store


@pytest.fixture(scope="module")
def conf():
    return random_ka_configuration(128, seed=3)


def _jittered(conf, scale=0.05, seed=0):
    rng = np.random.default_rng(seed)
    return conf.positions + rng.normal(scale=scale, size=conf.positions.shape)


def _model(spec, data, **kw):
    """A small untrained model for ``spec``, its input standardisation taken from ``data``."""
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(
            node_dim=data.node_attr.shape[1] if "node_attr" in data else 0,
            edge_dim=spec.edge_dim,
            node_vec_dim=spec.node_vec_dim,
            hidden=16,
            steps=2,
            **kw,
        )
    ).eval()
    if "node_attr" in data:
        a = data.node_attr
        model.set_normalization(node_attr_mean=a.mean(0), node_attr_std=a.std(0).clamp(min=1e-6))
    return model


def test_descriptor_inputs_are_the_descriptors_and_the_vectors_the_ts_is_displacement(conf):
    inh = _jittered(conf)
    spec = GraphSpec(input="ts+is", node_features="descriptors", node_vectors=True)
    g = graph_from_arrays(spec, conf.types, conf.box, conf.positions, inh)
    d = inh - conf.positions
    d -= conf.box * np.round(d / conf.box)
    want = np.concatenate(
        [
            np.linalg.norm(d, axis=1, keepdims=True),
            describe(conf.positions, conf.types, conf.box, inh, spec.descriptor_spec()),
        ],
        axis=1,
    )
    assert g.node_attr.shape[1] == spec.node_dim == want.shape[1]
    np.testing.assert_allclose(g.node_attr.numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g.node_vec.numpy(), d, atol=1e-5)
    np.testing.assert_allclose(
        g.edge_length.numpy(), np.linalg.norm(g.edge_attr[:, :3].numpy(), axis=1), rtol=1e-5
    )
    ts = GraphSpec(input="ts", node_features="descriptors")  # thermal descriptors only
    assert ts.node_dim < spec.node_dim
    with pytest.raises(InputError, match="need an input with is or cage"):
        GraphSpec(input="ts", node_vectors=True)


def test_augmentation_turns_node_vectors_with_the_edge_vectors(conf):
    """A cube symmetry of the positions turns the TS -> IS vectors as it turns the pair vectors
    (so augmenting both with the same matrix is a symmetry of the data), and the sample the
    augmentation hands out is turned consistently."""
    inh = _jittered(conf)
    spec = GraphSpec(input="ts+is", node_features="descriptors", node_vectors=True)
    g = graph_from_arrays(spec, conf.types, conf.box, conf.positions, inh)
    S = cube_symmetries()
    M = S[13].numpy().astype(np.float64)
    turned = graph_from_arrays(
        spec, conf.types, conf.box, (conf.positions @ M.T) % conf.box, (inh @ M.T) % conf.box
    )
    np.testing.assert_allclose(turned.node_vec.numpy(), g.node_vec.numpy() @ M.T, atol=1e-5)
    np.testing.assert_allclose(turned.node_attr.numpy(), g.node_attr.numpy(), rtol=1e-4, atol=1e-4)
    ds = GraphDataset([g], spec, augment=True, generator=torch.Generator().manual_seed(1))
    for _ in range(5):
        a = ds[0]
        k = [i for i in range(48) if torch.allclose(apply_symmetry(g.edge_attr, S[i]), a.edge_attr)]
        assert len(k) == 1
        torch.testing.assert_close(a.node_vec, apply_symmetry(g.node_vec, S[k[0]]))
        torch.testing.assert_close(a.node_attr, g.node_attr)  # invariants stay


def test_descriptor_model_with_skip_and_readout_is_rotation_invariant(conf):
    """Any rotation of a piece of liquid: invariant edge features, descriptors, the linear skip
    and the coarse-grained readout give the same predictions; the same model with the TS -> IS
    vectors as node inputs does not (the check can fail)."""
    L = 40.0
    rng = np.random.default_rng(0)
    x = conf.positions - conf.box / 2 + L / 2
    inh = x + rng.normal(scale=0.05, size=x.shape)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    turn = lambda y: (y - L / 2) @ q.T + L / 2
    box = np.full(3, L)
    spec = GraphSpec(input="ts+is", edge_features="invariant", node_features="descriptors")
    a_data = graph_from_arrays(spec, conf.types, box, x, inh)
    b_data = graph_from_arrays(spec, conf.types, box, turn(x), turn(inh))
    model = _model(spec, a_data, skip=True, readout_hops=2, shared_decoder=False)
    with torch.no_grad():
        model.skip_weight.normal_()
        model.node_attr_std.fill_(3.0)
    torch.testing.assert_close(model(a_data)["node"], model(b_data)["node"], atol=1e-4, rtol=1e-4)
    vspec = GraphSpec(
        input="ts+is", edge_features="invariant", node_features="descriptors", node_vectors=True
    )
    # control: the same model fed the TS -> IS vectors too sees the orientation
    far = x + rng.normal(scale=0.15, size=x.shape)
    pairs = ((x, far), (turn(x), turn(far)))
    for sp_, want_invariant in ((spec, True), (vspec, False)):
        ga, gb = (graph_from_arrays(sp_, conf.types, box, *p) for p in pairs)
        m = _model(sp_, ga, readout_hops=2, shared_decoder=False)
        gap = (m(ga)["node"] - m(gb)["node"]).abs().max() / m(ga)["node"].std()
        assert (gap < 1e-4) if want_invariant else (gap > 1e-2), (sp_.node_vectors, gap)


def test_coarse_grained_readout_equals_a_plain_loop():
    rng = np.random.default_rng(0)
    N, H = 7, 3
    pairs = [(i, j) for i in range(N) for j in range(N) if i != j and rng.random() < 0.4]
    ei = torch.tensor(pairs).T
    r = torch.tensor(rng.uniform(0.8, 2.0, len(pairs)), dtype=torch.float64)
    x = torch.tensor(rng.normal(size=(N, H)))
    out = coarse_grained(x, ei, r, hops=3)
    h, want = x.numpy(), [x.numpy()]
    for _ in range(3):
        new = np.zeros_like(h)
        for j in range(N):
            num, den = h[j].copy(), 1.0
            for k, (a, b) in enumerate(pairs):
                if b == j:
                    w = np.exp(-float(r[k]))
                    num += w * h[a]
                    den += w
            new[j] = num / den
        h = new
        want.append(h)
    np.testing.assert_allclose(out.numpy(), np.concatenate(want, axis=1), rtol=1e-12)


def test_transfer_from_plain_botan_keeps_its_function(conf):
    """A published-layout BOTAN (type in, TS vectors, shared decoder) starts a model with
    descriptors, TS -> IS vectors, IS pair vectors, the skip (at zero), a coarse-grained readout
    and separate decoders: it computes exactly the source's node and edge outputs."""
    inh = _jittered(conf)
    plain = GraphSpec(input="ts")
    big = GraphSpec(input="ts+is", node_features="descriptors", node_vectors=True)
    g0 = graph_from_arrays(plain, conf.types, conf.box, conf.positions)
    g1 = graph_from_arrays(big, conf.types, conf.box, conf.positions, inh)
    torch.manual_seed(1)
    src = build_model(ModelConfig(hidden=16, steps=2)).eval()
    dst = _model(big, g1, skip=True, readout_hops=2, shared_decoder=False)
    widened = transfer_state(dst, src.state_dict())
    assert set(widened) == {
        "node_encoder.fc1.weight",
        "edge_encoder.fc1.weight",
        "node_decoder.fc1.weight",
    }
    a, b = src(g0), dst(g1)
    torch.testing.assert_close(b["node"], a["node"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b["edge"], a["edge"], atol=1e-5, rtol=1e-5)
    other = build_model(ModelConfig(hidden=8, steps=2))
    with pytest.raises(InputError, match="node_encoder.fc1.weight has shape"):
        transfer_state(dst, other.state_dict())
    with pytest.raises(InputError, match="lacks the weights"):
        transfer_state(dst, {k: v for k, v in src.state_dict().items() if "node_update" not in k})


def test_skip_is_the_cross_validated_ridge_solution(conf):
    """init_skip is ridge per species and time on the standardised inputs, normalised targets,
    with the strength of the leave-one-configuration-out ridge baseline, and stays fixed."""
    rng = np.random.default_rng(2)
    graphs = []
    for seed in range(3):
        c = random_ka_configuration(128, seed=seed)
        g = graph_from_arrays(GraphSpec(node_features="descriptors"), c.types, c.box, c.positions)
        g.y = torch.tensor(rng.normal(size=(128, 2)), dtype=torch.float32) + g.node_attr[:, :2]
        graphs.append(g)
    spec = GraphSpec(node_features="descriptors")
    model = _model(spec, graphs[0], skip=True, n_outputs=2)
    a = torch.cat([g.node_attr for g in graphs])
    y = torch.cat([g.y for g in graphs])
    model.set_normalization(
        node_attr_mean=a.mean(0),
        node_attr_std=a.std(0).clamp(min=1e-6),
        node_mean=y.mean(0),
        node_std=y.std(0),
    )
    alphas = init_skip(model, graphs)
    assert not model.skip_weight.requires_grad  # fixed during training
    z = ((a - model.node_attr_mean) / model.node_attr_std).double().numpy()
    yn = ((y - model.node_mean) / model.node_std).double().numpy()
    t = torch.cat([g.types for g in graphs]).numpy()
    for s in (0, 1):
        zs, ys = z[t == s], yn[t == s]
        zc, yc = zs - zs.mean(0), ys - ys.mean(0)
        for k in range(2):  # the strength chosen by cross-validation, per time
            lam = alphas["AB"[s]][k] * len(zs)
            w = np.linalg.solve(zc.T @ zc + lam * np.eye(zs.shape[1]), zc.T @ yc[:, k])
            np.testing.assert_allclose(
                model.skip_weight[s, :, k].double().numpy(), w, rtol=2e-3, atol=2e-4
            )
    pred = model.skip_term(graphs[0]).detach().numpy()
    want = np.einsum("nf,nfk->nk", z[:128], model.skip_weight.double().numpy()[t[:128]])
    want += model.skip_bias.double().numpy()[t[:128]]
    np.testing.assert_allclose(pred, want, rtol=1e-4, atol=1e-4)


def test_auto_inputs_follow_the_store(tmp_path):
    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=3, n_particles=128, n_replicas=2)
    store = Store.open(path)
    base = TrainConfig(data=str(path), out=str(tmp_path / "r"))
    with_is = resolve_inputs(store, base)
    assert (with_is.input, with_is.node_features, with_is.node_vectors, with_is.skip) == (
        "ts+is",
        "descriptors",
        True,
        True,
    )
    assert with_is.shared_decoder is False and with_is.readout_hops == 2
    plain = resolve_inputs(
        store, TrainConfig(data=str(path), out="r", node_features="type", readout_hops=0)
    )
    assert (plain.skip, plain.shared_decoder) == (False, True)
    sp = Store.open(path, mode="r+").state(0.8)
    sp.array(keys.INHERENT_MAX_FORCE)[1] = np.nan  # configuration 1 lost its inherent structure
    with pytest.raises(InputError, match="inherent structures for 2 of its 3 .*glassdyn quench"):
        resolve_inputs(Store.open(path), base)
    assert (
        resolve_inputs(Store.open(path), TrainConfig(data=str(path), out="r", input="ts")).input
        == "ts"
    )
    sp.array(keys.INHERENT_MAX_FORCE)[:] = np.nan  # none has one: auto falls back to ts
    no_is = resolve_inputs(Store.open(path), base)
    assert (no_is.input, no_is.node_vectors, no_is.skip) == ("ts", False, True)
    with pytest.raises(InputError, match="--input is needs inherent structures"):
        resolve_inputs(Store.open(path), TrainConfig(data=str(path), out="r", input="is"))
    with pytest.raises(InputError, match="--node-vectors feeds the TS -> IS displacement"):
        TrainConfig(data=str(path), out="r", input="ts", node_vectors=True)


def test_runs_written_before_the_new_inputs_keep_their_settings():
    old = {"data": "s.zarr", "out": "r", "model": "botan", "input": "ts", "shared_decoder": True}
    c = TrainConfig.from_dict(old)
    assert (c.node_features, c.node_vectors, c.skip, c.readout_hops) == ("type", False, False, 0)
    assert c.cg_lengths == (1.0, 2.0)  # the descriptors' coarse-graining before the third length
    assert c.graph_spec() == GraphSpec(input="ts", cg_lengths=(1.0, 2.0))


def test_cg_lengths_reach_graphs_and_ridge_old_runs_keep_theirs_and_init_across_them_is_refused(
    tmp_path,
):
    from glassdyn.predict.baselines import DescriptorModel
    from glassdyn.predict.evaluation import evaluate_run

    from glassdyn.nn.descriptors import local_names

    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=4, n_particles=128, n_replicas=2)
    two, three = (
        GraphSpec(input="ts+is", node_features="descriptors", cg_lengths=a)
        for a in ((1.0, 2.0), (1.0, 2.0, 3.0))
    )
    assert three.node_dim - two.node_dim == len(local_names(three.descriptor_spec()))
    default = resolve_inputs(Store.open(path), TrainConfig(data=str(path), out="r"))
    assert default.cg_lengths == (1.0, 2.0, 3.0)  # recorded in run.json, not left to the default
    cfg = dict(data=str(path), hidden=8, steps=1, epochs=1, progress=False)
    old = train(TrainConfig(**cfg, out=str(tmp_path / "old"), cg_lengths=(1.0, 2.0)))
    # a run written before the option: its run.json does not name the lengths; it is still
    # read with the ones it was trained on (else its graphs would not fit its first layer)
    info = json.loads((old / "run.json").read_text())
    del info["train_config"]["cg_lengths"]
    (old / "run.json").write_text(json.dumps(info))
    assert evaluate_run(old, str(path), latent_png=None)["node_pearson"]["0.8"]
    with pytest.raises(
        InputError, match=r"coarse-grained at lengths 1,2, this one at 1,2,3; pass "
    ):
        train(TrainConfig(**cfg, out=str(tmp_path / "new"), init=str(old)))
    assert not (tmp_path / "new" / "last.pt").exists()
    train(TrainConfig(**cfg, out=str(tmp_path / "same"), init=str(old), cg_lengths=(1.0, 2.0)))
    ridge = train(TrainConfig(**cfg, out=str(tmp_path / "ridge"), model="ridge", cg_lengths=(1.5,)))
    assert DescriptorModel.load(ridge).spec.cg_lengths == (1.5,)
    with pytest.raises(InputError, match="--cg-lengths must be positive lengths"):
        TrainConfig(**cfg, out="r", cg_lengths=(1.0, -2.0))


def test_max_minutes_stops_after_an_epoch_and_the_rerun_continues(tmp_path, capsys):
    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=4, n_particles=128, n_replicas=2)
    cfg = dict(data=str(path), out=str(tmp_path / "r"), hidden=8, steps=1, epochs=3, progress=False)
    run = train(TrainConfig(**cfg, max_minutes=1e-9))
    # the start (the ridge skip, epoch -1) and one epoch
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == [-1, 0]
    assert "stopped after epoch 1 of 3 (--max-minutes 1e-09); rerun" in capsys.readouterr().err
    train(TrainConfig(**cfg))  # the same command without the limit (or with it, again) resumes
    hist = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [-1, 0, 1, 2]  # the start is validated once


def test_max_train_keeps_validation_and_test_and_nests_the_training_subsets(tmp_path):
    from glassdyn.predict.training import plan

    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=10, n_particles=128, n_replicas=2)
    store = Store.open(path)
    full, _ = plan(store, TrainConfig(data=str(path), out="r"))
    parts = [
        plan(store, TrainConfig(data=str(path), out="r", max_train=n))[0]["0.8"] for n in (1, 3)
    ]
    for n, part in zip((1, 3), parts):
        assert part["train"] == full["0.8"]["train"][:n]
        assert (part["val"], part["test"]) == (full["0.8"]["val"], full["0.8"]["test"])
    with pytest.raises(InputError, match="--max-train must be >= 1"):
        TrainConfig(data=str(path), out="r", max_train=0)


def test_graph_fields_and_model_outputs_are_the_declared_keys(conf):
    """Every field a graph sample carries and every key a model returns is declared (with its
    shape) in glassdyn.nn.keys; nothing else."""
    from glassdyn.nn import keys as nk

    rng = np.random.default_rng(0)
    disp = rng.normal(scale=0.1, size=(2, 2, 128, 3))
    spec = GraphSpec(input="ts+is", node_features="descriptors", node_vectors=True)
    data = graph_from_arrays(
        spec, conf.types, conf.box, conf.positions, _jittered(conf), disp, 0.8, 3
    )
    assert set(data.keys()) - {"num_nodes"} == set(nk.GRAPH_FIELDS)  # num_nodes: PyG's own
    N, E = len(conf.types), data.edge_index.shape[1]
    assert data[nk.Y].shape == (N, 2) and data[nk.Y_EDGE].shape == (E, 2)
    assert data[nk.NODE_VEC].shape == (N, 3) and data[nk.EDGE_MASK].shape == (E,)
    for kind in ("botan", "tbotan", "bapst"):
        model = _model(spec, data, kind=kind)
        assert tuple(model(data)) == nk.OUTPUTS and tuple(model.predict(data)) == nk.PREDICTIONS


def test_a_run_starts_as_its_ridge_model_and_keeps_it_when_training_only_hurts(tmp_path):
    """With the skip, the network's correction starts at zero and the start competes for best.pt
    (epoch -1): a run whose training only makes validation worse (here lr 10) keeps the ridge
    model; an ordinary run moves on from it."""
    from glassdyn.predict.checkpoints import load_checkpoint
    from glassdyn.predict.evaluation import TrainedRun

    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=12, n_particles=128, n_replicas=2)
    cfg = dict(data=str(path), hidden=8, steps=1, epochs=2, progress=False, skip=True)
    bad = train(TrainConfig(out=str(tmp_path / "bad"), lr=10.0, **cfg))
    hist = json.loads((bad / "history.json").read_text())
    assert hist[0]["epoch"] == -1 and hist[0]["phase"] == "start"
    assert min(h["val_select"] for h in hist[1:]) > hist[0]["val_select"]
    assert load_checkpoint(bad / "best.pt")["best_epoch"] == -1
    run = TrainedRun(bad)
    sp = Store.open(path).state(0.8)
    pred, sample = run.predict(sp, run.configs(0.8, "test")[0])
    model = run.model
    with torch.no_grad():
        ridge = model.skip_term(sample) * model.node_std + model.node_mean
    np.testing.assert_allclose(pred["node"], ridge.numpy(), rtol=1e-5, atol=1e-6)
    good = train(TrainConfig(out=str(tmp_path / "good"), lr=1e-3, **cfg))
    hist = json.loads((good / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [-1, 0, 1]
    assert hist[0]["val_select"] == pytest.approx(
        json.loads((bad / "history.json").read_text())[0]["val_select"]
    )
    # evaluate says what the network adds to its linear skip, paired per test configuration:
    # nothing for the run that kept its start; for the trained one, its gain over the skip's own
    # Pearsons, computed here by hand from the skip's predictions
    from glassdyn.predict.evaluation import evaluate_run
    from glassdyn.predict.metrics import pearson

    kept = evaluate_run(bad, path, latent_png=None)["network_over_linear"]["0.8"]
    assert np.allclose(kept["gain"], 0.0, atol=1e-6) and not any(kept["above"])
    res = evaluate_run(good, path, latent_png=None)
    run = TrainedRun(good)
    by_hand = []
    for c in run.configs(0.8, "test"):
        pred, sample = run.predict(sp, c)
        m = sample.node_mask.numpy()
        with torch.no_grad():
            skip = run.model.skip_term(sample) * run.model.node_std + run.model.node_mean
        np.testing.assert_allclose(pred["linear"], skip.numpy(), rtol=1e-5, atol=1e-6)
        K = sample.y.shape[1]
        by_hand.append([pearson(pred["linear"][m, k], sample.y.numpy()[m, k]) for k in range(K)])
    lin = res["network_over_linear"]["0.8"]
    np.testing.assert_allclose(lin["node_pearson"], np.mean(by_hand, 0), rtol=1e-6)
    gain = np.asarray(res["node_pearson_per_config"]["0.8"]) - np.asarray(by_hand)
    np.testing.assert_allclose(lin["gain"], gain.mean(0), atol=1e-9)
    assert lin["n"] == len(by_hand) >= 2 and np.all(np.isfinite(lin["gain_se"]))
    assert np.abs(gain).max() > 0  # trained: the network's correction is not zero
