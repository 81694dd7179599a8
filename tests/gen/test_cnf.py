"""The continuous flow as a temperature transport (glassdyn.gen.cnf): the closed-form divergence of
the pair field against autograd, the log-determinant against the Jacobian of the map, inverse,
identity at initialisation, symmetries, and the Hutchinson estimate of the many-body fields."""

import numpy as np
import pytest
import torch
from glassdyn.gen import ode
from glassdyn.gen.cnf import CNFConfig, ContinuousTransport, ManyBodyField, PairField, PairList

from glassdyn.testing import random_ka_configuration

from .helpers import jitter


def _transport(steps=8, seed=1, scale=0.3, **kw):
    """A pair-field transport with every weight perturbed (its last layer starts at zero)."""
    torch.manual_seed(0)
    cfg = CNFConfig(hidden=8, n_rbf=6, steps=steps, **kw)
    return jitter(ContinuousTransport(cfg), scale, seed=seed)


def _system(n=20, batch=2, seed=0, box=None):
    """x (batch, N, 3), types (batch, N), box (3,), T_from (batch,), T_to (batch,): jittered
    KA lattices (``box``: the same fractional positions in another box)."""
    c = random_ka_configuration(n, seed=seed)
    L = torch.as_tensor(c.box) if box is None else torch.full((3,), float(box))
    x = torch.as_tensor(c.positions, dtype=torch.float64) / torch.as_tensor(c.box) * L
    x = torch.stack([x] + [x.roll(k, dims=0) for k in range(1, batch)])
    types = torch.as_tensor(c.types).long()[None].repeat(batch, 1)
    return x, types, L, torch.ones(batch), torch.linspace(0.8, 0.6, batch)


def _pair_velocity(m, x, t, types, box, Tf, Tt):
    return m.field(x, t, types, box, Tf, Tt, PairList(x, box, m.cfg.r_cut))


@pytest.mark.parametrize("n", [20, 64])
def test_pair_field_divergence_is_the_autograd_trace(n):
    """div v in closed form = the trace of dv/dx (3N vector-Jacobian products), for any N; a
    missing factor 2 (ordered vs unordered pairs), a wrong sign or a missing r phi' term fails."""
    m = _transport()
    x, types, box, Tf, Tt = _system(n)
    x = x.clone().requires_grad_(True)
    t = torch.tensor([0.3, 0.8])
    v, div, var = _pair_velocity(m, x, t, types, box, Tf, Tt)
    assert (
        var is None and float(v.detach().abs().max()) > 1e-2
    )  # a field that really moves particles
    exact, _ = ode.autograd_divergence(v, x, "exact")
    assert torch.allclose(div, exact, rtol=1e-10, atol=1e-10)


def test_pair_field_divergence_in_a_box_shorter_than_the_cutoff():
    m = _transport()
    x, types, box, Tf, Tt = _system(8, box=1.8)  # L = 1.8 < r_cut = 2
    x = x.clone().requires_grad_(True)
    v, div, _ = _pair_velocity(m, x, torch.tensor([0.3, 0.8]), types, box, Tf, Tt)
    exact, _ = ode.autograd_divergence(v, x, "exact")
    assert torch.allclose(div, exact, rtol=1e-10, atol=1e-10)


def test_transport_log_det_is_the_log_det_of_the_jacobian():
    """log|det dphi/dx| returned by the transport = slogdet of the autograd Jacobian of the RK4
    map (3N x 3N, N=8), up to the O(h^4) quadrature error that halving the step shrinks."""
    m = _transport()
    x, types, box, Tf, Tt = _system(8, batch=1, box=3.0)
    gaps = []
    for steps in (4, 8):
        m.steps = steps
        _, ld, _ = m.transport(x, types, box, Tf, Tt)
        J = torch.autograd.functional.jacobian(
            lambda y: m.transport(y.view(1, 8, 3), types, box, Tf, Tt)[0].reshape(-1),
            x.reshape(-1),
        )
        sign, logabs = torch.linalg.slogdet(J)
        assert sign > 0 and abs(float(logabs)) > 1.0  # a map that really changes volumes
        gaps.append(abs(float(ld[0].detach()) - float(logabs)))
    assert gaps[1] < 1e-3 * abs(float(logabs)) and gaps[1] < gaps[0] / 8


def test_reverse_inverts_forward_and_negates_the_log_det():
    m = _transport(steps=16)
    x, types, box, Tf, Tt = _system(20)
    with torch.no_grad():
        y, ld, _ = m.transport(x, types, box, Tf, Tt)
        back, ld_back, _ = m.transport(y, types, box, Tf, Tt, reverse=True)
    assert float((y - x).abs().max()) > 0.05
    assert float((back - x).abs().max()) < 1e-5
    assert torch.allclose(ld_back, -ld, atol=1e-4)


