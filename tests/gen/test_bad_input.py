"""Bad input and silent no-ops of `glassdyn gen fit / sample / evaluate`: one clear line, exit 2,
nothing written or overwritten; damaged checkpoints; runs of the earlier formats (a diffusion run
still loads and samples but never resumes; flow and cnf runs from noise are refused)."""

import hashlib

import pytest
import torch
from glassdyn.data.store import Store
from glassdyn.gen.checkpoints import load_run

from glassdyn.cli import main

from .helpers import CHEAP, CNF, DIFFUSION, DIFFUSION_SAMPLER, FLOW, fit_args

pytestmark = [pytest.mark.bad_input, pytest.mark.lammps]

pytestmark = pytest.mark.bad_input  # part of the bad-input suite (`pytest -m bad_input`)


def _one_line(capsys, text):
    err = capsys.readouterr().err
    lines = [w for w in err.splitlines() if w.strip()]
    assert len(lines) == 1 and text in lines[0] and "Traceback" not in err, err
    return lines[0]


def _digest(path):
    return {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in path.rglob("*") if p.is_file()}


def _truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def _sample(run, out, T="0.8", n="2", *extra):
    args = ["gen", "sample", str(run), "--n", n, "--temperature", T, "--quiet", "--out", str(out)]
    return main([*args, *CHEAP, *extra])


def _sample_diffusion(run, out, T="0.8", n="2", *extra):
    return _sample(run, out, T, n, *DIFFUSION_SAMPLER, *extra)


def test_damaged_checkpoints_are_one_clear_line(ka_store, cnf_run, copy_of, tmp_path, capsys):
    broken = copy_of(cnf_run, "broken")
    _truncate(broken / "last.pt")
    assert main([*fit_args(ka_store, broken, CNF), "--epochs", "2"]) == 2
    _one_line(capsys, "last.pt is not a readable checkpoint")
    _truncate(broken / "best.pt", 0.3)
    out = tmp_path / "x.extxyz"
    assert _sample(broken, out) == 2
    _one_line(capsys, "best.pt is not a readable checkpoint")
    assert not out.exists()


def test_sample_never_overwrites_without_being_asked(diffusion_run, ka_store, tmp_path, capsys):
    xyz = tmp_path / "s.extxyz"
    xyz.write_text("precious\n")
    assert _sample_diffusion(diffusion_run, xyz) == 2
    _one_line(capsys, "exists; pass --overwrite")
    assert xyz.read_text() == "precious\n"
    assert _sample_diffusion(diffusion_run, xyz, "0.8", "2", "--overwrite") == 0
    assert xyz.read_text() != "precious\n"
    # an MD store is refused before anything in it is touched (attrs included)
    before = _digest(ka_store)
    for T in ("0.8", "0.7"):
        assert _sample_diffusion(diffusion_run, ka_store, T) == 2
        _one_line(capsys, "is a store of MD data")
    assert _digest(ka_store) == before


def test_a_store_of_samples_takes_another_temperature(diffusion_run, tmp_path, capsys):
    """A second temperature is added; the same one needs --overwrite, which replaces it."""
    samples = tmp_path / "samples.zarr"
    assert (
        _sample_diffusion(diffusion_run, samples) == 0
        and _sample_diffusion(diffusion_run, samples, "0.9") == 0
    )
    assert _sample_diffusion(diffusion_run, samples) == 2
    _one_line(capsys, "already holds generated samples at T=0.8")
    assert _sample_diffusion(diffusion_run, samples, "0.8", "3", "--overwrite") == 0
    store = Store.open(samples)
    assert store.state(0.8).n_configs == 3 and store.temperatures == [0.8, 0.9]


def _as_format(run, fmt, *, keys_of_2=False):
    """Rewrite the checkpoints and run.json of a (copied) run as format ``fmt`` wrote them."""
    import json

    back = {"model_config": "arch", "train_config": "fit", "optimizer_state": "optimizer"}
    for name in ("last.pt", "best.pt"):
        ck = torch.load(run / name, weights_only=False)
        if keys_of_2:
            ck = {back.get(k, k): v for k, v in ck.items()}
            if name == "best.pt":
                ck["val_loss"] = ck.pop("best_val")
                ck.pop("best_epoch")
        torch.save({**ck, "format": fmt}, run / name)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "format": fmt}))


@pytest.mark.parametrize("fmt", ["glassdyn.gen/4", "glassdyn.gen/3", "glassdyn.gen/2"])
def test_transports_of_earlier_formats_are_refused_in_one_line(
    ka_store, cnf_run, copy_of, tmp_path, capsys, fmt
):
    """flow / cnf runs before glassdyn.gen/5 came from uniform noise (their samples overlap): every
    command refuses them and says how to fit a transport instead."""
    old = copy_of(cnf_run, "old")
    _as_format(old, fmt, keys_of_2=fmt.endswith("/2"))
    before = _digest(old)
    out = tmp_path / "x.extxyz"
    assert _sample(old, out) == 2
    line = _one_line(capsys, f"is a cnf fitted by an earlier glassdyn (format {fmt})")
    assert "`glassdyn gen fit --model cnf --data STORE --out NEW_RUN`" in line
    ev = ["gen", "evaluate", str(old), "--data", str(ka_store), "--n", "2", "--n-quench", "0"]
    assert main(ev) == 2
    _one_line(capsys, f"format {fmt}")
    assert main([*fit_args(ka_store, old, CNF), "--epochs", "2"]) == 2
    _one_line(capsys, f"holds a fit of an earlier glassdyn (format {fmt})")
    assert not out.exists() and _digest(old) == before


