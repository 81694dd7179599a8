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


def test_species_normalisation():
    w, pos, box = _random(N=60)
    mask = np.zeros(60)
    mask[:45] = 1
    fp = FourPoint(box, q_max=3.0, n_particles=45).compute(w * mask, pos)
    full = FourPoint(box, q_max=3.0).compute(w * mask, pos)
    np.testing.assert_allclose(fp.s4 * 45, full.s4 * 60, rtol=1e-12)


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
