"""``glassdyn convert pyg-botan MODEL.pth --out RUN``: foreign weights as a glassdyn run directory.

The run directory holds what ``glassdyn train`` writes (``run.json``, ``best.pt``), so
``glassdyn evaluate RUN``, ``glassdyn predict RUN`` and ``glassdyn train --init RUN`` accept it.
The published pyg_botan weights predict one time; the run records which (``time``, default
4120 = BOTAN's tc07, ~tau_alpha at T = 0.44, the time the published models were trained for).

With ``data`` (a store), the run records the store's index of that time and the split the
weights' authors used: configurations imported from a ``train`` directory are ``train`` (the
published models were trained on BOTAN's training files, so those are not test data), all others
``test``.  Without ``data`` the run predicts "all times" of a store (use it with stores that hold
that one time, e.g. an import of ``tc07`` files, or for ``train --init``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.store import Store

BOTAN_TIME = 4120.0  # tc07 at T = 0.44


def _time_index(store: Store, time: float) -> tuple[int, dict, dict]:
    """The index of ``time`` (common to the state points holding it), split and times per T."""
    index, split, times = None, {}, {}
    for sp in store.states():
        if sp.times is None:
            continue
        hit = np.flatnonzero(np.isclose(sp.times, time, rtol=1e-6, atol=0))
        key = f"{sp.temperature:g}"
        if not len(hit):
            continue
        k = int(hit[0])
        if index is not None and k != index:
            raise InputError(
                f"time {time:g} is index {index} at one temperature of {store.path} and {k} at T={key}; "
                "convert against a store whose state points share their times"
            )
        index = k
        completed = sp.completed.tolist()
        recorded = (sp.attrs.get("import") or {}).get("splits")
        if recorded and len(recorded) == sp.n_configs:
            train = [c for c in completed if recorded[c] == "train"]
        else:
            train = []
        split[key] = {"train": train, "val": [], "test": [c for c in completed if c not in train]}
        times[key] = [float(sp.times[k])]
    if index is None:
        have = sorted({float(t) for sp in store.states() if sp.times is not None for t in sp.times})
        raise InputError(
            f"store {store.path} has no time {time:g} (it has {have[:12]}); pass --time with one of them"
        )
    return index, split, times


def convert_pyg_botan(
    weights: str | os.PathLike,
    out: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    time: float = BOTAN_TIME,
    overwrite: bool = False,
) -> Path:
    """Write the run directory ``out`` holding pyg_botan's ``weights``; returns it.

    ``out`` follows :mod:`glassdyn.data.outputs`: a new path, or (``overwrite``) an earlier run
    of ``glassdyn convert``; never a store or a run of ``train``."""
    from glassdyn.data import outputs
    from glassdyn.data.lock import write_lock
    from glassdyn.data.run_engine import write_run_file
    from glassdyn.predict.checkpoints import RUNS, save_checkpoint
    from glassdyn.predict.config import TrainConfig
    from glassdyn.predict.training import run_record

    from glassdyn.nn.pyg_botan import convert_state, load_state_dict

    if not time > 0:
        raise InputError(f"--time must be a positive LJ time, got {time}")
    outputs.check_output(out, outputs.CONVERTED_RUN, inputs=(weights, data), overwrite=overwrite)
    state = load_state_dict(weights)
    model = convert_state(state, str(weights))  # checks the layout before anything is written
    index, split, times = None, {}, {}
    if data is not None:
        store = Store.open(data)
        index, split, times = _time_index(store, time)
    out = Path(out)
    config = TrainConfig(
        data=str(Path(data).resolve()) if data is not None else "",
        out=str(out),
        model="botan",
        input="ts",
        edge_features="vector",
        times=None if index is None else (index,),
        epochs=0,
        hidden=model.config.hidden,
        steps=model.config.steps,
        shared_decoder=True,
        node_features="type",  # the published layout: type in, BOTAN's plain decoder out
        node_vectors=False,
        skip=False,
        readout_hops=0,
        cutoff=2.0,
    )
    digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    source = {
        "format": "pyg_botan",
        "path": str(Path(weights).resolve()),
        "sha256": digest,
        "time": float(time),
        "time_index": index,
        "units": "raw LJ lengths (normalisation mean 0, std 1)",
        "node_input": "type as one float -> one-hot (W[:, A] = 0, W[:, B] = w)",
    }
    if out.exists() and overwrite:  # an earlier converted run (checked above)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    with write_lock(out, what="run directory"):
        path = None if data is None else str(Path(data).resolve())
        record = run_record(config, split, times, None, path, {"converted_from": source})
        write_run_file(out, RUNS, record)
        save_checkpoint(
            out / "best.pt",
            model,
            train_config=config.to_dict(),
            graph_spec=asdict(config.graph_spec()),
            split=split,
            epoch=-1,
            converted_from=source,
        )
    return out