def test_an_earlier_diffusion_run_samples_the_same_weights_but_never_resumes(
    ka_store, diffusion_run, copy_of, tmp_path, capsys
):
    """A diffusion run as glassdyn.gen/2 wrote it (keys arch / fit / optimizer / val_loss): it
    loads the same weights and samples; fitting into it again is refused."""
    old = copy_of(diffusion_run, "v2")
    _as_format(old, "glassdyn.gen/2", keys_of_2=True)
    model, ck = load_run(old)
    ref, ref_ck = load_run(diffusion_run)
    assert ck["format"] == "glassdyn.gen/2" and ck["best_val"] == ref_ck["best_val"]
    assert ck["train_config"] == ref_ck["train_config"]
    a, b = model.state_dict(), ref.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b)
    assert _sample_diffusion(old, tmp_path / "o.extxyz") == 0
    before = _digest(old)
    assert main([*fit_args(ka_store, old, DIFFUSION), "--epochs", "2"]) == 2
    _one_line(capsys, "does not resume: fit into a new --out")
    assert _digest(old) == before


def _columns(records: list) -> dict:
    """A history as glassdyn.gen/1 to /3 kept it: one list per field."""
    names = list(dict.fromkeys(k for r in records for k in r))
    return {k: [r.get(k) for r in records] for k in names}


def _first_format(run, dst):
    """A run as glassdyn.gen/1 wrote it: one checkpoint.pt, no split, no run.json."""
    last = torch.load(run / "last.pt", weights_only=False)
    best = torch.load(run / "best.pt", weights_only=False)
    dst.mkdir()
    torch.save(
        {
            "format": "glassdyn.gen/1",
            "kind": last["kind"],
            "arch": last["model_config"],
            "fit": last["train_config"],
            "fit_key": {},
            "state_dict": last["state_dict"],
            "best_state_dict": best["state_dict"],
            "best_val": last["best_val"],
            "ema_state_dict": None,
            "optimizer": last["optimizer_state"],
            "epoch": last["epoch"],
            "history": _columns(last["history"]),
            "data": last["data"],
            "versions": last["versions"],
        },
        dst / "checkpoint.pt",
    )
    return dst


def test_first_format_runs(ka_store, diffusion_run, cnf_run, tmp_path, capsys):
    """glassdyn.gen/1: a diffusion run loads its best weights and samples, never resumes, and is
    never compared with the store it trained on; a cnf run of that format is refused."""
    old = _first_format(diffusion_run, tmp_path / "old")
    model, ck = load_run(old)
    ref, _ = load_run(diffusion_run)
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values())
    )
    assert ck["split"] is None and ck["data"]["n_particles"] == 216
    assert _sample_diffusion(old, tmp_path / "o.extxyz") == 0
    assert main([*fit_args(ka_store, old, DIFFUSION), "--epochs", "2"]) == 2
    _one_line(capsys, "holds a fit in the first format (glassdyn.gen/1")
    ev = ["gen", "evaluate", str(old), "--data", str(ka_store), "--n", "2", "--n-quench", "0"]
    assert main([*ev, "--quiet"]) == 2
    _one_line(capsys, "format glassdyn.gen/1, no recorded split")
    old_cnf = _first_format(cnf_run, tmp_path / "old_cnf")
    assert _sample(old_cnf, tmp_path / "c.extxyz") == 2
    _one_line(capsys, "is a cnf fitted by an earlier glassdyn (format glassdyn.gen/1)")
    assert not (tmp_path / "c.extxyz").exists()


def test_the_fit_summary_counts_the_epochs_fitted(ka_store, tmp_path, capsys):
    assert main(fit_args(ka_store, tmp_path / "r", DIFFUSION)) == 0
    out = capsys.readouterr().out
    assert "r: 2 epochs" not in out and ("r: 1 epoch," in out or "r: 1 epochs," in out), out


@pytest.mark.parametrize(
    "model_args, field, then",
    [
        pytest.param(  # 5 s: the slow tier keeps the fast one under its 5 minutes
            [*FLOW, "--network", "transformer"],
            "network",
            {"network": "transformer"},
            marks=pytest.mark.slow,
        ),
        (CNF, "cooling_scale", {"cooling_scale": False}),
    ],
)
def test_a_transport_recorded_before_a_network_field_loads_as_it_was_fitted(
    ka_store, tmp_path, model_args, field, then
):
    """Runs written before a network field existed (the flow's pair network, the cnf's cooling
    scale) load with that day's defaults (today's would not take their weights or would change
    their map) and sample; the flow's transformer resumes, the unscaled cnf is refused."""
    import json

    run = tmp_path / "old"
    args = fit_args(ka_store, run, model_args)
    assert main(args) == 0
    before, _ = load_run(run)
    for name in ("best.pt", "last.pt"):
        ck = torch.load(run / name, weights_only=False)
        del ck["model_config"][field]
        del ck["train_config"]["arch"][field]
        ck["model_config"].update({k: v for k, v in then.items() if k != field})
        torch.save(ck, run / name)
    info = json.loads((run / "run.json").read_text())
    del info["fit_config"]["arch"][field]
    (run / "run.json").write_text(json.dumps(info))
    model, _ = load_run(run)
    assert all(getattr(model.cfg, k) == v for k, v in then.items())
    assert model.cfg == before.cfg.__class__(**{**before.cfg.as_dict(), **then})
    assert _sample(run, tmp_path / "x.extxyz") == 0
    if field == "network":  # the flow's earlier network is still offered: it resumes
        assert main([*args, "--network", "transformer", "--epochs", "2"]) == 0
        assert len(json.loads((run / "history.json").read_text())) == 3  # start + 2 epochs
    else:  # the cnf without the scale is not: resuming is refused, the run left as it was
        assert main([*args, "--epochs", "2"]) == 2
        assert len(json.loads((run / "history.json").read_text())) == 2  # start + 1 epoch
