"""BOTAN, T-BOTAN and the Bapst et al. GNN.

**BOTAN** (Shiba, Hanai, Suzumura, Shimokawabe, J. Chem. Phys. 158, 084503 (2023); reference
code h3-Open-BDEC/pyg_botan).  With ``x0 = f_n(types)``, ``e0 = f_e(edge input)`` (MLPs, hidden
64) and ``x = x0``, ``e = e0``, repeat ``steps = 7`` times with *shared* weights:

    e_ij <- phi_e([x_i, x_j, e_ij, e0_ij])          edge update, (E, 4H) -> (E, H)
    x_j  <- phi_n([x_j, x0_j, sum_i e_ij])           node update, (N, 3H) -> (N, H)

then decode ``m_i = g(x_i)`` (propensity) and ``e_ij = g(e_ij)`` (change of pair distance).  As
in the reference, one decoder ``g`` serves nodes and edges (``shared_decoder=True``); here it has
K outputs, one per isoconfigurational time (multi-time head).

**T-BOTAN** (``global_feature=True``): a global vector ``u`` (B, H), ``u0 = mean_i x0_i`` (the
pooled encoded node inputs, so descriptors such as the local energy reach it at once), is updated after
every node update from the mean-pooled node states, ``u <- phi_u([u, mean_i x_i])``; nothing flows
back to nodes or edges.  A decoder ``g_T(u)`` predicts the temperature; ``u`` after the last step
is the temperature latent.  With ``thermometer=True`` the read-out is ``T = a e + b + g_T(u)``:
a thermometer linear in the potential energy per particle ``e`` of the thermal structure
(``data.energy``; ``a``, ``b`` fitted on the training configurations and fixed,
:func:`glassdyn.predict.warm_start.init_thermometer`) plus the learned correction ``g_T``, whose
last layer starts at zero, as the node output starts from the ridge skip.

**Bapst et al.** (Nat. Phys. 16, 448 (2020)): encode-process-decode; at every step the current
node/edge states are concatenated with the encoded ones,
``e_ij <- phi_e([e_ij, e0_ij, x_i, x0_i, x_j, x0_j])`` (E, 6H), ``x_j <- phi_n([sum_i e_ij, x_j, x0_j])``,
and a node-only decoder.

All outputs are in *normalised* units: the model holds the per-time means / stds of the training
targets as buffers, and :meth:`GraphModel.predict` returns physical units (LJ lengths, LJ
temperature).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from glassdyn.nn import keys as nk
from glassdyn.nn.layers import (
    MLP,
    EdgeMLP,
    restore_order,
    sort_by_target,
    sum_at_target,
)

KINDS = ("botan", "tbotan", "bapst")


@dataclass(frozen=True)
class ModelConfig:
    """Everything that builds a model (saved in every checkpoint).

    kind: botan | tbotan | bapst; n_types: particle species (one-hot node input);
    node_dim: extra per-node inputs after the one-hot type (``data.node_attr``, (N, node_dim));
    edge_dim: edge input width (3 = relative vector, 6 = TS+IS vectors, 1-3 invariant features);
    n_outputs: K, the number of predicted times; hidden: MLP width; steps: message passing steps.
    """

    kind: str = "botan"
    n_types: int = 2
    node_dim: int = 0
    edge_dim: int = 3
    n_outputs: int = 1
    hidden: int = 64
    steps: int = 7
    shared_decoder: bool = True
    node_vec_dim: int = 0
    skip: bool = False
    readout_hops: int = 0
    thermometer: bool = False  # T-BOTAN: read-out = energy thermometer + correction

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind must be one of {KINDS}, got {self.kind!r}")
        if self.readout_hops and self.shared_decoder:
            raise ValueError("a coarse-grained readout (readout_hops > 0) needs separate decoders")

    @property
    def global_feature(self) -> bool:
        return self.kind == "tbotan"

    @property
    def edge_head(self) -> bool:
        return self.kind in ("botan", "tbotan")

    def to_dict(self) -> dict:
        return asdict(self)


class GraphModel(nn.Module):
    """Common part: target normalisation buffers and :meth:`predict` in physical units."""

    config: ModelConfig

    def _init_buffers(self, K: int) -> None:
        # extra node inputs are standardised with training-set statistics (they can be ~0.1 sigma)
        self.register_buffer("node_attr_mean", torch.zeros(self.config.node_dim))
        self.register_buffer("node_attr_std", torch.ones(self.config.node_dim))
        self.register_buffer("node_mean", torch.zeros(K))
        self.register_buffer("node_std", torch.ones(K))
        self.register_buffer("edge_mean", torch.zeros(K))
        self.register_buffer("edge_std", torch.ones(K))
        self.register_buffer("temperature_mean", torch.zeros(()))
        self.register_buffer("temperature_std", torch.ones(()))
        if self.config.skip:
            # linear skip from the standardised node inputs to the node output, per species:
            # node += z @ skip_weight[type] + skip_bias[type]  (normalised units)
            self.skip_weight = nn.Parameter(
                torch.zeros(self.config.n_types, self.config.node_dim, K)
            )
            self.skip_bias = nn.Parameter(torch.zeros(self.config.n_types, K))
        if self.config.thermometer:
            # T = thermo_slope * e + thermo_intercept (LJ units), e the energy per particle
            self.register_buffer("thermo_slope", torch.zeros(()))
            self.register_buffer("thermo_intercept", torch.zeros(()))

    def energy_reading(self, data) -> Tensor:
        """The energy thermometer's reading (B,) in normalised temperature units."""
        T = self.thermo_slope * data.energy.to(self.thermo_slope.dtype) + self.thermo_intercept
        return (T - self.temperature_mean) / self.temperature_std

    def skip_term(self, data) -> Tensor:
        """The linear skip (N, K) of the standardised node inputs, per species."""
        z = (data.node_attr.to(self.skip_weight.dtype) - self.node_attr_mean) / self.node_attr_std
        t = data.types.long()
        return torch.einsum("nf,nfk->nk", z, self.skip_weight[t]) + self.skip_bias[t]

    def set_normalization(self, **stats: Tensor) -> None:
        """Set buffers, e.g. ``node_mean=(K,)``; the names are those of the buffers."""
        for name, value in stats.items():
            getattr(self, name).copy_(torch.as_tensor(value, dtype=torch.float32))

    def reset_parameters(self) -> None:
        """Re-initialise every sub-layer (the normalisation buffers are kept)."""
        for m in self.modules():
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()

    # ------------------------------------------------------- the parts both networks share
    def _encoders(self) -> None:
        """The node encoder (one-hot type, descriptors, TS -> IS vector) and the edge encoder."""
        c = self.config
        self.node_encoder = MLP(c.n_types + c.node_dim + c.node_vec_dim, c.hidden)
        self.edge_encoder = MLP(c.edge_dim, c.hidden)

    def _encode(self, data, fast: bool):
        """(the caller's edge order or None, edge_index, edge lengths for the readout or None,
        x0 (N, H), e0 (E, H)); ``fast``: edges sorted by target, the fused edge encoder."""
        order, edge_index, edge_attr = None, data.edge_index, data.edge_attr
        lengths = (data.edge_length,) if self.config.readout_hops else ()
        if fast:  # internally by target
            order, edge_index, edge_attr, *lengths = sort_by_target(edge_index, edge_attr, *lengths)
        x0 = self.node_encoder(
            node_inputs(data, self.config, self.node_attr_mean, self.node_attr_std)
        )
        e0 = self.edge_encoder.fused(edge_attr) if fast else self.edge_encoder(edge_attr)
        return order, edge_index, (lengths[0] if lengths else None), x0, e0

    def _message(self, x, e, e0, const, edge_index, naive: bool, fused: bool):
        """One edge update ``e <- phi_e([x_src, x_dst, e, e0])`` and the messages summed at each
        target (N, H): (e, m), by the naive, split or fused implementation."""
        if naive:
            e = self.edge_update.forward_naive(x, x, e, e0, edge_index)
            return e, sum_at_target(e, edge_index[1], x.shape[0])
        if fused:
            return self.edge_update.message(x, x, e, const, edge_index)
        e = self.edge_update(x, x, e, const, edge_index)
        return e, sum_at_target(e, edge_index[1], x.shape[0])

    def _decode_nodes(self, x, data, edge_index, lengths) -> Tensor:
        """The node output (N, K): the (coarse-grained) node states decoded, plus the skip."""
        if self.config.readout_hops:
            x = coarse_grained(x, edge_index, lengths, self.config.readout_hops)
        node = self.node_decoder(x)
        if self.config.skip:
            node = node + self.skip_term(data)
        return node

    @torch.no_grad()
    def predict(self, data) -> dict[str, Tensor | None]:
        """Physical-unit predictions: node (N, K), edge (E, K) or None, temperature (B,) or None,
        latent (B, H) or None, and the linear skip alone (N, K) (None without ``skip``)."""
        out = self(data)
        res = {
            nk.NODE: out[nk.NODE] * self.node_std + self.node_mean,
            nk.EDGE: None,
            nk.OUT_TEMPERATURE: None,
            nk.LATENT: out[nk.LATENT],
            nk.LINEAR: None,
        }
        if self.config.skip:
            res[nk.LINEAR] = self.skip_term(data) * self.node_std + self.node_mean
        if out[nk.EDGE] is not None:
            res[nk.EDGE] = out[nk.EDGE] * self.edge_std + self.edge_mean
        if out[nk.OUT_TEMPERATURE] is not None:
            t = out[nk.OUT_TEMPERATURE]
            res[nk.OUT_TEMPERATURE] = t * self.temperature_std + self.temperature_mean
        return res


