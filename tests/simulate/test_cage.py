"""``glassdyn cage``: cage states for any store (real LAMMPS, N = 256)."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.box import minimum_image
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.lock import lock_path
from glassdyn.data.store import Store
from glassdyn.simulate.cage import CageOptions, add_cage_states
from glassdyn.simulate.ka import particle_energies

from glassdyn.cli import main

pytestmark = pytest.mark.lammps


def _rms(a, b, box):
    return float(np.sqrt(np.mean(np.sum(minimum_image(a - b, box) ** 2, axis=1))))


def _copy(store: Store, path) -> Store:
    shutil.copytree(store.path, path)
    return Store.open(path)


def test_cage_state_is_the_centre_of_the_cage(tmp_path, reference_store, capsys):
    """On the ci store (T=0.8, 1.0): the cage state is a small, structured shift of the thermal
    positions: far lower in energy than the thermal structure (the vibrations averaged out),
    closer to the inherent structure than the thermal one, while a random shift of the same size
    raises the energy.  One replica's end point (no average), a displacement added twice or a
    wrap in the wrong box fails this.  The protocol is recorded; a rerun computes nothing."""
    path = tmp_path / "c.zarr"
    _copy(reference_store, path)
    opts = CageOptions(replicas=4, seed=3)
    report = add_cage_states(path, options=opts, workers=0, progress=False)
    assert [len(s.computed) for s in report.states] == [3, 3]
    sp = Store.open(path).state(0.8)
    rec = sp.attrs["cage"]
    assert rec["protocol"] == opts.as_dict() and rec["protocol"]["ensemble"] == "nve"
    assert rec["runs"][-1]["status"] == "complete" and rec["runs"][-1]["computed"] == 3
    rng = np.random.default_rng(0)
    for T in (0.8, 1.0):
        sp = Store.open(path).state(T)
        assert sp.cage_done.all()
        for c in range(3):
            x, t, box, xc, xi = (
                sp.read(k, c).astype(np.float64)
                for k in (
                    keys.THERMAL_POSITIONS,
                    keys.TYPES,
                    keys.BOX,
                    keys.CAGE_POSITIONS,
                    keys.INHERENT_POSITIONS,
                )
            )
            t = t.astype(np.int64)
            shift = _rms(xc, x, box)
            assert 0.05 < shift < 0.3  # vibrations of amplitude ~0.1 sigma averaged out
            assert np.all((xc >= 0) & (xc < box))
            r = rng.normal(size=x.shape)
            r *= shift / np.sqrt(np.mean(np.sum(r**2, axis=1)))
            e_th = particle_energies(x, t, box).mean()
            e_cage = particle_energies(xc, t, box).mean()
            e_rand = particle_energies((x + r) % box, t, box).mean()
            assert e_cage < e_th - 0.5 and e_rand > e_th + 1.0, (e_th, e_cage, e_rand)
            assert _rms(xc, xi, box) < _rms(x, xi, box)
    before = Store.open(path).state(0.8).read(keys.CAGE_POSITIONS)
    again = add_cage_states(path, workers=0, progress=False)  # the recorded protocol
    assert [s.already for s in again.states] == [3, 3]
    assert not any(s.computed for s in again.states)
    np.testing.assert_array_equal(Store.open(path).state(0.8).read(keys.CAGE_POSITIONS), before)
    # another protocol on a store that has cage states: refused, one line, nothing written
    assert main(["cage", str(path), "--replicas", "8", "--workers", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another protocol" in err and "'replicas': (4, 8)" in err
    assert main(["info", str(path)]) == 0
    assert "cage states: 3/3 completed configurations" in capsys.readouterr().out


def test_cage_in_an_orthorhombic_box_of_imported_data(tmp_path, reference_store):
    """An imported configuration in a box doubled along x with shuffled species: the cage state
    uses that box (unwrapped displacements of particles crossing a face: a shift by the wrong
    length would put them far from their start) and those types."""
    sp0 = reference_store.state(0.8)
    x, t, box = (sp0.read(k, 0) for k in (keys.THERMAL_POSITIONS, keys.TYPES, keys.BOX))
    x2 = np.concatenate([x, x + np.array([box[0], 0, 0], dtype=np.float32)])
    t2 = np.concatenate([t, t])
    perm = np.random.default_rng(0).permutation(len(t2))
    box2 = box * np.array([2.0, 1.0, 1.0])
    store = Store.create(tmp_path / "d.zarr")
    sp = store.create_state(0.8, n_configs=1, n_particles=len(t2), fields=[keys.THERMAL_POSITIONS])
    sp.write(0, **{keys.TYPES: t2[perm], keys.BOX: box2, keys.THERMAL_POSITIONS: x2[perm]})
    sp.mark_done(0)
    with pytest.raises(StoreError, match="has no cage/positions; run `glassdyn cage"):
        sp.read(keys.CAGE_POSITIONS, 0)
    store.create_state(0.8, n_configs=1, n_particles=len(t2), fields=[keys.CAGE_POSITIONS])
    with pytest.raises(StoreError, match="configuration 0 has no cage state; run `glassdyn cage"):
        sp.read(keys.CAGE_POSITIONS, 0)  # the array without its flag: not a cage state yet
    add_cage_states(tmp_path / "d.zarr", options=CageOptions(replicas=2), workers=0, progress=False)
    sp = Store.open(tmp_path / "d.zarr").state(0.8)
    xc = sp.read(keys.CAGE_POSITIONS, 0).astype(np.float64)
    d = np.linalg.norm(minimum_image(xc - x2[perm], box2), axis=1)
    assert d.max() < 1.0 and 0.05 < np.sqrt(np.mean(d**2)) < 0.3
    e = particle_energies(xc, t2[perm].astype(np.int64), box2).mean()
    assert e < particle_energies(x2[perm].astype(np.float64), t2[perm], box2).mean() - 0.5


@pytest.mark.slow  # 8 s: resume is also checked fast (a rerun computes nothing)
def test_kill_9_then_resume_gives_identical_arrays(tmp_path, reference_store):
    """Kill a real `glassdyn cage` after its first configuration; the rerun takes over the stale
    lock, computes only what is missing, and the arrays equal an uninterrupted run's (on two dask
    workers) bitwise."""
    ref = _copy(reference_store, tmp_path / "ref.zarr")
    out = _copy(reference_store, tmp_path / "kill.zarr").path
    add_cage_states(ref.path, temperatures=[0.8], workers=2, progress=False)
    cmd = [sys.executable, "-m", "glassdyn.cli", "cage", str(out), "--temperatures", "0.8"]
    cmd += ["--workers", "0", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
            try:
                n = int(Store.open(out, while_written=True).state(0.8).cage_done.sum())
            except Exception:
                continue
            if n >= 1:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert lock_path(out).exists()
    killed = Store.open(out).state(0.8)
    n_done = int(killed.cage_done.sum())
    assert 1 <= n_done < 3 and killed.attrs["cage"]["runs"][-1]["status"] == "running"
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{3 - n_done} cage states computed, {n_done} already had one" in res.stdout
    a, b = Store.open(ref.path).state(0.8), Store.open(out).state(0.8)
    np.testing.assert_array_equal(a.read(keys.CAGE_POSITIONS), b.read(keys.CAGE_POSITIONS))
    assert b.cage_done.all() and not lock_path(out).exists()
    assert not Store.open(out).state(1.0).cage_done.any()  # not asked for


@pytest.mark.parametrize(
    "args, message",
    [
        (["--replicas", "0"], "--replicas must be >= 1, got 0"),
        (["--time", "nan"], "--time must be positive, got nan"),
        (["--every", "2"], "--every (2) must not exceed --time (1)"),
    ],
)
def test_bad_protocol_is_one_line(tmp_path, reference_store, capsys, args, message):
    path = _copy(reference_store, tmp_path / "b.zarr").path
    assert main(["cage", str(path), *args, "--workers", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not Store.open(path).state(0.8).has(keys.CAGE_POSITIONS)


def test_options_reject_bad_values():
    with pytest.raises(InputError, match="--ensemble must be nve or nvt"):
        CageOptions(ensemble="npt")
    assert list(CageOptions(time=0.1, every=0.05, dt=0.005).sample_steps()) == [10, 20]
