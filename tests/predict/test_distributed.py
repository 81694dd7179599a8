"""DDP training with torchrun on CPU (gloo): two real processes share one training run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from glassdyn.testing import write_synthetic_store


@pytest.mark.slow
def test_torchrun_two_processes_train_one_run(tmp_path):
    store = tmp_path / "s.zarr"
    write_synthetic_store(store, temperatures=[0.8], n_configs=6, n_particles=128, n_replicas=2)
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "glassdyn.cli",
        "train",
        "--data",
        str(store),
        "--model",
        "botan",
        "--out",
        str(run),
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--hidden",
        "16",
        "--steps",
        "2",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # one rank speaks, and DDP is told rightly whether parameters go unused (it warns otherwise)
    assert proc.stdout.count("run written to") == 1, proc.stdout[-2000:]
    assert "find_unused_parameters" not in proc.stderr, proc.stderr[-3000:]
    history = json.loads((run / "history.json").read_text())
    # the ridge-started start (epoch -1) is validated and recorded once, by rank 0
    assert [h["epoch"] for h in history] == [-1, 0, 1]
    assert [h["phase"] for h in history][0] == "start"
    assert np.isfinite(history[-1]["train_loss"])
    assert (run / "best.pt").exists() and (run / "last.pt").exists()
    assert not list(run.glob("*.tmp")) and not list((run / "graphs").glob("*.tmp"))
    from glassdyn.predict.evaluation import evaluate_run

    metrics = evaluate_run(run, store)
    assert "0.8" in metrics["node_pearson"]
    # edge pre-training leaves the node decoder without a gradient: DDP must be told, or it fails
    pre = [*cmd[: cmd.index("--out") + 1], str(tmp_path / "pre"), *cmd[cmd.index("--out") + 2 :]]
    proc = subprocess.run(
        [*pre, "--pretrain-epochs", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "pre" / "pretrain_best.pt").exists()


def test_single_process_context_is_a_no_op():
    from glassdyn.predict.distributed import DistContext

    ctx = DistContext.from_env("cpu")
    assert not ctx.enabled and ctx.is_main
    model = object()
    assert ctx.wrap(model) is model and ctx.sampler([1, 2], 0) is None
