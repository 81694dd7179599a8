import json

import numpy as np
import pytest
from glassdyn.analysis.fourpoint import FourPoint, s4_bruteforce
from glassdyn.analysis.heterogeneity import (
    DynamicHeterogeneity,
    HeterogeneityConfig,
    analyze_state,
    compare_predictions,
    field_four_point,
    jsonable,
)
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.predictions import Predictions
from glassdyn.data.store import Store

from glassdyn.testing import write_synthetic_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("het") / "s.zarr"
    return write_synthetic_store(
        path, temperatures=(0.8,), n_configs=4, n_particles=64, n_replicas=3, times=(0.1, 1.0, 10.0)
    )


def test_store_equals_arrays(store):
    sp = store.state(0.8)
    cfg = HeterogeneityConfig(q_max=3.0)
    dh = analyze_state(sp, cfg)
    ref = DynamicHeterogeneity(cfg).compute(
        sp.read(keys.ISO_DISPLACEMENTS),
        sp.read(keys.THERMAL_POSITIONS),
        sp.read(keys.TYPES),
        sp.read(keys.BOX)[0],
        sp.times,
    )
    np.testing.assert_allclose(dh.four_point.s4, ref.four_point.s4, rtol=1e-12)
    np.testing.assert_allclose(dh.dynamics.chi4["total"], ref.dynamics.chi4["total"], rtol=1e-12)
    # the overlap S4 of the pipeline is the brute-force S4 of the overlap field
    disp = sp.read(keys.ISO_DISPLACEMENTS).astype(np.float64)
    w = (np.linalg.norm(disp, axis=-1) < 0.3).astype(float)
    _, bf = s4_bruteforce(w, sp.read(keys.THERMAL_POSITIONS), sp.read(keys.BOX)[0], q_max=3.0)
    np.testing.assert_allclose(dh.four_point.s4, bf, rtol=1e-10)
    d = json.loads(json.dumps(dh.to_dict()))
    assert set(d["species"]) == {"A", "B", "total"}
    assert len(d["s4"]["xi4"]) == 3 and len(d["s4"]["S4"][0]) == len(d["s4"]["q"])
    assert d["n_configs"] == 4 and d["n_samples"] == 12
    assert len(dh.oz_fits) == 3


def test_species_resolved_s4(store):
    sp = store.state(0.8)
    dh = analyze_state(sp, HeterogeneityConfig(q_max=3.0, s4_species="A"))
    types = sp.read(keys.TYPES)
    disp = sp.read(keys.ISO_DISPLACEMENTS).astype(np.float64)
    w = (np.linalg.norm(disp, axis=-1) < 0.3) * (types[:, None, None, :] == 0)
    n_a = int((types[0] == 0).sum())
    _, bf = s4_bruteforce(
        w.astype(float), sp.read(keys.THERMAL_POSITIONS), sp.read(keys.BOX)[0], q_max=3.0
    )
    np.testing.assert_allclose(dh.four_point.s4, bf * 64 / n_a, rtol=1e-10)


def test_field_four_point_centering():
    rng = np.random.default_rng(0)
    C, K, N = 3, 2, 50
    f = rng.random((C, K, N)) + 5.0
    pos = rng.uniform(0, 5, (C, N, 3))
    box = np.full(3, 5.0)
    fp = field_four_point(f, pos, box, q_max=3.0)
    centred = f - f.mean(-1, keepdims=True)
    _, ref = s4_bruteforce(centred, pos, box, q_max=3.0, subtract_mean=False)
    np.testing.assert_allclose(fp.s4, ref, rtol=1e-10)
    # one configuration: the centred field still has a structure factor
    one = field_four_point(f[:1], pos[:1], box, q_max=3.0).s4
    _, ref1 = s4_bruteforce(centred[:1], pos[:1], box, q_max=3.0, subtract_mean=False)
    assert np.all(one > 0)
    np.testing.assert_allclose(one, ref1, rtol=1e-10)
    # a shift of the field changes nothing once centred; scaling changes nothing once standardized
    np.testing.assert_allclose(field_four_point(f + 3, pos, box, q_max=3.0).s4, fp.s4, rtol=1e-10)
    st = field_four_point(f, pos, box, q_max=3.0, standardize=True).s4
    np.testing.assert_allclose(
        field_four_point(7 * f, pos, box, q_max=3.0, standardize=True).s4, st, rtol=1e-10
    )
    raw = field_four_point(f, pos, box, q_max=3.0, center=False)
    assert isinstance(raw, FourPoint) and not np.allclose(raw.s4, fp.s4)
    with pytest.raises(InputError, match="NaN"):
        field_four_point(np.full((C, K, N), np.nan), pos, box)
    with pytest.raises(InputError, match="types"):
        field_four_point(f, pos, box, species="A")