def test_identity_at_initialisation():
    """An untrained transport is exactly the identity (plain population annealing)."""
    for cfg in (CNFConfig(hidden=8, n_rbf=6), CNFConfig(network="local", hidden=8)):
        m = ContinuousTransport(cfg).double().eval()
        x, types, box, Tf, Tt = _system(20)
        with torch.no_grad():
            y, ld, _ = m.transport(x, types, box, Tf, Tt)
        assert torch.equal(y, x) and torch.all(ld == 0)


def test_permutation_and_translation_equivariance_and_momentum_conservation():
    """Relabelling the particles relabels the output (log-det unchanged); a common shift shifts
    it; the pair forces are pairwise opposite, so the centre of mass never moves."""
    m = _transport()
    x, types, box, Tf, Tt = _system(20)
    with torch.no_grad():
        y, ld, _ = m.transport(x, types, box, Tf, Tt)
        perm = torch.randperm(20, generator=torch.Generator().manual_seed(4))
        yp, ldp, _ = m.transport(x[:, perm], types[:, perm], box, Tf, Tt)
        a = torch.tensor([0.37, -1.9, 5.1])
        ys, lds, _ = m.transport(x + a, types, box, Tf, Tt)
    assert torch.allclose(yp, y[:, perm], atol=1e-12) and torch.allclose(ldp, ld, atol=1e-10)
    assert torch.allclose(ys, y + a, atol=1e-10) and torch.allclose(lds, ld, atol=1e-10)
    moved = (y - x).sum(1)
    assert float((y - x).abs().max()) > 0.05 and float(moved.abs().max()) < 1e-12


def test_halving_the_rk4_step_changes_the_log_det_little():
    m = _transport(cooling_scale=False)  # the full field: the harder integration
    x, types, box, Tf, Tt = _system(20)
    lds = []
    with torch.no_grad():
        for steps in (4, 8, 16):
            m.steps = steps
            lds.append(m.transport(x, types, box, Tf, Tt)[1])
    d1, d2 = (lds[1] - lds[0]).abs().max(), (lds[2] - lds[1]).abs().max()
    assert float(d2) < 1e-3 * float(lds[2].abs().min()) and float(d2) < float(d1) / 8


def test_temperatures_condition_the_transport():
    """The field depends on T_to: carrying to 0.6 is not carrying to 0.8."""
    m = _transport()
    x, types, box, Tf, _ = _system(20, batch=1)
    with torch.no_grad():
        y8, _, _ = m.transport(x, types, box, Tf, torch.tensor([0.8]))
        y6, _, _ = m.transport(x, types, box, Tf, torch.tensor([0.6]))
    assert float((y8 - y6).abs().max()) > 1e-3


@pytest.mark.parametrize("network", ["pair", "local"])
def test_the_identity_between_equal_temperatures_whatever_the_weights(network):
    """The field is scaled by 1 - T / T_0: carrying a configuration to its own temperature moves
    nothing (the annealing's first step can be as short as it needs); ``cooling_scale=False``
    (runs fitted before it) does move it."""
    x, types, box, Tf, _ = _system(20, batch=1)
    for scaled in (True, False):
        m = _transport(network=network, cooling_scale=scaled)
        with torch.no_grad():
            y, ld, _ = m.transport(x, types, box, Tf, Tf)
            z, _, _ = m.transport(x, types, box, Tf, 0.7 * Tf)
        moved = float((y - x).abs().max())
        assert (moved < 1e-12 and float(ld.abs().max()) < 1e-12) if scaled else moved > 1e-3
        assert float((z - x).abs().max()) > 1e-3


def test_many_body_hutchinson_is_unbiased_with_an_honest_variance():
    """The ``local`` field with Hutchinson's estimator: over many calls the mean approaches the
    exact divergence and the returned variance is the observed one (a variance of one probe
    instead of the mean of the probes, or none, fails the weights' cumulant correction)."""
    torch.manual_seed(2)
    base = {"network": "local", "hidden": 8, "probes": 4}
    exact_field = jitter(ManyBodyField(CNFConfig(divergence="exact", **base)), 0.3, seed=3)
    hutch = ManyBodyField(CNFConfig(divergence="hutchinson", **base)).double().eval()
    hutch.load_state_dict(exact_field.state_dict())
    x, types, box, Tf, Tt = _system(12, batch=1, box=2.6)
    t = torch.tensor([0.4])
    with torch.no_grad():
        v, div, var = exact_field(x, t, types, box, Tf, Tt)
        assert var is None and float(v.abs().max()) > 1e-3
        ests, vars_ = [], []
        for _ in range(300):
            v_h, d, s2 = hutch(x, t, types, box, Tf, Tt)
            ests.append(float(d[0]))
            vars_.append(float(s2[0]))
    assert torch.allclose(v_h, v)
    ests = np.array(ests)
    observed = ests.var(ddof=1)
    assert observed > 0
    assert abs(ests.mean() - float(div[0])) < 4 * np.sqrt(observed / len(ests))
    assert np.mean(vars_) == pytest.approx(observed, rel=0.3)
    # auto: exact up to EXACT_MAX_PARTICLES, Hutchinson above
    auto = ManyBodyField(CNFConfig(divergence="auto", **base)).double().eval()
    auto.load_state_dict(exact_field.state_dict())
    with torch.no_grad():
        assert auto(x, t, types, box, Tf, Tt)[2] is None
        x40, types40, box40, Tf1, Tt1 = _system(40, batch=1)
        assert auto(x40, t, types40, box40, Tf1, Tt1)[2] is not None


