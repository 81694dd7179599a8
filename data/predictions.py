"""Predicted mobility on disk (schema ``glassdyn-predictions/1``), read by analysis and exports.

A predictions file is a Zarr directory (``glassdyn predict ... --out preds.zarr``) with one group
per temperature, named like the store's (``T0.440``):

| path | shape, dtype | meaning |
| --- | --- | --- |
| `attrs` (root) | | schema, model, run directory, input (ts / is / ts+is), data store path |
| `T*/configs` | (C,) int64 | indices of the predicted configurations in the data store |
| `T*/times` | (K,) float64 | times of the predicted columns (LJ units) |
| `T*/mobility` | (C, K, N) float32 | predicted node propensity |
| `T*/temperature` | (C,) float32 | predicted temperature (T-BOTAN only) |
| `T*` attrs `identity` | (C,) str | digest of each predicted configuration's structure in the data store
  (:func:`glassdyn.data.splits.identity`): readers refuse predictions made for other configurations |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.keys import group_name

SCHEMA = "glassdyn-predictions/1"


@dataclass(frozen=True)
class Predictions:
    """Predictions at one temperature; ``mobility`` is (C, K, N) for store configs ``configs``."""

    temperature: float
    configs: np.ndarray
    times: np.ndarray
    mobility: np.ndarray
    predicted_temperature: np.ndarray | None = None
    identity: tuple[str, ...] | None = None  # structure digest of each configuration (C,)


def write_predictions(path: str | os.PathLike, predictions: list[Predictions], **attrs) -> None:
    """Write a predictions file at a new path, or over an earlier predictions file (never over
    anything else: :mod:`glassdyn.data.outputs`)."""
    from glassdyn.data import outputs

    outputs.check_output(path, outputs.PREDICTIONS, overwrite=True, flag="predictions file")
    for p in predictions:
        C, K, N = p.mobility.shape
        if p.configs.shape != (C,) or p.times.shape != (K,):
            raise StoreError(
                f"predictions at T={p.temperature}: configs {p.configs.shape} / times {p.times.shape} do not match mobility {p.mobility.shape}"
            )
    root = zarr.open_group(str(path), mode="w")
    root.attrs.update({"schema": SCHEMA, **attrs})
    for p in predictions:
        C, K, N = p.mobility.shape
        g = root.create_group(group_name(p.temperature))
        g.attrs["temperature"] = float(p.temperature)
        if p.identity is not None:
            g.attrs["identity"] = [str(i) for i in p.identity]
        # the store's axis names (keys.DIMENSIONS), so xarray labels both files alike
        g.create_array(
            "configs", data=np.asarray(p.configs, dtype=np.int64), dimension_names=("config",)
        )
        g.create_array(
            "times", data=np.asarray(p.times, dtype=np.float64), dimension_names=("time",)
        )
        g.create_array(
            "mobility",
            data=np.asarray(p.mobility, dtype=np.float32),
            chunks=(1, K, N),
            dimension_names=("config", "time", "particle"),
        )
        if p.predicted_temperature is not None:
            g.create_array(
                "temperature",
                data=np.asarray(p.predicted_temperature, dtype=np.float32),
                dimension_names=("config",),
            )


def read_predictions(path: str | os.PathLike) -> dict[float, Predictions]:
    """All temperatures of a predictions file, keyed by temperature."""
    p = Path(path)
    if not p.exists():
        raise StoreError(
            f"no predictions file at {p}: write one with `glassdyn predict RUN --data STORE --out {p}`"
        )
    try:
        root = zarr.open_group(str(p), mode="r")
    except Exception as exc:
        raise StoreError(f"{p} is not a predictions file ({type(exc).__name__}: {exc})") from None
    if root.attrs.get("schema") != SCHEMA:
        from glassdyn.data.outputs import describe

        raise StoreError(
            f"{p} is {describe(p).text}, not a predictions file; write one with "
            f"`glassdyn predict RUN --data STORE --out NEW.zarr`"
        )
    out = {}
    for name, g in root.groups():
        T = float(g.attrs["temperature"])
        out[T] = Predictions(
            temperature=T,
            configs=g["configs"][:],
            times=g["times"][:],
            mobility=g["mobility"][:],
            predicted_temperature=g["temperature"][:] if "temperature" in g else None,
            identity=tuple(g.attrs["identity"]) if "identity" in g.attrs else None,
        )
    return out


def check_made_for(
    predictions: dict[float, Predictions], store, path: str | os.PathLike, attrs: dict | None = None
) -> None:
    """Refuse predictions that were made for other configurations than those of ``store`` at the
    same indices (compared by :func:`glassdyn.data.splits.identity`), before anything is computed.

    ``path``: the predictions file (for the message); ``attrs``: its root attributes (the run and
    store it names).  A file written before identities were recorded is accepted only on the store
    path it names; one that records neither (written by hand with :func:`write_predictions`)
    cannot be checked and is taken as it is."""
    from pathlib import Path

    from glassdyn.data.splits import identity

    attrs = attrs if attrs is not None else dict(zarr.open_group(str(path), mode="r").attrs)
    run = attrs.get("run") or "RUN"
    fix = f"predict for this store: `glassdyn predict {run} --data {store.path} --out NEW.zarr`"
    for T, p in predictions.items():
        if not store.has_state(T):
            continue
        sp = store.state(T)
        if p.identity is None:
            made = attrs.get("data")
            if made is not None and Path(made).resolve() != Path(store.path).resolve():
                raise InputError(
                    f"the predictions {path} were made for {made} and do not record which "
                    f"configurations, so they cannot be matched with {store.path}'s; {fix}"
                )
            continue
        for c, ident in zip(np.asarray(p.configs).tolist(), p.identity):
            if not 0 <= int(c) < sp.n_configs or not sp.done[int(c)] or identity(sp, c) != ident:
                raise InputError(
                    f"the predictions {path} were made for other configurations than {store.path} "
                    f"holds at T={T:g} (configuration {c} differs; they were made for "
                    f"{attrs.get('data', 'another store')}); {fix}"
                )
