"""Building blocks shared by BOTAN, T-BOTAN and the Bapst GNN.

The edge update of these networks is an MLP on the concatenation of per-node and per-edge
blocks, ``e' = MLP([a_src, b_dst, e, c])``.  Its first layer is linear, so

    W [a_src, b_dst, e, c] + b  =  (W_a a)[src] + (W_b b)[dst] + W_e e + (W_c c + b).

:class:`EdgeMLP` computes ``W_a a`` and ``W_b b`` once per *node* (N rows) and gathers the
results, instead of gathering node features onto the E ~ 40 N edges and multiplying there; the
``W_c c + b`` term of a block that stays fixed over the message-passing steps (the encoded edge
input) is computed once per forward pass (:meth:`EdgeMLP.constant`).  Same function, same
parameters as one ``Linear`` over the concatenation (:meth:`EdgeMLP.forward_naive` is that plain
version, used by the tests and the benchmark).  :meth:`EdgeMLP.message` and :meth:`MLP.fused`
compute the same functions with the hand-written backward passes of :mod:`glassdyn.nn.fused`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from glassdyn.nn.fused import EdgeMLPFunction, MessageStep


class MLP(nn.Module):
    """``Linear -> ReLU -> Linear -> ReLU [-> Linear(out)]``; hidden width ``hidden``.

    With ``out=None`` the last activation is kept (an encoder / update MLP, as in BOTAN and Bapst
    et al.); with ``out=K`` a final linear layer maps to K outputs (a decoder).
    """

    def __init__(self, n_in: int, hidden: int = 64, out: int | None = None):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, out) if out is not None else None

    def reset_parameters(self) -> None:
        for m in (self.fc1, self.fc2, self.fc3):
            if m is not None:
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        # in-place ReLU on fresh Linear outputs: saves one large allocation per layer on edges
        x = self.fc1(x).relu_()
        x = self.fc2(x).relu_()
        return self.fc3(x) if self.fc3 is not None else x

    def fused(self, x: Tensor) -> Tensor:
        """Same function as :meth:`forward`, with the hand-written chunked backward of
        :class:`glassdyn.nn.fused.EdgeMLPFunction` (for the E rows of edges)."""
        layers = [m for m in (self.fc1, self.fc2, self.fc3) if m is not None]
        params = [t for m in layers for t in (m.weight, m.bias)]
        return EdgeMLPFunction.apply(x, self.fc3 is None, *params)

    def __repr__(self) -> str:
        out = f", out={self.fc3.out_features}" if self.fc3 is not None else ""
        return f"MLP({self.fc1.in_features}, hidden={self.fc1.out_features}{out})"


class EdgeMLP(nn.Module):
    """Edge update ``e'_ij = relu(W2 relu(W1 [a_i, b_j, e_ij, c_ij] + b1) + b2)`` with a split W1.

    Shapes: ``a``, ``b`` (N, n_node) node blocks gathered at the source i = edge_index[0] and the
    target j = edge_index[1]; ``e`` (E, n_edge) the current edge state; ``c`` (E, n_const) a block
    that is the same at every step (BOTAN and Bapst feed the encoded edge input back).
    Output (E, hidden).
    """

    def __init__(self, n_node: int, n_edge: int, n_const: int, hidden: int = 64):
        super().__init__()
        self.n_node, self.n_edge, self.n_const, self.hidden = n_node, n_edge, n_const, hidden
        self.lin_src = nn.Linear(n_node, hidden, bias=False)
        self.lin_dst = nn.Linear(n_node, hidden, bias=False)
        self.lin_edge = nn.Linear(n_edge, hidden, bias=False)
        self.lin_const = nn.Linear(n_const, hidden, bias=True)
        self.fc2 = nn.Linear(hidden, hidden)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # initialise as one Linear(n_in, hidden) over the concatenation would be
        full = nn.Linear(2 * self.n_node + self.n_edge + self.n_const, self.hidden)
        with torch.no_grad():
            w = full.weight.split([self.n_node, self.n_node, self.n_edge, self.n_const], dim=1)
            for lin, part in zip((self.lin_src, self.lin_dst, self.lin_edge, self.lin_const), w):
                lin.weight.copy_(part)
            self.lin_const.bias.copy_(full.bias)
        self.fc2.reset_parameters()

    def constant(self, c: Tensor) -> Tensor:
        """``W_c c + b1`` (E, hidden): compute once per forward pass, pass to every step."""
        return self.lin_const(c)

    def forward(self, a: Tensor, b: Tensor, e: Tensor, const: Tensor, edge_index: Tensor) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        # per-node products (N rows) gathered onto edges; accumulate in place (E x H passes are
        # the cost on CPU: each avoided temporary saves one)
        h = self.lin_src(a).index_select(0, src)
        h += self.lin_dst(b).index_select(0, dst)
        h += const
        h.addmm_(e, self.lin_edge.weight.t().to(h.dtype))  # in place: no autocast, cast here
        h.relu_()
        return self.fc2(h).relu_()

    def message(
        self, a: Tensor, b: Tensor, e: Tensor, const: Tensor, edge_index: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Fused step: ``(forward(a, b, e, const, edge_index), its sum at the target)``,
        (E, hidden) and (N, hidden), with the hand-written backward of
        :class:`glassdyn.nn.fused.MessageStep` (less memory traffic; same function)."""
        return MessageStep.apply(
            self.lin_src(a),
            self.lin_dst(b),
            e,
            const,
            self.lin_edge.weight,
            self.fc2.weight,
            self.fc2.bias,
            edge_index[0],
            edge_index[1],
        )

    def forward_naive(
        self, a: Tensor, b: Tensor, e: Tensor, c: Tensor, edge_index: Tensor
    ) -> Tensor:
        """The same function as the reference writes it: gather, concatenate, one Linear."""
        src, dst = edge_index[0], edge_index[1]
        w = torch.cat(
            [self.lin_src.weight, self.lin_dst.weight, self.lin_edge.weight, self.lin_const.weight],
            dim=1,
        )
        x = torch.cat([a[src], b[dst], e, c], dim=1)
        h = torch.relu(nn.functional.linear(x, w, self.lin_const.bias))
        return torch.relu(self.fc2(h))

    def __repr__(self) -> str:
        return f"EdgeMLP(node={self.n_node}, edge={self.n_edge}, const={self.n_const}, hidden={self.hidden})"


