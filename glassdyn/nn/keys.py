"""Every field of a graph sample and every key of a model's output, with its shape, said once.

A graph sample is a torch_geometric ``Data`` of one configuration (:mod:`glassdyn.nn.dataset`);
a batch concatenates B of them along N and E.  Axis letters: N particles, E directed edges
(pairs within the cutoff, both directions), K times, F input features, H hidden width.
The store's own paths are :mod:`glassdyn.data.keys`.
"""

from __future__ import annotations

# ------------------------------------------------------------------ graph sample (Data fields)
TYPES = "types"  # (N,) int64 | 0 = A, 1 = B
EDGE_INDEX = (
    "edge_index"  # (2, E) int64 | directed pairs (i, j), r < cutoff, of the input structure
)
EDGE_ATTR = "edge_attr"  # (E, F) float32 | edge input (pair vectors of TS, and IS; or invariants)
EDGE_LENGTH = "edge_length"  # (E,) float32 | pair distance in the input structure (readout)
NODE_ATTR = "node_attr"  # (N, F) float32 | ts+is: the TS -> IS distance; the descriptors
NODE_VEC = "node_vec"  # (N, 3 S) float32 | TS -> IS (and TS -> cage) displacements (node_vectors)
NODE_MASK = "node_mask"  # (N,) bool | A particles (the node metrics)
EDGE_MASK = "edge_mask"  # (E,) bool | AA pairs with thermal r0 < 1.35 (the edge metrics)
TEMPERATURE = "temperature"  # (B,) float32 | state point temperature of each graph
CONFIG = "config"  # (B,) int64 | configuration index in the store
ENERGY = "energy"  # (B,) float32 | KA potential energy per particle of the thermal structure
Y = "y"  # (N, K) float32 | propensity: replica mean of |r_i(t) - r_i(0)| (LJ lengths)
Y_EDGE = "y_edge"  # (E, K) float32 | BOTAN's edge target: replica mean of d|r_ij|

GRAPH_FIELDS = (
    TYPES, EDGE_INDEX, EDGE_ATTR, EDGE_LENGTH, NODE_ATTR, NODE_VEC, NODE_MASK, EDGE_MASK,
    TEMPERATURE, CONFIG, ENERGY, Y, Y_EDGE,
)  # fmt: skip

# ----------------------------------------------------- model output (the dict forward returns)
# forward: normalised units (what the loss sees); predict: LJ units (targets' mean / std undone)
NODE = "node"  # (N, K) | propensity of each particle
EDGE = "edge"  # (E, K) or None | edge target (models with an edge head)
OUT_TEMPERATURE = "temperature"  # (B,) or None | T-BOTAN's temperature decoder
LATENT = "latent"  # (B, H) or None | T-BOTAN's global feature after the last step
# predict only: the linear skip alone (with --skip: the ridge fit the network's correction starts
# from), so that evaluation can say what the network adds to it
LINEAR = "linear"  # (N, K) or None | propensity of the linear skip alone

OUTPUTS = (NODE, EDGE, OUT_TEMPERATURE, LATENT)
PREDICTIONS = (*OUTPUTS, LINEAR)  # what predict returns
