"""Bad input and silent no-ops of `glassdyn train` (issue 12): one clear line, exit 2, nothing
written; a finished run missing best.pt, a failed first attempt and a second writer."""

import json
import os
import socket
import subprocess
import sys

import pytest
from glassdyn.data.lock import lock_path

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

pytestmark = pytest.mark.bad_input  # part of the bad-input suite (`pytest -m bad_input`)

NET = ["--hidden", "8", "--steps", "1", "--quiet"]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("badtrain") / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=4, n_particles=128, n_replicas=2)
    return str(path)


def _train(store, out, *extra):
    return main(["train", "--data", store, "--out", str(out), "--model", "bapst", *NET, *extra])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--lr", "-1"], "--lr must be a positive number, e.g. 1e-3, got -1.0"),
        (["--epochs", "0"], "--epochs must be >= 1 (or --pretrain-epochs >= 1"),
        (["--epochs", "-1"], "--epochs and --pretrain-epochs must be >= 0, got -1 and 0"),
        (["--hidden", "0"], "--hidden must be >= 1"),
        (["--ema", "1"], "--ema must be in [0, 1), e.g. 0.99 (0: off), got 1.0"),
        (["--model", "ridge", "--ema", "0.9"], "--ema averages a graph network's weights"),
    ],
)
def test_numbers_no_training_can_use_are_refused_before_anything_is_written(
    store_path, tmp_path, capsys, args, message
):
    out = tmp_path / "run"
    assert _train(store_path, out, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and not lock_path(out).exists()


def test_a_finished_run_whose_best_checkpoint_was_deleted_is_refused(store_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(store_path, out, "--epochs", "1") == 0
    (out / "best.pt").unlink()
    capsys.readouterr()
    assert _train(store_path, out, "--epochs", "1") == 2  # was: exit 0, nothing done, no model
    assert "has last.pt but no best.pt (deleted?)" in capsys.readouterr().err


def test_a_failed_first_attempt_leaves_no_run_directory(store_path, tmp_path, capsys):
    src = tmp_path / "src"
    assert _train(store_path, src, "--epochs", "1") == 0
    out = tmp_path / "bad"
    # --init of another architecture is only found once the model is built (inside the run)
    assert (
        main(
            [
                "train",
                "--data",
                store_path,
                "--out",
                str(out),
                "--model",
                "bapst",
                "--hidden",
                "16",
                "--steps",
                "1",
                "--init",
                str(src),
                "--quiet",
            ]
        )
        == 2
    )
    assert "does not match" in capsys.readouterr().err
    assert not out.exists() and not lock_path(out).exists()


def test_a_second_writer_of_the_run_directory_is_refused(store_path, tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_path(out).write_text(
            json.dumps(
                {
                    "pid": holder.pid,
                    "host": socket.gethostname(),
                    "started": "now",
                    "command": "glassdyn train",
                }
            )
        )
        assert _train(store_path, out, "--epochs", "1") == 2
        assert (
            f"run directory {out} is being written by another process (pid {holder.pid}"
            in capsys.readouterr().err
        )
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    assert _train(store_path, out, "--epochs", "1") == 0  # the holder is gone: its lock is stale
    assert os.path.exists(out / "best.pt")
