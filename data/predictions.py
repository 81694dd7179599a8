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
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from glassdyn.data.errors import StoreError
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


def write_predictions(path: str | os.PathLike, predictions: list[Predictions], **attrs) -> None:
    """Write (overwrite) a predictions file."""
    root = zarr.open_group(str(path), mode="w")
    root.attrs.update({"schema": SCHEMA, **attrs})
    for p in predictions:
        C, K, N = p.mobility.shape
        if p.configs.shape != (C,) or p.times.shape != (K,):
            raise StoreError(
                f"predictions at T={p.temperature}: configs {p.configs.shape} / times {p.times.shape} do not match mobility {p.mobility.shape}"
            )
        g = root.create_group(group_name(p.temperature))
        g.attrs["temperature"] = float(p.temperature)
        g.create_array("configs", data=np.asarray(p.configs, dtype=np.int64))
        g.create_array("times", data=np.asarray(p.times, dtype=np.float64))
        g.create_array("mobility", data=np.asarray(p.mobility, dtype=np.float32), chunks=(1, K, N))
        if p.predicted_temperature is not None:
            g.create_array(
                "temperature", data=np.asarray(p.predicted_temperature, dtype=np.float32)
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
        raise StoreError(f"{p} has schema {root.attrs.get('schema')!r}, expected {SCHEMA!r}")
    out = {}
    for name, g in root.groups():
        T = float(g.attrs["temperature"])
        out[T] = Predictions(
            temperature=T,
            configs=g["configs"][:],
            times=g["times"][:],
            mobility=g["mobility"][:],
            predicted_temperature=g["temperature"][:] if "temperature" in g else None,
        )
    return out
