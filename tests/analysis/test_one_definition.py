"""One definition of Fs and tau_alpha (issue 15): the simulation stage's former copy is gone,
the analysis kernels serve every caller (scripts/measure_tau_alpha.py included), and box_length
exists once."""

import numpy as np
import pytest
from glassdyn.analysis.dynamics import relaxation_time, self_scattering
from glassdyn.analysis.heterogeneity import analyze_state

from glassdyn.testing import write_synthetic_store


def test_isotropic_fs_matches_an_explicit_direction_average():
    rng = np.random.default_rng(0)
    disp = rng.normal(scale=0.3, size=(2, 3, 40, 3))  # (R, K, N, 3)
    k = 7.25
    u = rng.normal(size=(20000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    brute = np.cos(k * np.einsum("rknd,md->rknm", disp, u)).mean(axis=(0, 2, 3))  # Fs (K,)
    np.testing.assert_allclose(self_scattering(disp, k).mean(axis=(0, 2)), brute, atol=0.01)


def test_relaxation_time_starting_below_one_over_e():
    """simulate's copy returned t[0] here; the one definition interpolates from (0, 1)."""
    tau = relaxation_time(np.array([1.0, 2.0]), np.array([0.2, 0.1]))
    assert tau == pytest.approx((1 - np.exp(-1)) / (1 - 0.2))


def test_tau_alpha_of_a_store_state_point(tmp_path):
    store = write_synthetic_store(
        tmp_path / "s.zarr", n_particles=64, times=(0.1, 1.0, 10.0, 100.0, 1000.0)
    )
    dyn = analyze_state(store.state(0.8)).dynamics
    fs = dyn.fs["A"]
    assert fs.shape == (5,) and np.all(np.diff(fs[:3]) < 0)
    assert dyn.times[0] < dyn.tau_alpha["A"] < dyn.times[-1]
    assert dyn.tau_alpha["A"] == relaxation_time(dyn.times, fs)


def test_simulate_has_no_relaxation_module_and_one_box_length():
    import importlib.util

    from glassdyn.data.box import box_length
    from glassdyn.simulate.presets import get_preset
    from glassdyn.simulate.protocols import System

    assert importlib.util.find_spec("glassdyn.simulate.relaxation") is None
    assert System(4096).box_length == box_length(4096, 1.2) == pytest.approx(15.05658, abs=1e-5)
    assert get_preset("botan").box_length == box_length(4096, 1.2)
