"""BOTAN family: fast path = naive path, invariances, shapes."""

import numpy as np
import pytest
import torch

from glassdyn.nn.dataset import GraphSpec, apply_symmetry, cube_symmetries, graph_from_arrays
from glassdyn.nn.layers import EdgeMLP
from glassdyn.nn.models import ModelConfig, build_model
from glassdyn.testing import (
    assert_cube_symmetry_invariant,
    assert_periodic_image_invariant,
    assert_permutation_equivariant,
    assert_translation_invariant,
    graph_predictor,
    random_ka_configuration,
)


@pytest.fixture(scope="module")
def conf():
    return random_ka_configuration(128, seed=1)


def _model(kind, edge_dim=3, K=2, seed=0):
    torch.manual_seed(seed)
    return build_model(
        ModelConfig(kind=kind, edge_dim=edge_dim, n_outputs=K, hidden=16, steps=3)
    ).eval()


def test_edge_mlp_split_equals_linear_on_concatenation():
    torch.manual_seed(0)
    N, E, H = 7, 20, 8
    mlp = EdgeMLP(n_node=H, n_edge=H, n_const=H, hidden=H)
    a, b = torch.randn(N, H), torch.randn(N, H)
    e, c = torch.randn(E, H), torch.randn(E, H)
    ei = torch.randint(0, N, (2, E))
    fast = mlp(a, b, e, mlp.constant(c), ei)
    naive = mlp.forward_naive(a, b, e, c, ei)
    # explicit reference: one Linear over [a_src, b_dst, e, c]
    W = torch.cat(
        [mlp.lin_src.weight, mlp.lin_dst.weight, mlp.lin_edge.weight, mlp.lin_const.weight], 1
    )
    x = torch.cat([a[ei[0]], b[ei[1]], e, c], 1)
    ref = torch.relu(mlp.fc2(torch.relu(x @ W.T + mlp.lin_const.bias)))
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(naive, ref, atol=1e-5, rtol=1e-5)
    assert "EdgeMLP" in repr(mlp)


def test_sum_at_target_is_the_sum_of_pyg_scatter():
    from torch_geometric.utils import scatter

    from glassdyn.nn.layers import sum_at_target

    src = torch.randn(50, 4, dtype=torch.float64)
    idx = torch.randint(0, 9, (50,))
    torch.testing.assert_close(sum_at_target(src, idx, 12), scatter(src, idx, 0, 12))
    assert sum_at_target(src, idx, 12)[9:].abs().sum() == 0  # bins no edge points to


@pytest.mark.parametrize("kind", ["botan", "tbotan", "bapst"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "split"])
def test_fast_forward_and_gradients_equal_naive(kind, fused, conf):
    data = graph_from_arrays(GraphSpec(), conf.types, conf.box, conf.positions)
    model = _model(kind).train()
    outs, grads = [], []
    for kw in ({"fused": fused}, {"naive": True}):
        model.zero_grad()
        out = model(data, **kw)
        loss = out["node"].square().mean() + (
            out["edge"].square().mean() if out["edge"] is not None else 0
        )
        if out["temperature"] is not None:
            loss = loss + out["temperature"].square().mean()
        loss.backward()
        outs.append(out)
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    torch.testing.assert_close(outs[0]["node"], outs[1]["node"], atol=1e-5, rtol=1e-4)
    if kind != "bapst":
        torch.testing.assert_close(outs[0]["edge"], outs[1]["edge"], atol=1e-5, rtol=1e-4)
    for g0, g1 in zip(*grads):
        torch.testing.assert_close(g0, g1, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("kind", ["botan", "tbotan", "bapst"])
def test_output_shapes(kind, conf):
    data = graph_from_arrays(GraphSpec(), conf.types, conf.box, conf.positions)
    out = _model(kind, K=3)(data)
    assert out["node"].shape == (128, 3)
    if kind == "bapst":
        assert out["edge"] is None
    else:
        assert out["edge"].shape == (data.edge_index.shape[1], 3)
    if kind == "tbotan":
        assert out["temperature"].shape == (1,) and out["latent"].shape == (1, 16)
    else:
        assert out["temperature"] is None
    assert kind in repr(_model(kind)).lower() or "Bapst" in repr(_model(kind))


@pytest.mark.parametrize("kind", ["botan", "tbotan", "bapst"])
def test_translation_permutation_periodic_image_invariance(kind, conf):
    predict = graph_predictor(_model(kind), GraphSpec())
    assert_translation_invariant(predict, conf)
    assert_permutation_equivariant(predict, conf)
    assert_periodic_image_invariant(predict, conf)


def test_ts_is_input_with_node_feature(conf):
    spec = GraphSpec(input="ts+is")
    rng = np.random.default_rng(0)
    inh = conf.positions + rng.normal(scale=0.05, size=conf.positions.shape).astype(np.float32)
    data = graph_from_arrays(spec, conf.types, conf.box, conf.positions, inh)
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(
            kind="botan", node_dim=spec.node_dim, edge_dim=spec.edge_dim, hidden=16, steps=2
        )
    )
    out = model(data)["node"]
    data.node_attr = data.node_attr * 2  # the node feature is used
    assert not torch.allclose(out, model(data)["node"])


