"""The corrected samplers of glassdyn.gen.sampler below the command line: the fitted transport as
a batched float64 map, raw proposals and their weights, diffusion refinement, options."""

import numpy as np
import pytest
import torch
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store
from glassdyn.gen import sampler
from glassdyn.gen.cnf import CNFConfig, ContinuousTransport
from glassdyn.gen.coupling import CouplingFlow, FlowConfig
from glassdyn.gen.sampling import energies

from .helpers import jitter, ka_batch


@pytest.mark.parametrize("kind", ["cnf", "flow"])
def test_model_transport_is_the_model_in_float64_whatever_the_batch(kind):
    """The Transport handed to the annealer: the model's own transport, in float64 and without
    gradients, the same whatever the batch size (chunked = one pass)."""
    torch.manual_seed(0)
    if kind == "cnf":
        model = ContinuousTransport(CNFConfig(hidden=8, n_rbf=6, steps=4))
    else:
        model = CouplingFlow(FlowConfig(n_layers=3, n_bins=6, hidden=8, heads=2, blocks=1))
    model = jitter(model, 0.2, seed=1).float()  # as loaded: the fitted precision
    x, types, box = ka_batch(32, batch=5, scale=0.05)
    one = sampler.model_transport(model, types, box, batch_size=16)
    y, ld, var = one(x, 1.0, 0.8)
    y2, ld2, var2 = sampler.model_transport(model, types, box, batch_size=2)(x, 1.0, 0.8)
    assert y.dtype == np.float64 and y.shape == x.shape and ld.shape == var.shape == (5,)
    assert np.allclose(y, y2, atol=1e-12) and np.allclose(ld, ld2, atol=1e-10)
    assert np.all(var == 0) and np.all(var2 == 0)  # both divergences are exact here
    with torch.no_grad():
        m64 = model.double()
        tt = torch.as_tensor(types)[None].expand(5, -1)
        yt, ldt, _ = m64.transport(
            torch.as_tensor(x), tt, torch.as_tensor(box), torch.ones(5), torch.full((5,), 0.8)
        )
    assert np.allclose(y, yt.numpy(), atol=1e-12) and np.allclose(ld, ldt.numpy(), atol=1e-10)
    assert float(np.abs(ld).max()) > 0.1


def test_refinement_without_moves_is_reported_uncorrected():
    x, types, box = ka_batch(64, batch=3)
    opts = sampler.CorrectionOptions(refine_sweeps=0)
    s = sampler.refined(x, types, box, 0.8, np.random.default_rng(0), opts, method="diffusion")
    assert not s.corrected and s.report["refine_sweeps"] == 0
    assert np.allclose(s.energy, energies(x, types, box))
    assert "raw proposals" in sampler.describe(s) and "not Boltzmann" in sampler.describe(s)
    assert sampler.effective_count(s.report) == 0.0


@pytest.mark.parametrize(
    "field, value",
    [
        ("population", 1),
        ("anneal_steps", 0),
        ("sweeps", -1),
        ("refine_sweeps", -1),
        ("relax_force", -1.0),
        ("leapfrog", 0),
        ("dt", 0.0),
        ("dt", 0.05),
    ],
)
def test_correction_options_out_of_range_are_refused(field, value):
    with pytest.raises(InputError, match=f"--{field.replace('_', '-')} got {value}"):
        sampler.CorrectionOptions(**{field: value})


def test_correction_options_become_the_annealing_options():
    o = sampler.CorrectionOptions(anneal_steps=3, sweeps=2, refine_sweeps=7, leapfrog=9, dt=0.004)
    a = o.anneal()
    assert a.steps == 3 and o.final_sweeps(0.64, 256) == 7
    assert (a.hmc.sweeps, a.hmc.leapfrog, a.hmc.dt) == (2, 9, 0.004)


