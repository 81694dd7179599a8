import numpy as np
import pytest

from glassdyn.analysis.structure import partial_rdf
from glassdyn.data.box import minimum_image
from glassdyn.data.errors import InputError
from glassdyn.testing import random_ka_configuration


def _brute_rdf(pos, types, box, r_max, bins):
    """Explicit double loop over pairs under minimum image (r_max < L/2)."""
    edges = np.linspace(0, r_max, bins + 1)
    shell = 4 / 3 * np.pi * np.diff(edges**3)
    V = np.prod(box)
    N = len(pos)
    counts = {k: np.zeros(bins) for k in ("AA", "AB", "BB", "total")}
    for a in range(N):
        for b in range(a + 1, N):
            d = np.linalg.norm(minimum_image(pos[a] - pos[b], box))
            if d < r_max:
                k = int(d / r_max * bins)
                name = ("AA", "AB", "BB")[types[a] + types[b]]
                counts[name][k] += 1
                counts["total"][k] += 1
    na = int(np.sum(types == 0))
    nb = N - na
    pairs = {"AA": na * (na - 1) / 2, "AB": na * nb, "BB": nb * (nb - 1) / 2, "total": N * (N - 1) / 2}
    return {k: counts[k] / (pairs[k] * shell / V) for k in counts}


def test_partial_rdf_matches_brute_force():
    conf = random_ka_configuration(200, seed=3)
    r_max = 0.49 * conf.box.min()
    r, g = partial_rdf(conf.positions, conf.types, conf.box, r_max=r_max, bins=40)
    ref = _brute_rdf(conf.positions.astype(np.float64), conf.types, conf.box, r_max, 40)
    assert r.shape == (40,)
    for k in ref:
        np.testing.assert_allclose(g[k], ref[k], rtol=1e-12, atol=1e-12)


def test_partial_rdf_ideal_gas_is_one():
    rng = np.random.default_rng(0)
    M, N, L = 20, 1000, 9.0
    pos = rng.uniform(0, L, size=(M, N, 3))
    types = (rng.random((M, N)) < 0.2).astype(np.int8)
    r, g = partial_rdf(pos, types, np.full(3, L), r_max=4.0, bins=20)
    sel = r > 1.0  # enough counts per shell for a tight check
    for k, tol in (("total", 0.02), ("AA", 0.03), ("AB", 0.04), ("BB", 0.15)):
        assert np.all(np.abs(g[k][sel] - 1) < tol), (k, g[k][sel])
    assert abs(np.mean(g["total"][sel]) - 1) < 0.01


def test_partial_rdf_shapes_and_frames():
    conf = random_ka_configuration(128, seed=1)
    pos2 = np.stack([conf.positions, conf.positions])
    r1, g1 = partial_rdf(conf.positions, conf.types, conf.box, r_max=2.0, bins=10)
    r2, g2 = partial_rdf(pos2, np.stack([conf.types] * 2), np.stack([conf.box] * 2), r_max=2.0, bins=10)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k])
    # KA-like lattice: no close contacts
    assert g1["total"][0] == 0


def test_partial_rdf_bad_input():
    conf = random_ka_configuration(64, seed=1)
    bad = conf.positions.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        partial_rdf(bad, conf.types, conf.box)
    with pytest.raises(InputError, match="r_max"):
        partial_rdf(conf.positions, conf.types, conf.box, r_max=10.0)
    with pytest.raises(InputError, match="types"):
        partial_rdf(conf.positions, conf.types[:-1], conf.box)