def _rotated_cluster(conf, seed=0):
    """A piece of the liquid (no periodic images) in the middle of a 40-sigma box, and the same
    piece turned by a random proper rotation about the box centre; with inherent positions
    jittered from the thermal ones (rotated alike).  Returns box, (thermal, inherent) twice."""
    rng = np.random.default_rng(seed)
    L = 40.0
    x = conf.positions.astype(np.float64) - conf.box / 2 + L / 2
    inh = x + rng.normal(scale=0.05, size=x.shape)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    turn = lambda y: (y - L / 2) @ q.T + L / 2
    return np.full(3, L), (x, inh), (turn(x), turn(inh))


@pytest.mark.parametrize("kind", ["botan", "tbotan"])
@pytest.mark.parametrize("input_", ["ts", "ts+is"])
def test_invariant_features_give_rotation_invariance(conf, kind, input_):
    """Any rotation, not only the 48 cube symmetries: the whole pipeline (neighbour graph,
    invariant edge features, node feature |r_IS - r_TS|, model) gives the same per-particle
    predictions (and T-BOTAN temperature) for a rotated piece of liquid.  An edge input that kept
    a vector component, or a node feature from a coordinate, would fail."""
    spec = GraphSpec(input=input_, edge_features="invariant")
    box, (x, inh), (xr, inhr) = _rotated_cluster(conf)
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(kind=kind, node_dim=spec.node_dim, edge_dim=spec.edge_dim, hidden=16, steps=3)
    ).eval()
    a = model(graph_from_arrays(spec, conf.types, box, x, inh))
    b = model(graph_from_arrays(spec, conf.types, box, xr, inhr))
    torch.testing.assert_close(a["node"], b["node"], atol=1e-5, rtol=1e-4)
    if kind == "tbotan":
        torch.testing.assert_close(a["temperature"], b["temperature"], atol=1e-5, rtol=1e-4)
    # the same rotation changes a vector-input model's predictions: the check can fail
    vspec = GraphSpec(input=input_)
    torch.manual_seed(0)
    vec = build_model(
        ModelConfig(kind=kind, node_dim=vspec.node_dim, edge_dim=vspec.edge_dim, hidden=16, steps=3)
    )
    va = vec.eval()(graph_from_arrays(vspec, conf.types, box, x, inh))["node"]
    vb = vec(graph_from_arrays(vspec, conf.types, box, xr, inhr))["node"]
    assert (va - vb).abs().max() > 1e-2 * va.std() > 1e3 * (a["node"] - b["node"]).abs().max()


def test_vector_model_is_not_rotation_invariant(conf):
    """Sanity check that the invariance helper can fail: vector inputs see orientation."""
    predict = graph_predictor(_model("botan"), GraphSpec())
    with pytest.raises(AssertionError, match="cube symmetry"):
        assert_cube_symmetry_invariant(predict, conf)


def test_cube_symmetries_are_the_48_distinct_orthogonal_maps():
    S = cube_symmetries()
    assert S.shape == (48, 3, 3)
    assert len({tuple(m.ravel().tolist()) for m in S}) == 48
    torch.testing.assert_close(S @ S.transpose(1, 2), torch.eye(3).expand(48, 3, 3))
    e = torch.randn(5, 6)
    out = apply_symmetry(e, S[7])
    torch.testing.assert_close(out[:, :3], e[:, :3] @ S[7].T)
    torch.testing.assert_close(out[:, 3:], e[:, 3:] @ S[7].T)


def test_load_state_tolerates_only_the_optional_buffers():
    from glassdyn.data.errors import InputError
    from glassdyn.predict.checkpoints import load_state

    model = _model("botan")
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("node_attr_")}
    load_state(_model("botan"), state)  # a checkpoint written before those buffers existed
    with pytest.raises(InputError, match="unexpected"):
        load_state(_model("botan"), {**state, "bogus": torch.zeros(1)})
    with pytest.raises(InputError, match="do not fit"):
        load_state(_model("bapst"), state)
