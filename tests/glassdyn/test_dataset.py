"""Graph samples from the store: targets, masks, inputs, cache, bad input."""

import numpy as np
import pytest
import torch
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.graph import edge_targets, node_propensity, pair_vectors, radius_graph
from glassdyn.data.store import Store

from glassdyn.nn.dataset import GraphCache, GraphDataset, GraphSpec, build_graph
from glassdyn.testing import random_ka_configuration, write_synthetic_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_synthetic_store(
        tmp_path_factory.mktemp("ds") / "s.zarr", n_configs=2, n_particles=96
    )


def test_sample_fields_and_targets(store):
    sp = store.state(0.8)
    g = build_graph(sp, 1, GraphSpec())
    pos, types, box = (
        sp.read(keys.THERMAL_POSITIONS, 1),
        sp.read(keys.TYPES, 1),
        sp.read(keys.BOX, 1),
    )
    disp = sp.read(keys.ISO_DISPLACEMENTS, 1)
    ei, vec = radius_graph(pos, box)
    np.testing.assert_array_equal(g.edge_index.numpy(), ei)
    np.testing.assert_allclose(g.edge_attr.numpy(), vec, atol=1e-6)
    np.testing.assert_allclose(g.y.numpy(), node_propensity(disp).T, rtol=1e-6)
    np.testing.assert_allclose(g.y.numpy(), sp.read(keys.ISO_PROPENSITY, 1).T, rtol=1e-5)
    np.testing.assert_allclose(g.y_edge.numpy(), edge_targets(vec, ei, disp), atol=1e-6)
    assert g.node_mask.tolist() == (types == 0).tolist()
    r = np.linalg.norm(vec, axis=1)
    want = (types[ei[0]] == 0) & (types[ei[1]] == 0) & (r < 1.35)
    assert g.edge_mask.numpy().tolist() == want.tolist()
    assert float(g.temperature) == pytest.approx(0.8) and int(g.config) == 1


def test_one_time_and_inherent_inputs(store):
    sp = store.state(0.64)
    g = build_graph(sp, 0, GraphSpec(input="is", times=(2,)))
    inh, pos, box = (
        sp.read(keys.INHERENT_POSITIONS, 0),
        sp.read(keys.THERMAL_POSITIONS, 0),
        sp.read(keys.BOX, 0),
    )
    ei, vec = radius_graph(inh, box)
    np.testing.assert_array_equal(g.edge_index.numpy(), ei)
    np.testing.assert_allclose(g.edge_attr.numpy(), vec, atol=1e-6)
    disp = sp.read(keys.ISO_DISPLACEMENTS, 0)[:, 2]
    # targets are measured from the thermal positions on the IS graph's pairs
    np.testing.assert_allclose(
        g.y_edge.numpy()[:, 0], edge_targets(pair_vectors(pos, box, ei), ei, disp), atol=1e-6
    )
    both = build_graph(sp, 0, GraphSpec(input="ts+is"))
    assert both.edge_attr.shape[1] == 6
    want = np.linalg.norm(((inh - pos + box / 2) % box) - box / 2, axis=1)
    np.testing.assert_allclose(both.node_attr[:, 0].numpy(), want, atol=1e-5)
    assert "node_attr" not in g
    inv = build_graph(sp, 0, GraphSpec(input="ts+is", edge_features="invariant"))
    assert inv.edge_attr.shape[1] == 3
    np.testing.assert_allclose(
        inv.edge_attr[:, 0].numpy(), both.edge_attr[:, :3].norm(dim=1).numpy(), atol=1e-6
    )
    with pytest.raises(InputError, match=r"--times 5 is out of range.*glassdyn info STORE"):
        build_graph(sp, 0, GraphSpec(times=(5,)))


def test_cache_builds_once_and_reloads_from_disk(store, tmp_path, monkeypatch):
    sp = store.state(0.8)
    cache = GraphCache(tmp_path / "graphs")
    g1 = cache.get(sp, 0, GraphSpec())
    assert len(list((tmp_path / "graphs").glob("*.pt"))) == 1
    import glassdyn.nn.dataset as ds

    monkeypatch.setattr(ds, "build_graph", lambda *a, **k: pytest.fail("graph rebuilt"))
    assert cache.get(sp, 0, GraphSpec()) is g1  # memory
    g2 = GraphCache(tmp_path / "graphs").get(sp, 0, GraphSpec())  # disk
    torch.testing.assert_close(g1.y_edge, g2.y_edge)


def test_augmentation_rotates_edges_only(store):
    g = build_graph(store.state(0.8), 0, GraphSpec())
    ds = GraphDataset([g], GraphSpec(), augment=True, generator=torch.Generator().manual_seed(0))
    a = ds[0]
    torch.testing.assert_close(a.edge_attr.norm(dim=1), g.edge_attr.norm(dim=1))
    assert a.y is g.y
    assert not GraphDataset([g], GraphSpec(edge_features="invariant"), augment=True).augment


def test_store_without_displacements_is_a_clear_error(tmp_path):
    st = Store.create(tmp_path / "nodisp.zarr")
    sp = st.create_state(0.5, n_configs=1, n_particles=128)
    conf = random_ka_configuration(128)
    sp.write(
        0,
        **{
            keys.TYPES: conf.types,
            keys.BOX: conf.box,
            keys.THERMAL_POSITIONS: conf.positions,
            keys.THERMAL_ENERGY: -6.0,
            keys.INHERENT_POSITIONS: conf.positions,
            keys.INHERENT_ENERGY: -7.0,
            keys.INHERENT_MAX_FORCE: 0.0,
        },
    )
    sp.mark_done(0)
    with pytest.raises(InputError, match="no isoconfig/displacements.*--replicas"):
        build_graph(sp, 0, GraphSpec())
    g = build_graph(sp, 0, GraphSpec(), targets=False)  # prediction still works
    assert "y" not in g
