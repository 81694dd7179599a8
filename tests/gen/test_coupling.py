"""The coupling flow as a temperature transport (glassdyn.gen.coupling): identity at
initialisation, inverse, exact log-determinant, symmetries, and the two properties its triangular
Jacobian rests on (the slab set is a function of what a layer keeps; a moved coordinate never
reaches the spline parameters)."""

import numpy as np
import pytest
import torch
from glassdyn.gen import reference_frame
from glassdyn.gen.coupling import CouplingFlow, FlowConfig, slab_set

from glassdyn.testing import random_ka_configuration

from .helpers import jitter

CFGS = {
    "transformer": FlowConfig(
        network="transformer", n_layers=4, n_bins=6, hidden=16, heads=2, blocks=1, n_freq=2, n_rbf=6
    ),
    "pair": FlowConfig(network="pair", n_layers=4, knot_spacing=0.15, hidden=16, n_rbf=6),
}


@pytest.fixture(params=sorted(CFGS))
def net(request):
    """Each network of the flow."""
    return request.param


def _model(net, seed=0, scale=0.3):
    torch.manual_seed(seed)
    return jitter(CouplingFlow(CFGS[net]), scale, seed=seed + 10)


def _system(n=24, batch=2, seed=0):
    c = random_ka_configuration(n, seed=seed)
    box = torch.as_tensor(c.box, dtype=torch.float64)
    x = torch.as_tensor(c.positions, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    x = torch.remainder(x[None] + 0.1 * torch.randn(batch, n, 3, generator=g), box)
    types = torch.as_tensor(c.types).long()[None].repeat(batch, 1)
    return x, types, box, torch.ones(batch), torch.linspace(0.8, 0.6, batch)


def _circular(d, box):
    """Largest |difference| of two position sets on the torus."""
    return float((d - box * torch.round(d / box)).abs().max())


def test_identity_at_initialisation(net):
    m = CouplingFlow(CFGS[net]).double().eval()
    x, types, box, Tf, Tt = _system()
    with torch.no_grad():
        y, ld, var = m.transport(x, types, box, Tf, Tt)
    assert var is None
    assert _circular(y - x, box) < 1e-12 and float(ld.abs().max()) < 1e-12


def test_reverse_inverts_forward(net):
    m = _model(net)
    x, types, box, Tf, Tt = _system()
    with torch.no_grad():
        y, ld, _ = m.transport(x, types, box, Tf, Tt)
        back, ld_back, _ = m.transport(y, types, box, Tf, Tt, reverse=True)
    assert _circular(y - x, box) > 0.05 and float(ld.abs().min()) > 0.1
    assert (y >= 0).all() and (y < box).all()
    # each layer inverts to 1e-12; the randomised conditioners amplify that ~40x per layer
    assert _circular(back - x, box) < 1e-6
    assert torch.allclose(ld_back, -ld, atol=1e-6)


def test_log_det_equals_the_autograd_jacobian(net):
    """Exact log-determinant: slogdet of the full 3N x 3N Jacobian (the reference particle's rows
    are the identity)."""
    m = _model(net, seed=1)
    x, types, box, Tf, Tt = _system(n=8, batch=1, seed=2)
    _, ld, _ = m.transport(x, types, box, Tf, Tt)
    J = torch.autograd.functional.jacobian(
        lambda y: m.transport(y.view(1, 8, 3), types, box, Tf, Tt)[0].reshape(-1), x.reshape(-1)
    )
    sign, logabs = torch.linalg.slogdet(J)
    assert sign > 0 and abs(float(logabs)) > 0.1
    assert float(ld[0].detach()) == pytest.approx(float(logabs), abs=1e-8)


def test_permutations_that_keep_the_reference_and_common_shifts(net):
    m = _model(net, seed=2)
    x, types, box, Tf, Tt = _system()
    t = types[0].numpy()
    ref = int(reference_frame.reference_index(t)[0])
    a = [i for i in np.flatnonzero(t == 0) if i != ref]
    b = list(np.flatnonzero(t == 1))
    perm = np.arange(len(t))
    perm[a] = np.random.default_rng(0).permutation(a)
    perm[b] = np.roll(b, 1)
    p = torch.as_tensor(perm)
    with torch.no_grad():
        y, ld, _ = m.transport(x, types, box, Tf, Tt)
        yp, ldp, _ = m.transport(x[:, p], types[:, p], box, Tf, Tt)
        shift = torch.tensor([0.37, -1.9, 2.6])
        ys, lds, _ = m.transport(x + shift, types, box, Tf, Tt)
        yi, ldi, _ = m.transport(x + box * torch.tensor([1.0, -2.0, 0.0]), types, box, Tf, Tt)
    assert _circular(yp - y[:, p], box) < 1e-10 and torch.allclose(ldp, ld, atol=1e-10)
    assert _circular(ys - (y + shift), box) < 1e-9 and torch.allclose(lds, ld, atol=1e-9)
    assert _circular(yi - y, box) < 1e-9 and torch.allclose(ldi, ld, atol=1e-9)


def _layer_inputs(m, x, types, box, Tf, Tt):
    ref = torch.as_tensor(reference_frame.reference_index(types.numpy()))
    tokens = reference_frame.species_tokens(types, ref)
    free = tokens != reference_frame.REFERENCE
    cond = torch.cat(
        [reference_frame.temperature_features(Tf), reference_frame.temperature_features(Tt)], -1
    )
    return reference_frame.to_frame(x, box, ref), tokens, free, cond


def test_each_layers_slab_set_is_the_same_from_its_output(net):
    """A layer moves axis a of the particles in the even slabs across axis b != a, so the set
    computed from the output is the one used on the input (the layer is invertible); a slab
    across the moved axis would not be."""
    m = _model(net, seed=3)
    x, types, box, Tf, Tt = _system(n=48)
    u, tokens, free, cond = _layer_inputs(m, x, types, box, Tf, Tt)
    axes = set()
    with torch.no_grad():
        for layer in m.layers:
            a, b = layer.axis, layer.slab_axis
            assert a != b
            axes.add((a, b))
            before = free & slab_set(u[..., b], float(box[b]), m.cfg.slab, layer.offset)
            out, _ = layer(u, tokens, box, cond, free)
            after = free & slab_set(out[..., b], float(box[b]), m.cfg.slab, layer.offset)
            assert torch.equal(before, after)
            assert 0 < int(before.sum()) < int(free.sum())  # some move, some condition
            moved = (out - u).abs() > 0
            assert not moved[~before].any() and not moved[..., [b]].any()
            u = out
    assert len({a for a, _ in axes}) == 3  # every axis is moved


def test_a_moved_coordinate_never_reaches_the_spline_parameters(net):
    """Changing the moved coordinate of every moved particle leaves every spline parameter and
    rotation of the layer unchanged (the Jacobian is triangular, log|det| the sum of the spline
    slopes); a conditioner that saw it would make the log-determinant wrong."""
    m = _model(net, seed=4)
    x, types, box, Tf, Tt = _system(n=48, batch=1)
    u, tokens, free, cond = _layer_inputs(m, x, types, box, Tf, Tt)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in m.layers:
            a, b = layer.axis, layer.slab_axis
            moving = free & slab_set(u[..., b], float(box[b]), m.cfg.slab, layer.offset)
            params, rho = layer._params(u, tokens, box, cond, moving)
            v = u.clone()
            v[..., a] = torch.where(moving, torch.rand(u.shape[:2], generator=g), u[..., a])
            params2, rho2 = layer._params(v, tokens, box, cond, moving)
            assert torch.allclose(params2, params, atol=1e-12)
            assert torch.allclose(rho2, rho, atol=1e-12)
            # while a conditioning particle's coordinate does reach them
            w = u.clone()
            w[..., a] = torch.where(~moving & free, torch.rand(u.shape[:2], generator=g), u[..., a])
            assert not torch.allclose(layer._params(w, tokens, box, cond, moving)[0], params)
            u = layer(u, tokens, box, cond, free)[0]


def test_temperatures_condition_the_map_and_parameters_do_not_grow_with_n(net):
    m = _model(net, seed=5)
    n_par = sum(p.numel() for p in m.parameters())
    with torch.no_grad():
        for n in (8, 40):
            x, types, box, Tf, Tt = _system(n=n)
            ld = m.transport(x, types, box, Tf, Tt)[1]
            assert torch.isfinite(ld).all()
        y6, _, _ = m.transport(x, types, box, Tf, torch.full_like(Tt, 0.6))
        y8, _, _ = m.transport(x, types, box, Tf, torch.full_like(Tt, 0.8))
    assert sum(p.numel() for p in m.parameters()) == n_par
    assert _circular(y6 - y8, box) > 1e-4


def test_slab_set_alternates_around_the_box():
    """An even number of slabs of about ``width``: neighbours across a slab boundary differ, and
    the two slabs meeting at the periodic boundary differ too."""
    L = 5.3
    u = (torch.arange(200) + 0.5) / 200
    s = slab_set(u, L, 1.0, 0.0)
    changes = int((s[1:] != s[:-1]).sum())
    assert changes == 5 and bool(s[0]) != bool(s[-1])  # 6 slabs of 0.88
    assert slab_set(u, 0.9, 1.0, 0.0).sum() == 100  # at least 2 slabs


def test_reference_index_needs_an_a_particle():
    with pytest.raises(ValueError, match="A particle"):
        reference_frame.reference_index(np.ones((1, 4), dtype=np.int8))


def test_the_pair_flow_is_the_identity_between_equal_temperatures():
    """Whatever its weights, the pair network does not move a configuration carried to its own
    temperature (population annealing's first step can then be as short as it needs)."""
    m = _model("pair", seed=6)
    x, types, box, Tf, _ = _system()
    with torch.no_grad():
        y, ld, _ = m.transport(x, types, box, Tf, Tf)
        z, _, _ = m.transport(x, types, box, Tf, 0.7 * Tf)
    assert _circular(y - x, box) < 1e-12 and float(ld.abs().max()) < 1e-12
    assert _circular(z - x, box) > 0.01


def test_the_pair_flow_learns_to_carry_a_hot_crystal_colder():
    """Reverse-KL steps on vibrations (0.06 sigma) around an fcc KA crystal, carried from T=1 to
    T=0.5: the pair network's knots contract them, lowering U/T - log|det| per particle by more
    than 1 (a detached pair function, a sign error or knots that ignore the displacement would
    leave it at the identity's value or raise it)."""
    from glassdyn.gen.losses import energy_loss

    n, a = 32, (4 / 1.2) ** (1 / 3)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)])
    x0 = torch.as_tensor(((cells[:, None, :] + basis[None]).reshape(-1, 3)) * a)
    types = torch.zeros(n, dtype=torch.long)
    types[torch.as_tensor(np.random.default_rng(0).choice(n, 6, replace=False))] = 1
    box = torch.full((3,), 2 * a, dtype=torch.float64)
    torch.manual_seed(0)
    m = CouplingFlow(FlowConfig(n_layers=6, knot_spacing=0.1, hidden=16, n_rbf=8)).double()
    g = torch.Generator().manual_seed(0)
    z = torch.remainder(
        x0[None] + 0.06 * torch.randn(8, n, 3, generator=g, dtype=torch.float64), box
    )
    Tf, Tt = torch.full((8,), 1.0, dtype=torch.float64), torch.full((8,), 0.5, dtype=torch.float64)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    with torch.no_grad():
        start = float(energy_loss(m, z, types, box, Tf, Tt))
    for _ in range(25):
        loss = energy_loss(m, z, types, box, Tf, Tt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        end = float(energy_loss(m, z, types, box, Tf, Tt))
    assert end < start - 1.0
