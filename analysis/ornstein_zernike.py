"""Ornstein-Zernike fit of the small-q four-point structure factor.

    S4(q) = chi4_OZ / (1 + (q xi4)^2)

fitted (scipy ``curve_fit``, least squares, weighted by the S4 standard errors when given) on the
shells with q <= ``q_fit_max``.  chi4_OZ is the q -> 0 extrapolation (compare with chi4 from the
overlap fluctuations) and xi4 the dynamic correlation length in sigma (Lacevic et al.,
J. Chem. Phys. 119, 7372 (2003); Flenner & Szamel, Phys. Rev. E 81, 031502 (2010)).
Uncertainties are the square roots of the covariance diagonal; without S4 errors the covariance
is scaled by the residual variance (``absolute_sigma=False``).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from glassdyn.data.errors import InputError

XI_MIN = 1e-3  # sigma: a fit that ends here found no decay of S4 with q (no length), a failure


def ornstein_zernike(q: np.ndarray, chi4: float, xi: float) -> np.ndarray:
    """chi4 / (1 + (q xi)^2) for q (Q,) in 1/sigma, xi in sigma."""
    q = np.asarray(q, dtype=np.float64)
    return chi4 / (1.0 + (q * xi) ** 2)


@dataclass(frozen=True)
class OZFit:
    """chi4_OZ and xi4 with their 1-sigma errors; ``q_fit_max`` and ``n_shells`` used; ``ok``
    False when the fit could not be done (too few shells, non-finite data, no convergence), in
    which case the numbers are NaN."""

    chi4: float
    chi4_err: float
    xi: float
    xi_err: float
    q_fit_max: float
    n_shells: int
    ok: bool

    def to_dict(self) -> dict:
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in asdict(self).items()
        }

    def __call__(self, q: np.ndarray) -> np.ndarray:
        return ornstein_zernike(q, self.chi4, self.xi)


def fit_ornstein_zernike(
    q: np.ndarray,
    s4: np.ndarray,
    s4_err: np.ndarray | None = None,
    *,
    q_fit_max: float = 1.5,
    min_shells: int = 3,
    xi_max: float | None = None,
) -> OZFit:
    """Fit S4(q) (Q,) on the shells q (Q,) <= ``q_fit_max`` (always at least ``min_shells``).

    s4_err (Q,) standard errors (NaN or None: unweighted).  ``xi_max`` (sigma) bounds xi4, e.g.
    half the box side: a length the box cannot resolve; a fit that ends on this bound (or at
    xi4 ~ 0, ``XI_MIN``: no decay with q) is reported as failed.  Returns an :class:`OZFit`; a fit that cannot be done returns ok=False
    with NaN values rather than raising, so one bad time does not stop an analysis.
    """
    q = np.asarray(q, dtype=np.float64)
    y = np.asarray(s4, dtype=np.float64)
    if q.shape != y.shape or q.ndim != 1:
        raise InputError(f"q {q.shape} and S4 {y.shape} must be matching 1-d arrays")
    n = max(int(np.sum(q <= q_fit_max)), min(min_shells, len(q)))
    qf, yf = q[:n], y[:n]
    sig = None
    if s4_err is not None:
        e = np.asarray(s4_err, dtype=np.float64)[:n]
        if np.all(np.isfinite(e)) and np.all(e > 0):
            sig = e
    bad = OZFit(
        float("nan"),
        float("nan"),
        float("nan"),
        float("nan"),
        float(qf[-1]) if n else float("nan"),
        n,
        False,
    )
    if n < 2 or not np.all(np.isfinite(yf)) or np.all(yf <= 0):
        return bad
    from scipy.optimize import curve_fit

    # start from the two smallest shells: S4(q1)/S4(q2) = (1 + q2^2 xi^2)/(1 + q1^2 xi^2)
    ratio = yf[0] / yf[1] if yf[1] > 0 else 1.0
    xi0 = (
        np.sqrt(max((ratio - 1) / max(qf[1] ** 2 - ratio * qf[0] ** 2, 1e-12), 1e-4))
        if ratio > 1
        else 0.5
    )
    xi_hi = np.inf if xi_max is None else float(xi_max)
    xi0 = min(xi0, 0.5 * xi_hi)
    chi0 = yf[0] * (1 + (qf[0] * xi0) ** 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, pcov = curve_fit(
                ornstein_zernike,
                qf,
                yf,
                p0=(chi0, xi0),
                sigma=sig,
                absolute_sigma=sig is not None,
                bounds=([0.0, 0.0], [np.inf, xi_hi]),
                maxfev=10000,
            )
    except (RuntimeError, ValueError):
        return bad
    if popt[1] >= xi_hi * (1 - 1e-6) or popt[1] <= XI_MIN:
        return bad  # xi4 at a bound: not resolved by this box / these shells (S4 flat in q)
    err = (
        np.sqrt(np.clip(np.diag(pcov), 0, np.inf))
        if np.all(np.isfinite(pcov))
        else np.full(2, np.nan)
    )
    return OZFit(
        float(popt[0]), float(err[0]), float(popt[1]), float(err[1]), float(qf[-1]), n, True
    )