def test_compare_predictions_pearson_per_configuration_then_averaged(store):
    """Per-configuration affine predictions a_c * true + b_c with large offsets b_c: each
    configuration's Pearson is exactly sign(a_c), so the average over the four is 0.5 at every
    time; a pooled Pearson (offsets dominate), a median (1) or a Fisher-z mean (inf) would differ.
    Only the requested species counts: garbage on B particles leaves the A-only value intact."""
    sp = store.state(0.8)
    configs = sp.completed
    true = sp.read(keys.ISO_PROPENSITY).astype(np.float64)  # (C, K, N)
    types = sp.read(keys.TYPES)
    slope = np.array([2.0, 0.5, 1.0, -3.0])[:, None, None]
    offset = np.array([0.0, 50.0, -80.0, 20.0])[:, None, None]
    pred = slope * true + offset
    rng = np.random.default_rng(0)
    pred_b = np.where(types[:, None, :] == 1, rng.normal(size=pred.shape), pred)
    out = compare_predictions(
        sp,
        Predictions(0.8, configs, sp.times, pred_b.astype(np.float32)),
        HeterogeneityConfig(q_max=3.0),
        species="A",
    )
    np.testing.assert_allclose(out["pearson"], 0.5, atol=1e-5)
    pooled = [np.corrcoef(pred[..., k, :].ravel(), true[..., k, :].ravel())[0, 1] for k in range(3)]
    assert np.all(np.abs(np.array(pooled) - 0.5) > 0.1)
    total = compare_predictions(
        sp,
        Predictions(0.8, configs, sp.times, pred_b.astype(np.float32)),
        HeterogeneityConfig(q_max=3.0),
    )
    assert np.all(np.array(total["pearson"]) < 0.45)  # the B garbage counts with species="total"
    # heterogeneity of the predicted field: the standardized S4 ignores each configuration's
    # scale and offset, the centred one scales with a_c^2 (here a single a = 2 for all)
    out = compare_predictions(
        sp,
        Predictions(0.8, configs, sp.times, pred.astype(np.float32)),
        HeterogeneityConfig(q_max=3.0),
    )
    np.testing.assert_allclose(
        out["predicted"]["standardized"]["S4"], out["true"]["standardized"]["S4"], rtol=1e-4
    )
    twice = compare_predictions(
        sp,
        Predictions(0.8, configs, sp.times, (2 * true).astype(np.float32)),
        HeterogeneityConfig(q_max=3.0),
    )
    np.testing.assert_allclose(
        twice["predicted"]["centered"]["S4"],
        4 * np.array(twice["true"]["centered"]["S4"]),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        twice["predicted"]["std"], 2 * np.array(twice["true"]["std"]), rtol=1e-5
    )
    json.dumps(out)
    later = Predictions(0.8, configs, sp.times[1:], true[:, 1:].astype(np.float32))
    assert compare_predictions(sp, later, HeterogeneityConfig(q_max=3.0))["times"] == list(
        sp.times[1:]
    )
    wrong = Predictions(0.8, configs, np.array([123.0]), true[:, :1])
    with pytest.raises(InputError, match="not a store time"):
        compare_predictions(sp, wrong)


def test_chi4_iso_is_the_replica_part_of_chi4():
    """Law of total variance, per species: chi4 = (R-1)/R chi4_iso + N_s Var_c(<q>_replicas), with
    chi4_iso = N_s <Var_replicas(q)> (unbiased); replicas that are all alike give chi4_iso = 0."""
    from glassdyn.analysis.dynamics import SelfDynamics

    rng = np.random.default_rng(4)
    C, R, K, N = 5, 6, 2, 30
    types = (np.arange(N) % 5 == 0).astype(np.int8)
    scale = rng.uniform(0.1, 0.6, (C, 1, 1, 1, 1))  # configurations differ in mobility
    disp = rng.normal(size=(C, R, K, N, 3)) * scale
    sd = SelfDynamics().compute(disp, types)
    for s, mask in (("A", types == 0), ("B", types == 1), ("total", np.ones(N, bool))):
        q = (np.linalg.norm(disp, axis=-1) < 0.3)[..., mask].mean(-1)  # (C, R, K) overlaps
        n_s = mask.sum()
        between = n_s * q.mean(1).var(0)  # N_s Var_c of the replica means
        np.testing.assert_allclose(sd.chi4[s], (R - 1) / R * sd.chi4_iso[s] + between, rtol=1e-10)
        assert np.all(sd.chi4_iso[s] > 0)
    same = SelfDynamics().compute(np.repeat(disp[:, :1], R, axis=1), types)
    np.testing.assert_allclose(same.chi4_iso["total"], 0.0, atol=1e-12)
    assert np.all(same.chi4["total"] > 0)


def test_store_without_displacements(tmp_path):
    from glassdyn.testing import random_ka_configuration

    store = Store.create(tmp_path / "static.zarr")
    sp = store.create_state(0.5, n_configs=1, n_particles=32, inherent=False)
    conf = random_ka_configuration(32)
    sp.write(
        0,
        **{
            keys.TYPES: conf.types,
            keys.BOX: conf.box,
            keys.THERMAL_POSITIONS: conf.positions,
            keys.THERMAL_ENERGY: -6.0,
        },
    )
    sp.mark_done(0)
    with pytest.raises(StoreError, match="isoconfig/displacements.*glassdyn simulate"):
        analyze_state(sp)


def test_config_validation_and_jsonable():
    with pytest.raises(InputError):
        HeterogeneityConfig(s4_species="C")
    with pytest.raises(InputError):
        HeterogeneityConfig(dtype="float16")
    assert jsonable({"a": np.array([1.0, np.nan]), 2: np.int64(3), "b": (np.bool_(True),)}) == {
        "a": [1.0, None],
        "2": 3,
        "b": [True],
    }