@pytest.mark.lammps
def test_raw_population_annealing_proposals_weigh_the_boltzmann_ratio(ka_store):
    """Raw, with the identity map: the base MD configurations themselves, weighted by
    exp(-(1/T - 1/T0) U) (the base term with its own temperature and sign), never corrected."""
    sp = Store.open(ka_store).state(1.0)
    starts = sp.read(keys.THERMAL_POSITIONS, [0, 1]).astype(np.float64)
    types, box = sp.read(keys.TYPES, 0), sp.read(keys.BOX, 0)
    opts = sampler.CorrectionOptions(population=2, raw=True)
    s = sampler.transported(
        None, starts, types, box, 1.0, 0.8, 3, np.random.default_rng(0), opts, method="pa"
    )
    assert not s.corrected and s.n == 3 and s.family.tolist() == [0, 1, 0]
    assert np.array_equal(s.positions[0], s.positions[2])
    want = -(1 / 0.8 - 1 / 1.0) * s.energy
    assert np.allclose(s.report["log_w"], want, rtol=1e-7, atol=1e-4)
    assert np.allclose(s.energy, energies(s.positions, types, box))
    with pytest.raises(InputError, match="is not below the run's base temperature"):
        sampler.transported(
            None, starts, types, box, 1.0, 1.0, 3, np.random.default_rng(0), opts, method="pa"
        )


@pytest.mark.lammps
def test_the_long_refinement_moves_only_the_configurations_returned(ka_store):
    """Resample-move: the annealing's last step ends with its usual moves; the final HMC
    refinement then moves the n configurations drawn from the population, not all M of it."""
    sp = Store.open(ka_store).state(1.0)
    starts = sp.read(keys.THERMAL_POSITIONS, [0, 1]).astype(np.float64)
    types, box = sp.read(keys.TYPES, 0), sp.read(keys.BOX, 0)
    opts = sampler.CorrectionOptions(
        population=8, anneal_steps=2, sweeps=1, refine_sweeps=5, leapfrog=3
    )
    s = sampler.transported(
        None, starts, types, box, 1.0, 0.9, 2, np.random.default_rng(0), opts, method="pa"
    )
    # HMC force evaluations, members x (1 + sweeps x (leapfrog + 1)): two annealing steps of all
    # 8, then the refinement of the 2 drawn (of all 8 it would be 8 x 21 more)
    md_moves = 2 * 8 * (1 + 1 * 4) + 2 * (1 + 5 * 4)
    assert s.report["refine_sweeps"] == 5
    assert s.report["md_steps"] - md_moves == _pool_md_steps(starts, types, box, 8)
    assert np.allclose(s.energy, energies(s.positions, types, box))


def _pool_md_steps(starts, types, box, m):
    from glassdyn.gen.mdpool import md_pool

    return md_pool(starts, types, box, 1.0, m, np.random.default_rng(0)).cost.md_steps


def test_default_refinement_is_six_tau_alpha_of_hmc_time():
    """Diffusion proposals are refined for REFINE_TAU tau_alpha(T) of HMC time by default (what
    the measured refinement curve needs), so colder states get longer refinements; a transport's
    last annealing step ends with ANNEAL_FINAL_TAU tau_alpha(T); an explicit --refine-sweeps wins
    for both."""
    from glassdyn.gen.mdpool import tau_alpha

    o = sampler.CorrectionOptions()
    for T in (0.8, 0.64):
        sweeps = o.refinement(T, 256)
        assert sweeps * o.leapfrog * o.dt >= sampler.REFINE_TAU * tau_alpha(T, 256)
        assert (sweeps - 1) * o.leapfrog * o.dt < sampler.REFINE_TAU * tau_alpha(T, 256)
    assert o.refinement(0.64, 256) > 2 * o.refinement(0.8, 256)
    assert sampler.CorrectionOptions(refine_sweeps=3).refinement(0.64, 256) == 3
    for T in (0.8, 0.64):
        final = o.final_sweeps(T, 256)
        assert final * o.leapfrog * o.dt >= sampler.ANNEAL_FINAL_TAU * tau_alpha(T, 256)
        assert (final - 1) * o.leapfrog * o.dt < sampler.ANNEAL_FINAL_TAU * tau_alpha(T, 256)
    assert o.final_sweeps(0.64, 256) > 2 * o.final_sweeps(0.8, 256)
    assert sampler.CorrectionOptions(refine_sweeps=5).final_sweeps(0.64, 256) == 5