def sum_at_target(messages: Tensor, dst: Tensor, n: int) -> Tensor:
    """Messages (E, H) summed at their targets ``dst`` (E,) -> (n, H): the sum of
    ``torch_geometric.utils.scatter``, by ``index_add_``.  Kept for the message sums of the split
    and naive paths (the references of ``scripts/bench_botan.py``): with PyG's ``scatter_add_``
    their N=4096 training step took 6% more CPU time (1.51-1.55 s vs 1.42 s, tuned allocator)."""
    return messages.new_zeros((n, messages.shape[1])).index_add_(0, dst, messages)


def sort_by_target(edge_index: Tensor, *edge_tensors: Tensor) -> tuple[Tensor | None, ...]:
    """Edges reordered by target ``edge_index[1]`` (stable), for sequential scatters at the target.

    Returns ``(order, edge_index[:, order], *(t[order] for t in edge_tensors))``; ``order`` (E,)
    is None (and nothing is copied) when the targets are already non-decreasing.  Undo with
    :func:`restore_order`.
    """
    dst = edge_index[1]
    if dst.numel() < 2 or bool((dst[1:] >= dst[:-1]).all()):
        return (None, edge_index, *edge_tensors)
    order = torch.sort(dst, stable=True).indices
    return (order, edge_index[:, order], *(t[order] for t in edge_tensors))


def restore_order(y: Tensor, order: Tensor | None) -> Tensor:
    """Rows of ``y`` (E, ...) computed on edges ``order`` put back in the original edge order."""
    if order is None:
        return y
    return y.new_empty(y.shape).index_copy(0, order, y)
