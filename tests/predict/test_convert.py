"""``glassdyn convert pyg-botan``: published BOTAN weights as a run, checked against a forward pass
written here from the published update equations (J. Chem. Phys. 158, 084503 (2023); the layout
of h3-Open-BDEC/pyg_botan's model.py), never against the reference code itself."""

import json

import numpy as np
import pytest
import torch
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store
from torch.nn.functional import linear, relu

from glassdyn.cli import main
from glassdyn.nn.dataset import GraphSpec, graph_from_arrays
from glassdyn.nn.pyg_botan import convert_state, layout
from glassdyn.testing import random_ka_configuration, write_synthetic_store

H = 64


def random_pyg_botan_state(seed: int = 0) -> dict:
    """A state_dict of pyg_botan's layout with random weights (scaled so that every layer matters)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in layout().items():
        fan_in = shape[1] if len(shape) == 2 else H
        state[name] = torch.randn(shape, generator=g) * (1.5 / fan_in**0.5)
    return state


def published_forward(state: dict, types: np.ndarray, pos: np.ndarray, box: np.ndarray, cutoff=2.0):
    """BOTAN as published: x = type (one float), e = r_j - r_i (dense minimum image), 7 steps of
    e <- f_e([x_i, x_j, e, e0]), x <- f_n([x, x0, sum_{i -> j} e]), one decoder g for both.
    Returns node (N,), edge (E,) predictions and the pairs (i, j) (2, E)."""
    s = {k: v.double() for k, v in state.items()}

    def mlp(prefix, h, decoder=False):
        h = relu(linear(h, s[f"{prefix}.fc1.weight"], s[f"{prefix}.fc1.bias"]))
        h = relu(linear(h, s[f"{prefix}.fc2.weight"], s[f"{prefix}.fc2.bias"]))
        return linear(h, s[f"{prefix}.fc3.weight"], s[f"{prefix}.fc3.bias"]) if decoder else h

    d = pos[None, :, :].astype(np.float64) - pos[:, None, :]  # [i, j] = r_j - r_i
    d -= box * np.round(d / box)
    r = np.linalg.norm(d, axis=-1)
    i, j = np.where((r < cutoff) & (r > 1e-6))
    x0 = mlp("node_encoder", torch.tensor(types, dtype=torch.float64)[:, None])
    e0 = mlp("edge_encoder", torch.tensor(d[i, j]))
    x, e = x0, e0
    ti, tj = torch.tensor(i), torch.tensor(j)
    for _ in range(7):
        e = mlp("network.edge_model.mlp", torch.cat([x[ti], x[tj], e, e0], dim=1))
        received = torch.zeros_like(x).index_add_(0, tj, e)
        x = mlp("network.node_model.mlp", torch.cat([x, x0, received], dim=1))
    return (
        mlp("decoder", x, True)[:, 0].numpy(),
        mlp("decoder", e, True)[:, 0].numpy(),
        np.stack([i, j]),
    )


def test_converted_model_is_the_published_function():
    conf = random_ka_configuration(128, seed=3)
    state = random_pyg_botan_state(1)
    node_ref, edge_ref, pairs = published_forward(state, conf.types, conf.positions, conf.box)
    model = convert_state(state)
    data = graph_from_arrays(GraphSpec(), conf.types, conf.box, conf.positions)
    np.testing.assert_array_equal(data.edge_index.numpy(), pairs)  # same pairs, same order
    out = model.predict(data)
    node, edge = out["node"][:, 0].numpy(), out["edge"][:, 0].numpy()
    assert np.std(node_ref) > 1e-2 and np.std(edge_ref) > 1e-2  # not a trivial function
    np.testing.assert_allclose(node, node_ref, atol=1e-4 * np.abs(node_ref).max())
    np.testing.assert_allclose(edge, edge_ref, atol=1e-4 * np.abs(edge_ref).max())
    # both species matter, and the edge input direction: reversing r_ij changes the output
    flipped = graph_from_arrays(GraphSpec(), conf.types, conf.box, conf.positions)
    flipped.edge_attr = -flipped.edge_attr
    assert not np.allclose(model.predict(flipped)["edge"][:, 0].numpy(), edge_ref, atol=1e-3)
    swapped = graph_from_arrays(GraphSpec(), 1 - conf.types, conf.box, conf.positions)
    assert not np.allclose(model.predict(swapped)["node"][:, 0].numpy(), node_ref, atol=1e-3)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("decoder.fc3.bias"), "no tensor 'decoder.fc3.bias'"),
        (
            lambda s: s.__setitem__("edge_encoder.fc1.weight", torch.zeros(H, 6)),
            "'edge_encoder.fc1.weight' has shape \\(64, 6\\)",
        ),
        (
            lambda s: s.__setitem__("network.global_model.fc1.weight", torch.zeros(1)),
            "unexpected tensor 'network.global_model",
        ),
    ],
)
def test_other_layouts_name_the_first_mismatching_tensor(tmp_path, capsys, change, message):
    state = random_pyg_botan_state()
    change(state)
    torch.save(state, tmp_path / "m.pth")
    with pytest.raises(InputError, match=message):
        convert_state(state)
    assert (
        main(["convert", "pyg-botan", str(tmp_path / "m.pth"), "--out", str(tmp_path / "run")]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a pyg_botan BOTAN state_dict" in err
    assert not (tmp_path / "run").exists()  # checked before anything is written


def test_foreign_files_are_refused(tmp_path, capsys):
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    assert (
        main(["convert", "pyg-botan", str(tmp_path / "junk.pth"), "--out", str(tmp_path / "r")])
        == 2
    )
    assert "not a readable torch state_dict" in capsys.readouterr().err
    assert (
        main(["convert", "pyg-botan", str(tmp_path / "none.pth"), "--out", str(tmp_path / "r")])
        == 2
    )
    assert "no file at" in capsys.readouterr().err


def test_converted_run_evaluates_predicts_and_starts_training(tmp_path, capsys):
    store = write_synthetic_store(
        tmp_path / "s.zarr",
        temperatures=(0.8,),
        n_configs=3,
        n_particles=128,
        times=(0.5, 5.0, 50.0),
    )
    # record a BOTAN-like train/test split on the store, as `import botan` does
    store.state(0.8).group.attrs["import"] = {
        "format": "botan",
        "splits": ["train", "test", "test"],
    }
    state = random_pyg_botan_state(2)
    torch.save(state, tmp_path / "model1.pth")
    run = tmp_path / "run"
    argv = [
        "convert",
        "pyg-botan",
        str(tmp_path / "model1.pth"),
        "--out",
        str(run),
        "--data",
        str(tmp_path / "s.zarr"),
    ]
    assert main([*argv, "--time", "7"]) == 2 and "has no time 7" in capsys.readouterr().err
    assert main([*argv, "--time", "5"]) == 0
    assert "run written to" in capsys.readouterr().out
    info = json.loads((run / "run.json").read_text())
    assert info["graph_spec"]["times"] == [1] and info["times"] == {"0.8": [5.0]}
    assert info["split"]["0.8"] == {"train": [0], "val": [], "test": [1, 2]}
    assert info["converted_from"]["format"] == "pyg_botan" and info["converted_from"]["time"] == 5.0
    # evaluate / predict use the converted weights on the test configurations
    from glassdyn.predict.evaluation import TrainedRun

    sp = Store.open(tmp_path / "s.zarr").state(0.8)
    pred, _ = TrainedRun(run).predict(sp, 1)
    node_ref, edge_ref, _ = published_forward(
        state, sp.read(keys.TYPES, 1), sp.read(keys.THERMAL_POSITIONS, 1), sp.read(keys.BOX, 1)
    )
    np.testing.assert_allclose(pred["node"][:, 0], node_ref, atol=1e-4 * np.abs(node_ref).max())
    np.testing.assert_allclose(pred["edge"][:, 0], edge_ref, atol=1e-4 * np.abs(edge_ref).max())
    assert main(["evaluate", str(run), "--data", str(tmp_path / "s.zarr"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_configs"] == {"0.8": 2} and len(result["edge_pearson"]["0.8"]) == 1
    assert (
        main(
            [
                "predict",
                str(run),
                "--data",
                str(tmp_path / "s.zarr"),
                "--out",
                str(tmp_path / "p.zarr"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    # fine-tuning starts from the converted weights
    ft = tmp_path / "ft"
    assert main(["train", "--data", str(tmp_path / "s.zarr"), "--model", "botan", "--out", str(ft), "--times", "1",
                 "--epochs", "1", "--init", str(run), "--quiet", "--device", "cpu"]) == 0  # fmt: skip
    assert json.loads((ft / "run.json").read_text())["train_config"]["init"] == str(run)
