import numpy as np
import pytest
from glassdyn.analysis.structure import (
    RadialDistribution,
    StructureFactor,
    partial_rdf,
    partial_structure_factor,
)
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
    pairs = {
        "AA": na * (na - 1) / 2,
        "AB": na * nb,
        "BB": nb * (nb - 1) / 2,
        "total": N * (N - 1) / 2,
    }
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
    _r1, g1 = partial_rdf(conf.positions, conf.types, conf.box, r_max=2.0, bins=10)
    _r2, g2 = partial_rdf(
        pos2, np.stack([conf.types] * 2), np.stack([conf.box] * 2), r_max=2.0, bins=10
    )
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


def _brute_sq(pos, types, box, q_max):
    """Explicit loop over all wave vectors (both signs) and particles, exact |q| shells."""
    from glassdyn.analysis.wavevectors import wave_vectors

    wv = wave_vectors(box, q_max)
    out = {k: np.zeros(wv.n_shells) for k in ("AA", "AB", "BB", "total")}
    cnt = np.zeros(wv.n_shells)
    n_max = np.floor(q_max * box / (2 * np.pi)).astype(int)
    na, nb = np.sum(types == 0), np.sum(types == 1)
    for nx in range(-n_max[0], n_max[0] + 1):
        for ny in range(-n_max[1], n_max[1] + 1):
            for nz in range(-n_max[2], n_max[2] + 1):
                q = 2 * np.pi * np.array([nx, ny, nz]) / box
                qn = np.linalg.norm(q)
                if not 0 < qn <= q_max:
                    continue
                s = int(np.argmin(np.abs(wv.shells - qn)))
                ra = sum(np.exp(1j * q @ pos[j]) for j in range(len(pos)) if types[j] == 0)
                rb = sum(np.exp(1j * q @ pos[j]) for j in range(len(pos)) if types[j] == 1)
                out["AA"][s] += abs(ra) ** 2 / na
                out["BB"][s] += abs(rb) ** 2 / nb
                out["AB"][s] += (ra * np.conj(rb)).real / np.sqrt(na * nb)
                out["total"][s] += abs(ra + rb) ** 2 / (na + nb)
                cnt[s] += 1
    return wv.shells, {k: v / cnt for k, v in out.items()}


def test_partial_structure_factor_matches_brute_force():
    conf = random_ka_configuration(60, seed=4)
    q, S = partial_structure_factor(
        conf.positions, conf.types, conf.box, q_max=4.0, shell_width=None
    )
    q_ref, ref = _brute_sq(conf.positions.astype(np.float64), conf.types, conf.box, 4.0)
    np.testing.assert_allclose(q, q_ref)
    for k in ref:
        np.testing.assert_allclose(S[k], ref[k], rtol=1e-10, atol=1e-12)


def test_structure_factor_ideal_gas_is_one():
    rng = np.random.default_rng(0)
    M, N, L = 8, 800, 9.0
    pos = rng.uniform(0, L, size=(M, N, 3))
    types = (rng.random(N) < 0.2).astype(np.int8)
    q, S = partial_structure_factor(pos, types, np.full(3, L), q_max=8.0, shell_width=1.0)
    sel = q > 2.0  # enough vectors per shell
    assert np.all(np.abs(S["total"][sel] - 1) < 0.1)
    assert np.all(np.abs(S["AA"][sel] - 1) < 0.1)
    assert np.all(np.abs(S["BB"][sel] - 1) < 0.15)
    assert np.all(np.abs(S["AB"][sel]) < 0.1)
    assert abs(np.mean(S["total"][sel]) - 1) < 0.02


def test_compute_objects_chunked_equal_one_pass():
    confs = [random_ka_configuration(100, seed=s) for s in range(4)]
    pos = np.stack([c.positions for c in confs])
    typ = np.stack([c.types for c in confs])
    box = confs[0].box
    one = RadialDistribution(r_max=2.0, bins=20).compute(pos, typ, box)
    parts = RadialDistribution(r_max=2.0, bins=20)
    for m in range(4):
        parts.compute(pos[m], typ[m], box)
    for k in one.g:
        np.testing.assert_allclose(parts.g[k], one.g[k], rtol=1e-12)
    sf1 = StructureFactor(box, q_max=5.0).compute(pos, typ)
    sf2 = StructureFactor(box, q_max=5.0).compute(pos[:1], typ[:1]).compute(pos[1:], typ[1:])
    for k in sf1.result:
        np.testing.assert_allclose(sf2.result[k], sf1.result[k], rtol=1e-12)
    assert parts.n_frames == 4 and sf2.n_frames == 4
    assert "RadialDistribution" in repr(parts) and "StructureFactor" in repr(sf2)
    with pytest.raises(InputError, match="compute"):
        _ = RadialDistribution().g
    with pytest.raises(InputError, match="compute"):
        _ = StructureFactor(box).result


def test_state_structure_from_store(tmp_path):
    from glassdyn.analysis.structure import state_structure
    from glassdyn.data import keys

    from glassdyn.testing import write_synthetic_store

    sp = write_synthetic_store(
        tmp_path / "s.zarr",
        temperatures=(0.8,),
        n_configs=2,
        n_particles=64,
        n_replicas=1,
        times=(1.0,),
    ).state(0.8)
    out = state_structure(sp, which="inherent", r_max=1.5, dr=0.1, q_max=6.0)
    r, g = partial_rdf(
        sp.read(keys.INHERENT_POSITIONS), sp.read(keys.TYPES), sp.read(keys.BOX), r_max=1.5, bins=15
    )
    np.testing.assert_allclose(out["r"], r)
    for k in g:
        np.testing.assert_allclose(out["g"][k], g[k])
    _q, S = partial_structure_factor(
        sp.read(keys.INHERENT_POSITIONS), sp.read(keys.TYPES), sp.read(keys.BOX)[0], q_max=6.0
    )
    np.testing.assert_allclose(out["S"]["total"], S["total"], rtol=1e-12)
    assert out["n_frames"] == 2
    with pytest.raises(InputError, match="which"):
        state_structure(sp, which="liquid")
