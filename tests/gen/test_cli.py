"""``glassdyn gen sample`` and ``gen evaluate`` end to end on the real KA store and the tiny fits of
conftest.py: corrected samples with their report, raw proposals, the MD reference with its floors
and cache, the ablation and baselines, and the refusals (one line, exit 2, nothing written)."""

import json
import shutil

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.extxyz import read_extxyz
from glassdyn.data.store import Store
from glassdyn.gen import metrics
from glassdyn.gen.sampling import energies

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

from .helpers import CHEAP, DIFFUSION_SAMPLER

pytestmark = pytest.mark.lammps


def _one_line(capsys, text):
    err = capsys.readouterr().err
    lines = [w for w in err.splitlines() if w.strip()]
    assert len(lines) == 1 and text in lines[0] and "Traceback" not in err, err
    return lines[0]


def _sample(run, out, T="0.8", n="4", *extra):
    return main(
        ["gen", "sample", str(run), "--n", n, "--temperature", T, "--out", str(out), *CHEAP, *extra]
    )


def _check_energies(x, e_per_particle, types, box):
    """The energies written beside the samples are the KA energies of their positions."""
    assert np.allclose(e_per_particle, energies(x, types, box) / len(types), atol=1e-5)


def test_cnf_samples_to_a_store_with_their_report(cnf_run, tmp_path, capsys):
    out = tmp_path / "s.zarr"
    assert _sample(cnf_run, out) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    line = next(s for s in lines if s.startswith("wrote "))
    assert line.startswith("wrote 4 configurations by cnf transport from T=1 (2 temperature steps")
    sp = Store.open(out).state(0.8)
    x, box, types = sp.read(keys.THERMAL_POSITIONS), sp.read(keys.BOX)[0], sp.read(keys.TYPES)[0]
    assert x.shape == (4, 216, 3) and (x >= 0).all() and (x < box).all()
    _check_energies(x, sp.read(keys.THERMAL_ENERGY), types, box)
    a = sp.attrs
    assert a["generated"] and a["corrected"] and a["model"] == "cnf"
    assert a["method"] == "cnf transport" and len(a["family"]) == 4
    r = a["sampler_report"]
    assert r["base_temperature"] == 1.0 and r["population"] == 8
    assert len(r["ladder"]) == 2 and r["ladder"][-1] == pytest.approx(0.8)
    assert 1.0 <= r["ess"] <= 8.0 and r["ess_per_member"] == pytest.approx(r["ess"] / 8)
    assert 1 <= r["distinct_families"] <= 8 and 0 <= r["hmc_acceptance"] <= 1
    assert r["families_in_sample"] == len(set(a["family"]))
    # worth fewer than n / 2 = 2 independent configurations: said after the line, with advice
    few = r["effective_configurations"] < 2
    assert (lines[-1].startswith("note: these 4 configurations are worth about")) == few
    assert ("--n 16 --population 16" in lines[-1]) == few
    # 8 base chains, 2 steps of one 5-step HMC move and one final move for 8 members
    assert r["md_steps"] > 8 * 2 * (5 + 1)
    assert r["effective_configurations"] == pytest.approx(
        min(r["ess"], r["effective_families"]) * 4 / 8
    )
    assert "log_w" not in a  # corrected samples are equally weighted


def test_flow_samples_to_extxyz(flow_run, tmp_path, capsys):
    out = tmp_path / "s.extxyz"
    assert _sample(flow_run, out, "0.8", "3", "--quiet") == 0
    assert capsys.readouterr().out.startswith("wrote 3 configurations by flow transport from T=1")
    frames = read_extxyz(out)
    assert len(frames) == 3 and all(f.info["temperature"] == 0.8 for f in frames)
    x = np.stack([f.positions for f in frames])
    _check_energies(x, [f.info["energy"] for f in frames], frames[0].types, frames[0].box)