def node_inputs(
    data, config: ModelConfig, mean: Tensor | None = None, std: Tensor | None = None
) -> Tensor:
    """Node input (N, n_types + node_dim): one-hot type, then ``(data.node_attr - mean) / std``."""
    x = nn.functional.one_hot(data.types.long(), config.n_types).float()
    if config.node_dim:
        attr = data.node_attr.to(x.dtype)
        if mean is not None:
            attr = (attr - mean) / std
        x = torch.cat([x, attr], dim=1)
    if config.node_vec_dim:
        x = torch.cat([x, data.node_vec.to(x.dtype)], dim=1)
    return x


def coarse_grained(
    x: Tensor, edge_index: Tensor, r: Tensor, hops: int, length: float = 1.0
) -> Tensor:
    """``[x, C x, C^2 x, ..., C^hops x]`` (N, (1 + hops) H): repeated neighbour averages with the
    weights of Boattini et al. (PRL 127, 088007 (2021)), ``(C x)_j = (x_j + sum_i w_ij x_i) /
    (1 + sum_i w_ij)``, ``w_ij = exp(-r_ij / length)`` over the graph's edges; h hops reach h
    graph radii, a coarse-graining length growing like sqrt(h)."""
    src, dst = edge_index[0], edge_index[1]
    N = x.shape[0]
    w = torch.exp(-r / length).to(x.dtype)[:, None]
    norm = 1.0 + scatter(w, dst, 0, N)
    out, h = [x], x
    for _ in range(hops):
        h = (h + scatter(w * h.index_select(0, src), dst, 0, N)) / norm
        out.append(h)
    return torch.cat(out, dim=1)


