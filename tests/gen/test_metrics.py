"""Sample metrics against brute force, baselines, torch FIRE."""

import numpy as np
import pytest
import torch
from glassdyn.data.box import minimum_image
from glassdyn.gen import metrics
from glassdyn.gen.fire import FireConfig, fire_minimize, quench_ka
from glassdyn.simulate.ka import KAParameters, particle_energies

from glassdyn.testing import random_ka_configuration


def _brute_contacts(x, types, box, factor=0.7):
    sig = KAParameters().sigma
    d = np.linalg.norm(minimum_image(x[:, None] - x[None], box), axis=-1)
    iu = np.triu_indices(len(x), 1)
    return int(np.sum(d[iu] < factor * sig[types[iu[0]], types[iu[1]]]))


def test_close_contacts_brute_force():
    c = random_ka_configuration(64, seed=0)
    rng = np.random.default_rng(0)
    xs = np.stack([c.positions, rng.random((64, 3)) * c.box, rng.random((64, 3)) * c.box])
    got = metrics.close_contacts(xs, c.types, c.box)
    want = [_brute_contacts(x, c.types.astype(int), c.box) for x in xs]
    assert got.tolist() == want
    assert got[0] == 0 and got[1:].min() > 0
    assert metrics.close_contact_fraction(xs, c.types, c.box) == pytest.approx(2 / 3)