def test_raw_proposals_are_said_to_be_raw_and_carry_their_weights(cnf_run, tmp_path, capsys):
    out = tmp_path / "raw.zarr"
    assert _sample(cnf_run, out, "0.8", "3", "--raw") == 0
    assert "raw proposals" in capsys.readouterr().out
    sp = Store.open(out).state(0.8)
    assert sp.attrs["corrected"] is False and sp.attrs["sampler_report"]["raw"] is True
    assert len(sp.attrs["log_w"]) == 3 and np.all(np.isfinite(sp.attrs["log_w"]))
    xyz = tmp_path / "raw.extxyz"
    assert _sample(cnf_run, xyz, "0.8", "2", "--raw", "--quiet") == 0
    assert all(np.isfinite(f.info["log_w"]) for f in read_extxyz(xyz))


def test_diffusion_samples_are_refined_by_hmc(diffusion_run, tmp_path, capsys):
    out = tmp_path / "d.zarr"
    assert _sample(diffusion_run, out, "0.8", "2", *DIFFUSION_SAMPLER) == 0
    assert "refined by 1 Hybrid Monte Carlo moves at T" in capsys.readouterr().out
    sp = Store.open(out).state(0.8)
    r = sp.attrs["sampler_report"]
    assert sp.attrs["corrected"] and r["refine_sweeps"] == 1 and r["md_steps"] == 2 * (1 + 6)
    assert r["refine_time"] == pytest.approx(5 * 0.005) and 0 <= r["stuck"] <= 2
    _check_energies(
        sp.read(keys.THERMAL_POSITIONS),
        sp.read(keys.THERMAL_ENERGY),
        sp.read(keys.TYPES)[0],
        sp.read(keys.BOX)[0],
    )
    raw = tmp_path / "d.extxyz"
    assert _sample(diffusion_run, raw, "0.8", "2", "--raw", *DIFFUSION_SAMPLER) == 0
    assert "raw proposals" in capsys.readouterr().out
    # the probability-flow ODE (Hutchinson divergence at N=216), refined the same way
    ode = tmp_path / "ode.zarr"
    assert _sample(diffusion_run, ode, "0.8", "2", "--sampler", "ode", "--steps", "2") == 0
    assert Store.open(ode).state(0.8).attrs["sampler_report"]["refine_sweeps"] == 1


@pytest.mark.parametrize("T", ["1.0", "1.2"])
def test_a_transport_refuses_a_temperature_at_or_above_its_base(cnf_run, tmp_path, capsys, T):
    out = tmp_path / "s.extxyz"
    assert _sample(cnf_run, out, T) == 2
    _one_line(capsys, f"--temperature {float(T):g} is not below the run's base temperature 1")
    assert not out.exists()


def test_sample_refusals(cnf_run, ka_store, tmp_path, capsys):
    out = tmp_path / "s.extxyz"
    assert _sample(cnf_run, out, "0.8", "2", "--sampler", "ode") == 2
    _one_line(capsys, "--sampler applies to diffusion runs, not to a cnf run")
    assert _sample(cnf_run, out, "0.8", "0") == 2
    _one_line(capsys, "--n must be positive")
    assert _sample(cnf_run, out, "0.8", "2", "--dt", "0.5") == 2
    _one_line(capsys, "--dt got 0.5")
    # --data must hold the very configurations the run started its base MD from
    other = tmp_path / "other.zarr"
    write_synthetic_store(other, temperatures=(1.0,), n_configs=8, n_particles=216, n_replicas=1)
    assert _sample(cnf_run, out, "0.8", "2", "--data", str(other)) == 2
    _one_line(capsys, "does not hold the T=1 configurations this run was fitted on")
    assert _sample(cnf_run, ka_store, "0.8", "1") == 2
    _one_line(capsys, "is a store of MD data")
    assert not out.exists()


# ------------------------------------------------------------------------------ evaluate
@pytest.fixture(scope="module")
def cnf_evaluation(cnf_run, ka_store, tmp_path_factory):
    """`gen evaluate --json` of a copy of the cnf run, twice (the second from the MD cache, with two
    draws, without baselines, ablation and progress output):
    (run, report, second report, stdout of the first, stdout of the second)."""
    import contextlib
    import io

    tmp = tmp_path_factory.mktemp("evaluate")
    run = tmp / "cnf"
    shutil.copytree(cnf_run, run)
    evaluate = ["gen", "evaluate", str(run), "--data", str(ka_store), "--n", "4", "--n-quench", "0"]
    evaluate += CHEAP
    outs, reports = [], []
    second = ["--no-baselines", "--no-ablation", "--no-progress", "--draws", "2"]
    for k, extra in enumerate(([], second)):
        js = tmp / f"e{k}.json"
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main([*evaluate, "--json", str(js), *extra])
        assert rc == 0
        outs.append(buf.getvalue())
        reports.append(json.loads(js.read_text()))
    return run, reports[0], reports[1], outs[0], outs[1]


