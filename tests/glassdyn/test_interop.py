"""PyG <-> DGL conversion.  DGL is optional: its tests run where it is installed (a separate
environment with torch <= 2.2.1, see glassdyn.interop) and skip cleanly elsewhere."""

import importlib.util

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from glassdyn.interop import DGLUnavailable, from_dgl, to_dgl


def _dgl_loads() -> bool:
    if importlib.util.find_spec("dgl") is None:
        return False
    try:
        import dgl  # noqa: F401
    except Exception:  # noqa: BLE001 -- a DGL that does not load is absent
        return False
    return True


HAS_DGL = _dgl_loads()
needs_dgl = pytest.mark.skipif(
    not HAS_DGL, reason="DGL not installed (optional extra glassdyn[dgl], torch <= 2.2.1)"
)


def toy_graph(n=30, seed=0) -> Data:
    """A periodic radius graph by brute force with BOTAN-like node/edge inputs and targets, a
    graph-level temperature, and an edge feature whose count equals the node count's name test."""
    rng = np.random.default_rng(seed)
    L = 4.0
    pos = rng.random((n, 3)) * L
    d = pos[None, :, :] - pos[:, None, :]
    d -= L * np.round(d / L)
    r = np.linalg.norm(d, axis=-1)
    i, j = np.nonzero((r < 1.6) & (r > 0))
    E = len(i)
    return Data(
        x=torch.from_numpy(rng.integers(0, 2, n)).float()[:, None],
        pos=torch.from_numpy(pos).float(),
        edge_index=torch.from_numpy(np.stack([j, i])).long(),  # source j -> target i
        edge_attr=torch.from_numpy(d[i, j]).float(),
        y=torch.rand(n, 3),
        y_edge=torch.rand(E, 3),
        node_mask=torch.rand(n) > 0.5,
        edge_mask=torch.rand(E) > 0.5,
        temperature=torch.tensor([0.44]),
        name="not a tensor",
    )


def test_without_dgl_the_message_names_the_extra():
    if HAS_DGL:
        pytest.skip("DGL is installed here")
    with pytest.raises(DGLUnavailable, match=r"glassdyn\[dgl\]") as exc:
        to_dgl(toy_graph())
    assert "torch <= 2.2.1" in str(exc.value)
    assert isinstance(exc.value, ImportError)
    with pytest.raises(DGLUnavailable):
        from_dgl(None)


@needs_dgl
def test_to_dgl_copies_structure_and_every_feature():
    import dgl.function as fn

    data = toy_graph()
    g = to_dgl(data)
    assert g.num_nodes() == data.num_nodes and g.num_edges() == data.num_edges
    src, dst = g.edges(order="eid")
    torch.testing.assert_close(torch.stack([src, dst]), data.edge_index)
    assert set(g.ndata) == {"x", "pos", "y", "node_mask"}
    assert set(g.edata) == {"edge_attr", "y_edge", "edge_mask"}
    for k in g.ndata:
        torch.testing.assert_close(g.ndata[k], data[k])
    for k in g.edata:
        torch.testing.assert_close(g.edata[k], data[k])
    # message passing means the same thing: sum of incoming edge features at the target node
    g.update_all(fn.copy_e("edge_attr", "m"), fn.sum("m", "agg"))
    ref = torch.zeros(data.num_nodes, 3).index_add_(0, data.edge_index[1], data.edge_attr)
    torch.testing.assert_close(g.ndata["agg"], ref)
    # and back
    back = from_dgl(to_dgl(data))
    for k in ("x", "pos", "y", "node_mask", "edge_index", "edge_attr", "y_edge", "edge_mask"):
        torch.testing.assert_close(back[k], data[k])
    assert "temperature" not in back  # graph-level attributes have no place in a DGLGraph


@needs_dgl
def test_same_node_and_edge_count_goes_by_name():
    data = Data(
        edge_index=torch.tensor([[0, 1, 2], [1, 2, 0]]),
        y=torch.arange(3.0),
        y_edge=torch.arange(3.0) + 10,
        edge_weight=torch.ones(3),
        num_nodes=3,
    )
    g = to_dgl(data)
    assert set(g.ndata) == {"y"} and set(g.edata) == {"y_edge", "edge_weight"}


@needs_dgl
def test_batch_becomes_batched_graph():
    a, b = toy_graph(20, seed=1), toy_graph(25, seed=2)
    g = to_dgl(Batch.from_data_list([a, b]))
    assert g.batch_size == 2
    assert g.batch_num_nodes().tolist() == [20, 25]
    assert g.batch_num_edges().tolist() == [a.num_edges, b.num_edges]
    src, _ = g.edges(order="eid")
    assert int(src[a.num_edges :].min()) >= 20  # second graph's nodes are offset


@needs_dgl
def test_real_training_graph(tmp_path):
    """The graph glassdyn trains on (glassdyn.nn.dataset.build_graph) converts whole."""
    dataset = pytest.importorskip("glassdyn.nn.dataset")
    from glassdyn.testing import write_synthetic_store

    store = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=[0.8], n_configs=1, n_particles=256, n_replicas=2
    )
    data = dataset.build_graph(store.state(0.8), 0, dataset.GraphSpec())
    g = to_dgl(data)
    for k, v in data.items():
        if k == "edge_index" or not torch.is_tensor(v):
            continue
        if v.dim() and v.size(0) == data.num_nodes:
            torch.testing.assert_close(g.ndata[k], v)
        elif v.dim() and v.size(0) == data.num_edges:
            torch.testing.assert_close(g.edata[k], v)
    assert "y" in g.ndata and "y_edge" in g.edata and "edge_attr" in g.edata
