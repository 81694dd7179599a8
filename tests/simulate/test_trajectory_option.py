"""`glassdyn simulate --trajectory BLOCKS`: one long run per configuration, dumped on a
block-periodic log schedule whose lags from a block start are the isoconfigurational times."""

import numpy as np
import pytest
from glassdyn.simulate.presets import get_preset
from glassdyn.simulate.testing import CI_TIMES


def test_trajectory_steps_repeat_the_sampling_steps():
    s = get_preset("ci").replace(times=CI_TIMES, trajectory_blocks=3)
    sample = s.sample_steps(1.0)
    steps = s.trajectory_steps(1.0)
    period = sample[-1]
    block = np.concatenate([[0], sample[:-1]])
    np.testing.assert_array_equal(
        steps, np.append(np.concatenate([b * period + block for b in range(3)]), 3 * period)
    )
    # old stores (simulated before the option existed) still resume: no new key when unused
    assert "trajectory_blocks" not in get_preset("ci").physics()
    assert s.physics()["trajectory_blocks"] == 3
    with pytest.raises(Exception, match="--trajectory must be >= 0"):
        s.replace(trajectory_blocks=-1)


@pytest.mark.lammps
def test_simulate_writes_a_trajectory_that_analyze_reads(tmp_path, capsys):
    from glassdyn.analysis.lags import plan_lags
    from glassdyn.data import keys
    from glassdyn.data.box import wrap
    from glassdyn.data.store import Store
    from glassdyn.data.trajectory import open_trajectory

    from glassdyn.cli import main

    store = tmp_path / "s.zarr"
    argv = [
        "simulate",
        "--preset",
        "ci",
        "--out",
        str(store),
        "--configs",
        "1",
        "--temperatures",
        "1.0",
        "--times",
        ",".join(map(str, CI_TIMES)),
        "--replicas",
        "2",
        "--trajectory",
        "3",
        "--workers",
        "0",
        "--no-progress",
        "--no-inherent",
    ]
    assert main(argv) == 0
    assert "trajectories:" in capsys.readouterr().out
    sp = Store.open(store).state(1.0)
    info = sp.attrs["trajectory"]
    path = tmp_path / "s.zarr.trajectories" / "T1.000" / "config0000.lammpstrj"
    tr = open_trajectory(path)
    assert tr.n_frames == info["frames"] == 3 * 4 + 1 and tr.unwrap == "unwrapped"
    assert tr.time_source == "ITEM: TIME of the dump"  # no --dt needed
    settings = get_preset("ci").replace(times=CI_TIMES, trajectory_blocks=3)
    np.testing.assert_allclose(tr.times, settings.trajectory_steps(1.0) * settings.dt, rtol=1e-12)
    # the run starts from the stored thermal configuration
    ((_, x0),) = [next(tr.chunks(1))]
    np.testing.assert_allclose(wrap(x0[0], tr.box), sp.read(keys.THERMAL_POSITIONS, 0), atol=1e-6)
    # lags from block starts are the isoconfigurational times (compare chi4 time by time)
    plan = plan_lags([tr.times], origins="blocks", min_origins=1, max_lags=100)
    for t in sp.times:
        assert np.min(np.abs(plan.lags - t)) < 1e-9
    assert plan.n_origins[np.argmin(np.abs(plan.lags - sp.times[-1]))] == 3
    # rerunning resumes: nothing left to do, the file is kept as is
    before = path.read_bytes()
    assert main(argv) == 0
    assert path.read_bytes() == before
    assert not list(path.parent.glob("*.partial"))


def test_trajectory_cannot_be_added_to_an_existing_store_and_the_refusal_says_what_to_do(tmp_path):
    from glassdyn.data.errors import InputError
    from glassdyn.simulate.runner import open_store

    plain = get_preset("ci").replace(n_configs=1)
    open_store(tmp_path / "s.zarr", plain, 0, "test")
    with pytest.raises(InputError) as err:
        open_store(tmp_path / "s.zarr", plain.replace(trajectory_blocks=20), 0, "test")
    text = str(err.value)
    assert "cannot be added" in text and "new --out with --trajectory 20" in text