def _num_graphs(data, n_nodes: int, device) -> tuple[Tensor, int]:
    batch = getattr(data, "batch", None)
    if batch is None:
        return torch.zeros(n_nodes, dtype=torch.long, device=device), 1
    return batch, int(data.num_graphs)


class Botan(GraphModel):
    """BOTAN (``kind="botan"``) and T-BOTAN (``kind="tbotan"``); see the module docstring.

    ``forward(data, naive=False)`` takes a PyG ``Data``/``Batch`` with ``types`` (N,) long,
    ``edge_index`` (2, E), ``edge_attr`` (E, edge_dim) and optionally ``batch`` (N,), and returns a
    dict: ``node`` (N, K), ``edge`` (E, K), ``temperature`` (B,) or None, ``latent`` (B, H) or None,
    all normalised.  Three implementations of the same function: the default (``fused=True``)
    sorts edges by target internally and runs the message-passing steps and the edge MLPs
    through the hand-written backward of :mod:`glassdyn.nn.fused` (the fast CPU path);
    ``fused=False`` is autograd through the split first edge layer; ``naive=True`` the plain
    gather-concatenate edge update of the reference implementation (tests and benchmarks).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        H, K = config.hidden, config.n_outputs
        self._encoders()
        self.edge_update = EdgeMLP(n_node=H, n_edge=H, n_const=H, hidden=H)
        self.node_update = MLP(3 * H, H)
        self.node_decoder = MLP(H * (1 + config.readout_hops), H, out=K)
        self.edge_decoder = self.node_decoder if config.shared_decoder else MLP(H, H, out=K)
        if config.global_feature:
            self.global_update = MLP(2 * H, H)
            self.temperature_decoder = MLP(H, H, out=1)
        self._init_buffers(K)

    def forward(self, data, naive: bool = False, fused: bool = True) -> dict[str, Tensor | None]:
        fast = fused and not naive
        order, edge_index, lengths, x0, e0 = self._encode(data, fast)
        x, e, u = x0, e0, None
        if self.config.global_feature:
            batch, B = _num_graphs(data, x0.shape[0], x0.device)
            u = scatter(x0, batch, 0, B, reduce="mean")  # the pooled encoded inputs
        const = None if naive else self.edge_update.constant(e0)
        for _ in range(self.config.steps):
            e, m = self._message(x, e, e0, const, edge_index, naive, fused)
            x = self.node_update(torch.cat([x, x0, m], dim=1))
            if u is not None:
                pooled = scatter(x, batch, 0, u.shape[0], reduce="mean")
                u = self.global_update(torch.cat([u, pooled], dim=1))
        return {
            nk.NODE: self._decode_nodes(x, data, edge_index, lengths),
            nk.EDGE: restore_order(
                self.edge_decoder.fused(e) if fast else self.edge_decoder(e), order
            ),
            nk.OUT_TEMPERATURE: self._temperature(u, data) if u is not None else None,
            nk.LATENT: u,
        }

    def _temperature(self, u: Tensor, data) -> Tensor:
        """T-BOTAN's read-out (B,), normalised: the decoder, plus the energy thermometer."""
        t = self.temperature_decoder(u)[:, 0]
        return t + self.energy_reading(data) if self.config.thermometer else t

    def __repr__(self) -> str:
        c = self.config
        return f"Botan(kind={c.kind}, hidden={c.hidden}, steps={c.steps}, K={c.n_outputs}, edge_dim={c.edge_dim})"


