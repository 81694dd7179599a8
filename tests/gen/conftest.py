"""Shared inputs of the generative tests: one tiny REAL store and tiny fits made through the CLI.

``ka_store``: ``glassdyn simulate`` (LAMMPS, the ``ci`` preset at N=216 - the smallest box the
simulator takes - no replicas, no inherent structures), 8 configurations at T=1.0 and 0.8: seconds.
``cnf_run`` / ``flow_run`` / ``diffusion_run``: one-epoch fits of tiny networks on it by
``glassdyn gen fit`` (the transports carry T=1.0 down to 0.8, from 4 base MD configurations).
Session-scoped and shared: tests copy a run or a store before changing it.
"""

import shutil

import pytest
import torch

from .helpers import CNF, DIFFUSION, FLOW, fit_args


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
def ka_store(tmp_path_factory):
    """A real KA store (LAMMPS): N=216, T=1.0 and 0.8, 8 configurations each, seed 3."""
    from glassdyn.simulate.runner import simulate
    from glassdyn.simulate.testing import ci_settings

    path = tmp_path_factory.mktemp("genstore") / "ka.zarr"
    settings = ci_settings(n_configs=8, n_particles=216, n_replicas=0, inherent=False)
    simulate(settings, path, seed=3, workers=0, progress=False)
    return path


def _fit(tmp_path_factory, store, name, model_args):
    from glassdyn.cli import main

    run = tmp_path_factory.mktemp(f"fit_{name}") / name
    assert main(fit_args(store, run, model_args)) == 0
    return run


@pytest.fixture(scope="session")
def cnf_run(tmp_path_factory, ka_store):
    return _fit(tmp_path_factory, ka_store, "cnf", CNF)


@pytest.fixture(scope="session")
def flow_run(tmp_path_factory, ka_store):
    return _fit(tmp_path_factory, ka_store, "flow", FLOW)


@pytest.fixture(scope="session")
def diffusion_run(tmp_path_factory, ka_store):
    return _fit(tmp_path_factory, ka_store, "diffusion", DIFFUSION)


@pytest.fixture
def copy_of(tmp_path):
    """copy_of(path): a private copy (in this test's tmp_path) of a shared run or store."""

    def copy(path, name=None):
        dst = tmp_path / (name or path.name)
        shutil.copytree(path, dst)
        return dst

    return copy
