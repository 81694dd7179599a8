"""Coarse-grained descriptors against brute-force loops written here, their invariances and cache."""

import itertools

import numpy as np
import pytest
from glassdyn.data.box import wrap
from glassdyn.data.errors import InputError
from glassdyn.simulate.ka import KAParameters, pair_energy
from scipy.special import sph_harm_y

from glassdyn.nn.descriptors import (
    DescriptorCache,
    DescriptorSpec,
    describe,
    descriptor_names,
    family_columns,
    local_descriptors,
)
from glassdyn.nn.local_structure import pairs, particle_energy
from glassdyn.testing import random_ka_configuration, write_synthetic_store

SPEC = DescriptorSpec(shells=(0.9, 1.3, 2.1), l_max=6, cg_lengths=(0.7, 1.6))  # small but complete


def _images(pos, i, box, n_img=2):
    """Every periodic image of every particle seen from i: vectors (M, 3), indices (M,)."""
    shifts = np.array(list(itertools.product(range(-n_img, n_img + 1), repeat=3)), dtype=np.float64)
    d = (pos[None, :, :] - pos[i] + shifts[:, None, :] * box).reshape(-1, 3)
    j = np.tile(np.arange(len(pos)), len(shifts))
    keep = np.linalg.norm(d, axis=1) > 1e-9  # not i itself in its own image
    return d[keep], j[keep]


def brute_force(thermal, types, box, inherent, spec):
    """The descriptor matrix, one particle at a time, straight from the definitions."""
    N = len(thermal)
    params = KAParameters()
    loc = []
    for struct, fams in (
        (thermal, ("radial", "angular", "energy")),
        (inherent, ("radial_is", "angular_is", "energy_is")),
    ):
        rows = []
        for i in range(N):
            d, j = _images(struct, i, box)
            r = np.linalg.norm(d, axis=1)
            row = []
            for fam in fams:
                if fam.startswith("radial"):
                    for s in (0, 1):
                        for rk in spec.shells:
                            m = (types[j] == s) & (r < max(spec.shells) + 5 * spec.shell_width)
                            row.append(
                                np.exp(-((r[m] - rk) ** 2) / (2 * spec.shell_width**2)).sum()
                            )
                elif fam.startswith("angular"):
                    nb = d[r < spec.bond_cutoff]
                    theta = np.arccos(nb[:, 2] / np.linalg.norm(nb, axis=1))
                    phi = np.arctan2(nb[:, 1], nb[:, 0])
                    for l in range(1, spec.l_max + 1):
                        qlm = [sph_harm_y(l, m, theta, phi).mean() for m in range(-l, l + 1)]
                        row.append(np.sqrt(4 * np.pi / (2 * l + 1) * np.sum(np.abs(qlm) ** 2)))
                else:
                    tj = types[j]
                    row.append(0.5 * pair_energy(r, np.full(len(r), types[i]), tj, params).sum())
            rows.append(row)
        loc.append(np.array(rows))
    disp = np.linalg.norm((inherent - thermal + box / 2) % box - box / 2, axis=1)
    local = np.concatenate([loc[0], loc[1], disp[:, None]], axis=1)
    blocks = [local]
    for a in spec.cg_lengths:
        cg = np.zeros_like(local)
        for i in range(N):
            d, j = _images(thermal, i, box)
            r = np.linalg.norm(d, axis=1)
            m = r < spec.cg_cutoff * a
            w = np.exp(-r[m] / a)
            cg[i] = (local[i] + (w[:, None] * local[j[m]]).sum(0)) / (1 + w.sum())
        blocks.append(cg)
    return np.concatenate(blocks, axis=1)


def _system(n=40, seed=0):
    conf = random_ka_configuration(n, seed=seed)
    x = conf.positions.astype(np.float64)
    rng = np.random.default_rng(seed + 1)
    inherent = wrap(x + rng.normal(scale=0.05, size=x.shape), conf.box)
    return x, conf.types.astype(np.int64), conf.box, inherent


