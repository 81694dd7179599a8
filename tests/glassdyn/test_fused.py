"""Hand-written backward passes (glassdyn.nn.fused) = autograd through the plain expressions."""

import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.utils import scatter

from glassdyn.nn import fused
from glassdyn.nn.dataset import GraphSpec, graph_from_arrays
from glassdyn.nn.layers import MLP, EdgeMLP, restore_order, sort_by_target
from glassdyn.nn.models import ModelConfig, build_model
from glassdyn.testing import random_ka_configuration


@pytest.fixture(params=[(True, 7), (False, 7), (True, 100_000)], ids=["onednn", "addmm", "1chunk"])
def backend(request, monkeypatch):
    """Both products (oneDNN where present, addmm), and chunks of 7 rows (many + a remainder)."""
    onednn, chunk = request.param
    monkeypatch.setattr(fused, "ONEDNN", onednn)
    monkeypatch.setattr(fused, "CHUNK", chunk)
    return request.param


def _grads(fn, inputs):
    for t in inputs:
        t.grad = None
    outs = fn()
    gens = [torch.Generator().manual_seed(i) for i in range(len(outs))]
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() for o, g in zip(outs, gens))
    loss.backward()
    return [o.detach() for o in outs], [t.grad.clone() for t in inputs]


def _assert_same(a, b, what):
    for i, (x, y) in enumerate(zip(a, b)):
        torch.testing.assert_close(
            x, y, atol=2e-5, rtol=2e-4, msg=lambda m, i=i: f"{what} {i}: {m}"
        )


def test_message_step_equals_edge_mlp_then_scatter(backend):
    torch.manual_seed(0)
    N, E, H = 11, 60, 8
    layer = EdgeMLP(n_node=H, n_edge=H, n_const=H, hidden=H)
    x = torch.randn(N, H, requires_grad=True)
    e = torch.randn(E, H, requires_grad=True)
    c = torch.randn(E, H, requires_grad=True)
    ei = torch.randint(0, N, (2, E))
    ei = ei[:, ei[1].argsort()]  # MessageStep's callers sort by target; the maths must not care
    ei[1, :5] = ei[1, 5]  # and repeated targets across a chunk boundary
    weights = [layer.lin_src.weight, layer.lin_dst.weight, layer.lin_edge.weight]
    inputs = [x, e, c, *weights, layer.fc2.weight, layer.fc2.bias]  # c is W_c c + b already

    def plain():
        out = layer(x, x, e, c, ei)
        return out, scatter(out, ei[1], 0, N)

    ref = _grads(plain, inputs)
    got = _grads(lambda: layer.message(x, x, e, c, ei), inputs)
    _assert_same(got[0], ref[0], "output")
    _assert_same(got[1], ref[1], "gradient of input")


def test_message_step_without_aggregate_gradient(backend):
    """Only e' used downstream (or only m): the missing gradient is treated as zero."""
    torch.manual_seed(1)
    N, E, H = 6, 30, 4
    layer = EdgeMLP(n_node=H, n_edge=H, n_const=H, hidden=H)
    x, e, c = (torch.randn(n, H, requires_grad=True) for n in (N, E, E))
    ei = torch.randint(0, N, (2, E))
    for pick in (0, 1):

        def plain(pick=pick):
            out = layer(x, x, e, c, ei)
            return [out if pick == 0 else scatter(out, ei[1], 0, N)]

        ref = _grads(plain, [x, e, c])
        got = _grads(lambda pick=pick: [layer.message(x, x, e, c, ei)[pick]], [x, e, c])
        _assert_same(got[1], ref[1], f"gradient (output {pick} only)")


@pytest.mark.parametrize("n_in,out", [(3, None), (8, 2), (8, 1)])
def test_edge_mlp_function_equals_mlp(backend, n_in, out):
    """Encoder (narrow 3-column input, ReLU last) and decoder (linear last) shapes."""
    torch.manual_seed(2)
    mlp = MLP(n_in, 8, out=out)
    x = torch.randn(50, n_in, requires_grad=True)
    inputs = [x, *mlp.parameters()]
    ref = _grads(lambda: [mlp(x)], inputs)
    got = _grads(lambda: [mlp.fused(x)], inputs)
    _assert_same(got[0], ref[0], "output")
    _assert_same(got[1], ref[1], "gradient")


def test_sort_by_target_round_trip():
    ei = torch.tensor([[0, 1, 2, 3, 4], [3, 1, 3, 0, 1]])
    attr = torch.arange(10.0).view(5, 2)
    order, ei_s, attr_s = sort_by_target(ei, attr)
    assert ei_s[1].tolist() == [0, 1, 1, 3, 3]
    assert ei_s[0].tolist() == [3, 1, 4, 0, 2]  # stable: original order among equal targets
    torch.testing.assert_close(restore_order(attr_s, order), attr)
    order2, ei2, attr2 = sort_by_target(ei_s, attr_s)
    assert order2 is None and ei2 is ei_s and attr2 is attr_s  # already sorted: no copy


