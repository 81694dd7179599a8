"""T-BOTAN's temperature read-out starts from the energy thermometer (T linear in the energy per
particle, fitted on the training configurations) plus a correction that starts at zero."""

import json

import numpy as np
import torch
from glassdyn.data import keys
from glassdyn.data.store import Store
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.gnn import _normalization
from glassdyn.predict.training import train
from glassdyn.predict.warm_start import init_thermometer
from glassdyn.simulate.ka import particle_energies

from glassdyn.nn.dataset import GraphSpec, build_graph
from glassdyn.nn.models import ModelConfig, build_model
from glassdyn.testing import write_synthetic_store


def _store(path):
    """Synthetic configurations whose energy per particle tracks T (thermal positions jittered
    more at higher T), at three temperatures."""
    store = write_synthetic_store(
        path, temperatures=(0.56, 0.64, 0.8), n_configs=4, n_particles=128, n_replicas=2
    )
    rng = np.random.default_rng(0)
    for T in store.temperatures:
        sp = store.state(T)
        for c in range(sp.n_configs):
            x, box = sp.read(keys.THERMAL_POSITIONS, c), sp.read(keys.BOX, c)
            x = (x + rng.normal(scale=0.05 * T, size=x.shape)) % box
            sp.write(c, **{keys.THERMAL_POSITIONS: x.astype(np.float32)})
    return store


def test_at_initialisation_the_readout_is_the_energy_thermometer(tmp_path):
    """At the start the read-out equals T = a e + b, (a, b) the least-squares fit of T on the
    energy per particle over the *training* configurations (computed here independently from the
    positions), on every configuration, training or not.  A read-out whose correction does not
    start at zero, or a thermometer fitted on other configurations or the other way round
    (e on T), differs."""
    store = _store(tmp_path / "s.zarr")
    spec = GraphSpec(input="ts")
    train_ids = {T: [0, 1, 2] for T in store.temperatures}
    graphs = [
        build_graph(store.state(T), c, spec) for T in store.temperatures for c in train_ids[T]
    ]
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(kind="tbotan", hidden=8, steps=1, n_outputs=3, thermometer=True)
    )
    _normalization(graphs, model)
    fit = init_thermometer(model, graphs)
    e, T = [], []
    for t in store.temperatures:
        sp = store.state(t)
        for c in train_ids[t]:
            x, ty, box = (sp.read(k, c) for k in (keys.THERMAL_POSITIONS, keys.TYPES, keys.BOX))
            e.append(particle_energies(x, ty, box).mean())
            T.append(t)
    a, b = np.polyfit(e, T, 1)
    assert (
        a > 0
        and np.isclose(fit["slope"], a, rtol=1e-4)
        and np.isclose(fit["intercept"], b, rtol=1e-4)
    )
    model.eval()
    for t in store.temperatures:
        sp = store.state(t)
        for c in range(sp.n_configs):  # training and held-back configurations alike
            g = build_graph(sp, c, spec)
            x, ty, box = (sp.read(k, c) for k in (keys.THERMAL_POSITIONS, keys.TYPES, keys.BOX))
            want = a * particle_energies(x, ty, box).mean() + b
            got = float(model.predict(g)["temperature"][0])
            assert abs(got - want) < 1e-4, (t, c, got, want)
    # without the thermometer the untrained read-out is anything but
    plain = build_model(ModelConfig(kind="tbotan", hidden=8, steps=1, n_outputs=3))
    _normalization(graphs, plain)
    g = build_graph(store.state(0.8), 3, spec)
    assert (
        abs(float(plain.predict(g)["temperature"][0]) - float(model.predict(g)["temperature"][0]))
        > 1e-3
    )


def test_training_starts_from_the_thermometer_and_old_runs_keep_theirs(tmp_path):
    """A T-BOTAN run records the thermometer in its model and validates its start (epoch -1)
    with the read-out equal to it; ``--no-energy-thermometer`` and runs made before the option
    read the temperature from the latent alone."""
    _store(tmp_path / "s.zarr")
    cfg = dict(
        data=str(tmp_path / "s.zarr"), model="tbotan", hidden=8, steps=1, epochs=1, progress=False
    )
    out = train(TrainConfig(**cfg, out=str(tmp_path / "r")))
    ck = torch.load(out / "best.pt", weights_only=False)
    assert ck["model_config"]["thermometer"] is True
    assert float(ck["state_dict"]["thermo_slope"]) > 0
    off = train(TrainConfig(**cfg, out=str(tmp_path / "off"), energy_thermometer=False))
    ck = torch.load(off / "best.pt", weights_only=False)
    assert ck["model_config"]["thermometer"] is False and "thermo_slope" not in ck["state_dict"]
    assert (
        TrainConfig.from_dict({"data": "s", "out": "r", "model": "tbotan"}).energy_thermometer
        is False
    )
    run = json.loads((out / "run.json").read_text())
    assert run["train_config"]["energy_thermometer"] is True