class Bapst(GraphModel):
    """The Bapst et al. (2020) graph network: encode, 7 shared steps with skip concatenation,
    node decoder only.  Same inputs, output dict (``edge`` is None) and ``naive`` / ``fused``
    switches as :class:`Botan`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        H, K = config.hidden, config.n_outputs
        self._encoders()
        # edge input [e, e0, x_src, x0_src, x_dst, x0_dst]: node blocks are [x, x0] (2H)
        self.edge_update = EdgeMLP(n_node=2 * H, n_edge=H, n_const=H, hidden=H)
        self.node_update = MLP(3 * H, H)
        self.node_decoder = MLP(H * (1 + config.readout_hops), H, out=K)
        self._init_buffers(K)

    def forward(self, data, naive: bool = False, fused: bool = True) -> dict[str, Tensor | None]:
        # the order of edges does not change the node output: the sorted one is kept
        _, edge_index, lengths, x0, e0 = self._encode(data, fused and not naive)
        x, e = x0, e0
        const = None if naive else self.edge_update.constant(e0)
        for _ in range(self.config.steps):
            xx = torch.cat([x, x0], dim=1)
            e, m = self._message(xx, e, e0, const, edge_index, naive, fused)
            x = self.node_update(torch.cat([m, x, x0], dim=1))
        node = self._decode_nodes(x, data, edge_index, lengths)
        return {nk.NODE: node, nk.EDGE: None, nk.OUT_TEMPERATURE: None, nk.LATENT: None}

    def __repr__(self) -> str:
        c = self.config
        return f"Bapst(hidden={c.hidden}, steps={c.steps}, K={c.n_outputs}, edge_dim={c.edge_dim})"


def build_model(config: ModelConfig) -> GraphModel:
    """The model a :class:`ModelConfig` describes (fresh parameters)."""
    return Bapst(config) if config.kind == "bapst" else Botan(config)
