"""The replica-noise ceiling that ``glassdyn evaluate`` prints next to each node Pearson."""

import json

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.store import Store
from glassdyn.predict.metrics import (
    ceiling_from_split_half,
    noise_ceiling,
    pearson,
    spearman_brown,
    split_half,
)

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store


def _replicas(rng, R, n, sigma_s, sigma_e, K=1):
    """(R, K, n, 3) displacements whose length is 30 + s_i + e_ri: truth s ~ N(0, sigma_s^2)
    per particle, noise e ~ N(0, sigma_e^2) per replica; returns them and the truth (K, n)."""
    s = rng.normal(scale=sigma_s, size=(K, n))
    m = 30.0 + s[None] + rng.normal(scale=sigma_e, size=(R, K, n))
    d = np.zeros((R, K, n, 3))
    d[..., 0] = m
    return d, s


@pytest.mark.parametrize(
    "R, sigma_e", [(8, 1.0), (8, 2.0), (7, 2.0), (7, 4.0), (32, 4.0), (32, 6.0)]
)
def test_ceiling_is_sqrt_of_the_reliability_of_the_replica_mean(R, sigma_e):
    """Known reliability rho = s^2 / (s^2 + e^2 / R) of the R-replica mean: the ceiling is
    sqrt(rho) to 0.015.  Without Spearman-Brown (the half's reliability) or without the square
    root the value is off by more than 0.02 in every case here; the ceiling also bounds, and
    nearly equals, the Pearson of the perfect predictor (the truth)."""
    rng = np.random.default_rng(R + int(10 * sigma_e))
    n = 20000
    d, s = _replicas(rng, R, n, 1.0, sigma_e, K=2)
    mask = np.ones(n, dtype=bool)
    mask[::5] = False  # B particles are left out
    got = noise_ceiling(d, mask)
    rho = 1.0 / (1.0 + sigma_e**2 / R)
    np.testing.assert_allclose(got, np.sqrt(rho), atol=0.015)
    h = R // 2
    half = 1.0 / (1.0 + sigma_e**2 / h)
    assert abs(np.sqrt(half) - np.sqrt(rho)) > 0.02 and abs(rho - np.sqrt(rho)) > 0.02
    np.testing.assert_allclose(spearman_brown(half, R / h), rho, rtol=1e-12)
    y = np.linalg.norm(d, axis=-1).mean(axis=0)  # the stored propensity (K, n)
    best = [pearson(s[k, mask], y[k, mask]) for k in range(2)]
    np.testing.assert_allclose(best, got, atol=0.02)


def test_ceiling_needs_two_replicas():
    assert np.isnan(noise_ceiling(np.zeros((1, 3, 10, 3)), np.ones(10, bool))).all()


def test_evaluate_reports_the_ceiling_or_says_it_cannot(tmp_path, capsys):
    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=6, n_particles=128, n_replicas=4)
    run = tmp_path / "ridge"
    assert (
        main(["train", "--data", str(path), "--model", "ridge", "--out", str(run), "--quiet"]) == 0
    )
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(path), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    ceiling = res["noise_ceiling"]["0.8"]
    assert len(ceiling) == len(res["node_pearson"]["0.8"]) == 3
    assert all(0 < c <= 1 for c in ceiling)
    # the ceiling of the scored configurations, from their replicas
    sp = Store.open(path).state(0.8)
    ids = res["configs"]["0.8"]["ids"]
    r = [
        split_half(sp.row(keys.ISO_DISPLACEMENTS, c), sp.read(keys.TYPES, c) == 0, seed=c)
        for c in ids
    ]
    np.testing.assert_allclose(ceiling, ceiling_from_split_half(np.mean(r, axis=0), 4), rtol=1e-12)
    per_config = [
        noise_ceiling(sp.row(keys.ISO_DISPLACEMENTS, c), sp.read(keys.TYPES, c) == 0, seed=c)
        for c in ids
    ]
    assert np.all(
        np.array(ceiling) >= np.mean(per_config, axis=0) - 1e-12
    )  # pooled: an upper bound
    assert main(["evaluate", str(run), "--data", str(path)]) == 0
    assert "replica-noise ceiling" in capsys.readouterr().out
    # data without replicas (one trajectory per configuration, e.g. imported): it says it cannot
    one = tmp_path / "one.zarr"
    write_synthetic_store(one, temperatures=(0.8,), n_configs=6, n_particles=128, n_replicas=1)
    run2 = tmp_path / "ridge1"
    assert (
        main(["train", "--data", str(one), "--model", "ridge", "--out", str(run2), "--quiet"]) == 0
    )
    capsys.readouterr()
    assert main(["evaluate", str(run2), "--data", str(one)]) == 0
    out = capsys.readouterr().out
    assert "replica-noise ceiling   cannot be computed" in out and "1 replica" in out
    assert main(["evaluate", str(run2), "--data", str(one), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["noise_ceiling"]["0.8"] is None and "cannot" in res["noise_ceiling_note"]["0.8"]