def test_evaluate_scores_every_sampler_beside_its_md_floor(cnf_evaluation, ka_store):
    run, rep, _, out, _ = cnf_evaluation
    assert rep["model"] == "cnf" and len(rep["evaluations"]) == 1
    ev = rep["evaluations"][0]
    assert ev["temperature"] == 0.8 and ev["n_particles"] == 216 and ev["n_samples"] == 4
    test = json.loads((run / "run.json").read_text())["split"]["0.8"]["test"]
    ref = ev["reference"]
    assert ref["from"] == "split" and ref["starts"] == test and ref["n"] == 8
    assert ref["spacing"] == pytest.approx(2 * 3.6) and ref["md_steps_per_configuration"] > 0
    # the floor: every split of the reference's chains into two halves, one per held-out start
    assert ref["chains"] == len(test) >= 2 and ref["splits"] >= 2 and ref["half"] == [4, 4]
    res = ev["results"]
    assert set(res) == {
        *("md", "md_independent", "model", "model_raw", "ablation", "uniform", "lattice")
    }
    for k, d in res["md"]["distances"].items():  # the MD row is a half B: the chain splits' floor
        assert d["value"] == d["floor_chains"] and d["floor_iid"] > 0
        assert d["floor"] == max(d["floor_chains"], d["floor_iid"])
        assert d["floor"] == res["model"]["distances"][k]["floor"]
    # the positive control: the store's own configurations at T outside the reference's starts
    control = res["md_independent"]
    assert control["name"] == "MD, independent configurations of the store"
    assert control["n"] == 4 and control["close_contact_fraction"] == 0
    sp = Store.open(ka_store).state(0.8)
    outside = [c for c in range(8) if c not in test][:4]
    want = sp.read(keys.THERMAL_ENERGY, outside).mean()
    assert control["energy"]["mean"] == pytest.approx(want, abs=1e-6)
    for r in res.values():
        assert r["n"] == 4 and set(r["distances"]) == set(metrics.DISTANCES)
        for d in r["distances"].values():
            assert d["floor"] > 0 and np.isfinite(d["value"]) and d["floor_std"] >= 0
        v = r["verdict"]
        assert set(v) == {"energy_mean", "no_close_contacts", *metrics.DISTANCES, "all"}
        assert v["all"] == all(val for k, val in v.items() if k != "all")
        assert v["no_close_contacts"] == (r["close_contact_fraction"] == 0.0)
    assert res["model"]["corrected"] and not res["model_raw"]["corrected"]
    assert res["model"]["report"]["population"] == 8
    assert res["ablation"]["name"] == "population annealing"
    assert res["ablation"]["report"]["method"] == "population annealing"
    chain = res["model_raw"]["chain"]
    assert 0 < chain["ess_per_sample"] <= 1 and 0 <= chain["mh_acceptance"] <= 1
    assert 1 <= chain["distinct_states"] <= 4 and chain["energy_iat"] >= 1
    # the MD row and the corrected samplers are Boltzmann: no close contact; uniform has many
    assert res["md"]["close_contact_fraction"] == 0 and res["model"]["close_contact_fraction"] == 0
    assert res["uniform"]["close_contact_fraction"] == 1.0 and not res["uniform"]["verdict"]["all"]
    assert res["uniform"]["distances"]["energy_w1"]["value"] > 1e3
    assert "reference: 8 MD configurations" in out and "value/floor" in out
    assert f"its {ref['splits']} splits into halves of 4 from disjoint chains" in out


