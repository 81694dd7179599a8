"""Small systems and randomised models shared by the tests of the continuous models."""

import torch

from glassdyn.testing import random_ka_configuration

# a small coupling flow on the command line (the fit of the `flow_fit` fixture, conftest.py)
FLOW = ["--model", "flow", "--hidden", "16", "--layers", "3", "--blocks", "1", "--device", "cpu"]


def jitter(model, scale=0.05):
    """Perturb every parameter by scale * N(0, 1) (a generic non-trivial model), eval mode, float64."""
    model = model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model.eval()


def small_system(n=5, batch=2, seed=0):
    """types (batch, n) long, box (3,) float64, temperatures (batch,) of a random KA configuration."""
    c = random_ka_configuration(n, seed=seed)
    types = torch.as_tensor(c.types, dtype=torch.long)[None].expand(batch, -1).clone()
    return types, torch.as_tensor(c.box, dtype=torch.float64), torch.full((batch,), 0.8)


def a_permutation(types_row):
    """An index permutation (N,) that rotates the A particles other than the frame's reference."""
    import numpy as np
    from glassdyn.gen import reference_frame

    t = np.asarray(types_row)
    ref = int(reference_frame.reference_index(t)[0])
    a = [i for i in np.flatnonzero(t == 0) if i != ref]
    perm = np.arange(len(t))
    perm[a] = np.roll(a, 1)
    return torch.as_tensor(perm)
