import numpy as np
import pytest
from glassdyn.analysis.dynamics import (
    SelfDynamics,
    non_gaussian,
    relaxation_time,
    self_overlap,
    self_scattering,
    susceptibility,
)
from glassdyn.data.errors import InputError


def _data(C=3, R=4, K=5, N=40, seed=0):
    rng = np.random.default_rng(seed)
    scale = np.sqrt(np.array([0.01, 0.05, 0.1, 0.5, 2.0]))[:K]
    disp = (
        rng.normal(size=(C, R, K, N, 3))
        * scale[None, None, :, None, None]
        * rng.uniform(0.3, 1.5, (C, 1, 1, N, 1))
    )
    types = (rng.random((C, N)) < 0.25).astype(np.int8)
    return disp, types, np.array([0.1, 0.5, 1.0, 5.0, 20.0])[:K]


def _loops(disp, types, a, k):
    """Explicit loops: per sample overlap and Fs per species, then moments."""
    C, R, K, N, _ = disp.shape
    out = {}
    for s, sel in (("A", lambda t: t == 0), ("B", lambda t: t == 1), ("total", lambda t: True)):
        qs, fss, r2s, r4s, ns = [], [], [], [], []
        for c in range(C):
            idx = [j for j in range(N) if sel(types[c, j])]
            for r in range(R):
                q, f, r2, r4 = np.zeros(K), np.zeros(K), np.zeros(K), np.zeros(K)
                for kk in range(K):
                    for j in idx:
                        d = np.sqrt(np.sum(disp[c, r, kk, j] ** 2))
                        q[kk] += d < a
                        f[kk] += np.sin(k[s] * d) / (k[s] * d)
                        r2[kk] += d**2
                        r4[kk] += d**4
                n = len(idx)
                (
                    qs.append(q / n),
                    fss.append(f / n),
                    r2s.append(r2 / n),
                    r4s.append(r4 / n),
                    ns.append(n),
                )
        qs, fss = np.array(qs), np.array(fss)
        msd, m4 = np.mean(r2s, 0), np.mean(r4s, 0)
        out[s] = {
            "Q": qs.mean(0),
            "Fs": fss.mean(0),
            "MSD": msd,
            "alpha2": 3 * m4 / (5 * msd**2) - 1,
            "chi4": np.mean(ns) * (np.mean(qs**2, 0) - np.mean(qs, 0) ** 2),
        }
    return out


def test_self_dynamics_matches_explicit_loops():
    disp, types, times = _data()
    sd = SelfDynamics(a=0.3).compute(disp, types, times)
    ref = _loops(disp, types, 0.3, sd.k)
    for s in ("A", "B", "total"):
        np.testing.assert_allclose(sd.overlap[s], ref[s]["Q"], rtol=1e-10)
        np.testing.assert_allclose(sd.fs[s], ref[s]["Fs"], rtol=1e-10)
        np.testing.assert_allclose(sd.msd[s], ref[s]["MSD"], rtol=1e-10)
        np.testing.assert_allclose(sd.alpha2[s], ref[s]["alpha2"], rtol=1e-10)
        np.testing.assert_allclose(sd.chi4[s], ref[s]["chi4"], rtol=1e-10, atol=1e-14)
    assert sd.tau_alpha["A"] == relaxation_time(times, sd.fs["A"])


def test_chunked_equals_one_pass():
    disp, types, times = _data(C=5)
    one = SelfDynamics().compute(disp, types, times)
    parts = SelfDynamics()
    for sl in (slice(0, 2), slice(2, 3), slice(3, 5)):
        parts.compute(disp[sl], types[sl], times)
    for prop in ("overlap", "fs", "msd", "alpha2", "chi4", "chi4_iso", "chi4_fs"):
        for s in ("A", "B", "total"):
            np.testing.assert_allclose(
                getattr(parts, prop)[s], getattr(one, prop)[s], rtol=1e-12, atol=1e-15
            )


def test_frozen_particles():
    disp = np.zeros((3, 4, 2, 20, 3))
    types = np.zeros(20, dtype=np.int8)
    types[:4] = 1
    sd = SelfDynamics().compute(disp, types, np.array([1.0, 2.0]))
    for s in ("A", "B", "total"):
        np.testing.assert_array_equal(sd.overlap[s], 1.0)
        np.testing.assert_array_equal(sd.chi4[s], 0.0)
        np.testing.assert_array_equal(sd.fs[s], 1.0)
        np.testing.assert_array_equal(sd.msd[s], 0.0)
        np.testing.assert_array_equal(sd.chi4_iso[s], 0.0)
    assert np.isnan(sd.tau_alpha["A"])