def test_evaluate_scores_the_uniform_baseline_by_its_own_energies(cnf_evaluation, ka_store):
    """The uniform row's e/N is the KA energy of the baseline's own positions (seed 0)."""
    ev = cnf_evaluation[1]["evaluations"][0]
    sp = Store.open(ka_store).state(0.8)
    types, box = sp.read(keys.TYPES, 0), sp.read(keys.BOX, 0)
    x, _ = metrics.uniform_baseline(4, types, box, 0)
    e = energies(x, types, box) / 216
    assert ev["results"]["uniform"]["energy"]["mean"] == pytest.approx(e.mean(), rel=1e-9)
    md = ev["md_energy"]
    assert md["n_var_over_t2"] > 0 and md["n_eff"] == 4  # the reference half of 8


def test_energy_z_is_taken_against_all_md_configurations_and_the_md_row_against_the_half(
    cnf_evaluation,
):
    """A sample set independent of the MD reference is compared with all 2n MD configurations
    (the z recomputed here from the means and standard errors of the report); the MD row, one of
    the two halves, only with the other half.  Both z are reported."""
    ev = cnf_evaluation[1]["evaluations"][0]
    half, every = ev["md_energy"], ev["md_energy_all"]
    assert every["n_eff"] == 8 and half["n_eff"] == 4
    for key, r in ev["results"].items():
        e = r["energy"]
        want_half = (e["mean"] - half["mean"]) / np.hypot(e["se"], half["se"])
        assert e["z_half"] == pytest.approx(want_half, rel=1e-9, abs=1e-12)
        ref = half if key == "md" else every
        want = (e["mean"] - ref["mean"]) / np.hypot(e["se"], ref["se"])
        assert e["z"] == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert r["verdict"]["energy_mean"] == (abs(e["z"]) <= 2.0)


def test_a_second_evaluate_makes_no_md(cnf_evaluation):
    run, first, second, out1, out2 = cnf_evaluation
    cached = list((run / "evaluation").glob("md_reference_T0.8_*.npz"))
    assert len(cached) == 1
    assert "MD reference: 8 configurations at T=0.8" in out1
    assert "MD reference" not in out2  # (--no-progress: nothing logged either way)
    a, b = first["evaluations"][0], second["evaluations"][0]
    timing = ("md_seconds_per_configuration", "md_timed")
    assert {k: v for k, v in a["reference"].items() if k not in timing} == {
        k: v for k, v in b["reference"].items() if k not in timing
    }
    assert a["md_energy"] == b["md_energy"]
    # MD's cost is timed in each evaluation, beside the samplers' (not read from the cache)
    assert a["reference"]["md_timed"] == "the reference's chains, now"
    assert b["reference"]["md_timed"] == "one configuration, now (reference cached)"
    assert b["reference"]["md_seconds_per_configuration"] > 0
    assert (
        b["reference"]["md_seconds_per_configuration"]
        != a["reference"]["md_seconds_per_configuration"]
    )
    assert a["results"]["md"] == b["results"]["md"]
    # the same seed draws the same samples with and without progress output: the second
    # evaluation's first draw is the first's only one; its second draw is another set
    ma, mb = a["results"]["model"], b["results"]["model"]
    assert b["draws"] == 2 and mb["n"] == 8 and mb["report"]["draws"] == 2
    first_draw, second_draw = mb["per_draw"]
    assert first_draw == {k: d["value"] for k, d in ma["distances"].items()}
    assert second_draw != first_draw
    for k, d in mb["distances"].items():  # each distance: the mean of the draws'
        assert d["value"] == pytest.approx((first_draw[k] + second_draw[k]) / 2, rel=1e-12)
        assert d["floor"] == ma["distances"][k]["floor"]  # against the same floor
    assert mb["report"]["per_draw"][0]["effective_configurations"] == pytest.approx(
        ma["report"]["effective_configurations"]
    )
    assert mb["energy"]["n_eff"] == pytest.approx(
        sum(p["effective_configurations"] for p in mb["report"]["per_draw"])
    )
    # how often an exact sampler fails: fewer draws fail more often, "any" at least each one
    ff = b["false_fail"]
    assert set(ff) == {"1", "2", "4"} and set(a["false_fail"]) == {"1", "4"}
    for f in ff.values():
        assert set(f) == {*metrics.DISTANCES, "any"}
        assert all(0 <= v <= 1 for v in f.values()) and f["any"] >= max(f.values()) - 1e-12
    assert ff["1"]["any"] >= ff["4"]["any"]
    assert "of evaluations with 1 draw; with --draws 4" in out1
    # --no-baselines --no-ablation (the positive control costs no MD: always there)
    assert set(b["results"]) == {"md", "md_independent", "model", "model_raw"}
    d = np.load(cached[0])
    assert d["positions"].shape == (8, 216, 3) and len(d["energy"]) == 8
    assert a["md_energy"]["mean"] == pytest.approx(d["energy"][0::2].mean() / 216)