def test_rdf_l2_and_energy_w1():
    c = random_ka_configuration(128, seed=1)
    x = c.positions[None].astype(np.float64)
    d = metrics.rdf_l2(x, x, c.types, c.types, c.box)
    assert all(v == 0.0 for v in d.values())
    u, logq = metrics.uniform_baseline(4, c.types, c.box, seed=0)
    assert metrics.rdf_l2(u, x, c.types, c.types, c.box)["sum"] > 0.5
    assert np.allclose(logq, -128 * np.log(np.prod(c.box)))
    assert metrics.energy_w1([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert metrics.energy_w1([0.0], [1.0]) == pytest.approx(1.0)


def test_lattice_baseline_density_and_tuning():
    c = random_ka_configuration(27, seed=2)
    x, logq = metrics.lattice_baseline(40, c.types, c.box, sigma=0.1, seed=0)
    assert x.shape == (40, 27, 3) and (x >= 0).all() and (x < c.box).all()
    # log q = log N(noise; 0, sigma^2 I): the chi^2 part averages -3N/2 (sd sqrt(3N/2) per sample)
    chi2_half = logq + 0.5 * 3 * 27 * np.log(2 * np.pi * 0.1**2)
    assert abs(chi2_half.mean() + 1.5 * 27) < 4 * np.sqrt(1.5 * 27 / 40)
    sigma, scores = metrics.tune_lattice_sigma(
        c.positions[None], c.types, c.box, grid=[0.05, 0.2], n=2
    )
    assert sigma in (0.05, 0.2) and set(scores) == {0.05, 0.2}


def test_fire_two_particle_lj_minimum():
    """Two A particles: the minimum of the shifted LJ pair is at r = 2^(1/6)."""

    def e(x):
        d = x[:, 1] - x[:, 0]
        r2 = (d * d).sum(-1)
        sr6 = 1 / r2**3
        return 4 * (sr6 * sr6 - sr6)

    x0 = torch.tensor([[[0.0, 0, 0], [1.5, 0.1, 0]], [[0.0, 0, 0], [0.95, 0, 0]]])
    x, en, fmax, steps = fire_minimize(e, x0, FireConfig(max_force=1e-8))
    r = (x[:, 1] - x[:, 0]).norm(dim=-1)
    assert torch.allclose(r, torch.full((2,), 2 ** (1 / 6)), atol=1e-6)
    assert torch.allclose(en, torch.full((2,), -1.0), atol=1e-10)
    assert (fmax < 1e-8).all() and (steps > 0).all()


@pytest.mark.slow
def test_quench_ka_lowers_energy_to_a_minimum():
    c = random_ka_configuration(32, seed=4)
    _, e_is, fmax = quench_ka(c.positions[None], c.types, c.box, FireConfig(max_force=1e-6))
    assert fmax[0] < 1e-6
    assert e_is[0] < particle_energies(c.positions, c.types, c.box).mean()


@pytest.mark.slow
@pytest.mark.lammps
def test_lammps_and_torch_quench_reach_minima():
    from glassdyn.gen.fire import quench, quench_lammps
    from glassdyn.simulate.protocols import System

    s = System(64)
    x0 = random_ka_configuration(64, seed=5).positions[None].astype(np.float64)  # no overlaps
    e0 = particle_energies(x0[0], s.types, s.box).mean()
    xl, el, fl = quench_lammps(x0, s.types, s.box)
    _, et, ft = quench_ka(x0, s.types, s.box, FireConfig(max_force=1e-3))
    assert fl[0] < 1e-5 and ft[0] < 1e-3
    assert el[0] < e0 and et[0] < e0
    assert abs(el[0] - et[0]) < 0.3  # both land in a KA minimum (not necessarily the same one)
    assert np.isclose(particle_energies(xl[0], s.types, s.box).mean(), el[0], atol=1e-6)
    # one minimiser per call: LAMMPS when it takes the layout (the same minimum as quench_lammps)
    q = quench(x0, s.types, s.box)
    assert q.minimiser == "lammps" and q.energy[0] == pytest.approx(el[0]) and q.converged.all()
    # shuffled types are not the simulate layout: torch FIRE for the whole call
    t = s.types[::-1].copy()
    q2 = quench(x0, t, s.box)
    assert q2.minimiser == "torch" and q2.energy[0] < particle_energies(x0[0], t, s.box).mean()
    # an overlapping start loses atoms in LAMMPS: reported as failed, never quenched by another minimiser
    xu = np.random.default_rng(0).random((1, 64, 3)) * s.box
    q3 = quench(np.concatenate([x0, xu]), s.types, s.box, "lammps")
    assert q3.failed == [1] and np.isnan(q3.energy[1]) and q3.converged.tolist() == [True, False]
    assert q3.summary()["minimiser"].startswith("lammps FIRE") and q3.summary()["converged"] == 1
    q4 = quench(xu, s.types, s.box, "torch")
    assert np.isfinite(q4.energy[0]) and q4.energy[0] < 0


def test_coordination_numbers_brute_force():
    """Shell counts against a double loop over every pair and its nearest images; small box
    (L = 3.2 < 2 x 1.4 is not needed: the minimum image is unique below L / 2 = 1.6)."""
    rng = np.random.default_rng(4)
    box = np.array([3.2, 3.4, 3.3])
    x = rng.random((3, 30, 3)) * box
    types = np.array([0] * 22 + [1] * 8)
    z = metrics.coordination_numbers(x, types, box)
    cut = np.array([[1.40, 1.20], [1.20, 1.07]])
    want = np.zeros((2, 2))
    for p in x:
        for i in range(30):
            for j in range(30):
                if (
                    i != j
                    and np.linalg.norm(minimum_image(p[j] - p[i], box)) < cut[types[i], types[j]]
                ):
                    want[types[i], types[j]] += 1
    n = np.array([22, 8]) * 3
    assert z["AA"] == pytest.approx(want[0, 0] / n[0]) and z["AB"] == pytest.approx(
        want[0, 1] / n[0]
    )
    assert z["BA"] == pytest.approx(want[1, 0] / n[1]) and z["BB"] == pytest.approx(
        want[1, 1] / n[1]
    )
    assert z["AB"] * 22 == pytest.approx(z["BA"] * 8)  # every AB pair counted from both sides
    # per-configuration types and custom shells
    z2 = metrics.coordination_numbers(x, np.broadcast_to(types, (3, 30)), box, cutoffs={"BB": 0.0})
    assert z2["BB"] == 0.0 and z2["AA"] == z["AA"]


def _synthetic_profile(rng, m, shift=0.0, bins=40):
    """A Profile of m 'configurations' drawn from a known law (energies N(-6.3 + shift, 0.05),
    g(r) a fixed curve plus noise, Z_BB around 0.4): for the floor tests, no simulation needed."""
    r = np.linspace(0.6, 2.4, bins)
    curve = 1 + np.exp(-((r - 1.1) ** 2) / 0.02)
    g = {k: curve + shift + rng.normal(scale=0.3, size=(m, bins)) for k in metrics.PAIRS}
    return metrics.Profile(
        rng.normal(-6.3 + shift, 0.05, size=m),
        r,
        g,
        rng.normal(0.4 + shift, 0.1, size=m),
        np.zeros(m, dtype=np.int64),
    )


def test_compare_against_brute_force():
    rng = np.random.default_rng(0)
    a, b = _synthetic_profile(rng, 5), _synthetic_profile(rng, 7, shift=0.1)
    got = metrics.compare(a, b)
    dr = a.r[1] - a.r[0]
    from scipy.stats import wasserstein_distance

    assert got["energy_w1"] == pytest.approx(wasserstein_distance(a.energy, b.energy))
    for k in metrics.PAIRS:
        d = a.g[k].mean(0) - b.g[k].mean(0)
        assert got[f"g_{k}"] == pytest.approx(np.sqrt((d * d).sum() * dr))
    assert got["z_bb"] == pytest.approx(abs(a.z_bb.mean() - b.z_bb.mean()))
    assert set(got) == set(metrics.DISTANCES)


def test_chain_halves_split_whole_chains_every_way():
    """Six chains (start k gives rows k, k + 6, ...): the 20 ordered splits into three chains
    and three, each half from its own chains and of one size; an interleaved split (chain-mates
    on both sides, correlated halves) or a single split would fail."""
    origin = np.arange(64) % 6
    halves = metrics.chain_halves(origin, 32, np.random.default_rng(0))
    assert len(halves) == 20
    seen = set()
    for a, b in halves:
        # chains of 11, 11, 11, 11, 10, 10: both halves cut to the smaller side's size
        side = np.isin(origin, origin[a])
        assert len(a) == len(b) == min(side.sum(), (~side).sum(), 32)
        assert not set(origin[a]) & set(origin[b]) and len(set(origin[a])) == 3
        seen.add(tuple(sorted(set(origin[a]))))
    assert len(seen) == 20
    # five chains: 2 against 3 both ways, the halves cut to the smaller one's size
    h5 = metrics.chain_halves(np.arange(40) % 5, 20, np.random.default_rng(0))
    assert len(h5) == 20 and all(len(a) == len(b) == 16 for a, b in h5)
    # many chains: at most max_splits random splits, still chain-disjoint
    o = np.arange(64) % 32
    hm = metrics.chain_halves(o, 32, np.random.default_rng(0), max_splits=10)
    assert len(hm) == 10 and all(not set(o[a]) & set(o[b]) for a, b in hm)
    # one chain: alternate configurations, the only split there is
    ((a, b),) = metrics.chain_halves(np.zeros(10, int), 8, np.random.default_rng(0))
    assert a.tolist() == [0, 2, 4, 6, 8] and b.tolist() == [1, 3, 5, 7, 9]


def test_against_md_averages_over_the_splits():
    """The value is the mean over splits of the sample against half A, the floor the mean of B
    against A: the first split alone, or the whole reference as A, gives other numbers."""
    rng = np.random.default_rng(1)
    ref, sample = _synthetic_profile(rng, 24), _synthetic_profile(rng, 8, shift=0.2)
    halves = metrics.chain_halves(np.arange(24) % 4, 8, rng)
    assert len(halves) == 6
    floor = metrics.md_floor(ref, halves)
    got = metrics.against_md(sample, ref, halves, floor, np.random.default_rng(5))
    for k in metrics.DISTANCES:
        want = np.mean([metrics.compare(sample, ref.subset(a))[k] for a, _ in halves])
        fl = [metrics.compare(ref.subset(b), ref.subset(a))[k] for a, b in halves]
        assert got[k]["value"] == pytest.approx(want)
        assert floor[k]["floor"] == pytest.approx(np.mean(fl)) == got[k]["floor"]
        assert floor[k]["floor_std"] == pytest.approx(np.std(fl)) and np.std(fl) > 0
        assert got[k]["value"] != pytest.approx(metrics.compare(sample, ref)[k])
    # halves smaller than the sample: a random subset of the sample of the halves' size
    small = metrics.chain_halves(np.arange(12) % 4, 8, rng)
    sub = metrics.against_md(
        sample, ref.subset(np.arange(12)), small, floor, np.random.default_rng(5)
    )
    assert all(np.isfinite(sub[k]["value"]) for k in metrics.DISTANCES)


def test_a_sample_of_the_reference_law_sits_at_the_floor_and_a_shifted_one_above():
    rng = np.random.default_rng(2)
    ref = _synthetic_profile(rng, 64)
    halves = metrics.chain_halves(np.arange(64) % 6, 32, rng)
    floor = metrics.md_floor(ref, halves)
    same = metrics.against_md(_synthetic_profile(rng, 32), ref, halves, floor, rng)
    off = metrics.against_md(_synthetic_profile(rng, 32, shift=0.3), ref, halves, floor, rng)
    for k in metrics.DISTANCES:
        assert same[k]["value"] < 1.5 * same[k]["floor"], (k, same[k])
        assert off[k]["value"] > 2.0 * off[k]["floor"], (k, off[k])


def test_energy_statistics():
    rng = np.random.default_rng(3)
    e = rng.normal(-6.3, 0.02, size=400)
    s = metrics.energy_statistics(e, 0.8, 256)
    assert s["mean"] == pytest.approx(e.mean())
    assert s["se"] == pytest.approx(e.std(ddof=1) / 20)
    assert s["n_var_over_t2"] == pytest.approx(256 * e.var(ddof=1) / 0.64)
    assert s["n_var_over_t2"] == pytest.approx(256 * 0.02**2 / 0.64, rel=0.15)
    fewer = metrics.energy_statistics(e, 0.8, 256, n_eff=25)
    assert fewer["se"] == pytest.approx(4 * s["se"]) and fewer["n_eff"] == 25
    assert np.isnan(metrics.energy_statistics(e[:1], 0.8, 256)["se"])


def test_profile_of_configurations():
    """Per configuration: e/N, partial g(r) (to 0.49 L), Z_BB and close contacts, each what its
    own function gives for that configuration alone."""
    from glassdyn.analysis.structure import partial_rdf
    from glassdyn.gen.sampling import energies

    c = random_ka_configuration(64, seed=6)
    rng = np.random.default_rng(6)
    x = np.stack([c.positions, c.positions + rng.normal(scale=0.05, size=(64, 3))]).astype(float)
    x[1, 1] = x[1, 0] + 0.3  # one close contact in the second
    p = metrics.profile(x, c.types, c.box)
    assert len(p) == 2 and np.allclose(p.energy, energies(x, c.types, c.box) / 64)
    assert p.close.tolist() == metrics.close_contacts(x, c.types, c.box).tolist() and p.close[1] > 0
    for k in range(2):
        r, g = partial_rdf(x[k], c.types, c.box, r_max=0.49 * c.box.min(), bins=100)
        assert np.allclose(p.r, r)
        for pair in metrics.PAIRS:
            assert np.allclose(p.g[pair][k], g[pair], equal_nan=True)
        want = metrics.coordination_numbers(x[k][None], c.types, c.box)["BB"]
        assert p.z_bb[k] == pytest.approx(want)
    given = metrics.profile(x, c.types, c.box, energy_per_particle=np.array([1.0, 2.0]))
    assert given.energy.tolist() == [1.0, 2.0]
    sub = p.subset([1])
    assert len(sub) == 1 and sub.close[0] == p.close[1]


def test_the_floor_is_never_below_the_configurations_own_scatter():
    """Six chains whose mean Z_BB agree (as six can by chance: T=0.64, N=256) give a chain-split
    floor near zero, which independent MD of the same law then fails; the i.i.d. floor (random
    splits of the configurations) keeps the floor at their own scatter, and md_floor takes the
    larger, recording both."""
    from dataclasses import replace

    rng = np.random.default_rng(4)
    ref = _synthetic_profile(rng, 64)
    origin = np.arange(64) % 6
    z = ref.z_bb.copy()
    for k in range(6):
        z[origin == k] += 0.4 - z[origin == k].mean()
    ref = replace(ref, z_bb=z)
    halves = metrics.chain_halves(origin, 32, rng)
    iid = metrics.iid_floor(ref, 32, np.random.default_rng(0))
    chains = metrics.md_floor(ref, halves)
    floor = metrics.md_floor(ref, halves, iid)
    # the i.i.d. floor of a mean of 32 draws of sd 0.1 against 32 others: E|N(0, 0.1 sqrt(2/32))|
    assert iid["z_bb"] == pytest.approx(0.1 * np.sqrt(2 / 32) * np.sqrt(2 / np.pi), rel=0.25)
    assert chains["z_bb"]["floor"] < 0.2 * iid["z_bb"]
    assert floor["z_bb"]["floor"] == iid["z_bb"] and floor["z_bb"]["floor_iid"] == iid["z_bb"]
    assert floor["z_bb"]["floor_chains"] == chains["z_bb"]["floor"] == floor["z_bb"]["value"]
    for k in metrics.DISTANCES:
        assert floor[k]["floor"] == max(floor[k]["floor_chains"], iid[k])
    sample = _synthetic_profile(rng, 32)  # independent, of the same law
    strict = metrics.against_md(sample, ref, halves, chains, np.random.default_rng(1))
    honest = metrics.against_md(sample, ref, halves, floor, np.random.default_rng(1))
    assert strict["z_bb"]["value"] > 1.5 * strict["z_bb"]["floor"]
    assert honest["z_bb"]["value"] < 1.5 * honest["z_bb"]["floor"]
    assert honest["z_bb"]["floor_chains"] == chains["z_bb"]["floor"]


def test_false_fail_is_the_rate_at_which_exact_samplers_fail_the_bar():
    """Distances of independent sets distributed like |mean difference| of Gaussians (half-
    normal, as Z_BB's): one draw exceeds 1.5x its mean with probability P(|Z| > 1.5 sqrt(2/pi))
    = 0.231; the mean of 4 draws far less often; a distance that never scatters never fails."""
    rng = np.random.default_rng(0)
    dist = {k: np.abs(rng.normal(size=4000)) for k in metrics.DISTANCES}
    dist["g_AA"] = np.full(4000, 0.04)  # a distance without scatter: never above 1.5x its mean
    floor = {k: {"floor": float(v.mean())} for k, v in dist.items()}
    one = metrics.false_fail(dist, floor, 1, np.random.default_rng(1), repeats=20000)
    four = metrics.false_fail(dist, floor, 4, np.random.default_rng(1), repeats=20000)
    assert one["z_bb"] == pytest.approx(0.231, abs=0.01)
    assert one["g_AA"] == 0.0 and four["g_AA"] == 0.0
    assert 0.07 < four["z_bb"] < 0.13  # the mean of 4 half-normals: sd 0.755 / 2 of the mean
    # four independent scattering distances: any one failing, 1 - (1 - 0.231)^4
    assert one["any"] == pytest.approx(1 - (1 - 0.231) ** 4, abs=0.015)
    # a higher floor (the chain splits above the i.i.d. one) fails less
    high = {k: {"floor": 1.2 * v["floor"]} for k, v in floor.items()}
    assert metrics.false_fail(dist, high, 1, np.random.default_rng(1))["z_bb"] < one["z_bb"]
