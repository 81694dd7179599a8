import numpy as np
import pytest
from glassdyn.analysis.wavevectors import (
    collective_amplitudes,
    column_blocks,
    fourier_phases,
    wave_vectors,
)
from glassdyn.data.errors import InputError


def test_cubic_shells_are_integer_norms():
    L = 10.0
    wv = wave_vectors(np.full(3, L), q_max=2 * np.pi / L * np.sqrt(3) + 1e-9)
    # shells n^2 = 1, 2, 3 hold 6, 12, 8 vectors; the half space keeps half of each
    np.testing.assert_array_equal(wv.counts, [3, 6, 4])
    np.testing.assert_allclose(wv.shells, 2 * np.pi / L * np.sqrt([1, 2, 3]))
    # no vector and its negative both present, no zero vector
    n = {tuple(v) for v in wv.n}
    assert all(tuple(-np.array(v)) not in n for v in n)
    assert (0, 0, 0) not in n


def test_orthorhombic_all_vectors_counted():
    box = np.array([5.0, 6.0, 7.5])
    q_max = 3.0
    wv = wave_vectors(box, q_max)
    brute = 0
    for nx in range(-5, 6):
        for ny in range(-5, 6):
            for nz in range(-5, 6):
                qn = np.linalg.norm(2 * np.pi * np.array([nx, ny, nz]) / box)
                brute += 0 < qn <= q_max
    assert 2 * wv.n_vectors == brute
    assert np.all(np.diff(wv.shells) > 0)
    assert wv.counts.sum() == wv.n_vectors


def test_shell_width_binning():
    wv = wave_vectors(np.full(3, 12.0), 3.0, shell_width=0.25)
    assert np.all(np.diff(wv.shells) > 0)
    widths = [np.ptp(wv.norm[wv.shell == s]) for s in range(wv.n_shells)]
    assert max(widths) < 0.25


def test_phases_match_direct_exponentials():
    rng = np.random.default_rng(0)
    box = np.array([5.0, 6.0, 7.5])
    pos = rng.uniform(-3, 12, size=(40, 3))  # unwrapped positions are fine (periodic phases)
    wv = wave_vectors(box, 3.0)
    E = fourier_phases(pos, wv)
    np.testing.assert_allclose(E, np.exp(1j * pos @ wv.q.T), atol=1e-12)
    cols = column_blocks(40, wv.n_vectors, max_elements=400)
    assert len(cols) > 1
    np.testing.assert_allclose(
        np.concatenate([fourier_phases(pos, wv, columns=c) for c in cols], 1), E
    )
    w = rng.normal(size=(2, 3, 40))
    np.testing.assert_allclose(
        collective_amplitudes(w, E), np.einsum("abn,nm->abm", w, E), rtol=1e-12
    )
    np.testing.assert_allclose(
        collective_amplitudes(w, E, dtype=np.float32),
        np.einsum("abn,nm->abm", w, E),
        rtol=1e-4,
        atol=1e-4,
    )


def test_q_max_below_first_shell():
    with pytest.raises(InputError, match="first wave-vector shell"):
        wave_vectors(np.full(3, 10.0), 0.5)
    with pytest.raises(InputError, match="box"):
        wave_vectors(np.array([1.0, -1.0, 1.0]), 5.0)