def test_the_md_row_is_scored_against_configurations_it_does_not_contain(cnf_evaluation):
    run, rep, _, _, _ = cnf_evaluation
    ev = rep["evaluations"][0]
    d = np.load(next((run / "evaluation").glob("md_reference_T0.8_*.npz")))
    e = d["energy"] / 216
    assert ev["results"]["md"]["energy"]["mean"] == pytest.approx(e[1::2].mean())  # the row
    assert ev["md_energy"]["mean"] == pytest.approx(e[0::2].mean())  # its reference: the rest


def test_evaluate_refuses_a_store_holding_fitted_configurations(
    cnf_run, ka_store, tmp_path, capsys
):
    """The store's T=0.8 configurations re-assembled in reverse order: recognised by content."""
    sp = Store.open(ka_store).state(0.8)
    mixed = tmp_path / "mixed.zarr"
    n = sp.n_configs
    dst = Store.create(mixed).create_state(0.8, n_configs=n, n_particles=216, inherent=False)
    fields = [f for f in (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS, keys.THERMAL_ENERGY)]
    for k in range(n):
        dst.write(k, **{f: sp.read(f, n - 1 - k) for f in fields})
        dst.mark_done(k)
    run = tmp_path / "cnf"
    shutil.copytree(cnf_run, run)
    assert main(["gen", "evaluate", str(run), "--data", str(mixed), "--n", "2"]) == 2
    _one_line(capsys, "6 of its configurations are ones the fit trained or validated on")
    assert not (run / "evaluation").exists()


def test_a_store_of_unseen_configurations_is_taken_whole(cnf_run, tmp_path):
    from glassdyn.gen.checkpoints import load_run
    from glassdyn.gen.evaluation import held_out_reference

    fresh = tmp_path / "fresh.zarr"
    write_synthetic_store(fresh, temperatures=(0.8,), n_configs=3, n_particles=216, n_replicas=1)
    _, ck = load_run(cnf_run)
    sel = held_out_reference(ck, fresh, 0.8)
    assert sel["from"] == "store" and sel["configs"] == [0, 1, 2] and not sel["unchecked"]
    own = held_out_reference(ck, ck["data"]["store"], 0.8)
    assert own["from"] == "split" and own["configs"] == ck["split"]["0.8"]["test"]


def test_evaluate_refusals(cnf_run, ka_store, tmp_path, capsys):
    run = tmp_path / "cnf"
    shutil.copytree(cnf_run, run)
    ev = ["gen", "evaluate", str(run), "--data", str(ka_store)]
    assert main([*ev, "--temperatures", "0.5", "--n", "2"]) == 2
    _one_line(capsys, "T=0.5")
    assert main([*ev, "--n", "1"]) == 2
    _one_line(capsys, "--n must be >= 2")
    assert main([*ev, "--draws", "0"]) == 2
    _one_line(capsys, "--draws >= 1, got 32, 4 and 0")
    assert main([*ev, "--n", "2", "--correctors", "1"]) == 2
    _one_line(capsys, "--correctors applies to diffusion runs")
    assert not (run / "evaluation").exists()


def test_evaluate_refuses_a_store_of_another_size_before_any_md(cnf_run, tmp_path, capsys):
    run = tmp_path / "cnf"
    shutil.copytree(cnf_run, run)
    other = tmp_path / "n20.zarr"
    write_synthetic_store(other, temperatures=(0.8,), n_configs=2, n_particles=20, n_replicas=1)
    assert main(["gen", "evaluate", str(run), "--data", str(other), "--n", "2"]) == 2
    _one_line(capsys, "N=20")
    assert not (run / "evaluation").exists()