def test_gaussian_displacements_analytic():
    rng = np.random.default_rng(1)
    sigma = 0.2
    disp = rng.normal(scale=sigma, size=(4, 8, 1, 4000, 3))
    sd = SelfDynamics(k=3.0, mode="axes").compute(disp, np.zeros(4000, np.int8))
    iso = SelfDynamics(k=3.0).compute(disp, np.zeros(4000, np.int8))
    expect = np.exp(-((3.0 * sigma) ** 2) / 2)
    assert abs(sd.fs["A"][0] - expect) < 2e-3
    assert abs(iso.fs["A"][0] - expect) < 2e-3
    assert abs(sd.msd["A"][0] / (3 * sigma**2) - 1) < 0.01
    assert abs(sd.alpha2["A"][0]) < 0.02
    # independent particles: chi4 = Q (1 - Q)
    Q = sd.overlap["A"][0]
    assert abs(sd.chi4["A"][0] / (Q * (1 - Q)) - 1) < 0.2


def test_kernels():
    d = np.array([[0.0, 0.0, 0.0], [0.29, 0.0, 0.0], [0.0, 0.31, 0.0]])
    np.testing.assert_array_equal(self_overlap(d, 0.3), [1.0, 1.0, 0.0])
    np.testing.assert_allclose(
        self_scattering(d, 2.0), [1.0, np.sin(0.58) / 0.58, np.sin(0.62) / 0.62]
    )
    np.testing.assert_allclose(
        self_scattering(d, 2.0, mode="axes"), [1.0, (np.cos(0.58) + 2) / 3, (np.cos(0.62) + 2) / 3]
    )
    assert non_gaussian(np.array([0.0]), np.array([0.0]))[0] == 0.0
    q = np.random.default_rng(0).random((50, 3))
    ref = [10 * (np.mean(q[:, k] ** 2) - np.mean(q[:, k]) ** 2) for k in range(3)]
    np.testing.assert_allclose(susceptibility(q, 10), ref)


def test_relaxation_time_interpolation():
    t = np.logspace(-1, 2, 13)
    tau = 3.7
    f = np.exp(-((t / tau) ** 0.8))
    assert abs(relaxation_time(t, f) / tau - 1) < 0.02
    assert np.isnan(relaxation_time(t, np.ones_like(t)))
    # below 1/e already at the first time: linear from (0, 1)
    assert 0 < relaxation_time(np.array([1.0, 2.0]), np.array([0.2, 0.1])) < 1.0
    with pytest.raises(InputError):
        relaxation_time(np.array([2.0, 1.0]), np.array([0.5, 0.2]))


def test_bad_input():
    disp, types, times = _data()
    bad = disp.copy()
    bad[0, 0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        SelfDynamics().compute(bad, types, times)
    with pytest.raises(InputError, match="types"):
        SelfDynamics().compute(disp, types[:, :-1], times)
    with pytest.raises(InputError, match="times"):
        SelfDynamics().compute(disp, types, times[:-1])
    with pytest.raises(InputError, match="compute"):
        _ = SelfDynamics().chi4
    with pytest.raises(InputError, match="mode"):
        SelfDynamics(mode="nope")


def test_jackknife_errors_match_explicit_leave_one_out():
    disp, types, times = _data(C=5)
    sd = SelfDynamics().compute(disp, types, times)
    loo_chi, loo_tau = [], []
    for c in range(5):
        keep = [i for i in range(5) if i != c]
        sub = SelfDynamics().compute(disp[keep], types[keep], times)
        loo_chi.append(sub.chi4["A"])
        loo_tau.append(sub.tau_alpha["A"])
    loo_chi, loo_tau = np.array(loo_chi), np.array(loo_tau)
    ref = np.sqrt(4 / 5 * np.sum((loo_chi - loo_chi.mean(0)) ** 2, 0))
    np.testing.assert_allclose(sd.chi4_err["A"], ref, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(
        sd.tau_alpha_err["A"], np.sqrt(4 / 5 * np.sum((loo_tau - loo_tau.mean()) ** 2)), rtol=1e-8
    )
    one = SelfDynamics().compute(disp[:1], types[:1], times)
    assert np.all(np.isnan(one.chi4_err["A"])) and np.isnan(one.tau_alpha_err["A"])
