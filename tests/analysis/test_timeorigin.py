"""Time-origin analysis of real LAMMPS trajectories against plain loops written here.

Each test names the wrong implementation it catches: origins or lags picked wrongly, chi4 taken
over particles instead of origins, S4 without the disconnected part or with r(t) instead of
r(0) in the phase, pairs that cross files, chunk boundaries that drop or repeat a frame.
"""

import numpy as np
import pytest
from glassdyn.analysis.heterogeneity import HeterogeneityConfig
from glassdyn.analysis.lags import plan_lags, schedule_period
from glassdyn.analysis.workflow import TrajectoryOptions, analyze_trajectories
from glassdyn.data.errors import InputError
from glassdyn.data.trajectory import open_trajectory

CFG = HeterogeneityConfig(q_max=2.5, q_fit_max=2.5)
K = {"A": 7.25, "B": 5.75, "total": 7.25}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two independent KA runs (N=256, T=1.0, 30 frames 0.1 apart)."""
    from glassdyn.simulate.testing import lammps_dumps

    root = tmp_path_factory.mktemp("runs")
    out = []
    for seed in (0, 1):
        (root / str(seed)).mkdir()
        out.append(
            lammps_dumps(
                root / str(seed), frames=30, every=20, seed=seed, styles=("unwrapped", "wrapped")
            )
        )
    return out


def _analyze(paths, **options):
    opts = TrajectoryOptions(
        **{"max_origins": None, "min_origins": 5, "max_lags": 12, "structure_frames": 0, **options}
    )
    rep = analyze_trajectories(paths, CFG, opts)
    (res,) = rep.results.values()
    return res


def _loop_reference(paths, lag_frames, a=0.3):
    """Plain time-origin loops: every frame i with i + m in the file is an origin of lag m."""
    xs = [np.concatenate([x for _, x in open_trajectory(p).chunks(100)]) for p in paths]
    tr = open_trajectory(paths[0])
    types, box = tr.types, tr.box
    masks = {"A": types == 0, "B": types == 1, "total": np.ones(len(types), bool)}
    n = np.arange(-3, 4)
    vecs = np.array([(i, j, k) for i in n for j in n for k in n])
    half = (vecs[:, 0] > 0) | (
        (vecs[:, 0] == 0) & ((vecs[:, 1] > 0) | ((vecs[:, 1] == 0) & (vecs[:, 2] > 0)))
    )
    vecs = vecs[half]
    q = 2 * np.pi * vecs / box
    keep = np.linalg.norm(q, axis=1) <= CFG.q_max + 1e-9
    vecs, q = vecs[keep], q[keep]
    n2 = (vecs**2).sum(1)
    shells = np.unique(n2)
    out = {s: {f: [] for f in ("Q", "Fs", "MSD", "alpha2", "chi4", "chi4_Fs")} for s in masks}
    out["S4"], out["origins"] = [], []
    for m in lag_frames:
        per = {s: {"q": [], "fs": [], "r2": [], "r4": []} for s in masks}
        W = []
        for x in xs:
            for i in range(len(x) - m):
                d = x[i + m] - x[i]
                r = np.sqrt((d**2).sum(1))
                w = (r < a).astype(float)
                W.append(np.exp(1j * x[i] @ q.T).T @ w)  # phases at the origin r(t_i)
                for s, mk in masks.items():
                    per[s]["q"].append(w[mk].mean())
                    kr = K[s] * r[mk]
                    per[s]["fs"].append(
                        np.mean(np.where(kr > 0, np.sin(kr) / np.where(kr > 0, kr, 1), 1))
                    )
                    per[s]["r2"].append(np.mean(r[mk] ** 2))
                    per[s]["r4"].append(np.mean(r[mk] ** 4))
        for s, mk in masks.items():
            p = {f: np.array(v) for f, v in per[s].items()}
            Ns = mk.sum()
            out[s]["Q"].append(p["q"].mean())
            out[s]["Fs"].append(p["fs"].mean())
            out[s]["MSD"].append(p["r2"].mean())
            out[s]["alpha2"].append(3 * p["r4"].mean() / (5 * p["r2"].mean() ** 2) - 1)
            out[s]["chi4"].append(Ns * (np.mean(p["q"] ** 2) - p["q"].mean() ** 2))
            out[s]["chi4_Fs"].append(Ns * (np.mean(p["fs"] ** 2) - p["fs"].mean() ** 2))
        W = np.array(W)  # (origins, vectors)
        s4v = (np.mean(np.abs(W) ** 2, 0) - np.abs(W.mean(0)) ** 2) / len(types)
        out["S4"].append([s4v[n2 == s].mean() for s in shells])
        out["origins"].append(len(W))
    return out


@pytest.mark.lammps
def test_every_quantity_equals_a_plain_time_origin_loop(runs):
    paths = [runs[0]["unwrapped"]]
    res = _analyze(paths)
    lag_frames = np.rint(np.array(res["times"]) / 0.1).astype(int)
    assert lag_frames[0] == 1 and 8 <= len(lag_frames) <= 12  # log-spaced picks among 1..25
    ref = _loop_reference(paths, lag_frames)
    assert res["n_origins"] == ref["origins"] == [30 - m for m in lag_frames]
    for s in ("A", "B", "total"):
        for f in ("Q", "Fs", "MSD", "alpha2", "chi4", "chi4_Fs"):
            np.testing.assert_allclose(
                res["species"][s][f], ref[s][f], rtol=1e-9, atol=1e-12, err_msg=f"{s} {f}"
            )
    np.testing.assert_allclose(res["s4"]["S4"], ref["S4"], rtol=1e-9, atol=1e-12)
    assert max(res["species"]["total"]["chi4"]) > 0.3  # real fluctuations, not a zero test
    # tau_alpha: Fs_A = 1/e by linear interpolation in log t between the bracketing lags
    t, fs = np.array(res["times"]), np.array(ref["A"]["Fs"])
    i = int(np.flatnonzero(fs <= np.exp(-1))[0])
    x = np.log(t[i - 1]) + (np.exp(-1) - fs[i - 1]) * np.log(t[i] / t[i - 1]) / (fs[i] - fs[i - 1])
    assert res["species"]["A"]["tau_alpha"] == pytest.approx(np.exp(x), rel=1e-12)


@pytest.mark.lammps
def test_chi4_error_is_a_jackknife_over_blocks_of_origins(runs):
    path = runs[0]["unwrapped"]
    res = _analyze([path], lags=(0.5,))
    x = np.concatenate([x for _, x in open_trajectory(path).chunks(100)])
    q = np.array([np.mean(np.sum((x[i + 5] - x[i]) ** 2, 1) < 0.09) for i in range(25)])
    block = np.arange(25) * 10 // 25  # 10 contiguous blocks of origins
    vals = np.array([256 * np.var(q[block != b]) for b in range(10)])
    err = np.sqrt(9 / 10 * np.sum((vals - vals.mean()) ** 2))
    assert res["species"]["total"]["chi4_err"][0] == pytest.approx(err, rel=1e-9)
    assert res["species"]["total"]["chi4"][0] == pytest.approx(256 * np.var(q), rel=1e-12)


@pytest.mark.lammps
def test_independent_runs_pool_lag_by_lag_without_crossing_files(runs):
    paths = [runs[0]["unwrapped"], runs[1]["unwrapped"]]
    res = _analyze(paths, lags=(0.1, 0.4, 1.2))
    ref = _loop_reference(paths, [1, 4, 12])
    assert res["n_origins"] == ref["origins"] == [2 * (30 - m) for m in (1, 4, 12)]
    for f in ("Q", "Fs", "chi4"):
        np.testing.assert_allclose(res["species"]["total"][f], ref["total"][f], rtol=1e-9)
    np.testing.assert_allclose(res["s4"]["S4"], ref["S4"], rtol=1e-9, atol=1e-12)


@pytest.mark.lammps
def test_chunked_equals_one_pass_and_unwrapping_does_not_matter(runs):
    path = runs[0]["unwrapped"]
    one = _analyze([path], chunk_frames=30)
    for chunk in (1, 7):
        other = _analyze([path], chunk_frames=chunk)
        for key in ("times", "n_origins", "species", "s4"):
            assert other[key] == one[key], (chunk, key)
    wrapped = _analyze([runs[0]["wrapped"]])
    for f in ("Q", "Fs", "MSD", "chi4"):
        np.testing.assert_allclose(
            wrapped["species"]["total"][f], one["species"]["total"][f], rtol=1e-9
        )
    np.testing.assert_allclose(wrapped["s4"]["S4"], one["s4"]["S4"], rtol=1e-7, atol=1e-10)


@pytest.mark.lammps
def test_extxyz_through_ase_gives_the_same_analysis(runs, tmp_path):
    import ase
    import ase.io

    path = runs[0]["unwrapped"]
    tr = open_trajectory(path)
    frames = []
    for k, (_, x) in enumerate(tr.chunks(1)):
        atoms = ase.Atoms(
            numbers=tr.types + 1, positions=np.mod(x[0], tr.box), cell=np.diag(tr.box), pbc=True
        )
        atoms.info["time"] = float(tr.times[k])
        frames.append(atoms)
    ase.io.write(tmp_path / "run.extxyz", frames, format="extxyz")
    a, b = _analyze([path]), _analyze([tmp_path / "run.extxyz"])
    assert a["times"] == pytest.approx(b["times"]) and a["n_origins"] == b["n_origins"]
    for f in ("Q", "Fs", "MSD", "chi4"):
        np.testing.assert_allclose(b["species"]["A"][f], a["species"]["A"][f], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b["s4"]["S4"], a["s4"]["S4"], rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------------- the plan
def test_linear_schedule_lags_are_multiples_with_all_origins():
    t = np.arange(50) * 0.2
    plan = plan_lags([t], origins="all", max_lags=100, min_origins=1)
    np.testing.assert_allclose(plan.lags, np.arange(1, 50) * 0.2)
    assert plan.n_origins.tolist() == list(range(49, 0, -1))
    assert np.all(plan.target - plan.origin == plan.lag + 1)
    thin = plan_lags([t], max_origins=10, max_lags=100, min_origins=1)
    assert set(thin.origin.tolist()) == set(range(0, 49, 5))  # a fixed stride, like atooms' skip
    few = plan_lags([t], max_lags=8)
    assert len(few.lags) <= 8 and few.lags[0] == pytest.approx(0.2)
    assert np.all(few.n_origins >= 5)


def test_block_periodic_log_schedule():
    offsets = np.array([0, 1, 3, 10, 30])  # steps within a block of period 100
    steps = np.concatenate([b * 100 + offsets for b in range(6)] + [[600]])
    t = steps * 0.005
    assert schedule_period(t, 1e-9) == 5
    plan = plan_lags([t], origins="blocks", max_lags=100, min_origins=1)
    assert set(plan.origin.tolist()) == {0, 5, 10, 15, 20, 25}
    lag_steps = np.rint(plan.lags / 0.005).astype(int)
    assert {1, 3, 10, 30, 100, 200}.issubset(set(lag_steps.tolist()))
    assert plan.n_origins[lag_steps.tolist().index(100)] == 6  # every block start
    every = plan_lags([t], origins="all", max_lags=100, min_origins=1)
    assert 2 in np.rint(every.lags / 0.005).astype(int)  # 3 - 1 from mid-block origins
    # times that accumulate rounding (LAMMPS' ITEM: TIME: 128.4799999999995) are the same lags
    noisy = t + 3e-9 * (-1.0) ** np.arange(len(t))
    assert schedule_period(noisy, 0.005e-6) == 5
    wobbly = plan_lags([noisy], origins="blocks", max_lags=100, min_origins=1)
    np.testing.assert_allclose(wobbly.lags, plan.lags, atol=1e-8)
    assert wobbly.n_origins.tolist() == plan.n_origins.tolist()
    with pytest.raises(InputError, match="lag 0.02 is not a difference of frame times"):
        plan_lags([t], lags=(0.02,))
    with pytest.raises(InputError, match="no lag has 50 time origins"):
        plan_lags([t], min_origins=50)
    assert np.array_equal(plan_lags([t], max_lags=100, min_origins=1).origin, plan.origin)  # auto
    single_log = np.array([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])  # no repeated block: auto = all
    assert set(plan_lags([single_log], min_origins=1).origin.tolist()) == set(range(6))
    with pytest.raises(InputError, match="origins must be 'auto', 'all' or 'blocks'"):
        plan_lags([t], origins="some")


@pytest.mark.lammps
def test_s4_does_not_depend_on_the_origin_of_coordinates(runs):
    """Translating every particle changes each W(q) by a phase only.  An estimator that sums
    <W(q)> over a shell before taking the modulus (atooms-pp's S4ktOverlap) fails this."""
    from glassdyn.analysis.timeorigin import TimeOriginHeterogeneity

    tr = open_trajectory(runs[0]["unwrapped"])
    x = np.concatenate([x for _, x in tr.chunks(100)])
    plan = plan_lags([tr.times], max_lags=6)
    s4 = []
    for shift in ((0.0, 0.0, 0.0), (1.3, 0.7, 2.1)):
        acc = TimeOriginHeterogeneity(plan, tr.types, tr.box, CFG)
        s4.append(acc.compute(0, 0, x + np.asarray(shift)).s4)
    np.testing.assert_allclose(s4[1], s4[0], rtol=1e-9, atol=1e-12)
    assert np.all(s4[0][-1] > 0)
