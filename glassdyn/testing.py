"""Helpers for tests, shipped so users can test their own models on the same small systems.

``random_ka_configuration`` gives a KA-like 80:20 configuration without overlaps;
``write_synthetic_store`` writes a complete store in the schema whose displacements depend on
local structure (so a mobility predictor has something real to learn) without running LAMMPS.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from glassdyn.data import keys
from glassdyn.data.box import box_length, minimum_image, wrap
from glassdyn.data.records import Configuration
from glassdyn.data.store import Store


def random_ka_configuration(
    n_particles: int = 128, density: float = 1.2, fraction_a: float = 0.8, seed: int = 0
) -> Configuration:
    """A jittered simple-cubic lattice with shuffled 80:20 types: no close contacts, cubic box."""
    rng = np.random.default_rng(seed)
    L = box_length(n_particles, density)
    m = int(np.ceil(n_particles ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = grid[rng.permutation(len(grid))[:n_particles]] * (L / m)
    pos = wrap(sites + rng.normal(scale=0.08 * L / m, size=sites.shape), np.full(3, L)).astype(np.float32)
    n_a = int(round(fraction_a * n_particles))
    types = np.ones(n_particles, dtype=np.int8)
    types[rng.permutation(n_particles)[:n_a]] = 0
    return Configuration(pos, types, np.full(3, L))


def local_density(positions: np.ndarray, box: np.ndarray, r_cut: float = 1.5) -> np.ndarray:
    """Neighbour count within ``r_cut`` (O(N^2): for small test systems only)."""
    d = minimum_image(positions[:, None, :] - positions[None, :, :], box)
    r = np.linalg.norm(d, axis=-1)
    return (r < r_cut).sum(axis=1) - 1


def write_synthetic_store(
    path: str | Path,
    temperatures: Sequence[float] = (0.64, 0.8),
    n_configs: int = 4,
    n_particles: int = 128,
    n_replicas: int = 4,
    times: Sequence[float] = (0.5, 5.0, 50.0),
    seed: int = 0,
) -> Store:
    """A complete store whose mobility is a known function of structure and temperature.

    Each particle's displacement scale is ``sqrt(T t) * exp(-(n_i - <n>)/4)`` with ``n_i`` its
    neighbour count, times a random-walk Gaussian per replica, so sparse regions are mobile.
    Inherent positions are the thermal ones with the jitter halved.
    """
    store = Store.create(path, source="glassdyn.testing.write_synthetic_store", seed=seed)
    rng = np.random.default_rng(seed)
    times = np.asarray(times, dtype=np.float64)
    for T in temperatures:
        sp = store.create_state(
            T, n_configs=n_configs, n_particles=n_particles, n_replicas=n_replicas, times=times
        )
        for c in range(n_configs):
            conf = random_ka_configuration(n_particles, seed=int(rng.integers(2**31)))
            n = local_density(conf.positions, conf.box)
            scale = np.exp(-(n - n.mean()) / 4.0) * (1.2 - 0.5 * conf.types)  # (N,)
            steps = np.sqrt(T * np.diff(np.concatenate([[0.0], times])))  # (K,)
            noise = rng.normal(size=(n_replicas, len(times), n_particles, 3))
            disp = np.cumsum(noise * steps[None, :, None, None], axis=1) * scale[None, None, :, None] * 0.2
            inherent = wrap(conf.positions + 0.5 * rng.normal(scale=0.01, size=conf.positions.shape), conf.box)
            sp.write(
                c,
                **{
                    keys.TYPES: conf.types,
                    keys.BOX: conf.box,
                    keys.THERMAL_POSITIONS: conf.positions,
                    keys.THERMAL_ENERGY: -6.0 + T,
                    keys.INHERENT_POSITIONS: inherent,
                    keys.INHERENT_ENERGY: -7.0,
                    keys.INHERENT_MAX_FORCE: 1e-9,
                    keys.ISO_DISPLACEMENTS: disp.astype(np.float32),
                },
            )
            sp.update_propensity(c)
            sp.mark_done(c)
    return store
