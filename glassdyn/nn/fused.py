"""Hand-written forward/backward of the edge-side hot path of BOTAN and Bapst (CPU training).

One N=4096 graph has E ~ 166k edges, so an edge tensor (E, 64) is 42 MB in float32.  A training
step is then bound by two things: the E x 64 x 64 matrix products (fixed by the model) and the
passes over E x 64 tensors that sit between them (bias, ReLU, gathers, scatters, ReLU masks,
bias gradients), which autograd performs one op at a time, each through main memory and most
into a fresh tensor.  The functions here compute the same maths with:

- **chunks of edges** (:data:`CHUNK` rows): every elementwise step, gather and scatter of a chunk
  runs right after the matrix product that made it, while the chunk is still in cache; only the
  tensors that backward needs are written at full size;
- **in-place ReLU masks** on gradient buffers these functions own; bias gradients as
  ``ones @ g`` (a matrix-vector product, faster than ``g.sum(0)`` here); weight gradients
  accumulated chunk by chunk, oriented so that a narrow input (the 3 columns of a pair vector)
  does not hit the slow ``(64, E) @ (E, 3)`` shape of a generic GEMM (measured 9x slower than
  ``(3, E) @ (E, 64)``);
- **oneDNN** for the full-size forward row products (:func:`_linear`, ReLU fused; 1.3x faster
  than MKL's sgemm here); products on chunks stay with MKL, which writes (or accumulates) straight
  into chunk views (oneDNN on chunks plus a copy measured slower);
- **bfloat16 under autocast**: inside ``torch.autocast(..., dtype=torch.bfloat16)`` the products
  and the saved edge tensors are bfloat16, while aggregations, scatters and weight gradients
  are summed in float32 (``TrainConfig(precision="bf16")``).

:class:`MessageStep` is one message-passing step (edge update + aggregation at the target),
:class:`EdgeMLPFunction` an ``MLP`` (``Linear``/``ReLU`` stack) applied to edge rows.  Their
outputs and gradients equal autograd's through the plain expressions (``forward_naive`` in
:mod:`glassdyn.nn.layers`) to float round-off; first-order gradients only.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

CHUNK = 8192  # edge rows per chunk: 2 MB per (CHUNK, 64) float32 block, a few stay in L2/L3
ONEDNN = True  # row products through oneDNN where available (set False for the addmm path)


@functools.cache
def _onednn_works() -> bool:
    try:
        x, w = torch.randn(5, 3), torch.randn(2, 3)
        y = torch.ops.mkldnn._linear_pointwise(x, w, None, "relu", [], "")
        return bool(torch.allclose(y, torch.relu(x @ w.t()), atol=1e-5))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


def _linear(x: Tensor, w: Tensor, b: Tensor | None = None, relu: bool = False) -> Tensor:
    """``x w^T + b`` (then ReLU), x (M, K), w (N, K) -> a new (M, N) tensor.

    On CPU through oneDNN's inner product (``mkldnn::_linear_pointwise``, the op inductor uses;
    measured 1.3x faster than MKL's sgemm for (E, 64) x (64, 64) here, ReLU fused); elsewhere,
    or when that op is missing, ``addmm``.  It has no ``out=``: callers use its result as it is
    (a copy into another buffer costs what oneDNN saves).
    """
    cpu_dtype = x.dtype in (torch.float32, torch.bfloat16)
    if ONEDNN and x.device.type == "cpu" and cpu_dtype and _onednn_works():
        return torch.ops.mkldnn._linear_pointwise(x, w, b, "relu" if relu else "none", [], "")
    y = torch.mm(x, w.t()) if b is None else torch.addmm(b, x, w.t())
    return y.relu_() if relu else y


def _relu_backward_(grad: Tensor, result: Tensor) -> Tensor:
    """``grad *= (result > 0)`` in place (``result`` is the output of a ReLU)."""
    return torch.ops.aten.threshold_backward.grad_input(grad, result, 0.0, grad_input=grad)


def _compute_dtype(t: Tensor) -> torch.dtype:
    """The autocast dtype when autocast is on for ``t``'s device (bfloat16 on CPU), else t's."""
    device = t.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else t.dtype


def _chunks(n: int):
    for a in range(0, n, CHUNK):
        yield a, min(a + CHUNK, n)


class _WeightGrad:
    """Accumulates ``dL/dW = sum_chunks g^T x`` for ``W`` (out, in), ``g`` (M, out), ``x`` (M, in),
    and ``dL/db = sum g``; a narrow ``x`` is multiplied as ``x^T g`` (fast orientation)."""

    def __init__(self, weight: Tensor, bias: bool):
        out_f, in_f = weight.shape
        self.narrow = in_f < out_f
        self.w = weight.new_zeros((in_f, out_f) if self.narrow else (out_f, in_f))
        self.b = weight.new_zeros(out_f) if bias else None
        self._ones = None

    def add(self, g: Tensor, x: Tensor) -> None:
        if self._ones is None or self._ones.shape[0] < g.shape[0]:
            self._ones = g.new_ones(g.shape[0])
        ones = self._ones[: g.shape[0]]
        if g.dtype == self.w.dtype:
            self.w.addmm_(x.t(), g) if self.narrow else self.w.addmm_(g.t(), x)
            if self.b is not None:
                self.b.addmv_(g.t(), ones)
        else:  # low-precision products of one chunk, summed over chunks in the weight's dtype
            self.w += (x.t().mm(g) if self.narrow else g.t().mm(x)).to(self.w.dtype)
            if self.b is not None:
                self.b += g.sum(0, dtype=self.b.dtype)

    def weight(self) -> Tensor:
        return self.w.t() if self.narrow else self.w


class MessageStep(torch.autograd.Function):
    """``(e', m) = MessageStep.apply(P, Q, e, c, We, W2, b2, src, dst)``:

        h_k  = relu(P[src_k] + Q[dst_k] + c_k + e_k We^T)      (E, H)
        e'_k = relu(h_k W2^T + b2)                              (E, H)
        m_n  = sum_{k: dst_k = n} e'_k                          (N, H)

    i.e. :meth:`glassdyn.nn.layers.EdgeMLP.forward` (``P = W_a a``, ``Q = W_b b`` per node,
    ``c`` the constant block) followed by its sum at the target (what ``scatter`` of
    torch_geometric does).  Shapes: P, Q (N, H); e (E, H_e); c (E, H); We (H, H_e); W2 (H, H);
    b2 (H,); src, dst (E,) int64.  Fastest with edges sorted by ``dst`` (sequential scatter and
    gather at the target).  Saves ``h`` and ``e'`` for backward (``e`` is the caller's tensor).
    """

    @staticmethod
    def forward(ctx, P, Q, e, c, We, W2, b2, src, dst):
        cd = _compute_dtype(P)
        with torch.autocast(P.device.type, enabled=False):
            P, Q, e, c, We, W2, b2 = (t.to(cd) for t in (P, Q, e, c, We, W2, b2))
            N, H = P.shape
            E = e.shape[0]
            h = P.new_empty((E, H))
            table = torch.cat([P, Q])  # (2N, H); edge k sums rows src_k and N + dst_k
            pairs = torch.stack([src, dst + N], dim=1)
            for a, b in _chunks(E):
                g = torch.nn.functional.embedding_bag(pairs[a:b], table, mode="sum")
                torch.add(g, c[a:b], out=h[a:b]).addmm_(e[a:b], We.t()).relu_()
            out = _linear(h, W2, b2, relu=True)
            acc = torch.float64 if cd == torch.float64 else torch.float32
            m = out.new_zeros((N, out.shape[1]), dtype=acc)  # sums in float32 at least
            if out.dtype == m.dtype:
                m.index_add_(0, dst, out)
            else:
                for a, b in _chunks(E):
                    m.index_add_(0, dst[a:b], out[a:b].to(m.dtype))
        ctx.save_for_backward(h, out, e, We, W2, src, dst)
        ctx.set_materialize_grads(False)
        ctx.n_nodes = N
        return out, m

    @staticmethod
    @once_differentiable
    def backward(ctx, g_out, g_m):
        h, out, e, We, W2, src, dst = ctx.saved_tensors
        if g_out is None and g_m is None:
            return (None,) * 9
        with torch.autocast(h.device.type, enabled=False):
            return MessageStep._backward(ctx, h, out, e, We, W2, src, dst, g_out, g_m)

    @staticmethod
    def _backward(ctx, h, out, e, We, W2, src, dst, g_out, g_m):
        E, H = h.shape
        N = ctx.n_nodes
        cd = h.dtype  # compute dtype of the forward pass; sums (weights, scatters) in float32
        acc = torch.float64 if cd == torch.float64 else torch.float32
        need_e = ctx.needs_input_grad[2]
        ge = e.new_empty(e.shape) if need_e else None
        gc = h.new_empty((E, H))  # dL/dc = dL/dh (pre-activation), also scattered to P and Q
        gP, gQ = h.new_zeros((N, H), dtype=acc), h.new_zeros((N, H), dtype=acc)
        gWe = _WeightGrad(We.to(acc), bias=False)
        gW2 = _WeightGrad(W2.to(acc), bias=True)
        for a, b in _chunks(E):
            # dL/de' = incoming gradient of e' + dL/dm gathered at the target of each edge
            if g_m is not None:
                g = g_m.index_select(0, dst[a:b]).to(cd)
                if g_out is not None:
                    g += g_out[a:b]
            else:
                g = g_out[a:b].to(cd, copy=True)
            _relu_backward_(g, out[a:b])
            gW2.add(g, h[a:b])
            gh = _relu_backward_(torch.mm(g, W2, out=gc[a:b]), h[a:b])
            gWe.add(gh, e[a:b])
            if need_e:
                torch.mm(gh, We, out=ge[a:b])
            gh = gh.to(acc)
            gP.index_add_(0, src[a:b], gh)
            gQ.index_add_(0, dst[a:b], gh)
        return gP, gQ, ge, gc, gWe.weight(), gW2.weight(), gW2.b, None, None


class EdgeMLPFunction(torch.autograd.Function):
    """``y = EdgeMLPFunction.apply(x, relu_last, W1, b1, W2, b2, ...)``: the stack
    ``x -> relu(x W1^T + b1) -> ... -> x Wn^T + bn`` (ReLU after the last layer too when
    ``relu_last``), as :class:`glassdyn.nn.layers.MLP` computes it, for many rows (edges).
    Shapes: x (M, F); Wi (H_i, H_{i-1}); bi (H_i,).  Saves each layer's input."""

    @staticmethod
    def forward(ctx, x, relu_last, *params):
        cd = _compute_dtype(x)
        with torch.autocast(x.device.type, enabled=False):
            weights = [w.to(cd) for w in params[0::2]]
            biases = [b.to(cd) for b in params[1::2]]
            acts = [x.to(cd)]
            for i, (w, bias) in enumerate(zip(weights, biases)):
                acts.append(_linear(acts[-1], w, bias, relu=i < len(weights) - 1 or relu_last))
        ctx.save_for_backward(*acts, *weights)
        ctx.relu_last = relu_last
        return acts[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, g_y):
        with torch.autocast(g_y.device.type, enabled=False):
            return EdgeMLPFunction._backward(ctx, g_y)

    @staticmethod
    def _backward(ctx, g_y):
        saved = ctx.saved_tensors
        n = len(saved) // 2
        acts, weights = saved[: n + 1], saved[n + 1 :]
        cd = acts[0].dtype
        acc = torch.float64 if cd == torch.float64 else torch.float32
        grads = [_WeightGrad(w.to(acc), bias=True) for w in weights]
        need_x = ctx.needs_input_grad[0]
        gx = acts[0].new_empty(acts[0].shape) if need_x else None
        for a, b in _chunks(acts[0].shape[0]):
            g = g_y[a:b].to(cd, copy=True)
            if ctx.relu_last:
                _relu_backward_(g, acts[n][a:b])
            for i in range(n - 1, -1, -1):
                grads[i].add(g, acts[i][a:b])
                if i > 0:
                    g = _relu_backward_(g.mm(weights[i]), acts[i][a:b])
                elif need_x:
                    torch.mm(g, weights[0], out=gx[a:b])
        out = [gx, None]
        for gr in grads:
            out += [gr.weight(), gr.b]
        return tuple(out)
