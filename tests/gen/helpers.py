"""Small systems, randomised models and the tiny command lines shared by the generative tests."""

import numpy as np
import torch

from glassdyn.testing import random_ka_configuration

# tiny networks on the command line (the fits of conftest.py)
CNF = ["--model", "cnf", "--hidden", "8", "--steps", "2"]
FLOW = ["--model", "flow", "--hidden", "8", "--layers", "3", "--blocks", "1"]
DIFFUSION = ["--model", "diffusion", "--hidden", "8", "--blocks", "1"]
# a cheap correction for `gen sample / evaluate` (8 members, 2 annealing steps, short HMC moves)
CHEAP = [
    *("--population", "8", "--anneal-steps", "2", "--sweeps", "1"),
    *("--leapfrog", "5", "--refine-sweeps", "1"),
]
DIFFUSION_SAMPLER = ["--steps", "4", "--correctors", "0"]


def fit_args(store, run, model_args, *extra):
    """``gen fit`` of a tiny model on ``store`` into ``run``: one epoch, 4 base configurations;
    transports from the store's T=1.0 itself (the default would bridge N=216's 1.0 -> 0.8 by a base
    at 0.91: tests/gen/test_bridge.py)."""
    args = ["gen", "fit", "--data", str(store), "--out", str(run), *model_args]
    args += ["--epochs", "1", "--batch-size", "4", "--device", "cpu", "--quiet"]
    if "diffusion" not in model_args:
        args += ["--base-configs", "4", "--base-temperature", "1.0"]
    return [*args, *map(str, extra)]


def jitter(model, scale=0.05, seed=None):
    """Perturb every parameter by scale * N(0, 1) (a generic non-trivial model), eval mode, float64."""
    model = model.double()
    g = None if seed is None else torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model.eval()


def small_system(n=5, batch=2, seed=0):
    """types (batch, n) long, box (3,) float64, temperatures (batch,) of a random KA configuration."""
    c = random_ka_configuration(n, seed=seed)
    types = torch.as_tensor(c.types, dtype=torch.long)[None].expand(batch, -1).clone()
    return types, torch.as_tensor(c.box, dtype=torch.float64), torch.full((batch,), 0.8)


def a_permutation(types_row):
    """An index permutation (N,) that rotates the A particles other than the frame's reference."""
    from glassdyn.gen import reference_frame

    t = np.asarray(types_row)
    ref = int(reference_frame.reference_index(t)[0])
    a = [i for i in np.flatnonzero(t == 0) if i != ref]
    perm = np.arange(len(t))
    perm[a] = np.roll(a, 1)
    return torch.as_tensor(perm)


def ka_batch(n_particles=64, batch=4, seed=0, scale=0.002):
    """positions (batch, N, 3) float64: one jittered-lattice KA configuration, each copy displaced
    by ``scale`` * N(0, 1) per coordinate (total energies a few units apart), types (N,), box (3,):
    numpy, for energies and the annealing tests."""
    c = random_ka_configuration(n_particles, seed=seed)
    rng = np.random.default_rng(seed)
    x = c.positions.astype(np.float64) + scale * rng.normal(size=(batch, n_particles, 3))
    return x, c.types.astype(np.int64), np.asarray(c.box, dtype=np.float64)
