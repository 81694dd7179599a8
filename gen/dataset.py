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
    # transports: MD pools at the base temperature (from training / validation configurations)
    base: torch.Tensor | None = None  # (P, N, 3) float64 | the training base pool
    base_val: torch.Tensor | None = None  # (Q, N, 3) float64 | the validation base pool
    base_val_energy: torch.Tensor | None = None  # (Q,) float64 | their total energies
    base_types: torch.Tensor | None = None  # (N,) long | the one composition of the pools
    base_temperature: float | None = None
    base_source: float | None = None  # the store temperature the base chains start from
    target_temperatures: tuple[float, ...] = ()

    def with_base_pools(self, store_path, split: dict, cfg, log=print) -> TrainingData:
        """MD pools at the base temperature ``cfg.base_temperature``: NVT chains (2 tau_alpha
        apart) from the training and validation configurations of its source temperature (itself,
        or for a bridged base the store temperature of :func:`glassdyn.gen.mdpool.base_source`,
        equilibrated first) (:func:`glassdyn.gen.mdpool.md_pool`, seeded by ``cfg.seed``)."""
        from glassdyn.data.store import Store
        from glassdyn.gen.mdpool import base_source, bridge_warmup, md_pool

        Tb = float(cfg.base_temperature)
        store = Store.open(store_path)
        Ts = base_source(store.temperatures, Tb)
        sp = store.state(Ts)
        s = split[temperature_key(Ts)]
        warmup = bridge_warmup(Tb, Ts, sp.n_particles)
        pools = {}
        rng = np.random.default_rng([cfg.seed, 7])
        for part, n in (("train", cfg.base_configs), ("val", max(2, cfg.base_configs // 4))):
            idx = np.asarray(s[part] or s["train"], dtype=np.int64)
            if len(idx) == 0:
                raise StoreError(
                    f"{store_path} T={Ts:g} has no training configuration to start the base MD from"
                )
            starts = sp.read(keys.THERMAL_POSITIONS, idx).astype(np.float64)
            types = sp.read(keys.TYPES, idx)
            if not (types == types[0]).all():
                raise InputError(
                    f"{store_path} T={Ts:g}: the base configurations differ in composition"
                )
            bridged = f", equilibrated from T={Ts:g} for {warmup:.3g} LJ time" if warmup else ""
            log(
                f"base: {n} MD configurations at T={Tb:g} from {len(idx)} {part} configurations{bridged}"
            )
            pools[part] = md_pool(
                starts, types[0], self.box.cpu().numpy(), Tb, n, rng, warmup=warmup
            )
            self.base_types = torch.as_tensor(types[0], dtype=torch.long)
        self.base = torch.as_tensor(pools["train"].positions)
        self.base_val = torch.as_tensor(pools["val"].positions)
        self.base_val_energy = torch.as_tensor(pools["val"].energy)
        self.base_temperature = Tb
        self.base_source = Ts
        return self

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
        tensors = ("positions", "types", "temperature", "box", "forces")
        for name in (*tensors, "base", "base_val", "base_val_energy", "base_types"):
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name).to(device))
        return self

    def describe(self) -> dict:
        """What run.json and the checkpoints record of the data (``data``): store, source,
        temperatures, N, the types and the box (what sampling needs)."""
        return {
            "base_temperature": self.base_temperature,
            "base_source": self.base_source,
            "target_temperatures": list(self.target_temperatures),
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
