"""Training, checkpoints, resume, evaluation and the train / evaluate / predict commands."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from glassdyn.data.errors import GlassdynError, InputError, StoreError
from glassdyn.data.predictions import read_predictions
from glassdyn.data.splits import split_configs
from glassdyn.data.store import Store
from glassdyn.predict.checkpoints import load_checkpoint, load_model
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.evaluation import TrainedRun, evaluate_run, predict_run
from glassdyn.predict.metrics import pearson
from glassdyn.predict.training import train

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

SMALL = {"hidden": 16, "steps": 2, "progress": False}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("tr") / "s.zarr"
    write_synthetic_store(path, temperatures=(0.64, 0.8), n_configs=4, n_particles=128)
    return str(path)


def test_split_is_deterministic_and_disjoint():
    a = split_configs(np.arange(20), seed=3, temperature=0.44, val_fraction=0.1, test_fraction=0.2)
    b = split_configs(np.arange(20), seed=3, temperature=0.44, val_fraction=0.1, test_fraction=0.2)
    assert a == b
    assert (len(a["train"]), len(a["val"]), len(a["test"])) == (14, 2, 4)
    assert not set(a["train"]) & set(a["val"]) and not set(a["val"]) & set(a["test"])
    assert (
        split_configs(np.arange(20), seed=4, temperature=0.44, val_fraction=0.1, test_fraction=0.2)
        != a
    )
    one = split_configs(np.arange(1), 0, 0.8, 0.1, 0.2)
    assert one == {"train": [0], "val": [], "test": [], "source": "seed"}


def test_botan_overfits_one_configuration_in_lj_units(tmp_path):
    """The learning test: BOTAN memorises the propensity of one configuration (Pearson > 0.99),
    and ``predict`` returns it in LJ units: on a store whose propensity has mean ~11 and std ~6
    (displacements x 5), the predicted mean and spread match the true ones.  A predict that
    skipped the std (or the mean) of the normalisation, or normalised with other statistics,
    fails."""
    from glassdyn.data import keys
    from glassdyn.data.store import Store
    from glassdyn.predict.gnn import _normalization, batch_loss

    from glassdyn.nn.dataset import GraphSpec, build_graph
    from glassdyn.nn.models import ModelConfig, build_model

    path = tmp_path / "x5.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=1, n_particles=128)
    sp = Store.open(path, mode="r+").state(0.8)
    sp.write(0, **{keys.ISO_DISPLACEMENTS: 5 * sp.read(keys.ISO_DISPLACEMENTS, 0)})
    sp.update_propensity(0)
    g = build_graph(Store.open(path).state(0.8), 0, GraphSpec(times=(2,)))
    m = g.node_mask.numpy()
    y = g.y[m, 0].numpy()
    assert y.mean() > 5 and y.std() > 3  # far from the normalised 0 and 1
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="botan", hidden=32, steps=3))
    _normalization([g], model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=300)
    cfg = TrainConfig(data=str(path), out="unused", node_weight=1.0)
    for _ in range(300):
        opt.zero_grad()
        loss, _, _ = batch_loss(model, g, cfg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    pred = model.predict(g)["node"][:, 0].numpy()[m]
    assert pearson(pred, y) > 0.99
    assert pred.mean() == pytest.approx(y.mean(), rel=0.02)
    assert pred.std() == pytest.approx(y.std(), rel=0.05)


def test_tbotan_on_two_temperatures_and_latent_heatmap(store_path, tmp_path):
    run = train(
        TrainConfig(data=store_path, out=str(tmp_path / "tb"), model="tbotan", epochs=2, **SMALL)
    )
    res = evaluate_run(run, store_path)
    assert sorted(res["node_pearson"]) == ["0.64", "0.8"]
    assert len(res["node_pearson"]["0.8"]) == 3  # multi-time head: all K times
    assert res["temperature_mae"] is not None and np.isfinite(res["temperature_mae"])
    assert (tmp_path / "tb" / "latent_distances.png").stat().st_size > 1000
    D = np.array(res["latent_distances"]["matrix"])
    assert D.shape == (2, 2) and np.allclose(np.diag(D), 0)
    # the reference thermometer: T linear in the energy of the training configurations only
    split = json.loads((Path(run) / "run.json").read_text())["split"]
    store = Store.open(store_path)
    e = {T: store.state(float(T)).read("thermal/energy") for T in split}
    A = np.array([[e[T][c], 1.0] for T in split for c in split[T]["train"]])
    t = np.array([float(T) for T in split for c in split[T]["train"]])
    a, b = np.linalg.lstsq(A, t, rcond=None)[0]
    for T in split:
        want = np.mean(np.abs(a * e[T][split[T]["test"]] + b - float(T)))
        got = res["energy_thermometer"]["temperature_mae_per_T"][T]
        assert got == pytest.approx(want, rel=1e-6)
        # the least error of an unbiased reading: the synthetic energies are -6 + T (c_v = 1)
        n = store.state(float(T)).n_particles
        floor = res["energy_thermometer"]["floor_mae_per_T"][T]
        assert floor == pytest.approx(np.sqrt(2 / np.pi) * float(T) / np.sqrt(n), rel=1e-6)
    assert res["energy_thermometer"]["c_v"] == pytest.approx(1.0, rel=1e-6)


def test_energy_thermometer_at_a_held_out_temperature(tmp_path):
    """Scoring only a held-out temperature still compares with the energy thermometer fit on the
    training temperatures of the same store (its training configurations are checked by
    identity); on another store it is left out."""
    path = tmp_path / "s3.zarr"
    write_synthetic_store(path, temperatures=(0.64, 0.72, 0.8), n_configs=4, n_particles=128)
    cfg = dict(data=str(path), model="tbotan", epochs=1, train_temperatures=(0.64, 0.8), **SMALL)
    run = train(TrainConfig(out=str(tmp_path / "tb"), **cfg))
    res = evaluate_run(run, str(path), temperatures=[0.72], latent_png=None)
    assert res["held_out"] == [0.72]
    split = json.loads((Path(run) / "run.json").read_text())["split"]
    store = Store.open(path)
    e = {T: store.state(float(T)).read("thermal/energy") for T in ("0.64", "0.8")}
    a, b = np.polyfit(
        [e[T][c] for T in e for c in split[T]["train"]],
        [float(T) for T in e for c in split[T]["train"]],
        1,
    )
    want = np.mean(np.abs(a * store.state(0.72).read("thermal/energy") + b - 0.72))
    got = res["energy_thermometer"]["temperature_mae_per_T"]["0.72"]
    assert got == pytest.approx(want, rel=1e-6)
    other = tmp_path / "other.zarr"
    write_synthetic_store(
        other, temperatures=(0.64, 0.72, 0.8), n_configs=4, n_particles=128, seed=5
    )
    res = evaluate_run(run, str(other), temperatures=[0.72], latent_png=None)
    assert "energy_thermometer" not in res


def test_tbotan_evaluates_on_a_store_without_energies(tmp_path):
    """Imported stores may hold no thermal/energy: T-BOTAN is still scored, without the
    energy thermometer."""
    import shutil

    path = tmp_path / "ne.zarr"
    write_synthetic_store(path, temperatures=(0.64, 0.8), n_configs=4, n_particles=128)
    for T in ("T0.640", "T0.800"):
        shutil.rmtree(path / T / "thermal" / "energy")
    run = train(
        TrainConfig(data=str(path), out=str(tmp_path / "tb"), model="tbotan", epochs=1, **SMALL)
    )
    res = evaluate_run(run, str(path), latent_png=None)
    assert res["temperature_mae"] is not None and res["energy_thermometer"] is None


def test_held_out_temperature_is_evaluated_on_all_its_configurations(store_path, tmp_path):
    run = train(
        TrainConfig(
            data=store_path,
            out=str(tmp_path / "ho"),
            model="bapst",
            train_temperatures=(0.8,),
            epochs=1,
            **SMALL,
        )
    )
    res = evaluate_run(run, store_path)
    assert res["held_out"] == [0.64]
    assert res["n_configs"]["0.64"] == 4 and res["n_configs"]["0.8"] == 1
    assert res["edge_pearson"] is None and res["temperature_mae"] is None
    assert len(res["mean_pred"]["0.64"]) == 3 and len(res["std_true"]["0.64"]) == 3
    # another store: all its configurations are unseen, none is skipped
    other_path = tmp_path / "other.zarr"
    write_synthetic_store(
        other_path, temperatures=(0.64, 0.8), n_configs=3, n_particles=128, seed=5
    )
    other = evaluate_run(run, other_path)
    assert other["same_store"] is False and other["held_out"] == [0.64, 0.8]
    assert other["n_configs"] == {"0.64": 3, "0.8": 3}
    assert other["configs"]["0.8"] == {
        "from": "store",
        "n": 3,
        "ids": [0, 1, 2],
        "excluded_training": 0,
    }


def test_checkpoint_round_trip_and_bad_kind(store_path, tmp_path):
    run = train(
        TrainConfig(data=store_path, out=str(tmp_path / "ck"), model="botan", epochs=1, **SMALL)
    )
    model, ckpt = load_model(run / "best.pt")
    assert ckpt["versions"]["glassdyn"] and ckpt["versions"]["torch"] == torch.__version__
    assert ckpt["kind"] == ckpt["model_config"]["kind"] == "botan"
    assert ckpt["train_config"]["model"] == "botan"
    r = TrainedRun(run)
    from glassdyn.data.store import Store

    sp = Store.open(store_path).state(0.8)
    pred, data = r.predict(sp, 0)
    torch.testing.assert_close(torch.as_tensor(pred["node"]), model.predict(data)["node"])
    with pytest.raises(InputError, match="holds a 'botan' model, not a 'bapst'"):
        load_checkpoint(run / "best.pt", kind="bapst")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    # same run directory, another model: refused, not silently mixed
    with pytest.raises(InputError, match="different settings.*model"):
        train(TrainConfig(data=store_path, out=str(run), model="bapst", epochs=1, **SMALL))
    with pytest.raises(InputError, match="different settings.*lr_schedule"):
        train(
            TrainConfig(
                data=store_path,
                out=str(run),
                model="botan",
                epochs=1,
                lr_schedule="cosine",
                **SMALL,
            )
        )


def test_resume_continues_where_it_stopped(store_path, tmp_path):
    base = dict(data=store_path, model="botan", **SMALL)
    full = train(TrainConfig(out=str(tmp_path / "full"), epochs=3, **base))
    part = tmp_path / "part"
    train(TrainConfig(out=str(part), epochs=1, **base))  # "interrupted" after one epoch
    train(TrainConfig(out=str(part), epochs=3, **base))  # the same command again
    a, b = load_checkpoint(full / "last.pt"), load_checkpoint(part / "last.pt")
    assert [h["epoch"] for h in b["history"]] == [-1, 0, 1, 2]  # the start validated once
    for k in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][k], b["state_dict"][k])


def test_checkpoints_of_the_first_format_evaluate_and_resume(store_path, tmp_path):
    """Checkpoints as glassdyn-checkpoint/1 wrote them (weights under model_state, no kind)."""
    base = dict(data=store_path, model="bapst", **SMALL)
    run = train(TrainConfig(out=str(tmp_path / "v1"), epochs=1, **base))
    new = {name: load_checkpoint(run / name) for name in ("best.pt", "last.pt")}
    for name, ck in new.items():
        old = {("model_state" if k == "state_dict" else k): v for k, v in ck.items() if k != "kind"}
        torch.save({**old, "format": "glassdyn-checkpoint/1"}, run / name)
    model, ckpt = load_model(run / "best.pt", kind="bapst")
    assert ckpt["kind"] == "bapst"
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, new["best.pt"]["state_dict"][k])
    assert evaluate_run(run, store_path, latent_png=None)["n_configs"]["0.8"] > 0
    train(TrainConfig(out=str(run), epochs=2, **base))
    last = load_checkpoint(run / "last.pt")
    assert last["format"] == "glassdyn-checkpoint/2" and [h["epoch"] for h in last["history"]] == [
        -1,
        0,
        1,
    ]
    torch.save({**new["best.pt"], "format": "glassdyn-checkpoint/9"}, tmp_path / "future.pt")
    with pytest.raises(
        InputError, match="format 'glassdyn-checkpoint/9'.*reads glassdyn-checkpoint/2"
    ):
        load_checkpoint(tmp_path / "future.pt")


def test_runs_written_before_the_run_engine_resume_exactly(store_path, tmp_path):
    """A run as glassdyn-checkpoint/2 wrote it before the run engine (history records without
    ``seconds``, last.pt without ``ema_state_dict``) resumes, and its resumed epochs are those of
    an uninterrupted run, bit for bit."""
    base = dict(data=store_path, model="botan", **SMALL)
    full = train(TrainConfig(out=str(tmp_path / "full"), epochs=2, **base))
    old = train(TrainConfig(out=str(tmp_path / "old"), epochs=1, **base))
    for name in ("best.pt", "last.pt"):
        ck = load_checkpoint(old / name)
        ck["history"] = [{k: v for k, v in r.items() if k != "seconds"} for r in ck["history"]]
        torch.save({k: v for k, v in ck.items() if k != "ema_state_dict"}, old / name)
    hist = json.loads((old / "history.json").read_text())
    (old / "history.json").write_text(
        json.dumps([{k: r[k] for k in r if k != "seconds"} for r in hist])
    )
    train(TrainConfig(out=str(old), epochs=2, **base))
    a, b = load_checkpoint(full / "last.pt"), load_checkpoint(old / "last.pt")
    assert [h["epoch"] for h in b["history"]] == [-1, 0, 1] and "seconds" in b["history"][-1]
    assert a["history"][-1]["val_loss"] == b["history"][-1]["val_loss"]
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    assert evaluate_run(old, store_path, latent_png=None)["n_configs"]["0.8"] > 0


def test_cosine_learning_rate():
    from glassdyn.predict.gnn import learning_rate

    cfg = TrainConfig(data="s", out="o", lr=1e-3, epochs=10, lr_schedule="cosine")
    assert learning_rate(cfg, 0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 5) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert learning_rate(TrainConfig(data="s", out="o"), 7) == 1e-3


def test_bad_inputs_give_clear_messages(store_path, tmp_path):
    with pytest.raises(StoreError, match="no state point T=0.5 .*it has: 0.64, 0.8"):
        train(
            TrainConfig(
                data=store_path, out=str(tmp_path / "x"), train_temperatures=(0.5,), **SMALL
            )
        )
    with pytest.raises(StoreError, match="no store at"):
        train(TrainConfig(data=str(tmp_path / "missing.zarr"), out=str(tmp_path / "y"), **SMALL))
    with pytest.raises(InputError, match="--model must be one of"):
        TrainConfig(data=store_path, out="z", model="gat")
    with pytest.raises(GlassdynError, match="not a run directory"):
        TrainedRun(tmp_path)


def test_ridge_and_commands(store_path, tmp_path, capsys):
    run = str(tmp_path / "ridge")
    assert main(["train", "--data", store_path, "--model", "ridge", "--out", run, "--quiet"]) == 0
    assert (tmp_path / "ridge" / "baseline.npz").exists()
    capsys.readouterr()
    assert main(["evaluate", run, "--data", store_path, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res) >= {"node_pearson", "edge_pearson", "temperature_mae"}
    assert len(res["node_pearson"]["0.8"]) == 3 and res["edge_pearson"] is None
    assert main(["predict", run, "--data", store_path, "--out", str(tmp_path / "p.zarr")]) == 0
    preds = read_predictions(tmp_path / "p.zarr")
    assert sorted(preds) == [0.64, 0.8] and preds[0.8].mobility.shape == (1, 3, 128)
    # a temperature the store lacks, from the command line: exit 2 and a message
    assert (
        main(
            [
                "train",
                "--data",
                store_path,
                "--model",
                "botan",
                "--out",
                str(tmp_path / "b"),
                "--train-temperatures",
                "0.3",
                "--quiet",
            ]
        )
        == 2
    )
    assert "no state point T=0.3" in capsys.readouterr().err


def test_gnn_commands_and_predictions_file(store_path, tmp_path, capsys):
    run = str(tmp_path / "b")
    assert (
        main(
            [
                "train",
                "--data",
                store_path,
                "--model",
                "botan",
                "--out",
                run,
                "--epochs",
                "1",
                "--hidden",
                "16",
                "--steps",
                "2",
                "--times",
                "1,2",
                "--quiet",
                "--heterogeneity-weight",
                "0.1",
                "--no-shared-decoder",
            ]
        )
        == 0
    )
    assert main(["evaluate", run, "--data", store_path]) == 0
    assert "node Pearson" in capsys.readouterr().out
    out = predict_run(run, store_path, tmp_path / "p.zarr", part="all")
    preds = read_predictions(out)
    assert preds[0.64].mobility.shape == (4, 2, 128)
    np.testing.assert_allclose(preds[0.64].times, [5.0, 50.0])
    r = TrainedRun(run)
    assert r.model.edge_decoder is not r.model.node_decoder
    from glassdyn.data.store import Store

    pred, data = r.predict(Store.open(store_path).state(0.64), 2)
    np.testing.assert_allclose(preds[0.64].mobility[2], pred["node"].T, rtol=1e-5)
    assert np.isfinite(pearson(pred["node"][:, 0], data.y[:, 0].numpy()))


def test_runs_written_before_fingerprints_evaluate_and_resume_on_their_store(store_path, tmp_path):
    """run.json as the first versions wrote it (no fingerprint, no split source): evaluate still
    scores the test split, found by content from the store it recorded; resuming works on that
    store and is refused, naming the version, on another path."""
    import shutil

    out = train(
        TrainConfig(data=store_path, out=str(tmp_path / "old"), model="bapst", epochs=1, **SMALL)
    )
    info = json.loads((out / "run.json").read_text())
    test = info["split"]["0.8"]["test"]
    info.pop("fingerprint")
    info["train_config"]["p"] = info["train_config"].pop("node_weight")  # its name until 2026-11
    for s in info["split"].values():
        s.pop("source", None)
    info["versions"] = {"glassdyn": "0.1.0"}
    (out / "run.json").write_text(json.dumps(info))
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store_path, copy)
    res = evaluate_run(out, copy, latent_png=None)
    assert res["configs"]["0.8"]["ids"] == test and not res["warnings"]
    with pytest.raises(InputError, match="written by glassdyn 0.1.0 without a data fingerprint"):
        train(TrainConfig(data=str(copy), out=str(out), model="bapst", epochs=2, **SMALL))
    train(TrainConfig(data=store_path, out=str(out), model="bapst", epochs=2, **SMALL))
    assert "fingerprint" in json.loads((out / "run.json").read_text())


@pytest.mark.slow  # two trainings; the fast tier keeps --ema's refusals (test_bad_input_train)
def test_ema_validates_and_keeps_the_average_without_changing_the_training(store_path, tmp_path):
    """--ema: the raw weights train exactly as without it; validation (history) and best.pt are
    the moving average's, which last.pt keeps beside the raw weights; a descriptor model refuses
    it in one line."""
    base = dict(data=store_path, model="botan", epochs=2, skip=False, **SMALL)
    plain = train(TrainConfig(out=str(tmp_path / "plain"), **base))
    avg = train(TrainConfig(out=str(tmp_path / "avg"), ema=0.9, **base))
    p, a = load_checkpoint(plain / "last.pt"), load_checkpoint(avg / "last.pt")
    for k in p["state_dict"]:
        torch.testing.assert_close(p["state_dict"][k], a["state_dict"][k])
    assert p["ema_state_dict"] is None and a["ema_state_dict"] is not None
    ema = a["ema_state_dict"]
    floats = [k for k in ema if ema[k].is_floating_point()]
    assert any(not torch.equal(ema[k], a["state_dict"][k]) for k in floats)
    vp = [h["val_select"] for h in p["history"]]
    va = [h["val_select"] for h in a["history"]]
    assert all(x != y for x, y in zip(vp, va))  # validated: the average, not the raw weights
    best = load_checkpoint(avg / "best.pt")
    if best["epoch"] == a["epoch"]:  # the last epoch was the best: best.pt is today's average
        for k in ema:
            torch.testing.assert_close(best["state_dict"][k], ema[k])
    assert best["best_val"] == min(va)
    with pytest.raises(InputError, match="--ema averages a graph network's weights"):
        TrainConfig(data=store_path, out=str(tmp_path / "r"), model="ridge", ema=0.9)
    with pytest.raises(InputError, match="--ema"):
        TrainConfig(data=store_path, out=str(tmp_path / "r"), model="botan", ema=1.0)
