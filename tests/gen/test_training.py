"""``glassdyn gen fit`` on a real KA store (LAMMPS): what a run records (the resolved base and target
temperatures, the start validated as epoch -1), bitwise resume, the split it honours, the losses
against brute force, and the settings it refuses (one line, exit 2, nothing written)."""

import json

import numpy as np
import pytest
import torch
from glassdyn.data.errors import InputError
from glassdyn.gen import losses
from glassdyn.gen.cnf import CNFConfig, ContinuousTransport
from glassdyn.gen.config import FitConfig
from glassdyn.gen.dataset import TrainingData
from glassdyn.gen.sampling import energies
from glassdyn.gen.training import resolve_temperatures

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

from .helpers import CNF, DIFFUSION, FLOW, fit_args, jitter


def _one_line(capsys, text):
    err = capsys.readouterr().err
    lines = [w for w in err.splitlines() if w.strip()]
    assert len(lines) == 1 and text in lines[0] and "Traceback" not in err, err
    return lines[0]


@pytest.mark.lammps
@pytest.mark.parametrize("model", ["cnf", "flow"])
def test_a_transport_run_records_its_base_and_targets_and_validates_the_start(
    model, cnf_run, flow_run
):
    """run.json holds the base temperature (the store's highest, 1.0) and the targets (every lower
    one, 0.8) it resolved; the untrained transport (the identity) is validated as epoch -1 and
    competes for best.pt; its validation is the identity's: reverse KL = mean U / (N T)."""
    run = {"cnf": cnf_run, "flow": flow_run}[model]
    info = json.loads((run / "run.json").read_text())
    assert info["kind"] == model and info["format"] == "glassdyn.gen/5"
    assert info["fit_config"]["base_temperature"] == 1.0
    assert info["fit_config"]["temperatures"] == [0.8]
    assert info["data"]["base_temperature"] == 1.0
    assert info["data"]["target_temperatures"] == [0.8]
    assert sorted(info["split"]) == ["0.8", "1"]
    # no --lr given: the model's own default is resolved and recorded (resuming keeps it)
    assert info["fit_config"]["lr"] == {"flow": 1e-4, "cnf": 1e-3}[model]
    hist = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [-1, 0]
    start = hist[0]
    assert start["train_loss"] is None and set(start["validation"]) == {"0.8"}
    v = start["validation"]["0.8"]
    assert v["kl"] == pytest.approx(start["val_loss"]) and 0 < v["ess"] <= 1
    # the identity's reverse KL per particle at 0.8 is the base pool's mean e/N / 0.8 (MD at
    # T=1.0 of this store: e/N about -6.0)
    assert -6.3 / 0.8 < v["kl"] < -5.7 / 0.8
    best = torch.load(run / "best.pt", weights_only=False)
    losses_ = [h["val_loss"] for h in hist]
    assert best["best_epoch"] == hist[int(np.argmin(losses_))]["epoch"]
    assert best["best_val"] == min(losses_) and best["format"] == "glassdyn.gen/5"


