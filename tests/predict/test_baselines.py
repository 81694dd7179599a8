"""Ridge with leave-one-configuration-out CV and the descriptor MLP: references and commands."""

import json

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store
from glassdyn.predict.baselines import DescriptorModel, choose_spec
from glassdyn.predict.metrics import pearson
from glassdyn.predict.ridge_cv import fit_ridge_loo

from glassdyn.cli import main
from glassdyn.nn.descriptors import DescriptorSpec
from glassdyn.testing import write_synthetic_store


def _groups(rng, n_groups=5, n=80, F=6, noise=1.0):
    w = rng.normal(size=F)
    groups = []
    for _ in range(n_groups):
        X = rng.normal(size=(n, F)) + rng.normal(size=F)  # configurations differ in their means
        y = X @ w + 0.5 + noise * rng.normal(size=n)
        groups.append((X, np.stack([y, -2 * y], 1)))
    return groups, w


def test_loo_cv_equals_refitting_each_fold():
    """The summed-statistics folds give exactly what refitting without each configuration gives."""
    rng = np.random.default_rng(0)
    groups, _ = _groups(rng, noise=3.0)
    alphas = (1e-4, 1e-1, 3.0)
    fit = fit_ridge_loo(groups, alphas)
    naive = np.zeros((len(alphas), 2))
    for a, alpha in enumerate(alphas):
        for h in range(len(groups)):
            X = np.concatenate([g[0] for k, g in enumerate(groups) if k != h])
            Y = np.concatenate([g[1] for k, g in enumerate(groups) if k != h])
            xm, ym = X.mean(0), Y.mean(0)
            W = np.linalg.solve(
                (X - xm).T @ (X - xm) + alpha * len(X) * np.eye(X.shape[1]), (X - xm).T @ (Y - ym)
            )
            P = groups[h][0] @ W + ym - xm @ W
            naive[a] += [pearson(P[:, k], groups[h][1][:, k]) for k in range(2)]
    np.testing.assert_allclose(fit["cv_pearson"], naive / len(groups), rtol=1e-9)
    best = alphas[int(np.argmax(naive[:, 0]))]
    assert fit["alpha"][0] == best
    # the final model is the chosen alpha fitted on every configuration
    X = np.concatenate([g[0] for g in groups])
    Y = np.concatenate([g[1] for g in groups])
    xm, ym = X.mean(0), Y.mean(0)
    W = np.linalg.solve(
        (X - xm).T @ (X - xm) + best * len(X) * np.eye(X.shape[1]), (X - xm).T @ (Y[:, 0] - ym[0])
    )
    np.testing.assert_allclose(fit["weights"][:, 0], W, rtol=1e-8)
    np.testing.assert_allclose(fit["intercept"][0], ym[0] - xm @ W, rtol=1e-8)


def test_loo_cv_shrinks_pure_noise_and_keeps_signal():
    rng = np.random.default_rng(1)
    signal, w = _groups(rng, noise=0.1)
    fit = fit_ridge_loo(signal)
    assert fit["alpha"][0] <= 1e-3 and np.allclose(fit["weights"][:, 0], w, atol=0.02)
    noise = [(X, rng.normal(size=Y.shape)) for X, Y in signal]
    assert fit_ridge_loo(noise)["alpha"][0] >= 1.0  # nothing to learn: the strongest shrinkage


@pytest.fixture()
def synthetic(tmp_path):
    """A store whose mobility follows local density (glassdyn.testing), with inherent structures."""
    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=6, n_particles=128, times=(0.5, 5.0))
    return str(path)


@pytest.mark.parametrize("model", ["ridge", "mlp"])
def test_train_evaluate_predict(synthetic, tmp_path, capsys, model):
    run = tmp_path / model
    assert (
        main(
            [
                "train",
                "--data",
                synthetic,
                "--model",
                model,
                "--out",
                str(run),
                "--quiet",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    report = json.loads((run / "baseline.json").read_text())
    info = json.loads((run / "run.json").read_text())
    split = info["split"]["0.8"]
    assert "radial_is" in report["families"] and report["n_features"] > 100  # the store has IS
    if model == "ridge":  # CV over every non-test configuration
        assert report["fit_configs"]["0.8"] == sorted(split["train"] + split["val"])
        assert len(report["cv"]["A"]["cv_pearson"]) == len(report["cv"]["A"]["alphas"])
    else:  # trained on train, chosen on validation
        assert report["fit_configs"]["0.8"] == split["train"]
        assert len(report["grid"]) >= 2 and all(
            g["val_pearson"] is not None for g in report["grid"]
        )
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", synthetic, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_configs"]["0.8"] == len(split["test"]) and res["edge_pearson"] is None
    assert min(res["node_pearson"]["0.8"]) > 0.4  # the synthetic mobility is learnable
    assert main(["predict", str(run), "--data", synthetic, "--out", str(tmp_path / "p.zarr")]) == 0
    # the saved model predicts what the fitted one did
    m = DescriptorModel.load(run)
    sp = Store.open(synthetic).state(0.8)
    from glassdyn.nn.descriptors import DescriptorCache

    X = DescriptorCache(run / "descriptors").get(sp, split["test"][0], m.spec)
    assert m.predict(X, sp.read(keys.TYPES, split["test"][0])).shape == (128, 2)
    if model == "ridge":  # a run of the first ridge (ridge.npz, other descriptors): one clear line
        (run / "baseline.npz").rename(run / "ridge.npz")
        capsys.readouterr()
        assert main(["evaluate", str(run), "--data", synthetic]) == 2
        assert "ridge model of an earlier glassdyn" in capsys.readouterr().err


def test_inherent_structures_all_or_none(tmp_path):
    store = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=(0.8,), n_configs=3, n_particles=64
    )
    split = {"0.8": {"train": [0, 1], "val": [], "test": [2]}}
    assert choose_spec(store, split).inherent
    sp = store.state(0.8)
    sp.group.create_array("inherent/done", shape=(3,), chunks=(1,), dtype="bool", fill_value=False)
    sp.array(keys.INHERENT_DONE)[:] = [True, True, False]
    with pytest.raises(InputError, match="inherent structures for 2 of the 3.*glassdyn quench"):
        choose_spec(store, split)
    sp.array(keys.INHERENT_DONE)[:] = False
    assert choose_spec(store, split) == DescriptorSpec().without_inherent()


def test_recorded_split_is_honoured(synthetic, tmp_path):
    """A store that records its dataset's split (BOTAN import): its test files are the test set."""
    Store.open(synthetic, mode="r+").state(0.8).group.attrs["import"] = {
        "format": "botan",
        "splits": ["train", "train", "test", "train", "test", "train"],
    }
    run = tmp_path / "r"
    assert (
        main(["train", "--data", synthetic, "--model", "ridge", "--out", str(run), "--quiet"]) == 0
    )
    split = json.loads((run / "run.json").read_text())["split"]["0.8"]
    assert split["test"] == [2, 4] and len(split["val"]) == 1
    assert sorted(split["train"] + split["val"]) == [0, 1, 3, 5]
