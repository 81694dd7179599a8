"""Metrics and losses against plain references (baselines: test_baselines.py; descriptors: test_descriptors.py)."""

import numpy as np
import pytest
import torch
from glassdyn.predict.metrics import MobilityMetrics, pearson

from glassdyn.nn.losses import botan_loss, field_statistics, heterogeneity_loss, temperature_loss
from glassdyn.testing import random_ka_configuration


def test_pearson_matches_numpy_and_handles_constants():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert np.isnan(pearson(np.ones(5), a[:5]))


def test_mobility_metrics_per_config_mean_and_pooled():
    rng = np.random.default_rng(1)
    m = MobilityMetrics(0.44)
    preds, trues, masks = [], [], []
    for _ in range(3):
        t = rng.random((20, 2))
        p = t + 0.3 * rng.random((20, 2)) + rng.random()  # offset per configuration
        mask = rng.random(20) < 0.7
        preds.append(p), trues.append(t), masks.append(mask)
        m.compute(p, t, mask, p[:10], t[:10], np.ones(10, bool), pred_temperature=0.5)
    r = m.result()
    for k in range(2):
        each = [np.corrcoef(p[mk, k], t[mk, k])[0, 1] for p, t, mk in zip(preds, trues, masks)]
        assert r["node_pearson"][k] == pytest.approx(np.mean(each))
        # the error bar of the mean over the 3 configurations
        assert r["node_pearson_se"][k] == pytest.approx(np.std(each, ddof=1) / np.sqrt(3))
        P = np.concatenate([p[mk, k] for p, mk in zip(preds, masks)])
        T = np.concatenate([t[mk, k] for t, mk in zip(trues, masks)])
        assert r["node_pearson_pooled"][k] == pytest.approx(np.corrcoef(P, T)[0, 1])
        assert r["std_pred"][k] == pytest.approx(P.std()) and r["mean_true"][k] == pytest.approx(
            T.mean()
        )
    assert r["temperature_mae"] == pytest.approx(0.06) and r["n_configs"] == 3
    with pytest.raises(ValueError):
        MobilityMetrics(0.5).result()


def test_node_pearson_is_the_mean_of_per_configuration_values():
    """Affine predictions per configuration: Pearson +1, +1, +1, -1 -> 0.5 whatever the offsets
    (which decide the pooled value); masked-out particles never count."""
    rng = np.random.default_rng(2)
    m = MobilityMetrics(0.44)
    for a, b in ((2.0, 0.0), (0.5, 40.0), (1.0, -60.0), (-3.0, 15.0)):
        t = rng.random((30, 1))
        mask = np.arange(30) % 4 != 0
        p = np.where(mask[:, None], a * t + b, rng.normal(size=(30, 1)))
        m.compute(p, t, mask)
    r = m.result()
    assert r["node_pearson"][0] == pytest.approx(0.5, abs=1e-12)
    assert abs(r["node_pearson_pooled"][0] - 0.5) > 0.1


def test_losses():
    y = torch.randn(10, 2)
    assert float(botan_loss(y, y, None, None)) == 0.0
    ye = torch.randn(30, 2)
    got = botan_loss(y + 1, y, ye, ye + 2, p=0.4)
    assert float(got) == pytest.approx(0.4 * 1 + 0.6 * 4)
    assert float(
        temperature_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0]))
    ) == pytest.approx(2.0)


def test_heterogeneity_loss_penalises_collapse_and_matches_plain_formula():
    rng = np.random.default_rng(0)
    conf = random_ka_configuration(128)
    from glassdyn.data.graph import radius_graph

    ei, _ = radius_graph(conf.positions, conf.box)
    y = torch.tensor(rng.normal(size=(128, 2)), dtype=torch.float32)
    ei_t = torch.from_numpy(ei)
    assert float(heterogeneity_loss(y, y, ei_t)) == pytest.approx(0.0, abs=1e-6)
    flat = 0.1 * y
    flat.requires_grad_(True)
    loss = heterogeneity_loss(flat, y, ei_t)
    loss.backward()
    assert float(loss.detach()) > 0.5 and flat.grad.abs().sum() > 0
    # plain numpy reference of spread and neighbour correlation
    v = y[:, 0].numpy().astype(np.float64)
    dv = v - v.mean()
    sd, corr = field_statistics(y, ei_t, torch.zeros(128, dtype=torch.long), 1)
    assert float(sd[0, 0]) == pytest.approx(dv.std(), rel=1e-4)
    assert float(corr[0, 0]) == pytest.approx(np.mean(dv[ei[0]] * dv[ei[1]]) / dv.var(), rel=1e-3)


def test_temperature_reading_floor_is_what_the_energy_thermometer_reaches():
    """Canonical energies (mean e0 + c_v T, spread T sqrt(c_v / N)): the floor recovers c_v from
    the mean energies of a few configurations, and the linear energy thermometer, the efficient
    unbiased reading, errs on fresh configurations by that floor on average (a wrong power of N,
    c_v or the sqrt(2 / pi) would miss it by 10% or more)."""
    from glassdyn.predict.metrics import temperature_reading_floor

    rng = np.random.default_rng(0)
    c_v, n = 1.6, 256

    def draw(T, k):
        return -8.0 + c_v * T + rng.normal(scale=T * np.sqrt(c_v / n), size=k)

    temps = np.repeat([0.6, 0.7, 0.8], 400)
    energies = np.concatenate([draw(T, 400) for T in (0.6, 0.7, 0.8)])
    got_cv, floor = temperature_reading_floor(temps, energies, 0.7, n)
    assert got_cv == pytest.approx(c_v, rel=0.03)
    a, b = np.polyfit(temps, energies, 1)
    reading = (draw(0.7, 20000) - b) / a
    assert np.mean(np.abs(reading - 0.7)) == pytest.approx(floor, rel=0.04)
    assert floor == pytest.approx(np.sqrt(2 / np.pi) * 0.7 / np.sqrt(n * c_v), rel=0.03)
    with pytest.raises(ValueError, match="two temperatures"):
        temperature_reading_floor([0.7, 0.7], [-7.0, -6.9], 0.7, n)