@pytest.mark.lammps
def test_a_diffusion_run_has_no_base_and_validates_the_physics_term_first(diffusion_run):
    info = json.loads((diffusion_run / "run.json").read_text())
    assert info["fit_config"]["base_temperature"] is None
    assert info["data"]["base_temperature"] is None and info["data"]["temperatures"] == [0.8, 1.0]
    hist = json.loads((diffusion_run / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [-1, 0]
    levels = hist[0]["validation"]["by_noise_level"]
    assert len(levels) == losses.VALIDATION_LEVELS
    assert hist[0]["val_loss"] == pytest.approx(np.mean([v for _, v in levels]))


@pytest.mark.lammps
def test_an_interrupted_fit_resumes_bitwise(ka_store, tmp_path, capsys):
    """One epoch, then a second on resuming = two epochs in one go: weights, optimiser state and
    history (the base MD pools are regenerated identically from the seed).  Both fits run here:
    the initial weights depend on torch's default dtype, which these tests set to float64."""
    resumed = tmp_path / "resumed"
    assert main(fit_args(ka_store, resumed, CNF)) == 0
    capsys.readouterr()
    assert main([*fit_args(ka_store, resumed, CNF), "--epochs", "2"]) == 0
    assert "resuming" in capsys.readouterr().out
    once = tmp_path / "once"
    assert main([*fit_args(ka_store, once, CNF), "--epochs", "2"]) == 0
    a = torch.load(resumed / "last.pt", weights_only=False)
    b = torch.load(once / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 1
    assert set(a["state_dict"]) == set(b["state_dict"])
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    sa, sb = a["optimizer_state"]["state"], b["optimizer_state"]["state"]
    assert all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)
    ha = [{k: v for k, v in r.items() if k != "seconds"} for r in a["history"]]
    hb = [{k: v for k, v in r.items() if k != "seconds"} for r in b["history"]]
    assert ha == hb and [r["epoch"] for r in ha] == [-1, 0, 1]
    # a finished run asked for no more epochs does nothing new and says so
    assert main([*fit_args(ka_store, once, CNF), "--epochs", "2"]) == 0
    assert torch.load(once / "last.pt", weights_only=False)["history"] == b["history"]


@pytest.mark.lammps
def test_a_fit_never_reads_test_configurations(ka_store, tmp_path, monkeypatch):
    """The positions a transport fit reads are the training and validation configurations of the
    base and target temperatures (the test ones are what `gen evaluate` compares with), also when
    the likelihood of the target configurations and flow matching to them are fitted."""
    from glassdyn.data import keys
    from glassdyn.data.store import StatePoint

    reads = set()
    real_read = StatePoint.read

    def read(self, path, configs=None):
        if path == keys.THERMAL_POSITIONS:
            assert configs is not None  # never the whole array
            reads.update((f"{self.temperature:g}", int(c)) for c in np.atleast_1d(configs))
        return real_read(self, path, configs)

    monkeypatch.setattr(StatePoint, "read", read)
    run = tmp_path / "r"
    fm = ("--flow-matching-weight", "0.5")
    assert main([*fit_args(ka_store, run, CNF), "--likelihood-weight", "0.5", *fm]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["fit_config"]["likelihood_weight"] == 0.5
    assert info["fit_config"]["flow_matching_weight"] == 0.5
    hist = json.loads((run / "history.json").read_text())
    assert np.isfinite(hist[-1]["train_loss"])
    split = info["split"]
    for s in split.values():
        assert len(s["test"]) == 2 and not set(s["test"]) & set(s["train"] + s["val"])
    assert reads == {(T, c) for T, s in split.items() for c in s["train"] + s["val"]}


@pytest.mark.lammps
@pytest.mark.parametrize(
    "args, message",
    [
        (["--temperatures", "1.0"], "carries MD configurations of --base-temperature 1 down"),
        (["--temperatures", "0.8,1.0"], "but the targets are [0.8, 1.0]"),
        (["--base-temperature", "0.8"], "but the targets are none"),
        (["--temperatures", "0.7"], "has no state point T=0.7 (it has: 0.8, 1)"),
        (["--base-configs", "1"], "--base-configs must be >= 2"),
        (["--likelihood-weight", "-1"], "--likelihood-weight must be >= 0"),
        (["--flow-matching-weight", "-1"], "--flow-matching-weight must be >= 0"),
        (["--epochs", "0"], "--epochs must be >= 1 (nothing would be fitted), got 0"),
        (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--lr", "-1"], "--lr must be a positive number"),
    ],
)
def test_transport_settings_no_fit_can_use_are_refused(ka_store, tmp_path, capsys, args, message):
    out = tmp_path / "r"
    assert main([*fit_args(ka_store, out, CNF), *args]) == 2
    _one_line(capsys, message)
    assert not out.exists()


@pytest.mark.lammps
def test_diffusion_refuses_a_base_temperature_and_transport_only_options(
    ka_store, tmp_path, capsys
):
    out = tmp_path / "r"
    assert main([*fit_args(ka_store, out, DIFFUSION), "--base-temperature", "1.0"]) == 2
    _one_line(capsys, "--base-temperature applies to --model flow or cnf")
    assert main([*fit_args(ka_store, out, FLOW), "--steps", "3"]) == 2
    _one_line(capsys, "--steps applies to --model cnf, not flow")
    assert main([*fit_args(ka_store, out, FLOW), "--flow-matching-weight", "1"]) == 2
    _one_line(capsys, "--flow-matching-weight must be >= 0, and used by --model cnf only")
    assert not out.exists()


def test_the_learning_rate_defaults_per_model_and_a_given_or_recorded_one_is_kept():
    assert [FitConfig(model=m).lr for m in ("flow", "cnf", "diffusion")] == [1e-4, 1e-3, 1e-3]
    assert FitConfig(model="flow", lr=3e-3).lr == 3e-3
    # a run recorded with the old common default resumes with it, not today's flow default
    assert FitConfig.from_dict({"model": "flow", "lr": 1e-3}).lr == 1e-3
    with pytest.raises(InputError, match="--lr must be"):
        FitConfig(model="flow", lr=0.0)


def test_resolve_temperatures_on_a_store():
    """Default base: the nearest store temperature above the given targets, else the store's
    highest; default targets: every temperature below the base, sorted."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        store = write_synthetic_store(
            f"{d}/s.zarr", temperatures=(0.6, 0.9, 0.7), n_configs=1, n_particles=16, n_replicas=1
        )
        cfg = resolve_temperatures(store, FitConfig(model="flow"))
        assert cfg.base_temperature == 0.9 and cfg.temperatures == (0.6, 0.7)
        cfg = resolve_temperatures(store, FitConfig(model="cnf", base_temperature=0.7))
        assert cfg.temperatures == (0.6,)
        cfg = resolve_temperatures(store, FitConfig(model="cnf", temperatures=(0.7,)))
        assert cfg.base_temperature == 0.9 and cfg.temperatures == (0.7,)
        cfg = resolve_temperatures(store, FitConfig(model="cnf", temperatures=(0.6,)))
        assert cfg.base_temperature == 0.7 and cfg.temperatures == (0.6,)
        cfg = resolve_temperatures(store, FitConfig(model="cnf", temperatures=(0.6, 0.7)))
        assert cfg.base_temperature == 0.9
        cfg = resolve_temperatures(store, FitConfig(model="cnf", temperatures=(0.65,)))
        assert cfg.base_temperature == 0.7  # a target between store temperatures
        cfg = resolve_temperatures(
            store, FitConfig(model="cnf", temperatures=(0.6,), base_temperature=0.9)
        )
        assert cfg.base_temperature == 0.9
        same = FitConfig(model="diffusion")
        assert resolve_temperatures(store, same) is same
        with pytest.raises(InputError, match="targets are \\[0.9\\]"):
            resolve_temperatures(store, FitConfig(model="cnf", temperatures=(0.9,)))


def _base_data(n=6, N=64, seed=0):
    """TrainingData holding only a validation base pool of jittered-lattice configurations."""
    from .helpers import ka_batch

    x, types, box = ka_batch(N, batch=n, seed=seed)
    data = TrainingData(
        torch.zeros(1, N, 3),
        torch.as_tensor(types)[None],
        torch.ones(1),
        torch.as_tensor(box),
        store="",
        source="thermal",
    )
    data.base_val = torch.as_tensor(x)
    data.base_val_energy = torch.as_tensor(energies(x, types, box))
    data.base_types = torch.as_tensor(types)
    data.base_temperature = 1.0
    data.target_temperatures = (0.8, 0.6)
    return data, x, types, box


def test_transport_validation_and_losses_against_brute_force():
    """Per target T: kl = mean(U(y)/T - log|det|)/N, log w = -U(y)/T + U(z)/T0 + log|det|, their
    spread and Kish ESS; the reverse-KL training loss is the same mean over a batch, the
    likelihood loss that of the reverse map at T0."""
    from glassdyn.gen.anneal import kish_ess

    data, x, types, box = _base_data()
    torch.manual_seed(0)
    m = jitter(ContinuousTransport(CNFConfig(hidden=8, n_rbf=6, steps=4)), 0.2, seed=1)
    got = losses.transport_validation(m, data, batch_size=4)
    U0 = energies(x, types, box)
    N = x.shape[1]
    xb, tb, boxt = torch.as_tensor(x), torch.as_tensor(types)[None].expand(6, -1), data.box
    for T in (0.8, 0.6):
        with torch.no_grad():
            y, ld, _ = m.transport(xb, tb, boxt, torch.ones(6), torch.full((6,), T))
        U = energies(y.numpy(), types, box)
        lw = -U / T + U0 / 1.0 + ld.numpy()
        r = got[f"{T:g}"]
        assert r["kl"] == pytest.approx(np.mean((U / T - ld.numpy()) / N), rel=1e-9)
        assert r["std"] == pytest.approx(np.std(lw), rel=1e-6)
        assert r["ess"] == pytest.approx(kish_ess(lw) / 6, rel=1e-6)
        with torch.no_grad():
            e = losses.energy_loss(
                m, xb, torch.as_tensor(types), boxt, torch.ones(6), torch.full((6,), T)
            )
        assert float(e) == pytest.approx(r["kl"], rel=1e-9)
        with torch.no_grad():
            z, ldr, _ = m.transport(xb, tb, boxt, torch.ones(6), torch.full((6,), T), reverse=True)
            like = losses.likelihood_loss(
                m, xb, torch.as_tensor(types), boxt, torch.ones(6), torch.full((6,), T)
            )
        want = np.mean((energies(z.numpy(), types, box) / 1.0 - ldr.numpy()) / N)
        assert float(like) == pytest.approx(want, rel=1e-9)


def test_the_identity_transport_validates_as_population_annealing():
    """Untrained: log w = -(1/T - 1/T0) U, the weights of one plain annealing step."""
    data, x, types, box = _base_data(seed=3)
    m = ContinuousTransport(CNFConfig(hidden=8, n_rbf=6)).double()
    got = losses.transport_validation(m, data, batch_size=8)
    U0 = energies(x, types, box)
    for T in (0.8, 0.6):
        lw = -(1 / T - 1.0) * U0
        assert got[f"{T:g}"]["std"] == pytest.approx(np.std(lw), rel=1e-9)
        assert got[f"{T:g}"]["kl"] == pytest.approx(np.mean(U0 / T) / x.shape[1], rel=1e-12)


def test_target_temperatures_are_drawn_between_the_lowest_target_and_the_base():
    data, _, _, _ = _base_data()
    T = losses.target_temperatures(data, 2000, torch.Generator().manual_seed(0))
    assert float(T.min()) >= 0.6 and float(T.max()) < 1.0
    assert float(T.mean()) == pytest.approx(0.8, abs=0.01)


def test_random_reference_picks_a_particles():
    types = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 1]])
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(40):
        ref = losses.random_reference(types, g)
        assert (types[torch.arange(2), ref] == 0).all()
        seen.add(int(ref[0]))
    assert seen == {1, 3}  # uniformly among the A particles, not always the first
