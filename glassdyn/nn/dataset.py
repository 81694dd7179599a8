"""Graph samples built from the store: inputs, targets, masks, cube-symmetry augmentation, cache.

One sample = one configuration at one temperature, a PyG ``Data`` whose fields (names, shapes,
meaning) are declared in :mod:`glassdyn.nn.keys`.

Inputs: ``ts`` uses the thermal structure's graph and vectors; ``is`` the inherent structure's
graph and vectors; ``cage`` the cage state's (``glassdyn cage``); ``ts+is`` the thermal graph
with *both* vectors of each pair as edge input (F = 6: thermal r_ij then inherent r_ij, each
minimum image) and, as a node input ``node_attr`` (N, 1), each particle's own TS-to-IS
displacement |r_i^IS - r_i^TS| (rotation invariant; the pair vectors carry only differences of
it).  Any combination of the three (``is+cage``, ``ts+is+cage``, ...) works the same way: the
graph of the first structure (order ts, is, cage), the pair vectors of each, and the distance of
each later structure from the first as node inputs.  ``edge_features="invariant"`` replaces
vectors by rotation-invariant features: |r_ij| of each structure, then |r_ij^S - r_ij^first| of
each later one (``ts+is``: F = 3).  Targets are always measured from the thermal positions
(where the trajectories start), on the pairs of the input graph.

Node inputs beyond the type: ``node_features="descriptors"`` appends the coarse-grained
descriptors of :mod:`glassdyn.nn.descriptors` (Boattini et al. 2021: radial densities, q_l, KA
energy of the TS and, with an IS input, of the IS, and the TS -> IS displacement, averaged over
neighbours at 1 and 2 sigma) to ``node_attr``; they are rotation, translation and permutation
invariant.  ``node_vectors=True`` adds each particle's TS -> IS displacement *vector*
``node_vec`` (the input of EIGNN, the best published model at t ~ tau_alpha), and TS -> cage
with a cage input (``node_vec`` (N, 3) per structure other than the TS); it is rotated with the
edge vectors by the cube-symmetry augmentation.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from glassdyn.data import keys
from glassdyn.data.box import minimum_image
from glassdyn.data.errors import InputError
from glassdyn.data.graph import edge_targets, node_propensity, pair_vectors, radius_graph
from glassdyn.data.runs import atomic_write
from glassdyn.data.splits import content_digest
from glassdyn.data.store import StatePoint
from glassdyn.simulate.ka import particle_energies

from glassdyn.nn import keys as nk
from glassdyn.nn.descriptors import CG_LENGTHS, INPUTS, input_structures


EDGE_FEATURES = ("vector", "invariant")
NODE_FEATURES = ("type", "descriptors")
CACHE_VERSION = 5  # bump when the content of a sample or of its key changes
AA_PAIR_CUTOFF = 1.35  # BOTAN's evaluation: AA pairs with r0 < 1.35 (first neighbour shell)


@dataclass(frozen=True)
class GraphSpec:
    """How a configuration becomes a graph sample.

    input: one of :data:`INPUTS`; edge_features: vector (BOTAN, with cube-symmetry augmentation) or
    invariant; cutoff: graph radius (sigma_AA); times: indices into the store's times (None = all).
    """

    input: str = "ts"
    edge_features: str = "vector"
    cutoff: float = 2.0
    times: tuple[int, ...] | None = None
    node_features: str = "type"
    node_vectors: bool = False
    cg_lengths: tuple[float, ...] = CG_LENGTHS  # of the descriptors (node_features)

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise InputError(f"input must be one of {INPUTS}, got {self.input!r}")
        if self.node_features not in NODE_FEATURES:
            raise InputError(
                f"node_features must be one of {NODE_FEATURES}, got {self.node_features!r}"
            )
        if self.node_vectors and self.input == "ts":
            raise InputError(
                "node_vectors (the TS -> IS or TS -> cage displacement) need an input with is or cage"
            )
        if self.edge_features not in EDGE_FEATURES:
            raise InputError(
                f"edge_features must be one of {EDGE_FEATURES}, got {self.edge_features!r}"
            )
        if self.times is not None:
            object.__setattr__(self, "times", tuple(int(k) for k in self.times))
        object.__setattr__(self, "cg_lengths", tuple(float(a) for a in self.cg_lengths))

    @property
    def structures(self) -> tuple[str, ...]:
        return input_structures(self.input)

    @property
    def inherent(self) -> bool:
        """Whether the input reads inherent structures."""
        return "is" in self.structures

    @property
    def cage(self) -> bool:
        """Whether the input reads cage states."""
        return "cage" in self.structures

    @property
    def edge_dim(self) -> int:
        n = len(self.structures)
        return 3 * n if self.edge_features == "vector" else 2 * n - 1

    def descriptor_spec(self):
        """The coarse-grained descriptors fed as node inputs (``node_features="descriptors"``):
        those of the thermal structure, plus those of the inherent structure and of the cage
        state when the input reads them."""
        from glassdyn.nn.descriptors import DescriptorSpec

        spec = DescriptorSpec(cg_lengths=self.cg_lengths)
        if self.structures in (("is",), ("ts", "is")):
            return spec  # the layout of runs made before cage states
        return spec.for_structures(self.structures)

    @property
    def node_dim(self) -> int:
        """Extra node inputs besides the type: the distance of each later structure from the
        first (ts+is: |r_IS - r_TS|), plus the descriptors."""
        n = len(self.structures) - 1
        if self.node_features == "descriptors":
            from glassdyn.nn.descriptors import descriptor_names

            n += len(descriptor_names(self.descriptor_spec()))
        return n

    @property
    def node_vec_dim(self) -> int:
        """Per-node 3-vectors (rotated with the edge vectors by the augmentation): TS -> IS and
        TS -> cage, those of the input."""
        return 3 * len([s for s in self.structures if s != "ts"]) if self.node_vectors else 0

    @property
    def vector_blocks(self) -> int:
        """How many 3-vectors the edge input holds (0 for invariant features)."""
        return self.edge_dim // 3 if self.edge_features == "vector" else 0

    def time_indices(self, n_times: int) -> list[int]:
        if self.times is None:
            return list(range(n_times))
        bad = [k for k in self.times if not 0 <= k < n_times]
        if bad:
            raise InputError(
                f"--times {bad[0]} is out of range: --times takes indices into the store's own "
                f"times, and it has {n_times} (0..{n_times - 1}; `glassdyn info STORE` lists "
                "them in LJ time)"
            )
        return list(self.times)


def edge_inputs(spec: GraphSpec, vecs: list[np.ndarray]) -> np.ndarray:
    """Edge input (E, F) from the pair vectors (E, 3) of each structure of the input, in order."""
    if spec.edge_features == "vector":
        return np.concatenate(vecs, axis=1)
    feats = [np.linalg.norm(v, axis=1, keepdims=True) for v in vecs]
    feats += [np.linalg.norm(v - vecs[0], axis=1, keepdims=True) for v in vecs[1:]]
    return np.concatenate(feats, axis=1)


def graph_from_arrays(
    spec: GraphSpec,
    types: np.ndarray,
    box: np.ndarray,
    thermal: np.ndarray,
    inherent: np.ndarray | None = None,
    displacements: np.ndarray | None = None,
    temperature: float = float("nan"),
    config: int = -1,
    cage: np.ndarray | None = None,
) -> Data:
    """One graph sample from arrays: types (N,), box (3,), thermal / inherent / cage positions
    (N, 3), displacements (R, K, N, 3) for the targets (None: no ``y``, ``y_edge``)."""
    pos = {"ts": thermal, "is": inherent, "cage": cage}
    for s, what in (("is", "inherent-structure"), ("cage", "cage-state")):
        if s in spec.structures and pos[s] is None:
            raise InputError(f"input {spec.input!r} needs {what} positions")
    first = spec.structures[0]
    ei, vec = radius_graph(pos[first], box, spec.cutoff)
    vecs = [vec if s == first else pair_vectors(pos[s], box, ei) for s in spec.structures]
    ts_vec = vecs[0] if first == "ts" else pair_vectors(thermal, box, ei)
    types = np.asarray(types, dtype=np.int64)
    r0 = np.linalg.norm(ts_vec, axis=1)
    data = Data(
        types=torch.from_numpy(types),
        edge_index=torch.from_numpy(ei),
        edge_attr=torch.from_numpy(edge_inputs(spec, vecs).astype(np.float32)),
        edge_length=torch.from_numpy(np.linalg.norm(vec, axis=1).astype(np.float32)),
        node_mask=torch.from_numpy(types == 0),
        edge_mask=torch.from_numpy(
            (types[ei[0]] == 0) & (types[ei[1]] == 0) & (r0 < AA_PAIR_CUTOFF)
        ),
        temperature=torch.tensor([temperature], dtype=torch.float32),
        config=torch.tensor([config], dtype=torch.long),
        energy=torch.tensor([particle_energies(thermal, types, box).mean()], dtype=torch.float32),
        num_nodes=len(types),
    )
    if spec.node_dim or spec.node_vectors:
        b = np.asarray(box)

        def shift(a, frm):
            return minimum_image(np.asarray(a, np.float64) - np.asarray(frm, np.float64), b)

        attrs = [
            np.linalg.norm(shift(pos[s], pos[first]), axis=1, keepdims=True)
            for s in spec.structures[1:]
        ]
        if spec.node_vectors:
            d = [shift(pos[s], thermal) for s in spec.structures if s != "ts"]
            data.node_vec = torch.from_numpy(np.concatenate(d, axis=1).astype(np.float32))
        if spec.node_features == "descriptors":
            from glassdyn.nn.descriptors import describe

            attrs.append(describe(thermal, types, box, inherent, spec.descriptor_spec(), cage))
        if attrs:
            data.node_attr = torch.from_numpy(np.concatenate(attrs, axis=1).astype(np.float32))
    if displacements is not None:
        data.y = torch.from_numpy(node_propensity(displacements).T.astype(np.float32))  # (N, K)
        data.y_edge = torch.from_numpy(
            edge_targets(ts_vec, ei, displacements).astype(np.float32)
        )  # (E, K)
    return data


def build_graph(sp: StatePoint, c: int, spec: GraphSpec, targets: bool = True) -> Data:
    """Graph sample of configuration ``c`` of state point ``sp`` (reads the store)."""
    thermal = sp.read(keys.THERMAL_POSITIONS, c)
    if spec.inherent and not (sp.has(keys.INHERENT_POSITIONS) and sp.inherent_done[c]):
        raise InputError(
            f"store {sp.store_path} {sp.name}: configuration {c} has no inherent structure, which "
            f"this model reads (input {spec.input}); run `glassdyn quench {sp.store_path}`"
        )
    if spec.cage and not sp.cage_done[c]:
        raise InputError(
            f"store {sp.store_path} {sp.name}: configuration {c} has no cage state, which "
            f"this model reads (input {spec.input}); run `glassdyn cage {sp.store_path}`"
        )
    inherent = sp.read(keys.INHERENT_POSITIONS, c) if spec.inherent else None
    cage = sp.read(keys.CAGE_POSITIONS, c) if spec.cage else None
    disp = None
    if targets:
        times = sp.times
        if times is None or not sp.has(keys.ISO_DISPLACEMENTS):
            raise InputError(
                f"store {sp.store_path} group {sp.name} has no {keys.ISO_DISPLACEMENTS}: the mobility targets "
                "need isoconfigurational runs; run `glassdyn simulate` with --replicas > 0"
            )
        idx = spec.time_indices(len(times))
        disp = np.asarray(sp.row(keys.ISO_DISPLACEMENTS, c))[:, idx]  # (R, K, N, 3)
        if not np.all(np.isfinite(disp)):
            raise InputError(
                f"store {sp.store_path} {sp.name}/{keys.ISO_DISPLACEMENTS}[{c}] holds NaN; re-run the simulation of that configuration"
            )
    return graph_from_arrays(
        spec,
        sp.read(keys.TYPES, c),
        sp.read(keys.BOX, c),
        thermal,
        inherent,
        disp,
        sp.temperature,
        c,
        cage,
    )


def graph_fields(spec: GraphSpec, targets: bool = True) -> tuple[str, ...]:
    """The store paths a graph sample is built from (what its cache key must cover)."""
    fields = [keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS]
    if spec.inherent:
        fields.append(keys.INHERENT_POSITIONS)
    if spec.cage:
        fields.append(keys.CAGE_POSITIONS)
    if targets:
        fields.append(keys.ISO_DISPLACEMENTS)
    return tuple(fields)


class GraphCache:
    """Built graphs kept in memory and (optionally) on disk, keyed by content.

    The key hashes the spec, the temperature, the configuration index and the content digest
    (:func:`glassdyn.data.splits.content_digest`) of every array the sample is built from:
    types, box, positions and, with targets, the displacements and times.  A regenerated store,
    or one whose displacements changed, never serves stale graphs or targets.  Building
    (neighbour list and targets from all replicas) happens once per configuration, not once per
    epoch.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else None
        self._memory: dict[str, Data] = {}

    def key(
        self, sp: StatePoint, c: int, spec: GraphSpec, targets: bool, digest: str | None = None
    ) -> str:
        """``digest``: the content digest of ``graph_fields(spec, targets)`` when the caller has
        it already (a run's data fingerprint); computed from the store otherwise."""
        if digest is None:
            digest = content_digest(sp, c, graph_fields(spec, targets))
        h = hashlib.sha1(
            json.dumps(
                [
                    CACHE_VERSION,
                    asdict(spec),
                    sp.temperature,
                    int(c),
                    targets,
                    digest,
                    sp.n_replicas,
                ]
            ).encode()
        )
        return f"{sp.name}_c{int(c)}_{h.hexdigest()[:16]}"

    def get(
        self,
        sp: StatePoint,
        c: int,
        spec: GraphSpec,
        targets: bool = True,
        digest: str | None = None,
    ) -> Data:
        k = self.key(sp, c, spec, targets, digest)
        if k in self._memory:
            return self._memory[k]
        path = self.directory / f"{k}.pt" if self.directory is not None else None
        if path is not None and path.exists():
            data = Data(**torch.load(path, weights_only=True))
        else:
            data = build_graph(sp, c, spec, targets)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, lambda tmp: torch.save(data.to_dict(), tmp))
        self._memory[k] = data
        return data


