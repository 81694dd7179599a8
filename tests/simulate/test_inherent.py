"""``glassdyn quench``: inherent structures for stores that lack them (real LAMMPS, N <= 512)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.lock import lock_path
from glassdyn.data.store import Store
from glassdyn.simulate.inherent import add_inherent_structures as quench
from glassdyn.simulate.ka import forces as ka_forces
from glassdyn.simulate.ka import particle_energies
from glassdyn.simulate.protocols import MinimizerOptions
from glassdyn.simulate.runner import simulate
from glassdyn.simulate.testing import ci_settings

from glassdyn.cli import main

pytestmark = pytest.mark.lammps

CI_FIRE = MinimizerOptions(ftol=1e-6)  # the ci preset's minimiser


def _structures_store(path, positions, types, box, temperature=0.8) -> Store:
    """A store as an importer of structure files writes it: thermal positions only."""
    store = Store.create(path)
    C, N = positions.shape[:2]
    sp = store.create_state(
        temperature,
        n_configs=C,
        n_particles=N,
        fields=[keys.THERMAL_POSITIONS],
        attrs={"import": {"format": "test"}},
    )
    for c in range(C):
        sp.write(
            c, **{keys.TYPES: types[c], keys.BOX: box[c], keys.THERMAL_POSITIONS: positions[c]}
        )
        sp.mark_done(c)
    return store


def test_quench_equals_simulate_bitwise(tmp_path, capsys):
    """A store simulated without IS, then quenched with the same FIRE options, holds exactly the IS
    that `simulate` writes itself (one minimiser, the stored float32 start, a fresh instance)."""
    settings = ci_settings(n_configs=1, n_replicas=0, temperatures=(0.8,))
    with_is = simulate(settings, tmp_path / "a.zarr", seed=3, workers=0, progress=False)
    without = simulate(
        settings.replace(inherent=False), tmp_path / "b.zarr", seed=3, workers=0, progress=False
    )
    assert not without.state(0.8).has(keys.INHERENT_POSITIONS)
    assert main(["info", str(tmp_path / "b.zarr")]) == 0
    out = capsys.readouterr().out
    assert (
        "inherent structures: 0/1 completed configurations (add the others with `glassdyn quench"
        in out
    )
    report = quench(
        tmp_path / "b.zarr", options=CI_FIRE, workers=1, progress=False
    )  # a dask worker
    assert [len(s.quenched) for s in report.states] == [1] and not report.unconverged
    a, b = with_is.state(0.8), Store.open(tmp_path / "b.zarr").state(0.8)
    for path in (keys.INHERENT_POSITIONS, keys.INHERENT_ENERGY, keys.INHERENT_MAX_FORCE):
        np.testing.assert_array_equal(a.read(path), b.read(path))
    assert b.inherent_done.all()
    assert main(["info", str(tmp_path / "b.zarr")]) == 0
    assert "inherent structures: 1/1 completed configurations\n" in capsys.readouterr().out
    rec = b.attrs["quench"]
    assert rec["minimizer"]["style"] == "fire" and rec["minimizer"]["ftol"] == 1e-6
    assert rec["runs"][-1]["status"] == "complete" and rec["runs"][-1]["quenched"] == 1
    assert rec["runs"][-1]["workers"] == 1 and len(rec["runs"]) == 1
    # rerun: nothing to do; another minimiser on a store that has IS is refused
    again = quench(tmp_path / "b.zarr", options=CI_FIRE, workers=0, progress=False)
    assert again.states[0].already == 1 and not again.states[0].quenched
    with pytest.raises(InputError, match="another minimiser"):
        quench(tmp_path / "a.zarr", options=MinimizerOptions(ftol=1e-9), workers=0, progress=False)


def test_quench_uses_each_configurations_types_and_box(tmp_path, reference_store):
    """Imported data: shuffled species order and an orthorhombic box (the configuration doubled
    along x).  The IS is a true minimum of the numpy KA energy, and equals the permuted /
    doubled IS of the original up to round-off."""
    sp0 = reference_store.state(0.8)
    x, t, box = (sp0.read(k, 0) for k in (keys.THERMAL_POSITIONS, keys.TYPES, keys.BOX))
    perm = np.random.default_rng(0).permutation(len(t))
    x2 = np.concatenate([x, x + np.array([box[0], 0, 0], dtype=np.float32)])
    t2 = np.concatenate([t, t])
    box2 = box * np.array([2.0, 1.0, 1.0])
    _structures_store(tmp_path / "p.zarr", x[perm][None], t[perm][None], box[None])
    _structures_store(tmp_path / "d.zarr", x2[None], t2[None], box2[None])
    ref = quench(tmp_path / "p.zarr", workers=0, progress=False)  # default FIRE, ftol 1e-8
    quench(tmp_path / "d.zarr", workers=0, progress=False)
    assert not ref.unconverged
    p = Store.open(tmp_path / "p.zarr").state(0.8)
    d = Store.open(tmp_path / "d.zarr").state(0.8)
    xi = p.read(keys.INHERENT_POSITIONS, 0)
    # a minimum of the KA energy with these types in this box (independent numpy forces)
    assert np.abs(ka_forces(xi, t[perm], box)).max() < 2e-3  # float32 positions: ~1e-4 scale
    e_numpy = particle_energies(xi, t[perm], box).mean()
    assert abs(e_numpy - p.read(keys.INHERENT_ENERGY, 0)) < 1e-5
    # doubling the box along x doubles the minimum: same energy per particle, same positions
    xd = d.read(keys.INHERENT_POSITIONS, 0)
    assert abs(d.read(keys.INHERENT_ENERGY, 0) - p.read(keys.INHERENT_ENERGY, 0)) < 1e-7
    inv = np.argsort(perm)
    ref_pos = xi[inv]
    delta = (xd[: len(t)] - ref_pos + box / 2) % box - box / 2
    assert np.abs(delta).max() < 1e-3
    # ... while quenching in the wrong (cubic) box would not be a minimum of the doubled system
    assert np.abs(ka_forces(xd[: len(t)], t, box)).max() < 2e-3


def test_unconverged_configurations_are_reported_not_stored(tmp_path, capsys):
    settings = ci_settings(n_configs=1, n_replicas=0, temperatures=(0.8,), inherent=False)
    simulate(settings, tmp_path / "u.zarr", seed=1, workers=0, progress=False)
    report = quench(
        tmp_path / "u.zarr",
        options=MinimizerOptions(maxiter=5, maxeval=10),
        workers=0,
        progress=False,
    )
    (bad,) = report.unconverged
    assert bad.config == 0 and bad.max_force > 1e-8 and bad.iterations <= 5
    assert any("did not converge" in line for line in report.lines())
    assert any("NOT stored" in line for line in report.lines())
    sp = Store.open(tmp_path / "u.zarr").state(0.8)
    assert not sp.inherent_done[0] and sp.attrs["quench"]["runs"][-1]["unconverged"] == {
        "0": bad.max_force
    }
    assert np.isnan(sp.array(keys.INHERENT_POSITIONS)[0]).all()
    with pytest.raises(StoreError, match="no converged inherent structure.*glassdyn quench"):
        sp.read(keys.INHERENT_POSITIONS, 0)
    # a rerun retries it with the recorded minimiser: reported again, exit status 1
    assert main(["quench", str(tmp_path / "u.zarr"), "--workers", "0", "--no-progress"]) == 1
    assert "did not converge" in capsys.readouterr().err
    # no IS is stored yet, so other options are allowed: the default FIRE converges
    assert not quench(
        tmp_path / "u.zarr", options=MinimizerOptions(), workers=0, progress=False
    ).unconverged
    assert Store.open(tmp_path / "u.zarr").state(0.8).inherent_done[0]


def test_kill_9_then_resume_gives_identical_arrays(tmp_path, reference_store):
    """Kill a real `glassdyn quench` after its first configuration; the
    rerun takes over the stale lock, quenches only what is missing, and the arrays equal an
    uninterrupted run's bitwise."""
    sp0 = reference_store.state(0.8)
    x, t, box = (sp0.read(k, 0) for k in (keys.THERMAL_POSITIONS, keys.TYPES, keys.BOX))
    rng = np.random.default_rng(1)
    C = 6
    xs = np.stack([(x + rng.normal(scale=0.02, size=x.shape)) % box for _ in range(C)]).astype(
        np.float32
    )
    for name in ("ref.zarr", "kill.zarr"):
        _structures_store(tmp_path / name, xs, np.stack([t] * C), np.stack([box] * C))
    quench(tmp_path / "ref.zarr", workers=0, progress=False)
    out = tmp_path / "kill.zarr"
    cmd = [
        sys.executable,
        "-m",
        "glassdyn.cli",
        "quench",
        str(out),
        "--workers",
        "0",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
            try:
                n = int(Store.open(out, while_written=True).state(0.8).inherent_done.sum())
            except Exception:
                continue
            if n >= 1:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert lock_path(out).exists()  # left behind by the killed driver
    killed = Store.open(out).state(0.8)
    n_done = int(killed.inherent_done.sum())
    assert 1 <= n_done < C
    assert (
        killed.attrs["quench"]["runs"][-1]["status"] == "running"
    )  # the killed run never finished
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{C - n_done} quenched, {n_done} already had" in res.stdout
    a, b = Store.open(tmp_path / "ref.zarr").state(0.8), Store.open(out).state(0.8)
    for path in (keys.INHERENT_POSITIONS, keys.INHERENT_ENERGY, keys.INHERENT_MAX_FORCE):
        np.testing.assert_array_equal(a.read(path), b.read(path))
    assert b.inherent_done.all() and not lock_path(out).exists()
    runs = b.attrs["quench"]["runs"]
    assert [r["status"] for r in runs] == ["running", "complete"] and runs[1][
        "to_quench"
    ] == C - n_done


def test_import_botan_with_quench(tmp_path, reference_store, capsys):
    """`import botan --quench`: BOTAN files exported from the reference store come back with
    inherent structures at the reference's (ftol 1e-6 there, 1e-8 here: same minimum)."""
    from glassdyn.data.npz_datasets import export_botan

    ref = reference_store.state(0.8)
    export_botan(ref, tmp_path / "botan")
    times = ",".join(str(v) for v in ref.times)
    argv = [
        "import",
        "botan",
        str(tmp_path / "botan"),
        "--out",
        str(tmp_path / "s.zarr"),
        "--times",
        times,
    ]
    assert main([*argv, "--quench", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "3 quenched" in out and "did not converge" in out
    sp = Store.open(tmp_path / "s.zarr").state(0.8)
    np.testing.assert_allclose(
        sp.read(keys.INHERENT_POSITIONS), ref.read(keys.INHERENT_POSITIONS), atol=2e-4
    )
    np.testing.assert_allclose(
        sp.read(keys.INHERENT_ENERGY), ref.read(keys.INHERENT_ENERGY), atol=1e-7
    )
    assert np.all(sp.read(keys.INHERENT_MAX_FORCE) <= 1e-8)


def test_command_errors_are_one_line(tmp_path, capsys):
    assert main(["quench", str(tmp_path / "none.zarr")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no store at" in err
    assert (
        main(
            ["import", "extxyz", str(tmp_path), "--out", str(tmp_path / "x.zarr"), "--workers", "2"]
        )
        == 2
    )
    assert "--workers / --scheduler apply with --quench only" in capsys.readouterr().err
    assert not (tmp_path / "x.zarr").exists()
