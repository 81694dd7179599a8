"""``glassdyn simulate``: argument handling and errors (LAMMPS-free checks run first)."""

import numpy as np
import pytest

from glassdyn.cli import main


def _exit_code(argv) -> int:
    """main's return value, or the code of argparse's exit for a malformed option."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--configs", "-2"], "--configs must be >= 0"),
        (["--replicas", "-1"], "--replicas must be >= 0"),
        (["--particles", "50"], "shorter than twice the cutoff"),
        (
            ["--temperatures", "0.8,-0.5"],
            "argument --temperatures: '-0.5' in '0.8,-0.5' must be positive",
        ),
        (["--temperatures", "inf"], "argument --temperatures: 'inf' in 'inf' is not finite"),
        (["--temperatures", "nan"], "'nan' in 'nan' is not finite"),
        (["--temperatures", "0.8,,0.6"], "empty field 2 in '0.8,,0.6'"),
        (["--temperatures", "0.8,"], "empty field 2 in '0.8,'"),
        (["--times", "0.1,1e999"], "argument --times: '1e999' in '0.1,1e999' is not finite"),
        (["--density", "inf"], "density must be positive and finite"),
        (["--equilibration-tau", "nan"], "--equilibration-tau must be >= 0 and finite"),
        (["--workers", "-1"], "--workers must be >= 0"),
        # below the tau_alpha table the estimate explodes: refused before anything is written
        (["--temperatures", "0.3"], "T=0.3: equilibration of 2 x tau_alpha(0.3)"),
        (["--temperatures", "0.3"], "set the length explicitly with --equilibration-time"),
        (
            ["--temperatures", "0.3", "--equilibration-time", "100"],
            "give the sampling times explicitly with --times",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, message):
    code = _exit_code(["simulate", "--preset", "ci", "--out", str(tmp_path / "x.zarr"), *extra])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.zarr").exists()  # nothing created, not even a T=inf group
    assert not (tmp_path / "x.zarr.lock").exists()


def test_explicit_lengths_pass_the_limit():
    from glassdyn.data.errors import InputError
    from glassdyn.simulate.cost import MAX_RUN_STEPS, check_limits, describe, plan_state
    from glassdyn.simulate.presets import get_preset

    cold = get_preset("ci").replace(temperatures=(0.3,))
    with pytest.raises(InputError, match="--equilibration-time"):
        check_limits(cold)
    with pytest.raises(InputError, match="--times"):
        check_limits(cold.replace(equilibration_fixed_time=100.0))
    check_limits(
        cold.replace(equilibration_fixed_time=100.0, times=(0.1, 1.0), times_temperature=None)
    )
    check_limits(cold.replace(equilibration_fixed_time=100.0, n_replicas=0))
    # the shipped presets stay under the limit, the cluster-scale one included
    check_limits(get_preset("botan"))
    # the limit is on steps: the longest BOTAN replica (t=130000 at T=0.44) is 2.6e7 steps
    p = plan_state(get_preset("botan"), 0.44, 500)
    assert p.replica_steps == 26_000_000 and p.replica_steps < MAX_RUN_STEPS
    assert p.equilibration_steps == round(10 * 4000 / 0.005)
    # the plan of `tiny` by hand (dt 0.005, N=256, tau_alpha 3.6 at T=0.8 and 10.9 at 0.64): melt
    # 10/dt + 1000 push-off, NVT 10 tau/dt, FIRE ~280 sqrt(256) = 4480, 4 replicas x 3 tau/dt
    per_config = {0.8: 3000 + 7200 + 4480 + 4 * 2160, 0.64: 3000 + 21800 + 4480 + 4 * 6540}
    tiny = get_preset("tiny")
    plans = [plan_state(tiny, T, 3) for T in tiny.temperatures]
    assert {p.temperature: p.steps_per_config for p in plans} == per_config
    lines = describe(plans, workers=2)
    total = 3 * 256 * sum(per_config.values())  # 6.05e7 atom-steps: 29 s at 2.1 M/s, 14 s on two
    assert lines[0] == "plan: 6 configuration(s) of N=256 to compute"
    assert (
        "  T=0.64: 3 x (melt 3000 + NVT 21800 (tau_alpha ~ 10.9) + FIRE ~4480 + 4 replicas x 6540 steps)"
        in lines
    )
    assert (
        lines[-1]
        == f"  total {total:.3g} atom-steps: ~29 s on one core (at ~2.1 M atom-steps/s per core), ~14 s on 2 workers"
    )
    assert describe([plan_state(tiny, 0.8, 0)], workers=1)[0].endswith("nothing to compute")
    # --trajectory 5: one more run of 5 sampling periods per configuration, counted and limited
    traj = plan_state(tiny.replace(trajectory_blocks=5), 0.8, 3)
    assert traj.trajectory_steps == 5 * 2160
    assert traj.steps_per_config == per_config[0.8] + 5 * 2160
    assert any("+ trajectory 10800 steps)" in line for line in describe([traj], workers=1))
    with pytest.raises(InputError, match="--trajectory 100000 blocks .* fewer blocks"):
        check_limits(tiny.replace(trajectory_blocks=100_000))


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
@pytest.mark.slow  # 7 s: the N=4096 preset starting
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
                store = Store.open(out, while_written=True)  # watching, as `info` does
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