def test_evaluate_refuses_the_base_temperature_of_a_transport_before_any_md(
    cnf_run, ka_store, copy_of, capsys
):
    run = copy_of(cnf_run, "cnf")
    ev = ["gen", "evaluate", str(run), "--data", str(ka_store), "--n", "2", "--n-quench", "0"]
    assert main([*ev, "--temperatures", "1.0", *CHEAP]) == 2
    _one_line(capsys, "is not below the run's base temperature 1")
    assert not (run / "evaluation").exists()


@pytest.mark.slow
def test_no_network_samples_the_ablation(cnf_run, diffusion_run, tmp_path):
    """`gen sample --no-network`: plain population annealing from the transport's base, the
    physics term alone for diffusion (other proposals from the same seed), both corrected."""
    out = tmp_path / "c.zarr"
    assert _sample(cnf_run, out, "0.8", "2", "--no-network") == 0
    sp = Store.open(out).state(0.8)
    assert sp.attrs["method"] == "population annealing" and sp.attrs["corrected"]
    assert sp.attrs["sampler_report"]["base_temperature"] == 1.0
    made = {}
    for flag in ((), ("--no-network",)):
        out = tmp_path / f"d{len(flag)}.zarr"
        assert _sample(diffusion_run, out, "0.8", "2", *DIFFUSION_SAMPLER, *flag, "--raw") == 0
        made[flag] = Store.open(out).state(0.8)
    assert made[()].attrs["method"] == "diffusion"
    assert made[("--no-network",)].attrs["method"] == "diffusion, physics term alone"
    a, b = (m.read(keys.THERMAL_POSITIONS) for m in made.values())
    assert not np.allclose(a, b)


def _diffusion_evaluation(diffusion_run, ka_store, tmp_path, *extra):
    run = tmp_path / "d"
    shutil.copytree(diffusion_run, run)
    js = tmp_path / "d.json"
    args = ["gen", "evaluate", str(run), "--data", str(ka_store), "--temperatures", "0.8"]
    args += ["--n", "2", "--json", str(js), "--no-baselines", *extra]
    assert main([*args, *CHEAP, *DIFFUSION_SAMPLER]) == 0
    return json.loads(js.read_text())["evaluations"][0]


def test_diffusion_evaluate_ablates_the_network(diffusion_run, ka_store, tmp_path):
    """The diffusion model's ablation is the physics term alone, with the same HMC refinement
    (no quench here: the torch quenches of every set are the slow test below)."""
    ev = _diffusion_evaluation(diffusion_run, ka_store, tmp_path, "--n-quench", "0")
    res = ev["results"]
    assert res["ablation"]["name"] == "diffusion, physics term alone"
    assert res["ablation"]["report"]["method"] == "diffusion, physics term alone"
    assert res["model"]["report"]["refine_sweeps"] == 1 and "chain" not in res["model_raw"]
    assert res["ablation"]["report"]["refine_sweeps"] == 1


@pytest.mark.slow
def test_diffusion_evaluate_quenches_every_set_with_torch_fire(diffusion_run, ka_store, tmp_path):
    """An inherent-structure quench with torch FIRE is reported for each set (23 s: four torch
    quenches of N=216)."""
    ev = _diffusion_evaluation(
        diffusion_run, ka_store, tmp_path, "--n-quench", "1", "--minimiser", "torch"
    )
    res = ev["results"]
    assert ev["minimiser"].startswith("torch FIRE")
    for key in ("model", "model_raw", "ablation"):
        assert res[key]["quench"]["n"] == 1
    assert ev["md_is_energy_mean"] < ev["md_energy"]["mean"]


def test_gen_sample_is_the_same_with_and_without_progress_output(cnf_run, tmp_path):
    xs = []
    for flag in ([], ["--no-progress"]):
        out = tmp_path / f"samples{len(flag)}.zarr"
        assert _sample(cnf_run, out, "0.8", "3", "--seed", "3", *flag) == 0
        xs.append(Store.open(out).state(0.8).read(keys.THERMAL_POSITIONS))
    assert (xs[0] == xs[1]).all()