@pytest.mark.lammps
def test_a_refined_set_keeps_its_proposals_as_the_raw_set():
    """gen evaluate scores a diffusion run's raw proposals from the refined set itself (drawing
    them again would cost a second reverse SDE): they are the positions before the HMC moves."""
    x, types, box = ka_batch(64, batch=2, scale=0.01)
    opts = sampler.CorrectionOptions(refine_sweeps=2, leapfrog=5)
    s = sampler.refined(x, types, box, 0.8, np.random.default_rng(0), opts, method="diffusion")
    raw = s.raw(types, box)
    assert s.corrected and not raw.corrected and raw.method == "diffusion"
    assert np.allclose(raw.positions, np.mod(x, box)) and not np.allclose(
        raw.positions, s.positions
    )
    assert np.allclose(raw.energy, energies(x, types, box))
    assert (
        sampler.refined(
            x,
            types,
            box,
            0.8,
            np.random.default_rng(0),
            opts.__class__(refine_sweeps=0),
            method="d",
        ).raw(types, box)
        is None
    )


def relaxed_batch(batch):
    """ka_batch copies partly quenched below half the relaxation threshold (a jittered lattice
    has force components in the thousands, a thermal configuration a few tens)."""
    from glassdyn.gen.fire import pull_apart

    x, types, box = ka_batch(64, batch=batch, scale=0.0)
    x, _ = pull_apart(x, types, box, 0.5 * sampler.RELAX_FORCE)
    return x, types, box


@pytest.mark.lammps
def test_a_proposal_on_an_overlap_is_pulled_apart_before_the_moves():
    """A diffusion proposal with two particles 0.25 sigma apart: every HMC trajectory from it blows
    up, so without the FIRE relaxation it never moves (reported as stuck, the overlap still there);
    with it, only that proposal is relaxed, the chain moves and no close contact is left.  A
    relaxation that touched every proposal, or none, fails."""
    from glassdyn.gen.metrics import close_contacts

    x, types, box = relaxed_batch(batch=3)
    x[1, 1] = x[1, 0] + np.array([0.25, 0.0, 0.0])
    opts = sampler.CorrectionOptions(refine_sweeps=3, leapfrog=10)
    off = sampler.refined(
        x,
        types,
        box,
        0.8,
        np.random.default_rng(0),
        sampler.with_options(opts, relax_force=0.0),
        method="diffusion",
    )
    assert off.report["stuck"] >= 1 and off.report["relaxed"] == 0
    assert close_contacts(off.positions[1:2], types, box)[0] > 0
    on = sampler.refined(x, types, box, 0.8, np.random.default_rng(0), opts, method="diffusion")
    assert on.report["relaxed"] == 1 and on.report["relax_steps"] > 0
    assert on.report["stuck"] == 0
    assert np.all(close_contacts(on.positions, types, box) == 0)
    assert "1 pulled apart by FIRE first" in sampler.describe(on)


def test_pull_apart_moves_only_the_configurations_above_the_force_threshold():
    """fire.pull_apart is a partial quench: a configuration already below the threshold is
    returned as it was (0 steps); one with an overlap ends below the threshold and its closest
    pair is no longer a close contact."""
    from glassdyn.gen.fire import pull_apart
    from glassdyn.gen.metrics import close_contacts
    from glassdyn.simulate.ka import energy_torch

    x, types, box = relaxed_batch(batch=2)
    x[1, 1] = x[1, 0] + np.array([0.3, 0.0, 0.0])
    xt = torch.as_tensor(x).requires_grad_(True)
    (g,) = torch.autograd.grad(energy_torch(xt, types, box).sum(), xt)
    fmax = g.abs().amax((1, 2)).numpy()
    threshold = sampler.RELAX_FORCE
    assert fmax[0] < threshold < fmax[1]
    y, steps = pull_apart(x, types, box, threshold)
    assert steps[0] == 0 and np.allclose(y[0], np.mod(x[0], box))
    assert steps[1] > 0 and close_contacts(y[1:], types, box)[0] == 0
    yt = torch.as_tensor(y[1:]).requires_grad_(True)
    (g1,) = torch.autograd.grad(energy_torch(yt, types, box).sum(), yt)
    assert float(g1.abs().max()) <= threshold


@pytest.mark.lammps
def test_the_relaxation_threshold_leaves_md_configurations_alone(ka_store):
    """Equilibrium MD configurations (N=216, T=1.0 and 0.8) are never touched by the default
    relaxation: their largest force component stays far below RELAX_FORCE (a threshold of a few
    tens would quench the very configurations the chain should sample)."""
    from glassdyn.gen.fire import pull_apart

    for T in (1.0, 0.8):
        sp = Store.open(ka_store).state(T)
        x = sp.read(keys.THERMAL_POSITIONS).astype(np.float64)
        types, box = sp.read(keys.TYPES, 0), sp.read(keys.BOX, 0)
        y, steps = pull_apart(x, types, box, sampler.RELAX_FORCE)
        assert np.all(steps == 0) and np.allclose(y, np.mod(x, box))
        xt = torch.as_tensor(x).requires_grad_(True)
        from glassdyn.simulate.ka import energy_torch

        (g,) = torch.autograd.grad(energy_torch(xt, types, box).sum(), xt)
        assert float(g.abs().max()) < 0.3 * sampler.RELAX_FORCE