def cube_symmetries() -> torch.Tensor:
    """The 48 symmetries of the cube (axis permutations times reflections), (48, 3, 3) float32."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = torch.zeros(3, 3)
            for row, (col, s) in enumerate(zip(perm, signs)):
                m[row, col] = s
            mats.append(m)
    return torch.stack(mats)


def apply_symmetry(edge_attr: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 ``matrix`` to every 3-vector block of ``edge_attr`` (E, 3 b) -> (E, 3 b)."""
    E, F = edge_attr.shape
    return (edge_attr.reshape(E, F // 3, 3) @ matrix.t().to(edge_attr)).reshape(E, F)


class GraphDataset(torch.utils.data.Dataset):
    """A list of graph samples; with ``augment=True`` each access applies one of the 48 cube
    symmetries, drawn from ``generator``, to the vector blocks of the edge input (as BOTAN and
    Bapst et al. do); invariant features are left alone."""

    def __init__(
        self,
        graphs: list[Data],
        spec: GraphSpec,
        augment: bool = False,
        generator: torch.Generator | None = None,
    ):
        self.graphs = graphs
        self.spec = spec
        self.augment = augment and spec.vector_blocks > 0
        self.generator = generator
        self._sym = cube_symmetries()

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i: int) -> Data:
        g = self.graphs[i]
        if not self.augment:
            return g
        s = int(torch.randint(len(self._sym), (1,), generator=self.generator))
        g = copy.copy(g)  # shallow: only the vector inputs are replaced
        g.edge_attr = apply_symmetry(g.edge_attr, self._sym[s])
        if getattr(g, nk.NODE_VEC, None) is not None:
            g.node_vec = apply_symmetry(g.node_vec, self._sym[s])
        return g