def test_descriptors_equal_the_brute_force_definitions():
    """N=40 in a box of side 3.2: the coarse-graining reaches several periodic images."""
    x, t, box, xi = _system()
    X = describe(x, t, box, xi, SPEC)
    ref = brute_force(x, t, box, xi, SPEC)
    names = descriptor_names(SPEC)
    assert X.shape == ref.shape == (40, len(names)) == (40, (2 * (2 * 3 + 6 + 1) + 1) * 3)
    for k, name in enumerate(names):
        np.testing.assert_allclose(X[:, k], ref[:, k], rtol=1e-7, atol=1e-9, err_msg=name)
    assert np.std(X[:, names.index("q6")]) > 1e-3 and np.std(X[:, names.index("e_IS")]) > 1e-3


def test_particle_energy_sums_to_the_ka_total():
    x, t, box, _ = _system(30, seed=5)
    p = pairs(x, box, KAParameters().max_cutoff)
    e = particle_energy(p, t)
    from glassdyn.simulate.ka import potential_energy

    assert e.sum() == pytest.approx(potential_energy(x, t, box), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_descriptors_are_invariant(seed):
    """Cube symmetry (axis permutation + reflection), translation and particle permutation."""
    x, t, box, xi = _system(64, seed=seed)
    X = describe(x, t, box, xi, SPEC)
    rng = np.random.default_rng(seed)
    R = np.eye(3)[rng.permutation(3)] * rng.choice([-1.0, 1.0], size=3)
    rot = lambda y: wrap(y @ R.T, box)
    np.testing.assert_allclose(describe(rot(x), t, box, rot(xi), SPEC), X, rtol=1e-7, atol=1e-9)
    shift = rng.uniform(0, box)
    tr = lambda y: wrap(y + shift, box)
    np.testing.assert_allclose(describe(tr(x), t, box, tr(xi), SPEC), X, rtol=1e-7, atol=1e-9)
    perm = rng.permutation(len(t))
    np.testing.assert_allclose(
        describe(x[perm], t[perm], box, xi[perm], SPEC), X[perm], rtol=1e-7, atol=1e-9
    )
    # and not invariant to what matters: swapping the species changes them
    assert not np.allclose(describe(x, 1 - t, box, xi, SPEC), X)


def test_families_spec_and_errors():
    x, t, box, xi = _system(40)
    ts = SPEC.without_inherent()
    assert ts.families == ("radial", "angular", "energy") and not ts.inherent
    X_ts = describe(x, t, box, None, ts)
    X = describe(x, t, box, xi, SPEC)
    cols = family_columns(SPEC)
    ts_cols = np.sort(np.concatenate([cols[f] for f in ts.families]))
    np.testing.assert_allclose(X[:, ts_cols], X_ts)  # TS columns do not depend on the IS
    assert sum(len(c) for c in cols.values()) == X.shape[1]
    with pytest.raises(InputError, match="glassdyn quench"):
        describe(x, t, box, None, SPEC)
    with pytest.raises(InputError, match="families"):
        DescriptorSpec(families=("radial", "voronoi"))
    assert DescriptorSpec.from_dict(SPEC.to_dict()) == SPEC
    assert local_descriptors(x, t, box).shape[1] == len(descriptor_names(False))


def test_cache_keys_on_content(tmp_path):
    store = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=(0.8,), n_configs=2, n_particles=64
    )
    sp = store.state(0.8)
    cache = DescriptorCache(tmp_path / "cache")
    a = cache.get(sp, 0, SPEC)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    again = DescriptorCache(tmp_path / "cache").get(sp, 0, SPEC)  # from disk
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(cache.get(sp, 1, SPEC), a)
    # a changed configuration gets new descriptors, not the cached ones
    from glassdyn.data import keys

    x = sp.read(keys.THERMAL_POSITIONS, 0)
    sp.write(0, **{keys.THERMAL_POSITIONS: wrap(x + 0.05, sp.read(keys.BOX, 0)).astype(np.float32)})
    assert not np.allclose(DescriptorCache(tmp_path / "cache").get(sp, 0, SPEC), a)
