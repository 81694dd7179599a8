"""The run toolkit (glassdyn.data.runs): atomic files, JSON, resume policy, run directory life."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from glassdyn.data import runs
from glassdyn.data.errors import InputError
from glassdyn.data.lock import LockError, lock_path


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    p = tmp_path / "f.json"
    runs.atomic_write(p, lambda tmp: tmp.write_text("old"))

    def half_then_crash(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        runs.atomic_write(p, half_then_crash)
    assert p.read_text() == "old" and sorted(os.listdir(tmp_path)) == [
        "f.json"
    ]  # no temp file left
    runs.atomic_write(p, lambda tmp: tmp.write_text("new"))
    assert p.read_text() == "new"


def test_json_is_cleaned_and_damage_is_one_clear_error(tmp_path):
    obj = {
        "a": float("nan"),
        "b": [np.float32(1.5), np.int64(3), (1, float("inf"))],
        "c": np.arange(2),
        "d": tmp_path,
    }
    assert runs.clean_json(obj) == {
        "a": None,
        "b": [1.5, 3, [1, None]],
        "c": [0, 1],
        "d": str(tmp_path),
    }
    runs.write_json(tmp_path / "x.json", obj)
    assert json.loads((tmp_path / "x.json").read_text())["a"] is None  # strict JSON: no NaN token
    (tmp_path / "bad.json").write_text('{"a": 1')
    with pytest.raises(InputError, match="run file .*bad.json is damaged"):
        runs.read_json(tmp_path / "bad.json", what="run file")
    with pytest.raises(InputError, match="is a directory, not a run directory"):
        runs.read_run_file(tmp_path)


def test_versions_and_the_data_floor_stay_free_of_torch():
    v = runs.versions()
    assert {"python", "glassdyn", "numpy", "zarr"} <= set(v)
    code = "import sys, glassdyn.data.runs, glassdyn.data.splits; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_resume_policy_names_the_first_field_that_may_not_change(tmp_path):
    old = {"epochs": 5, "lr": 1e-3, "data": "a.zarr", "max_minutes": 1.0, "init": "r", "seed": 0}
    runs.check_resume(
        tmp_path,
        old,
        {
            **old,
            "epochs": 9,
            "data": "moved.zarr",
            "max_minutes": None,
            "init": None,
            "device": "cpu",
        },
    )
    with pytest.raises(InputError, match=r"different settings \(lr: 0.001 there, 0.01 now\)"):
        runs.check_resume(tmp_path, old, {**old, "lr": 1e-2, "seed": 1})
    with pytest.raises(InputError, match="seed"):
        runs.check_resume(tmp_path, old, {**old, "seed": 1})


def test_run_directory_removes_what_a_failed_first_attempt_created(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError), runs.run_directory(out):
        (out / "graphs").mkdir()
        raise RuntimeError("bad input found late")
    assert not out.exists() and not lock_path(out).exists()
    # once something resumable is there, a failure keeps it
    with pytest.raises(KeyboardInterrupt), runs.run_directory(out):
        (out / runs.LAST).write_text("epoch 0")
        raise KeyboardInterrupt
    assert (out / runs.LAST).exists()
    # an existing directory is never removed
    (out / runs.LAST).unlink()
    with pytest.raises(RuntimeError), runs.run_directory(out):
        raise RuntimeError
    assert out.is_dir()


def test_run_directory_refuses_a_second_writer(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_path(out).write_text(
            json.dumps(
                {
                    "pid": holder.pid,
                    "host": os.uname().nodename,
                    "started": "now",
                    "command": "glassdyn train",
                }
            )
        )
        with pytest.raises(LockError, match=f"run directory .*pid {holder.pid}"):
            with runs.run_directory(out):
                pass
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()


def test_load_torch_names_missing_and_damaged_files(tmp_path):
    import torch

    with pytest.raises(InputError, match="no checkpoint at .*m.pt; fit one"):
        runs.load_torch(tmp_path / "m.pt", fix="fit one")
    runs.save_torch(tmp_path / "m.pt", {"w": torch.ones(1000)})
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "m.pt").write_bytes(data[: len(data) // 2])  # truncated by a full disk or a copy
    with pytest.raises(InputError, match="m.pt is not a readable checkpoint .*; restore it"):
        runs.load_torch(tmp_path / "m.pt", fix="restore it")
    runs.save_torch(tmp_path / "l.pt", [1, 2])
    with pytest.raises(InputError, match="not a glassdyn checkpoint"):
        runs.load_torch(tmp_path / "l.pt", fix="x")


def test_require_checkpoints(tmp_path):
    runs.require_checkpoints(tmp_path, [])
    with pytest.raises(InputError, match=r"has last.pt but no best.pt \(deleted\?\)"):
        runs.require_checkpoints(tmp_path, [runs.BEST])


def test_resolve_device():
    assert str(runs.resolve_device("cpu")) == "cpu"
    with pytest.raises(InputError, match="--device must be auto, cpu or cuda"):
        runs.resolve_device("tpu")
