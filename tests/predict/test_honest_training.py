"""What training may see: test and held-out configurations never reach a loader or the
normalisation; best.pt is the epoch of lowest validation loss in each phase; T-BOTAN learns a
temperature it can learn."""

import json

import numpy as np
import pytest
import torch
from glassdyn.data import keys
from glassdyn.data.store import Store
from glassdyn.predict import gnn
from glassdyn.predict.checkpoints import load_checkpoint, load_model
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.gnn import batch_loss
from glassdyn.predict.training import train

from glassdyn.nn.dataset import GraphCache, GraphDataset, GraphSpec, build_graph
from glassdyn.testing import write_synthetic_store

SMALL = {"hidden": 8, "steps": 1, "progress": False}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("honest") / "s.zarr"
    write_synthetic_store(
        path, temperatures=(0.64, 0.8), n_configs=6, n_particles=128, n_replicas=2
    )
    return str(path)


def test_test_and_held_out_configurations_never_reach_training(store_path, tmp_path, monkeypatch):
    """Spy on every graph the trainer builds or loads and on the graphs its statistics come from."""
    seen, normalised = [], []
    real_get, real_norm = GraphCache.get, gnn._normalization

    def get(self, sp, c, spec, targets=True, digest=None):
        seen.append((f"{sp.temperature:g}", int(c)))
        return real_get(self, sp, c, spec, targets, digest)

    def norm(graphs, model):
        normalised.extend((f"{float(g.temperature):g}", int(g.config)) for g in graphs)
        return real_norm(graphs, model)

    monkeypatch.setattr(GraphCache, "get", get)
    monkeypatch.setattr(gnn, "_normalization", norm)
    run = train(
        TrainConfig(
            data=store_path,
            out=str(tmp_path / "r"),
            model="botan",
            epochs=1,
            train_temperatures=(0.8,),
            **SMALL,
        )
    )
    split = json.loads((run / "run.json").read_text())["split"]
    s = split["0.8"]
    parts = [set(s[p]) for p in ("train", "val", "test")]
    assert set().union(*parts) == set(range(6)) and sum(map(len, parts)) == 6  # disjoint, covering
    assert split["0.64"] == {"train": [], "val": [], "test": list(range(6)), "held_out": True}
    assert sorted(seen) == sorted(("0.8", c) for c in s["train"] + s["val"])  # nothing else loaded
    assert sorted(normalised) == sorted(("0.8", c) for c in s["train"])  # statistics: train only
    # the stored statistics are those of the training graphs (recomputed here independently)
    model, _ = load_model(run / "best.pt")
    sp = Store.open(store_path).state(0.8)
    y = np.concatenate([build_graph(sp, c, GraphSpec()).y.numpy() for c in s["train"]])
    np.testing.assert_allclose(model.node_mean.numpy(), y.mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.node_std.numpy(), y.std(0, ddof=1), rtol=1e-4)


def test_ridge_reads_no_test_configuration(store_path, tmp_path, monkeypatch):
    from glassdyn.data.store import StatePoint

    reads = set()
    real = StatePoint.read

    def read(self, path, configs=None):
        if path == keys.ISO_PROPENSITY:
            reads.add((f"{self.temperature:g}", int(configs)))
        return real(self, path, configs)

    monkeypatch.setattr(StatePoint, "read", read)
    run = train(
        TrainConfig(data=store_path, out=str(tmp_path / "ridge"), model="ridge", progress=False)
    )
    split = json.loads((run / "run.json").read_text())["split"]
    want = {(T, c) for T, s in split.items() for c in s["train"] + s["val"]}
    assert reads == want and not reads & {(T, c) for T, s in split.items() for c in s["test"]}


def test_best_checkpoint_is_the_lowest_validation_score_of_its_phase(store_path, tmp_path):
    """With edge pre-training: pretrain_best.pt is the pre-training epoch of lowest validation loss
    (the edge MSE), best.pt the main-phase epoch of lowest validation node loss (BOTAN's edge term
    is auxiliary there), and its weights really give the recorded score."""
    cfg = TrainConfig(
        data=store_path,
        out=str(tmp_path / "r"),
        model="botan",
        pretrain_epochs=3,
        epochs=4,
        lr=3e-3,
        **SMALL,
    )
    run = train(cfg)
    hist = json.loads((run / "history.json").read_text())
    main = [h for h in hist if h["phase"] == "train"]
    pre = [h for h in hist if h["phase"] == "pretrain"]
    best, pbest = load_checkpoint(run / "best.pt"), load_checkpoint(run / "pretrain_best.pt")
    assert best["best_epoch"] == min(main, key=lambda h: h["val_select"])["epoch"] == best["epoch"]
    assert pbest["best_epoch"] == min(pre, key=lambda h: h["val_loss"])["epoch"] == pbest["epoch"]
    assert all(h["val_select"] == h["val_loss"] for h in pre)  # pre-training: its own loss
    assert all(h["val_select"] != h["val_loss"] for h in main)  # main phase: without the edges
    # recompute the score of best.pt's weights on the validation graphs, as the run built them
    from torch_geometric.loader import DataLoader

    info = json.loads((run / "run.json").read_text())
    resolved = TrainConfig.from_dict(info["train_config"])
    spec = resolved.graph_spec()
    store = Store.open(store_path)
    graphs = [
        build_graph(store.state(float(T)), c, spec)
        for T, s in info["split"].items()
        for c in s["val"]
    ]
    model, _ = load_model(run / "best.pt")
    rec = gnn.validate(model, DataLoader(GraphDataset(graphs, spec), batch_size=1), resolved, "cpu")
    assert rec["val_select"] == pytest.approx(best["best_val"], rel=1e-5)
    assert best["best_val"] == pytest.approx(min(h["val_select"] for h in main), rel=1e-12)


def test_tbotan_learns_a_temperature_the_structure_encodes(tmp_path):
    """The hotter state point is 15% less dense (box and positions scaled): T-BOTAN must predict
    the temperature of unseen configurations to 0.05 (a constant predictor is off by 0.25), in
    LJ units (a predict that skipped the temperature normalisation would be off by ~0.5)."""
    from torch_geometric.data import Batch

    from glassdyn.nn.models import ModelConfig, build_model

    path = tmp_path / "t.zarr"
    write_synthetic_store(
        path, temperatures=(0.5, 1.0), n_configs=3, n_particles=128, n_replicas=2, times=(1.0,)
    )
    store = Store.open(path, mode="r+")
    for T in (0.5, 1.0):
        sp, f = store.state(T), 1.0 + 0.15 * (T - 0.5) / 0.5
        for c in range(3):
            sp.write(
                c,
                **{
                    keys.THERMAL_POSITIONS: sp.read(keys.THERMAL_POSITIONS, c) * f,
                    keys.BOX: sp.read(keys.BOX, c) * f,
                },
            )
    spec = GraphSpec(edge_features="invariant")
    graphs = {
        T: [build_graph(Store.open(path).state(T), c, spec) for c in range(3)] for T in (0.5, 1.0)
    }
    seen = graphs[0.5][:2] + graphs[1.0][:2]
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="tbotan", edge_dim=spec.edge_dim, hidden=16, steps=2))
    gnn._normalization(seen, model)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch, cfg = Batch.from_data_list(seen), TrainConfig(data="-", out="-")
    for _ in range(120):
        opt.zero_grad()
        batch_loss(model, batch, cfg)[0].backward()
        opt.step()
    err = [
        abs(float(model.predict(g)["temperature"][0]) - T)
        for T, g in ((0.5, graphs[0.5][2]), (1.0, graphs[1.0][2]))
    ]
    assert max(err) < 0.05, err