def test_samples_worth_few_configurations_say_so_with_advice_that_parses():
    """A population method whose annealing kept few families is worth few independent
    configurations: `gen sample` says so and names the two levers; many families, raw proposals
    and refined diffusion proposals get no such line."""
    import shlex

    from glassdyn.cli import build_parser

    x = np.zeros((32, 4, 3))

    def made(eff, fam, corrected=True, **extra):
        rep = {"population": 64, "base_temperature": 0.8, "effective_configurations": eff}
        rep.update(effective_families=fam, **extra)
        return sampler.SampleSet(x, np.zeros(32), np.zeros(32, int), 0.64, "cnf", corrected, rep)

    note = sampler.caution(made(0.75, 1.5))
    assert note and "worth about 0.8 independent ones" in note and "1.5 effective families" in note
    assert "--n 128 --population 128" in note
    assert "--base-temperature" not in note  # N=4: a base at 0.8 is already close for 0.64
    # N=256 from 0.8: the close base 0.72 is named, and the fit takes it (a bridged base)
    x256 = np.zeros((32, 256, 3))
    rep = {"population": 64, "base_temperature": 0.8, "effective_configurations": 0.75}
    s256 = sampler.SampleSet(x256, np.zeros(32), np.zeros(32, int), 0.64, "cnf", True, rep)
    s256.report["effective_families"] = 1.5
    assert "`gen fit --temperatures 0.64 --base-temperature 0.72`" in sampler.caution(s256)
    fit = build_parser().parse_args(
        shlex.split("gen fit --data S --out R --temperatures 0.64 --base-temperature 0.72")
    )
    assert fit.base_temperature == 0.72 and list(fit.temperatures) == [0.64]
    assert sampler.caution(made(9.9, 19.8)) is None
    assert sampler.caution(made(0.75, 1.5, corrected=False)) is None
    diffusion = sampler.SampleSet(x, np.zeros(32), np.arange(32), 0.64, "diffusion", True, {})
    assert sampler.caution(diffusion) is None
    # the advice is an option gen sample takes
    args = build_parser().parse_args(
        shlex.split("gen sample RUN --n 128 --temperature 0.64 --out x.extxyz --population 128")
    )
    assert args.population == args.n == 128


def test_pooled_sets_keep_their_families_apart_and_add_their_costs():
    """Two draws as one set: configurations in order, the second draw's families renumbered
    after the first's, effective configurations and seconds summed, quality averaged, seconds per
    effective configuration weighted by each draw's worth."""

    def one(shift, eff, spc, fam):
        x = np.full((3, 4, 3), float(shift))
        report = {
            "method": "population annealing",
            "effective_configurations": eff,
            "effective_families": fam,
            "seconds": {"total": spc * eff, "moves": 1.0},
            "seconds_per_effective_configuration": spc,
            "md_steps": 10,
        }
        return sampler.SampleSet(
            x,
            np.arange(3.0) + shift,
            np.array([0, 0, 2]),
            0.6,
            "population annealing",
            True,
            report,
        )

    a, b = one(0, 2.0, 10.0, 1.5), one(5, 1.0, 40.0, 2.5)
    p = sampler.pooled([a, b])
    assert p.n == 6 and p.positions[3:].min() == 5 and list(p.energy[:3]) == [0, 1, 2]
    assert list(p.family) == [0, 0, 2, 3, 3, 5]
    r = p.report
    assert r["draws"] == 2 and r["effective_configurations"] == 3.0 and r["md_steps"] == 20
    assert r["effective_families"] == 2.0 and r["seconds"] == {"total": 60.0, "moves": 2.0}
    assert r["seconds_per_effective_configuration"] == pytest.approx(60.0 / 3.0)
    assert [d["effective_configurations"] for d in r["per_draw"]] == [2.0, 1.0]
    assert sampler.pooled([a]) is a