@pytest.fixture(scope="module")
def graphs():
    spec = GraphSpec()
    out = []
    for seed, n in ((3, 96), (4, 128), (5, 80)):
        conf = random_ka_configuration(n, seed=seed)
        out.append(graph_from_arrays(spec, conf.types, conf.box, conf.positions))
    return out


def _loss(out):
    loss = out["node"].square().sum()
    if out["edge"] is not None:
        loss = loss + out["edge"].square().sum()
    if out["temperature"] is not None:
        loss = loss + out["temperature"].square().sum()
    return loss


@pytest.mark.parametrize("kind", ["botan", "tbotan", "bapst"])
def test_fused_model_equals_naive_on_real_graph(backend, graphs, kind):
    """Model level, fused path (the default) vs naive, each backend: outputs in the caller's edge
    order (the fused path sorts edges by target internally) and every parameter gradient."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind, n_outputs=2, hidden=16, steps=3))
    res = []
    for kw in ({}, {"naive": True}):
        model.zero_grad()
        out = model(graphs[0], **kw)
        _loss(out).backward()
        res.append((out, [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (fast, gf), (naive, gn) = res
    for key in ("node", "edge", "temperature"):
        if naive[key] is not None:
            torch.testing.assert_close(fast[key], naive[key], atol=2e-5, rtol=2e-4)
    assert len(gf) == len(gn)
    _assert_same(gf, gn, "parameter gradient")


@pytest.mark.parametrize("kind", ["botan", "tbotan", "bapst"])
def test_batch_equals_graphs_one_by_one(graphs, kind):
    """A mini-batch of 3 graphs = the graphs one by one: outputs, and gradients of the summed
    loss = the sum of the per-graph gradients."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind, n_outputs=2, hidden=16, steps=3))
    model.zero_grad()
    singles = []
    for g in graphs:
        out = model(g)
        _loss(out).backward()
        singles.append(out)
    g_single = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    out = model(Batch.from_data_list(graphs))
    _loss(out).backward()
    g_batch = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    torch.testing.assert_close(out["node"], torch.cat([s["node"] for s in singles]))
    if kind != "bapst":
        torch.testing.assert_close(out["edge"], torch.cat([s["edge"] for s in singles]))
    if kind == "tbotan":
        torch.testing.assert_close(
            out["temperature"], torch.cat([s["temperature"] for s in singles])
        )
    _assert_same(g_batch, g_single, "batch gradient")


def test_bf16_autocast_close_to_float32(graphs):
    """Under bfloat16 autocast the fused path computes in bfloat16 (sums in float32) and stays
    within bfloat16 round-off of the float32 reference, as autograd's own autocast does."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="botan", n_outputs=2, hidden=32, steps=3))
    res = {}
    for name, kw, low in (("ref", {"naive": True}, False), ("bf16", {}, True)):
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
            out = model(graphs[0], **kw)
        _loss({k: v.float() if torch.is_tensor(v) else v for k, v in out.items()}).backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        res[name] = (out["node"].float().detach(), out["edge"].float().detach(), grads)
    assert out["edge"].dtype == torch.bfloat16  # it did run in bfloat16
    for i, what in enumerate(("node", "edge", "gradient")):
        ref, got = res["ref"][i], res["bf16"][i]
        assert ((got - ref).norm() / ref.norm()).item() < 0.03, what
        assert torch.isfinite(got).all()


@pytest.mark.slow
def test_bf16_training_overfits_one_configuration(tmp_path):
    """The learning test in bfloat16: TrainConfig(precision="bf16") memorises one configuration's
    propensity (Pearson > 0.98), as float32 does (test_training)."""
    from glassdyn.data.store import Store
    from glassdyn.predict.config import TrainConfig
    from glassdyn.predict.gnn import _normalization, batch_loss
    from glassdyn.predict.metrics import pearson

    from glassdyn.nn.dataset import build_graph
    from glassdyn.testing import write_synthetic_store

    path = tmp_path / "s.zarr"
    write_synthetic_store(path, temperatures=(0.8,), n_configs=1, n_particles=128)
    g = build_graph(Store.open(path).state(0.8), 0, GraphSpec(times=(2,)))
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="botan", hidden=32, steps=3))
    _normalization([g], model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=300)
    cfg = TrainConfig(data=str(path), out="unused", node_weight=1.0, precision="bf16")
    for _ in range(300):
        opt.zero_grad()
        loss, _, _ = batch_loss(model, g, cfg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred = model.predict(g)["node"][:, 0].float().numpy()
    m = g.node_mask.numpy()
    assert pearson(pred[m], g.y[m, 0].numpy()) > 0.98
