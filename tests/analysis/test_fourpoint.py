import numpy as np
import pytest
from glassdyn.analysis.dynamics import SelfDynamics, self_overlap
from glassdyn.analysis.fourpoint import FourPoint, s4, s4_bruteforce
from glassdyn.data.errors import InputError

from glassdyn.testing import random_ka_configuration


def _random(C=3, S=4, K=3, N=60, box=(5.0, 5.0, 5.0), seed=0):
    rng = np.random.default_rng(seed)
    box = np.asarray(box)
    return rng.random((C, S, K, N)), rng.uniform(0, 1, (C, N, 3)) * box, box


@pytest.mark.parametrize("box", [(5.0, 5.0, 5.0), (4.5, 5.5, 6.5)])
def test_s4_matches_bruteforce(box):
    w, pos, box = _random(box=box)
    q, fast = s4(w, pos, box, q_max=3.2)
    q_ref, ref = s4_bruteforce(w, pos, box, q_max=3.2)
    np.testing.assert_allclose(q, q_ref, rtol=1e-12)
    np.testing.assert_allclose(fast, ref, rtol=1e-10)


def test_s4_overlap_field_matches_bruteforce_and_float32():
    rng = np.random.default_rng(2)
    conf = random_ka_configuration(80, seed=2)
    disp = rng.normal(scale=0.25, size=(2, 3, 4, 80, 3))
    w = self_overlap(disp)  # (C, R, K, N)
    pos = np.stack([conf.positions, conf.positions + 0.1])
    _q, fast = s4(w, pos, conf.box, q_max=2.5)
    _, ref = s4_bruteforce(w, pos, conf.box, q_max=2.5)
    np.testing.assert_allclose(fast, ref, rtol=1e-10)
    _, f32 = s4(w, pos, conf.box, q_max=2.5, dtype=np.float32)
    np.testing.assert_allclose(f32, ref, rtol=1e-4, atol=1e-6)


def test_one_sample_per_configuration_shape():
    w, pos, box = _random(S=1)
    _q, a = s4(w[:, 0], pos, box, q_max=3.0)
    _, b = s4_bruteforce(w[:, 0], pos, box, q_max=3.0)
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_chunked_equals_one_pass():
    w, pos, box = _random(C=5)
    one = FourPoint(box, q_max=3.0).compute(w, pos)
    parts = FourPoint(box, q_max=3.0)
    parts.compute(w[:2], pos[:2]).compute(w[2], pos[2]).compute(w[3:], pos[3:])
    np.testing.assert_allclose(parts.s4, one.s4, rtol=1e-12)
    np.testing.assert_allclose(parts.s4_err, one.s4_err, rtol=1e-10)
    assert parts.n_samples == one.n_samples == 20 and parts.n_configs == 5
    assert "FourPoint" in repr(parts)


def test_frozen_replicas_of_one_configuration_give_zero():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 5, (1, 50, 3))
    w = np.ones((1, 6, 2, 50))  # every replica identical
    fp = FourPoint(np.full(3, 5.0), q_max=3.0).compute(w, pos)
    np.testing.assert_allclose(fp.s4, 0.0, atol=1e-12)
    assert np.all(np.isnan(fp.s4_err))  # one configuration: no error estimate


def test_uncorrelated_mobility_small_q_approaches_chi4():
    """Independent particles on a near-lattice (S(q -> 0) ~ 0): S4 is flat and equals chi4 = p (1 - p)."""
    rng = np.random.default_rng(5)
    conf = random_ka_configuration(512, seed=5)
    C, R, K = 4, 64, 2
    p = np.array([0.3, 0.7])
    w = (rng.random((C, R, K, 512)) < p[None, None, :, None]).astype(float)
    disp_like = np.where(w[..., None] > 0, 0.0, 1.0) * np.ones(3)  # overlap 1 <=> not moved
    sd = SelfDynamics().compute(disp_like, conf.types)
    pos = np.broadcast_to(conf.positions, (C, 512, 3))
    fp = FourPoint(conf.box, q_max=2.0).compute(w, pos)
    chi4 = sd.chi4["total"]
    np.testing.assert_allclose(chi4, p * (1 - p), rtol=0.1)
    np.testing.assert_allclose(fp.s4[:, 0], chi4, rtol=0.15)  # smallest shell
    # flat: every shell within its noise of the same value
    assert np.all(np.abs(fp.s4 / chi4[:, None] - 1) < 0.2)


def _s4_by_definition(w, pos, box, q_max, subtract_mean=True):
    """S4 straight from its definition, written independently of the package: every wave vector
    q = 2 pi n / L (both signs) with 0 < |q| <= q_max, W = sum_j w_j exp(i q . r_j(0)) of each
    sample with its OWN configuration's r(0), then (1/N) [<|W|^2> - |<W>|^2] over all samples,
    averaged over the vectors of equal |q|.  w (C, S, K, N), pos (C, N, 3).  -> q (Q,), (K, Q)."""
    C, S, K, N = w.shape
    n_max = np.floor(q_max * box / (2 * np.pi)).astype(int)
    n = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in n_max], indexing="ij"), -1).reshape(
        -1, 3
    )
    q = 2 * np.pi * n / box
    norm = np.linalg.norm(q, axis=1)
    keep = (norm > 0) & (norm <= q_max * (1 + 1e-12))
    q, norm = q[keep], norm[keep]
    phase = np.exp(1j * np.einsum("cna,ma->cnm", pos, q))  # (C, N, M)
    W = np.einsum("cskn,cnm->cskm", w, phase).reshape(C * S, K, -1)
    per_vector = (np.abs(W) ** 2).mean(0) - (np.abs(W.mean(0)) ** 2 if subtract_mean else 0.0)
    key = np.round(norm, 9)
    shells = np.unique(key)
    s4 = np.stack([per_vector[:, key == k].mean(1) for k in shells], 1) / N
    return np.array([norm[key == k].mean() for k in shells]), s4


