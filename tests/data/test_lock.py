"""The write lock of stores and run directories: a live holder refuses, a dead one is taken over."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import warnings

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.lock import LockError, lock_path, read_lock, write_lock
from glassdyn.data.store import Store


def _holder_process(directory):
    """A second process that takes the lock and sleeps until killed."""
    code = (
        "import sys, time\n"
        "from glassdyn.data.lock import write_lock\n"
        f"with write_lock({str(directory)!r}, what='store'):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_live_holder_refuses_second_writer_then_dead_holder_is_taken_over(tmp_path):
    proc = _holder_process(tmp_path)
    try:
        with pytest.raises(
            LockError, match=rf"pid {proc.pid} on .*delete .*{lock_path(tmp_path).name}"
        ):
            with write_lock(tmp_path, what="store"):
                pass
    finally:
        proc.kill()  # like kill -9: the lock file stays behind
        proc.wait()
    assert read_lock(tmp_path)["pid"] == proc.pid
    with write_lock(tmp_path) as p:  # stale: taken over
        assert read_lock(tmp_path)["pid"] != proc.pid
        assert p.exists()
    assert not lock_path(tmp_path).exists()  # released


def test_lock_from_another_host_is_not_taken(tmp_path):
    lock_path(tmp_path).write_text(
        json.dumps(
            {"pid": 1, "host": socket.gethostname() + "-elsewhere", "started": "x", "command": "c"}
        )
    )
    with pytest.raises(LockError, match="elsewhere"), write_lock(tmp_path):
        pass
    assert lock_path(tmp_path).exists()  # never deleted on a guess


def test_nested_lock_in_one_process_and_release_on_error(tmp_path):
    with pytest.raises(RuntimeError), write_lock(tmp_path):
        with write_lock(tmp_path):  # re-entrant
            assert lock_path(tmp_path).exists()
        assert lock_path(tmp_path).exists()  # the inner exit keeps the outer lock
        raise RuntimeError("boom")
    assert not lock_path(tmp_path).exists()


def test_store_stays_readable_with_a_lock_file(tmp_path):
    path = tmp_path / "s.zarr"
    store = Store.create(path)
    sp = store.create_state(0.8, n_configs=2, n_particles=4, inherent=False)
    with warnings.catch_warnings(record=True) as caught, write_lock(path, what="store"):
        sp.write(0, **{keys.TYPES: np.zeros(4), keys.BOX: np.ones(3)})
        sp.mark_done(0)
        again = Store.open(path)
        assert again.temperatures == [0.8]
        assert again.state(0.8).completed.tolist() == [0]
    assert not [w for w in caught if "lock" in str(w.message)]  # nothing foreign in the store
    assert not lock_path(path).exists()
