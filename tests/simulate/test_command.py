"""``glassdyn simulate``: argument handling and errors (LAMMPS-free checks run first)."""

import numpy as np
import pytest

from glassdyn.cli import main


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--configs", "-2"], "--configs must be >= 0"),
        (["--replicas", "-1"], "--replicas must be >= 0"),
        (["--particles", "50"], "shorter than twice the cutoff"),
        (["--temperatures", "0.8,-0.5"], "--temperatures must be positive"),
        (["--workers", "-1"], "--workers must be >= 0"),
    ],
)
def test_bad_arguments_exit_2_with_message(tmp_path, capsys, extra, message):
    code = main(["simulate", "--out", str(tmp_path / "x.zarr"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.zarr").exists()


@pytest.mark.lammps
def test_cli_runs_a_dataset_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "cli.zarr"
    args = [
        "simulate",
        "--preset",
        "ci",
        "--out",
        str(out),
        "--workers",
        "0",
        "--configs",
        "1",
        "--temperatures",
        "1.0",
        "--replicas",
        "2",
        "--times",
        "0.1,0.5",
        "--no-inherent",
        "--no-progress",
        "--seed",
        "3",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert (
        "T=1" in printed and "configurations 1/1 complete" in printed and "replicas R=2" in printed
    )
    from glassdyn.data import keys
    from glassdyn.data.store import Store

    sp = Store.open(out).state(1.0)
    assert not sp.has(keys.INHERENT_POSITIONS)
    np.testing.assert_allclose(sp.times, [0.1, 0.5])
    assert Store.open(out).attrs["runs"][0]["command"] is not None
    # a different setting on the same store is refused with a clear message
    assert main([*args[:-2], "--seed", "4"]) == 2
    assert "--seed 3" in capsys.readouterr().err


@pytest.mark.lammps
def test_botan_preset_starts(tmp_path):
    """The cluster-scale preset creates its full store layout and starts its first units."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from glassdyn.data import keys
    from glassdyn.data.store import Store

    out = tmp_path / "botan.zarr"
    cmd = [
        sys.executable,
        "-m",
        "glassdyn.cli",
        "simulate",
        "--preset",
        "botan",
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.time() + 120
        started = False
        while time.time() < deadline and proc.poll() is None and not started:
            time.sleep(0.5)
            try:
                store = Store.open(out)
                started = (
                    len(store.temperatures) == 6 and store.attrs["runs"][-1]["status"] == "running"
                )
            except Exception:
                continue
        time.sleep(2.0)  # let the first unit start running LAMMPS
        alive = proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert started and alive, proc.stderr.read().decode()[-2000:]
    sp = Store.open(out).state(0.44)
    assert sp.array(keys.ISO_DISPLACEMENTS).shape == (500, 32, 10, 4096, 3)
    np.testing.assert_allclose(
        sp.times, [0.13, 1.3, 13, 130, 412, 1300, 4120, 13000, 41200, 130000], rtol=0.02
    )
    assert Store.open(out).state(0.8).attrs["tau_alpha_estimate"] == pytest.approx(2.6)
