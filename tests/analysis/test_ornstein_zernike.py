import numpy as np
import pytest
from glassdyn.analysis.ornstein_zernike import fit_ornstein_zernike, ornstein_zernike
from glassdyn.data.errors import InputError


def test_recovers_parameters_with_errors_that_cover_them():
    rng = np.random.default_rng(0)
    q = np.linspace(0.4, 1.5, 10)
    chi4, xi = 5.0, 2.0
    err = 0.03 * ornstein_zernike(q, chi4, xi)
    hits = 0
    for trial in range(40):
        y = ornstein_zernike(q, chi4, xi) + rng.normal(size=q.shape) * err
        fit = fit_ornstein_zernike(q, y, err)
        assert fit.ok and fit.n_shells == 10
        hits += abs(fit.xi - xi) < 2 * fit.xi_err
    assert hits >= 32  # ~95 % coverage of 2-sigma intervals
    exact = fit_ornstein_zernike(q, ornstein_zernike(q, chi4, xi))
    assert abs(exact.chi4 - chi4) < 1e-6 and abs(exact.xi - xi) < 1e-6
    np.testing.assert_allclose(exact(q), ornstein_zernike(q, chi4, xi), rtol=1e-6)


def test_fit_range_and_failures():
    q = np.linspace(0.4, 3.0, 20)
    y = ornstein_zernike(q, 1.0, 1.0)
    fit = fit_ornstein_zernike(q, y, q_fit_max=1.0)
    assert fit.q_fit_max <= 1.0 and fit.n_shells == int(np.sum(q <= 1.0))
    assert fit_ornstein_zernike(q, y, q_fit_max=0.1).n_shells == 3  # min_shells
    bad = fit_ornstein_zernike(q, np.full_like(q, np.nan))
    assert not bad.ok and np.isnan(bad.xi)
    assert bad.to_dict()["xi"] is None
    with pytest.raises(InputError):
        fit_ornstein_zernike(q, y[:-1])


def test_xi_beyond_the_box_is_reported_as_failed():
    q = np.linspace(0.4, 1.5, 8)
    y = ornstein_zernike(q, 50.0, 20.0)
    assert fit_ornstein_zernike(q, y).ok
    capped = fit_ornstein_zernike(q, y, xi_max=3.0)
    assert not capped.ok and np.isnan(capped.xi)
    ok = fit_ornstein_zernike(q, ornstein_zernike(q, 2.0, 1.0), xi_max=3.0)
    assert ok.ok and abs(ok.xi - 1.0) < 1e-6
