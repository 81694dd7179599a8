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
