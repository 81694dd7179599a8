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
from glassdyn.nn import keys as nk


def random_ka_configuration(
    n_particles: int = 128, density: float = 1.2, fraction_a: float = 0.8, seed: int = 0
) -> Configuration:
    """A jittered simple-cubic lattice with shuffled 80:20 types: no close contacts, cubic box."""
    rng = np.random.default_rng(seed)
    L = box_length(n_particles, density)
    m = int(np.ceil(n_particles ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = grid[rng.permutation(len(grid))[:n_particles]] * (L / m)
    pos = wrap(sites + rng.normal(scale=0.08 * L / m, size=sites.shape), np.full(3, L)).astype(
        np.float32
    )
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
            disp = (
                np.cumsum(noise * steps[None, :, None, None], axis=1)
                * scale[None, None, :, None]
                * 0.2
            )
            inherent = wrap(
                conf.positions + 0.5 * rng.normal(scale=0.01, size=conf.positions.shape), conf.box
            )
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


# --------------------------------------------------------------------------------------------
# Invariance checks for mobility predictors (BOTAN family).  ``predict`` maps a Configuration to
# per-particle predictions, an array (N, ...) in the particles' order.
# --------------------------------------------------------------------------------------------


def _same(a, b, what: str, atol: float, rtol: float) -> None:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or not np.allclose(a, b, atol=atol, rtol=rtol):
        err = np.max(np.abs(a - b)) if a.shape == b.shape else f"shapes {a.shape} vs {b.shape}"
        raise AssertionError(f"predictions are not invariant under {what} (max difference {err})")


def assert_translation_invariant(
    predict, conf: Configuration, seed: int = 0, atol: float = 1e-4, rtol: float = 1e-4
) -> None:
    """A rigid translation of every particle (then wrapped into the box) changes nothing."""
    rng = np.random.default_rng(seed)
    shift = rng.uniform(0, 1, 3) * conf.box
    moved = Configuration(
        wrap(conf.positions + shift.astype(conf.positions.dtype), conf.box), conf.types, conf.box
    )
    _same(predict(conf), predict(moved), "translation", atol, rtol)


def assert_permutation_equivariant(
    predict, conf: Configuration, seed: int = 0, atol: float = 1e-4, rtol: float = 1e-4
) -> None:
    """Relabelling the particles permutes the per-particle predictions the same way."""
    perm = np.random.default_rng(seed).permutation(conf.n_particles)
    moved = Configuration(conf.positions[perm], conf.types[perm], conf.box)
    _same(np.asarray(predict(conf))[perm], predict(moved), "particle permutation", atol, rtol)


def assert_periodic_image_invariant(
    predict, conf: Configuration, seed: int = 0, atol: float = 1e-4, rtol: float = 1e-4
) -> None:
    """Moving particles by whole box vectors (unwrapped positions) changes nothing."""
    rng = np.random.default_rng(seed)
    images = rng.integers(-2, 3, size=conf.positions.shape)
    moved = Configuration(
        conf.positions + (images * conf.box).astype(conf.positions.dtype), conf.types, conf.box
    )
    _same(predict(conf), predict(moved), "periodic-image shifts", atol, rtol)


def assert_cube_symmetry_invariant(
    predict, conf: Configuration, n: int = 6, seed: int = 0, atol: float = 1e-4, rtol: float = 1e-4
) -> None:
    """Rotations / reflections of a cubic box onto itself (``n`` of the 48) change nothing.

    These are the only rotations that map a periodic cubic system onto itself; models with
    rotation-invariant edge inputs must pass, vector-input models only on average.
    """
    if not np.allclose(conf.box, conf.box[0]):
        raise ValueError("cube symmetries need a cubic box")
    import itertools

    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[np.arange(3), perm] = signs
            mats.append(m)
    rng = np.random.default_rng(seed)
    ref = predict(conf)
    L = conf.box
    for i in rng.choice(len(mats), size=min(n, len(mats)), replace=False):
        pos = (conf.positions.astype(np.float64) - L / 2) @ mats[i].T + L / 2
        moved = Configuration(wrap(pos, L).astype(conf.positions.dtype), conf.types, conf.box)
        _same(ref, predict(moved), f"cube symmetry {mats[i].tolist()}", atol, rtol)


def graph_predictor(model, spec=None):
    """``predict(conf) -> (N, K)`` node predictions of a BOTAN-family ``model`` on the graph that
    ``spec`` (a :class:`glassdyn.nn.dataset.GraphSpec`, thermal input by default) builds."""
    import torch

    from glassdyn.nn.dataset import GraphSpec, graph_from_arrays

    spec = spec or GraphSpec()

    def predict(conf: Configuration) -> np.ndarray:
        data = graph_from_arrays(spec, conf.types, conf.box, conf.positions, conf.positions)
        with torch.no_grad():
            return model.predict(data)[nk.NODE].numpy()

    return predict
