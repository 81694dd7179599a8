"""Training losses of the BOTAN family.

- :func:`botan_loss`: ``p * MSE_node + (1 - p) * MSE_edge`` (Shiba et al. 2023, p = 0.4), on
  normalised targets, all K times at once; ``p = 1`` is the node-only loss of Bapst et al.
- :func:`temperature_loss`: MSE of the T-BOTAN temperature decoder (normalised temperature).
- :func:`heterogeneity_loss`: a GlassMLP-style penalty (Jung, Biroli, Berthier, PRL 130, 238202
  (2023)) on the spread and the spatial correlation of the predicted mobility field, so that a
  model does not regress to the mean and flatten chi4 / S4.  Per graph b and time k,

      sd_b,k    = std_i(m_ik)                                 (N_b particles)
      C_b,k     = <dm_ik dm_jk>_edges / sd_b,k^2              (graph edges, r < cutoff)

  and the penalty is ``mean_{b,k} (sd_pred - sd_true)^2 + (C_pred - C_true)^2``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import scatter


def botan_loss(
    pred_node: Tensor, y: Tensor, pred_edge: Tensor | None, y_edge: Tensor | None, p: float = 0.4
) -> Tensor:
    """``p MSE(node) + (1 - p) MSE(edge)``; node (N, K), edge (E, K) or None (then node MSE only).

    ``p = 0`` (BOTAN's edge pre-training) is the edge MSE alone: the node prediction is not part
    of the graph, so nothing node-only receives a gradient.
    """
    if pred_edge is not None and y_edge is not None and p <= 0.0:
        return torch.mean((pred_edge - y_edge) ** 2)
    node = torch.mean((pred_node - y) ** 2)
    if pred_edge is None or y_edge is None or p >= 1.0:
        return node
    edge = torch.mean((pred_edge - y_edge) ** 2)
    return p * node + (1.0 - p) * edge


def temperature_loss(pred: Tensor, target: Tensor) -> Tensor:
    """MSE of predicted vs true (normalised) temperatures, (B,)."""
    return torch.mean((pred - target) ** 2)


def field_statistics(
    m: Tensor, edge_index: Tensor, batch: Tensor, n_graphs: int, eps: float = 1e-8
) -> tuple[Tensor, Tensor]:
    """Per-graph spread and neighbour correlation of a field ``m`` (N, K): (B, K) each."""
    mean = scatter(m, batch, 0, n_graphs, reduce="mean")
    dm = m - mean[batch]
    var = scatter(dm * dm, batch, 0, n_graphs, reduce="mean")
    prod = dm[edge_index[0]] * dm[edge_index[1]]
    cov = scatter(prod, batch[edge_index[0]], 0, n_graphs, reduce="mean")
    return torch.sqrt(var + eps), cov / (var + eps)


def heterogeneity_loss(
    pred: Tensor, y: Tensor, edge_index: Tensor, batch: Tensor | None = None, n_graphs: int = 1
) -> Tensor:
    """GlassMLP-style penalty on the spread and neighbour correlation of ``pred`` vs ``y`` (N, K)."""
    if batch is None:
        batch = torch.zeros(pred.shape[0], dtype=torch.long, device=pred.device)
    sd_p, c_p = field_statistics(pred, edge_index, batch, n_graphs)
    with torch.no_grad():
        sd_t, c_t = field_statistics(y, edge_index, batch, n_graphs)
    return torch.mean((sd_p - sd_t) ** 2) + torch.mean((c_p - c_t) ** 2)
