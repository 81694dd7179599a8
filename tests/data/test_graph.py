"""Periodic radius graph and BOTAN targets: exact hand-built cases and brute-force references."""

import itertools

import numpy as np
import pytest
from glassdyn.data.errors import InputError
from glassdyn.data.graph import edge_targets, node_propensity, pair_vectors, radius_graph

from glassdyn.testing import random_ka_configuration

BOX = np.array([4.0, 5.0, 6.0])
# pairs across the x, y, z faces and one across a corner, one interior pair
HAND = np.array(
    [
        [0.1, 2.5, 3.0],  # 0 -- 1 across x: r_01 = (-0.2, 0, 0)
        [3.9, 2.5, 3.0],
        [2.0, 0.2, 1.0],  # 2 -- 3 across y: r_23 = (0, -0.5, 0)
        [2.0, 4.7, 1.0],
        [0.2, 0.3, 5.9],  # 4 -- 5 across the corner: r_45 = (-0.4, -0.5, 0.4)
        [3.8, 4.8, 0.3],
        [2.0, 2.5, 3.0],  # 6 -- 7 interior: r_67 = (0.6, 0, 0.3)
        [2.6, 2.5, 3.3],
    ]
)
EXPECTED = {
    (0, 1): (-0.2, 0, 0),
    (2, 3): (0, -0.5, 0),
    (4, 5): (-0.4, -0.5, 0.4),
    (6, 7): (0.6, 0, 0.3),
}


def _nearest_image(delta, box):
    """Brute force over the 27 neighbouring images (independent of data.box.minimum_image)."""
    best = None
    for s in itertools.product((-1, 0, 1), repeat=3):
        v = delta + np.array(s) * box
        if best is None or v @ v < best @ best:
            best = v
    return best


def test_hand_built_graph_is_exact():
    ei, vec = radius_graph(HAND, BOX, cutoff=1.0)
    got = {(int(i), int(j)): v for i, j, v in zip(ei[0], ei[1], vec)}
    want = {}
    for (i, j), v in EXPECTED.items():
        want[(i, j)] = np.array(v)
        want[(j, i)] = -np.array(v)
    assert sorted(got) == sorted(want)
    for key, v in want.items():
        np.testing.assert_allclose(got[key], v, atol=1e-12)
    # sorted by source then target
    assert list(zip(ei[0], ei[1])) == sorted(zip(ei[0], ei[1]))


def test_unwrapped_positions_give_the_same_graph():
    shifted = HAND + np.array([1, -2, 3]) * BOX
    ei, vec = radius_graph(HAND, BOX, cutoff=1.0)
    ei2, vec2 = radius_graph(shifted, BOX, cutoff=1.0)
    np.testing.assert_array_equal(ei, ei2)
    np.testing.assert_allclose(vec, vec2, atol=1e-9)


def test_graph_matches_brute_force_on_ka_configuration():
    conf = random_ka_configuration(200, seed=3)
    box = conf.box
    ei, vec = radius_graph(conf.positions, box, cutoff=2.0)
    pos = conf.positions.astype(np.float64)
    want = []
    for i in range(len(pos)):
        for j in range(len(pos)):
            if i != j:
                v = _nearest_image(pos[j] - pos[i], box)
                if np.linalg.norm(v) < 2.0:
                    want.append((i, j, *v))
    want = np.array(want)
    np.testing.assert_array_equal(ei.T, want[:, :2].astype(int))
    np.testing.assert_allclose(vec, want[:, 2:], atol=1e-5)
    np.testing.assert_allclose(pair_vectors(pos, box, ei), vec, atol=1e-5)


def test_all_images_counts_every_periodic_image():
    box = np.array([3.0, 3.0, 3.0])
    pos = np.array([[0.5, 0.5, 0.5], [1.5, 0.5, 0.5]])
    ei, vec = radius_graph(pos, box, cutoff=3.2, all_images=True)
    count = 0
    for i, j in itertools.product(range(2), repeat=2):
        for s in itertools.product(range(-2, 3), repeat=3):
            v = pos[j] - pos[i] + np.array(s) * box
            if 1e-12 < np.linalg.norm(v) < 3.2:
                count += 1
    assert ei.shape[1] == count
    assert np.all(np.linalg.norm(vec, axis=1) < 3.2)


def test_cutoff_beyond_half_box_is_refused():
    with pytest.raises(InputError, match="half the shortest box side"):
        radius_graph(HAND, BOX, cutoff=2.5)
    with pytest.raises(InputError, match="NaN"):
        radius_graph(np.full((3, 3), np.nan), BOX)


def test_edge_targets_equal_brute_force_loop():
    rng = np.random.default_rng(0)
    R, K, N = 3, 2, len(HAND)
    disp = rng.normal(scale=2.5, size=(R, K, N, 3))  # large: particles cross the box
    ei, vec = radius_graph(HAND, BOX, cutoff=1.0)
    got = edge_targets(vec, ei, disp)
    assert got.shape == (ei.shape[1], K)
    want = np.zeros_like(got)
    for e, (i, j) in enumerate(ei.T):
        r0 = _nearest_image(HAND[j] - HAND[i], BOX)
        for k in range(K):
            acc = 0.0
            for r in range(R):
                acc += np.sqrt(np.sum((r0 + disp[r, k, j] - disp[r, k, i]) ** 2)) - np.sqrt(
                    np.sum(r0**2)
                )
            want[e, k] = acc / R
    np.testing.assert_allclose(got, want, atol=1e-12)
    # one time at once = slice of all times
    np.testing.assert_allclose(edge_targets(vec, ei, disp[:, 1]), want[:, 1], atol=1e-12)


def test_node_propensity_brute_force():
    rng = np.random.default_rng(1)
    disp = rng.normal(size=(4, 3, 5, 3))
    want = np.array(
        [
            [np.mean([np.linalg.norm(disp[r, k, i]) for r in range(4)]) for i in range(5)]
            for k in range(3)
        ]
    )
    np.testing.assert_allclose(node_propensity(disp), want)
    np.testing.assert_allclose(node_propensity(disp[:, 2]), want[2])
    with pytest.raises(InputError):
        node_propensity(np.zeros((4, 5)))
