"""CUDA: same predictions as on CPU, training on the GPU, checkpoints that load on CPU."""

import pytest
import torch
from glassdyn.predict.checkpoints import load_model
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.training import train

from glassdyn.nn.dataset import GraphSpec, graph_from_arrays
from glassdyn.nn.models import ModelConfig, build_model
from glassdyn.testing import random_ka_configuration, write_synthetic_store

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("kind", ["botan", "tbotan", "bapst"])
def test_cuda_forward_matches_cpu(kind):
    conf = random_ka_configuration(256, seed=0)
    data = graph_from_arrays(GraphSpec(), conf.types, conf.box, conf.positions)
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind, n_outputs=2)).eval()
    cpu = model(data)["node"]
    gpu = model.to("cuda")(data.to("cuda"))["node"].cpu()
    torch.testing.assert_close(cpu, gpu, atol=1e-4, rtol=1e-3)


def test_train_on_cuda_and_load_on_cpu(tmp_path):
    store = write_synthetic_store(tmp_path / "s.zarr", n_configs=4)
    run = train(
        TrainConfig(
            data=str(store.path),
            out=str(tmp_path / "run"),
            model="tbotan",
            epochs=2,
            device="cuda",
            progress=False,
        )
    )
    model, _ckpt = load_model(run / "best.pt")
    assert next(model.parameters()).device.type == "cpu"
