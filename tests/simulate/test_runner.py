"""The dask runner: completeness, reproducibility, worker-count independence, kill-and-resume."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.store import Store
from glassdyn.simulate.runner import simulate, unit_rng
from glassdyn.simulate.testing import CI_TIMES as TIMES
from glassdyn.simulate.testing import assert_same_arrays
from glassdyn.simulate.testing import ci_settings as reference_settings

pytestmark = pytest.mark.lammps


def test_reference_store_is_complete_and_recorded(reference_store):
    attrs = reference_store.attrs
    assert (
        attrs["seed"] == 7 and attrs["lammps_version"] and attrs["runs"][-1]["status"] == "complete"
    )
    for sp in reference_store.states():
        assert np.all(sp.done)
        a = sp.attrs
        assert (
            a["n_particles"] == 256 and a["n_a"] == 205 and a["density"] == 1.2 and a["dt"] == 0.005
        )
        assert a["potential"]["eps_ab"] == 1.5 and "shift yes" in a["potential"]["pair_style"]
        assert a["thermostat"]["tdamp"] == 0.5 and a["replica_ensemble"] == "nve"
        assert a["minimizer"]["style"] == "fire" and a["minimizer"]["ftol"] == 1e-6
        assert a["times"] == list(TIMES) and a["n_replicas"] == 3 and a["tau_alpha_estimate"] > 0
        assert a["seeds"]["seed"] == 7 and "lammps_version" in a
        np.testing.assert_array_equal(sp.times, TIMES)
        types = sp.read(keys.TYPES)
        assert types.shape == (3, 256) and np.all((types == 0).sum(axis=1) == 205)
        pos = sp.read(keys.THERMAL_POSITIONS)
        assert pos.min() >= 0 and np.all(pos < sp.read(keys.BOX)[:, None, :])
        disp = sp.read(keys.ISO_DISPLACEMENTS)
        assert disp.shape == (3, 3, 4, 256, 3)
        # propensity is the replica mean of |dr|
        np.testing.assert_allclose(
            sp.read(keys.ISO_PROPENSITY), np.linalg.norm(disp, axis=-1).mean(axis=1), rtol=1e-6
        )
        # independent configurations and replicas
        assert not np.array_equal(pos[0], pos[1]) and not np.array_equal(disp[0, 0], disp[0, 1])


def test_same_seed_identical_other_seed_different(tmp_path, reference_store):
    settings = reference_settings(n_configs=1).replace(temperatures=(0.8,))
    a = simulate(settings, tmp_path / "a.zarr", seed=7, workers=0, progress=False)
    # row 0 at T=0.8 equals the reference: arrays depend on (seed, T, c) only, not on C or the other T
    for path in (keys.THERMAL_POSITIONS, keys.INHERENT_POSITIONS, keys.ISO_DISPLACEMENTS):
        np.testing.assert_array_equal(
            a.state(0.8).read(path, 0), reference_store.state(0.8).read(path, 0)
        )
    b = simulate(settings, tmp_path / "b.zarr", seed=8, workers=0, progress=False)
    assert not np.array_equal(
        b.state(0.8).read(keys.THERMAL_POSITIONS, 0), a.state(0.8).read(keys.THERMAL_POSITIONS, 0)
    )


def test_one_local_worker_gives_identical_arrays(tmp_path, reference_store):
    settings = reference_settings(n_configs=2).replace(temperatures=(0.8,))
    store = simulate(settings, tmp_path / "w1.zarr", seed=7, workers=1, progress=False)
    assert store.attrs["runs"][-1]["workers"] == 1
    assert_same_arrays(reference_store, store)


def test_two_workers_on_a_scheduler_give_identical_arrays(tmp_path, reference_store):
    """--scheduler ADDRESS with a 2-worker cluster, one replica per unit: same arrays."""
    import logging

    from dask.distributed import LocalCluster

    settings = reference_settings(n_configs=2).replace(replica_block=1, temperatures=(0.8,))
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:
        store = simulate(
            settings,
            tmp_path / "w2.zarr",
            seed=7,
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert store.attrs["runs"][-1]["scheduler"].startswith("tcp://")
    assert_same_arrays(reference_store, store)


def test_kill_and_resume_gives_every_configuration_once_and_identical(tmp_path, reference_store):
    out = tmp_path / "killed.zarr"
    cmd = [
        sys.executable,
        "-m",
        "glassdyn.cli",
        "simulate",
        "--preset",
        "ci",
        "--out",
        str(out),
        "--configs",
        "3",
        "--temperatures",
        "0.8",
        "--times",
        ",".join(map(str, TIMES)),
        "--seed",
        "7",
        "--workers",
        "1",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 300
    n_done = 0
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                store = Store.open(out, while_written=True)  # watching, as `info` does
                n_done = sum(int(sp.done.sum()) for sp in store.states())
            except Exception:
                continue
            if n_done >= 1:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its dask workers, all at once
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    killed = Store.open(out)
    missing = sum(len(sp.missing) for sp in killed.states())
    assert 0 < missing < 3
    assert killed.attrs["runs"][-1]["status"] == "running"  # the killed run never finished
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "3/3 complete" in res.stdout
    resumed = Store.open(out)
    runs = resumed.attrs["runs"]
    assert len(runs) == 2 and runs[1]["status"] == "complete"
    assert runs[1]["configurations_to_compute"] == missing == runs[1]["configurations_computed"]
    assert_same_arrays(reference_store, resumed)


def test_resume_refuses_other_settings_or_seed(reference_store):
    path = reference_store.path
    with pytest.raises(InputError, match="other settings.*n_particles"):
        simulate(
            reference_settings().replace(n_particles=300), path, seed=7, workers=0, progress=False
        )
    with pytest.raises(InputError, match="seed"):
        simulate(reference_settings(), path, seed=8, workers=0, progress=False)
    with pytest.raises(InputError, match="n_configs"):
        simulate(reference_settings(n_configs=5), path, seed=7, workers=0, progress=False)
    # the same command on a complete store computes nothing and logs the run
    store = simulate(reference_settings(), path, seed=7, workers=0, progress=False)
    assert store.attrs["runs"][-1]["configurations_computed"] == 0


def test_refuses_foreign_store(tmp_path):
    from glassdyn.testing import write_synthetic_store

    write_synthetic_store(tmp_path / "syn.zarr", n_particles=64)
    with pytest.raises(StoreError, match="not written by `glassdyn simulate`"):
        simulate(reference_settings(), tmp_path / "syn.zarr", workers=0, progress=False)


def test_unit_rng_is_deterministic_and_distinct():
    a = unit_rng(1, 0.8, 3, 0).random(4)
    assert np.array_equal(a, unit_rng(1, 0.8, 3, 0).random(4))
    for other in (
        unit_rng(2, 0.8, 3, 0),
        unit_rng(1, 0.64, 3, 0),
        unit_rng(1, 0.8, 4, 0),
        unit_rng(1, 0.8, 3, 1),
    ):
        assert not np.array_equal(a, other.random(4))


def _chunk_files(store_path, temperature, path, config):
    """The chunk files of row ``config`` of array ``path`` (zarr 3 default layout ``c/i/...``)."""
    from glassdyn.data.keys import group_name

    root = store_path / group_name(temperature) / path / "c" / str(config)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]


def test_damaged_configuration_is_named_and_recomputed(tmp_path, reference_store):
    """A done configuration whose chunk cannot be decoded (or is lost) is recomputed on rerun,
    bit-identical to the original; readers name the array and the configuration meanwhile."""
    import shutil

    out = tmp_path / "damaged.zarr"
    shutil.copytree(reference_store.path, out)
    bad = _chunk_files(out, 0.8, keys.ISO_DISPLACEMENTS, 1)
    bad[1].write_bytes(b"not a zstd frame")  # replica 1 of configuration 1
    _chunk_files(out, 1.0, keys.INHERENT_ENERGY, 2)[0].unlink()  # a lost chunk reads as NaN
    sp = Store.open(out).state(0.8)
    with pytest.raises(
        StoreError, match=r"T0.800/isoconfig/displacements: configuration 1 cannot be read"
    ):
        sp.read(keys.ISO_DISPLACEMENTS)
    lines = []
    store = simulate(reference_settings(), out, seed=7, workers=0, progress=False, log=lines.append)
    assert (
        lines[0] == "T=1 configuration 2: inherent/energy is not on disk (deleted?); recomputing it"
    )
    assert lines[1].startswith(
        "T=0.8 configuration 1: isoconfig/displacements cannot be read (RuntimeError"
    )
    assert lines[2] == "plan: 2 configuration(s) of N=256 to compute"
    assert store.attrs["runs"][-1]["configurations_computed"] == 2
    assert_same_arrays(reference_store, store)


def test_second_writer_of_a_store_is_refused(tmp_path, capsys):
    """Two real processes: `glassdyn simulate` running, and a second simulate of the same store."""
    from glassdyn.data.lock import lock_path

    from glassdyn.cli import main

    out = tmp_path / "busy.zarr"
    args = [
        "simulate",
        "--preset",
        "ci",
        "--out",
        str(out),
        "--configs",
        "2",
        "--temperatures",
        "0.8",
        "--workers",
        "0",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "glassdyn.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 60
        while not lock_path(out).exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, first.stderr.read().decode()[-2000:]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert f"store {out} is being written by another process (pid {first.pid}" in err
        assert len(err.splitlines()) == 1
    finally:
        rc = first.wait(timeout=300)
    assert rc == 0 and not lock_path(out).exists()
    assert Store.open(out).state(0.8).done.all()
