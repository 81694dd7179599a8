"""Shared LAMMPS fixture: one reference dataset (``ci`` preset, C=3, seed 7), computed once."""

import pytest
from glassdyn.simulate.testing import ci_settings


@pytest.fixture(scope="session")
def reference_store(tmp_path_factory):
    from glassdyn.simulate.runner import simulate

    path = tmp_path_factory.mktemp("sim") / "reference.zarr"
    return simulate(ci_settings(), path, seed=7, workers=0, progress=False)