def test_unknown_network_is_refused():
    with pytest.raises(ValueError, match="unknown network 'gnn'"):
        ContinuousTransport(CNFConfig(network="gnn"))
    assert PairField.closed_form_divergence and not ManyBodyField.closed_form_divergence


# ------------------------------------------------------------------------------ flow matching
def test_paired_displacements_undo_a_relabelling_and_the_periodic_wrap():
    """x: z displaced by small delta, wrapped into the box and its particles relabelled within
    each species: the displacements found are delta (less its mean) in z's order, the pairing
    exactly the relabelling (least squares over periodic distances)."""
    from glassdyn.gen.losses import paired_displacements

    c = random_ka_configuration(64, seed=3)
    rng = np.random.default_rng(0)
    z = c.positions.astype(np.float64)[None]
    delta = 0.05 * rng.normal(size=z.shape)
    moved = np.mod(z + delta, c.box)
    assert np.any(moved != z + delta)  # some particles crossed the box
    perm = np.concatenate([rng.permutation(np.flatnonzero(c.types == s)) for s in (0, 1)])
    x, tx = moved[:, perm], c.types[perm][None]
    d = paired_displacements(z, x, c.types, tx, c.box)
    want = delta - delta.mean(axis=1, keepdims=True)
    assert np.abs(d - want).max() < 1e-9
    # without the pairing the same pair of configurations is far apart
    naive = x - z
    naive -= c.box * np.round(naive / c.box)
    assert np.abs(naive).mean() > 20 * np.abs(d).mean()


def test_flow_matching_regresses_the_field_the_transport_integrates():
    """Untrained (the identity: a zero field), the loss is the mean squared displacement per
    particle; the field flow matching reads is the one the transport integrates (its RK4 over the
    flow time matches Simpson's rule on velocity); a few Adam steps on the loss lower it (the
    gradient reaches the weights)."""
    from glassdyn.gen.losses import flow_matching_loss, paired_displacements

    c = random_ka_configuration(32, seed=1)
    types = torch.as_tensor(c.types, dtype=torch.long)
    box = torch.as_tensor(c.box, dtype=torch.float64)
    rng = np.random.default_rng(1)
    z = np.mod(c.positions[None] + 0.05 * rng.normal(size=(4, 32, 3)), c.box)
    x = np.mod(c.positions[None] + 0.05 * rng.normal(size=(4, 32, 3)), c.box)
    d = paired_displacements(z, x, c.types, np.stack([c.types] * 4), c.box)
    z, d = torch.as_tensor(z), torch.as_tensor(d)
    T0, T = torch.full((4,), 0.8, dtype=torch.float64), torch.full((4,), 0.6, dtype=torch.float64)
    torch.manual_seed(0)
    model = ContinuousTransport(CNFConfig(steps=16)).double()
    g = torch.Generator().manual_seed(0)
    loss0 = flow_matching_loss(model, z, d, types, box, T0, T, g)
    assert loss0.item() == pytest.approx(float((d**2).sum(dim=(-1, -2)).mean() / 32), rel=1e-12)
    jitter(model, 0.02, seed=2)
    tt = types[None].expand(4, -1)
    with torch.no_grad():
        y, _, _ = model.transport(z, tt, box, T0, T)
        assert torch.abs(y - z).max() > 1e-3  # the jittered field moves the particles
        # midpoint steps along the field flow matching reads land where the transport does
        x, K = z.clone(), 200
        for k in range(K):
            t = torch.full((4,), (k + 0.5) / K, dtype=torch.float64)
            x = x + model.velocity(x, tt, box, T0, T, t) / K
    assert torch.abs(x - y).max() < 1e-3 * torch.abs(y - z).max()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = flow_matching_loss(model, z, d, types, box, T0, T, torch.Generator().manual_seed(5))
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.9 * losses[0]
