"""Fs(k, t) and tau_alpha against brute force and known decays."""

import numpy as np
import pytest
from glassdyn.data.errors import StoreError
from glassdyn.simulate.relaxation import crossing_time, self_intermediate_scattering, tau_alpha

from glassdyn.testing import write_synthetic_store


def test_isotropic_fs_matches_explicit_direction_average():
    rng = np.random.default_rng(0)
    disp = rng.normal(scale=0.3, size=(2, 3, 40, 3))  # (R, K, N, 3)
    k = 7.25
    # brute force: average exp(i k.dr) over many random directions of k
    u = rng.normal(size=(20000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    brute = np.cos(k * np.einsum("rknd,md->rknm", disp, u)).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(self_intermediate_scattering(disp, k=k), brute, atol=0.01)
    mask = np.arange(40) < 10
    np.testing.assert_allclose(
        self_intermediate_scattering(disp, mask, k),
        self_intermediate_scattering(disp[..., :10, :], k=k),
    )
    assert self_intermediate_scattering(np.zeros((1, 2, 5, 3)))[0] == 1.0


def test_crossing_time_of_an_exponential():
    t = np.geomspace(0.01, 100, 60)
    assert crossing_time(t, np.exp(-t / 3.0)) == pytest.approx(3.0, rel=0.01)
    assert np.isnan(crossing_time(t, np.full_like(t, 0.9)))
    assert crossing_time(t, np.zeros_like(t)) == t[0]


def test_tau_alpha_from_a_store(tmp_path):
    store = write_synthetic_store(
        tmp_path / "s.zarr", n_particles=64, times=(0.1, 1.0, 10.0, 100.0, 1000.0)
    )
    tau, times, fs = tau_alpha(store.state(0.8))
    assert fs.shape == times.shape == (5,) and np.all(np.diff(fs[:3]) < 0)
    assert times[0] < tau < times[-1]


def test_tau_alpha_needs_displacements(tmp_path):
    from glassdyn.data.store import Store

    store = Store.create(tmp_path / "e.zarr")
    sp = store.create_state(0.8, n_configs=2, n_particles=10)
    with pytest.raises(StoreError, match="--replicas"):
        tau_alpha(sp)
