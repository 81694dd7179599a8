"""The configurations of a store as tensors for a generative fit (:class:`TrainingData`): the
positions (thermal or inherent) of the split's train and validation parts, their types,
temperatures and the box (one box per run), and the KA forces when a loss needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.splits import temperature_key


@dataclass
class TrainingData:
    """positions (M, N, 3) float32, types (M, N) long, temperature (M,), box (3,) float64;
    ``part`` (M,) the split part of each configuration (``train`` / ``val``; all ``train`` when
    loaded without a split)."""

    positions: torch.Tensor
    types: torch.Tensor
    temperature: torch.Tensor
    box: torch.Tensor
    store: str
    source: str
    forces: torch.Tensor | None = None  # (M, N, 3) KA forces -grad U, when asked for
    part: np.ndarray | None = None

    def with_forces(self) -> TrainingData:
        """Compute the KA forces -grad U of every configuration (float64)."""
        from glassdyn.simulate.ka import forces

        box = self.box.double().numpy()
        pos, types = self.positions.double().numpy(), self.types.numpy()
        self.forces = torch.as_tensor(
            np.stack([forces(p, t, box) for p, t in zip(pos, types)]), dtype=torch.float32
        )
        return self

    @property
    def n_particles(self) -> int:
        return int(self.positions.shape[1])

    def to(self, device) -> TrainingData:
        """Move the tensors to ``device`` (in place); returns self."""
        for name in ("positions", "types", "temperature", "box", "forces"):
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name).to(device))
        return self

    def describe(self) -> dict:
        """What run.json and the checkpoints record of the data (``data``): store, source,
        temperatures, N, the types and the box (what sampling needs)."""
        return {
            "store": str(self.store),
            "source": self.source,
            "temperatures": sorted({round(float(t), 6) for t in self.temperature.cpu().numpy()}),
            "n_particles": self.n_particles,
            "types": self.types[0].cpu().numpy().tolist(),
            "box": self.box.cpu().numpy().tolist(),
        }

    def indices(self, part: str) -> np.ndarray:
        """Indices (into axis 0) of the configurations of ``part``."""
        labels = self.part if self.part is not None else np.full(len(self.positions), "train")
        return np.flatnonzero(labels == part)


def fit_temperatures(store, temperatures=None) -> list[float]:
    """The temperatures a fit uses: ``temperatures`` (checked) or every state point of ``store``."""
    temps = store.temperatures if not temperatures else [float(t) for t in temperatures]
    if not temps:
        raise StoreError(f"store {store.path} has no state points; simulate or import some first")
    for T in temps:
        store.state(T)  # a clear StoreError naming the temperatures the store has
    return temps


def load_data(
    store_path,
    temperatures=None,
    source: str = "thermal",
    max_configs: int | None = None,
    split: dict | None = None,
    parts=("train", "val"),
) -> TrainingData:
    """Configurations of a store at the given temperatures (all by default): with ``split``
    (:func:`glassdyn.data.splits.plan_splits`) those of ``parts``, else every completed one."""
    from glassdyn.data.store import Store

    if source not in ("thermal", "inherent"):
        raise InputError(f"source must be 'thermal' or 'inherent', got {source!r}")
    store = Store.open(store_path)
    temps = fit_temperatures(store, temperatures)
    path = keys.THERMAL_POSITIONS if source == "thermal" else keys.INHERENT_POSITIONS
    pos, typ, temp, boxes, labels = [], [], [], [], []
    for T in temps:
        sp = store.state(T)
        if split is None:
            idx = sp.completed[:max_configs] if max_configs is not None else sp.completed
            lab = ["train"] * len(idx)
        else:
            s = split[temperature_key(T)]
            idx = np.array([c for p in parts for c in s[p]], dtype=np.int64)
            lab = [p for p in parts for _ in s[p]]
        if len(idx) == 0:
            raise StoreError(
                f"store {store_path} group {sp.name} has no completed configuration to fit on"
            )
        pos.append(sp.read(path, idx))
        typ.append(sp.read(keys.TYPES, idx))
        boxes.append(sp.read(keys.BOX, idx))
        temp.append(np.full(len(idx), sp.temperature))
        labels += lab
    ns = {p.shape[1] for p in pos}
    if len(ns) > 1:
        raise InputError(
            f"state points of {store_path} have different N {sorted(ns)}; fit one N per model"
        )
    box = np.concatenate(boxes)
    if not np.allclose(box, box[0], rtol=1e-6):
        raise InputError(
            f"{store_path}: boxes differ between configurations; the samplers need one box per run"
        )
    return TrainingData(
        torch.as_tensor(np.concatenate(pos), dtype=torch.float32),
        torch.as_tensor(np.concatenate(typ), dtype=torch.long),
        torch.as_tensor(np.concatenate(temp), dtype=torch.float32),
        torch.as_tensor(box[0], dtype=torch.float64),
        str(store_path),
        source,
        part=np.array(labels),
    )
