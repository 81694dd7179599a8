import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread_float64():
    """Tests of glassdyn.gen run in float64 on one thread; both restored afterwards."""
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def flow_fit(tmp_path_factory):
    """(folder, store, run): a one-epoch flow fitted by `glassdyn gen fit` on a small synthetic
    store (10 configurations of N=16 at T=0.8).  Tests copy the run before changing it."""
    from glassdyn.cli import main
    from glassdyn.testing import write_synthetic_store

    from .helpers import FLOW

    tmp = tmp_path_factory.mktemp("flowfit")
    store = tmp / "s.zarr"
    write_synthetic_store(
        store, temperatures=(0.8,), n_configs=10, n_particles=16, n_replicas=1, times=(1.0,)
    )
    run = tmp / "run"
    args = ["gen", "fit", "--data", str(store), "--out", str(run), "--epochs", "1"]
    assert main([*args, "--batch-size", "4", *FLOW]) == 0
    return tmp, store, run