def _heterogeneous_sample(C=5, S=6, K=2, N=40, box=(4.3, 5.1, 5.9), seed=3):
    """Different non-lattice r(0) per configuration, overlaps of displacements whose scale varies
    per particle and per configuration (so configurations differ in their mean mobility)."""
    rng = np.random.default_rng(seed)
    box = np.asarray(box)
    pos = rng.uniform(0, 1, (C, N, 3)) * box
    scale = (
        rng.uniform(0.05, 0.5, (C, 1, 1, N, 1)) * np.array([1.0, 2.0])[None, None, :, None, None]
    )
    disp = rng.normal(size=(C, S, K, N, 3)) * scale
    return self_overlap(disp), pos, box


def test_s4_equals_its_definition_with_its_own_positions_per_configuration():
    w, pos, box = _heterogeneous_sample()
    fp = FourPoint(box, q_max=3.0).compute(w, pos)
    q, ref = _s4_by_definition(w, pos, box, 3.0)
    np.testing.assert_allclose(fp.q, q, rtol=1e-12)
    np.testing.assert_allclose(fp.s4, ref, rtol=1e-9, atol=1e-12)
    # the positions matter: the S4 with configuration 0's r(0) everywhere is another number
    _, wrong = _s4_by_definition(w, np.broadcast_to(pos[:1], pos.shape), box, 3.0)
    assert np.abs(wrong - ref).max() > 0.05 * np.abs(ref).max()
    raw = FourPoint(box, q_max=3.0, subtract_mean=False).compute(w, pos)
    np.testing.assert_allclose(raw.s4, _s4_by_definition(w, pos, box, 3.0, False)[1], rtol=1e-9)


@pytest.mark.parametrize("subtract_mean", [True, False])
def test_s4_err_is_the_delete_one_configuration_jackknife(subtract_mean):
    w, pos, box = _heterogeneous_sample(C=6)
    fp = FourPoint(box, q_max=3.0, subtract_mean=subtract_mean)
    fp.compute(w[:2], pos[:2]).compute(w[2:], pos[2:])  # chunks: the same as one pass
    C = w.shape[0]
    loo = np.stack(
        [
            _s4_by_definition(np.delete(w, i, 0), np.delete(pos, i, 0), box, 3.0, subtract_mean)[1]
            for i in range(C)
        ]
    )
    jackknife = np.sqrt((C - 1) / C * ((loo - loo.mean(0)) ** 2).sum(0))
    np.testing.assert_allclose(fp.s4_err, jackknife, rtol=1e-8, atol=1e-14)
    assert np.all(jackknife > 0)


def test_species_s4_small_q_limit_is_the_species_chi4():
    """S4_A(q -> 0) = chi4_A where it must hold: A particles spread with no long-wavelength
    density fluctuation (a jittered simple-cubic lattice, B on a commensurate sublattice of
    period 5), and mobility shared by pairs of sites along x, far below the box (L = 10).  On the
    smallest shell (q = 2 pi / 10) the pair term is damped by cos(q) along x only: S4_A ~ 0.97
    chi4_A, with chi4_A from SelfDynamics (another code path); 8000 samples give ~1.5% noise.
    Normalising by N instead of N_A, or letting B particles in, would be 20% off."""
    from glassdyn.analysis.heterogeneity import DynamicHeterogeneity, HeterogeneityConfig

    rng = np.random.default_rng(2)
    m, C, R = 10, 8, 1000
    grid = (
        np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3).astype(float)
    )
    types = (grid.sum(1) % 5 == 0).astype(np.int8)  # 200 B (20%)
    box = np.full(3, float(m))
    _, domain = np.unique(
        (grid[:, 0] // 2) * m * m + grid[:, 1] * m + grid[:, 2], return_inverse=True
    )
    dh = DynamicHeterogeneity(HeterogeneityConfig(q_max=0.7, s4_species="A"))
    for _ in range(C):  # each configuration its own jittered r(0)
        pos = (grid + rng.normal(scale=0.05, size=grid.shape)) % m
        moved = rng.random((R, 1, domain.max() + 1)) < 0.4
        disp = np.zeros((R, 1, m**3, 3), dtype=np.float32)
        disp[..., 0] = moved[..., domain]  # moved by one sigma (overlap 0), or not at all (1)
        dh.compute(disp, pos, types, box)
    chi4_a = dh.dynamics.chi4["A"][0]
    assert 0.38 < chi4_a < 0.46  # p(1-p) = 0.24 for independent particles; A pairs nearly double it
    assert dh.four_point.q[0] == pytest.approx(2 * np.pi / m)
    assert dh.four_point.n_particles == 800
    assert dh.four_point.s4[0, 0] == pytest.approx(0.97 * chi4_a, rel=0.04)


def test_bad_input():
    w, pos, box = _random()
    bad = w.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        FourPoint(box).compute(bad, pos)
    with pytest.raises(InputError, match="real"):
        FourPoint(box).compute(w + 1j, pos)
    with pytest.raises(InputError, match="particles"):
        FourPoint(box).compute(w[..., :-1], pos)
    with pytest.raises(InputError, match="first wave-vector shell"):
        FourPoint(box, q_max=0.5)
    with pytest.raises(InputError, match="box"):
        FourPoint(box, q_max=3.0).compute(w, pos, box=box * 1.1)
    with pytest.raises(InputError, match="compute"):
        _ = FourPoint(box).s4
    fp = FourPoint(box, q_max=3.0).compute(w, pos)
    with pytest.raises(InputError, match="times"):
        fp.compute(w[:, :, :2], pos)
