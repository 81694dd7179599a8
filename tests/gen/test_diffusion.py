"""Score-based diffusion on the torus: the wrapped-normal score against a brute-force sum, the
sampler driven by an exact score recovers a known law (signs, schedule, log q), symmetries of
log q, and the denoising target."""

import math

import numpy as np
import pytest
import torch
from glassdyn.gen import reference_frame
from glassdyn.gen.diffusion import DiffusionConfig, ScoreDiffusion, wrapped_normal_score
from torch import nn

from .helpers import a_permutation, jitter, small_system


def _model(seed=0, steps=8, **kw):
    torch.manual_seed(seed)
    kw.setdefault(
        "prior_force_cap", 0.0
    )  # tiny boxes (L < 2 r_c); the physics term is tested apart
    cfg = DiffusionConfig(
        hidden=16, heads=2, blocks=1, n_freq=2, pair_channels=4, steps=steps, **kw
    )
    return jitter(ScoreDiffusion(cfg))


def test_wrapped_normal_score_brute_force():
    L = torch.tensor([3.0, 4.0])
    g = torch.Generator().manual_seed(0)
    d = (torch.rand(50, 2, generator=g) - 0.5) * 20.0  # any image
    for s in (0.05, 0.7, 3.0, 4.0):
        sig = torch.full_like(d, s)
        dd = d.clone().requires_grad_(True)
        k = torch.arange(-60, 61, dtype=d.dtype)
        logp = torch.logsumexp(-((dd[..., None] + k * L[:, None]) ** 2) / (2 * s * s), dim=-1).sum()
        (ref,) = torch.autograd.grad(logp, dd)
        assert torch.allclose(wrapped_normal_score(d, sig, L), ref, rtol=1e-7, atol=1e-9)
    # small sigma: the minimum-image Gaussian score
    dm = d - L * torch.round(d / L)
    assert torch.allclose(
        wrapped_normal_score(d, torch.full_like(d, 0.05), L), -dm / 0.05**2, rtol=1e-9, atol=1e-6
    )


class _ExactPointMass(nn.Module):
    """The exact F = sigma * score of a point mass at fractional position u_star (one free particle)."""

    def __init__(self, u_star, box, cfg):
        super().__init__()
        self.u_star, self.box, self.cfg = u_star, box, cfg

    def forward(self, u, t, tokens, box, Tf, free):
        lo, hi = self.cfg.sigma_min, self.cfg.sigma_max_factor * float(box.max())
        sig = (hi * (lo / hi) ** t)[:, None, None].expand_as(u)
        F = sig * wrapped_normal_score((u - self.u_star) * box, sig, box)
        return F / box * free[..., None]


def test_sampler_with_the_exact_score_recovers_a_point_mass_and_its_density():
    cfg = DiffusionConfig(sigma_min=0.05, steps=200, prior_force_cap=0.0)
    m = ScoreDiffusion(cfg).double().eval()
    types = torch.tensor([0, 1])  # particle 0 is the reference; particle 1 is free
    box = torch.tensor([3.0, 3.0, 3.0], dtype=torch.float64)
    u_star = torch.tensor([0.3, 0.6, 0.85], dtype=torch.float64)
    m.field.net = _ExactPointMass(u_star, box, cfg)
    m.divergence, m.sampler = "exact", "ode"
    x, lq = m.sample(64, types, box, 0.8, generator=torch.Generator().manual_seed(0))
    d = x[:, 1] - x[:, 0] - u_star * box
    d = d - box * torch.round(d / box)
    # the law at sigma_min: N(x_ref + u_star L, sigma_min^2) for the free particle
    assert abs(float(d.std()) - 0.05) < 0.01 and float(d.abs().max()) < 0.25
    expected = (
        -1.5 * math.log(2 * math.pi * 0.05**2)
        - (d**2).sum(-1) / (2 * 0.05**2)
        - float(torch.log(box).sum())
    )
    assert torch.allclose(lq, expected, atol=0.05)
    # log_prob integrates the same ODE backwards
    lp = m.log_prob(x, types[None].expand(64, -1), box, torch.full((64,), 0.8)).detach()
    assert torch.allclose(lp, lq, atol=0.05)


@pytest.mark.parametrize(
    "network", [pytest.param("transformer", marks=pytest.mark.slow), "local"]
)  # the transformer (not the default network) in the slow tier: 4 s of the fast tier's 5 min
def test_log_q_symmetries_and_samples_in_box(network):
    m = _model(seed=1, steps=24, network=network)
    m.sampler = "ode"
    types, box, T = small_system(n=4, batch=2)
    x, lq = m.sample(2, types[0], box, 0.8, generator=torch.Generator().manual_seed(0))
    assert (x >= 0).all() and (x < box).all() and torch.isfinite(lq).all()
    lp = m.log_prob(x, types, box, T).detach()
    assert torch.allclose(lp, lq, atol=1e-2)
    assert torch.allclose(
        m.log_prob(x + torch.tensor([0.7, -2.2, 9.1]), types, box, T).detach(), lp, atol=1e-8
    )
    p = a_permutation(types[0].numpy())
    assert torch.allclose(m.log_prob(x[:, p], types[:, p], box, T).detach(), lp, atol=1e-8)


def test_denoising_loss_is_minimised_by_the_exact_score():
    """For a single data point the exact conditional score makes the loss zero; a wrong one does not."""
    cfg = DiffusionConfig(sigma_min=0.05, prior_force_cap=0.0)
    m = ScoreDiffusion(cfg).double()
    types = torch.tensor([[0, 1]]).expand(8, -1)
    box = torch.tensor([3.0, 3.0, 3.0], dtype=torch.float64)
    u_star = torch.tensor([0.3, 0.6, 0.85], dtype=torch.float64)
    x = (u_star * box)[None, None].expand(8, 1, 3)
    x = torch.cat([torch.zeros(8, 1, 3, dtype=torch.float64), x], dim=1)
    ref = torch.zeros(8, dtype=torch.long)
    m.field.net = _ExactPointMass(u_star, box, cfg)
    loss = m.denoising_loss(
        x, types, box, torch.full((8,), 0.8), ref, torch.Generator().manual_seed(0)
    )
    assert float(loss) < 1e-20
    m.field.net = _ExactPointMass(u_star + 0.1, box, cfg)
    assert (
        float(
            m.denoising_loss(
                x, types, box, torch.full((8,), 0.8), ref, torch.Generator().manual_seed(0)
            )
        )
        > 1e-3
    )


class _ExactGaussian(nn.Module):
    """F = sigma * score of N(u_star L, s0^2 + sigma^2) wrapped on the box (s0 << L), times ``scale``."""

    def __init__(self, u_star, s0, cfg, scale=1.0):
        super().__init__()
        self.u_star, self.s0, self.cfg, self.scale = u_star, s0, cfg, scale

    def forward(self, u, t, tokens, box, Tf, free):
        lo, hi = self.cfg.sigma_min, self.cfg.sigma_max_factor * float(box.max())
        sig = (hi * (lo / hi) ** t)[:, None, None]
        width = torch.sqrt(self.s0**2 + sig**2).expand_as(
            u
        )  # the data Gaussian convolved with the noise
        F = self.scale * sig * wrapped_normal_score((u - self.u_star) * box, width, box)
        return F / box * free[..., None]


def test_target_score_matching_is_unbiased_and_quieter_at_small_noise():
    """Data N(x*, s0^2) with known score: DSM, TSM and their blend are all minimised by the exact
    score (a scaled score does worse), and at small noise the TSM blend has far less variance."""
    s0, n = 0.2, 4096
    box = torch.tensor([4.0, 4.0, 4.0], dtype=torch.float64)
    u_star = torch.tensor([0.4, 0.5, 0.6], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    x1 = u_star * box + s0 * torch.randn(n, 3, generator=g, dtype=torch.float64)
    x = torch.cat([torch.zeros(n, 1, 3, dtype=torch.float64), x1[:, None]], dim=1)
    types = torch.tensor([[0, 1]]).expand(n, -1)
    ref = torch.zeros(n, dtype=torch.long)
    T = torch.full((n,), 0.8)
    score = torch.cat(
        [torch.zeros(n, 1, 3, dtype=torch.float64), (-(x1 - u_star * box) / s0**2)[:, None]], dim=1
    )
    for sigma_max_factor in (0.05, 1.0):  # small noise only / the whole range
        cfg = DiffusionConfig(
            sigma_min=0.01, sigma_max_factor=sigma_max_factor, prior_force_cap=0.0
        )
        m = ScoreDiffusion(cfg).double()
        losses = {}
        for data_score in (None, score):
            for scale in (0.8, 1.0, 1.25):
                m.field.net = _ExactGaussian(u_star, s0, cfg, scale)
                gen = torch.Generator().manual_seed(1)
                losses[data_score is None, scale] = float(
                    m.denoising_loss(x, types, box, T, ref, gen, data_score)
                )
        for dsm in (True, False):
            assert losses[dsm, 1.0] < losses[dsm, 0.8] and losses[dsm, 1.0] < losses[dsm, 1.25]
        if (
            sigma_max_factor < 1
        ):  # sigma <= 0.2: the residual of the exact score is the target's noise
            assert losses[False, 1.0] < 0.1 * losses[True, 1.0]


def _spread_configuration(n_side=6, seed=0):
    """A KA-like configuration without pairs closer than 0.5 sigma (a jittered cubic lattice), L > 5."""
    rng = np.random.default_rng(seed)
    n = n_side**3
    L = (n / 1.2) ** (1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3) * (
        L / n_side
    )
    pos = grid + rng.normal(scale=0.08, size=grid.shape)
    types = (rng.permutation(n) >= int(0.8 * n)).astype(np.int64)
    return pos, types, np.full(3, L)


def test_capped_forces_equal_ka_forces_below_the_cap():
    from glassdyn.gen.diffusion import capped_ka_forces
    from glassdyn.simulate.ka import forces

    pos, types, L = _spread_configuration(seed=3)
    x = torch.as_tensor(pos)[None]
    species = torch.as_tensor(types)[None]
    box = torch.as_tensor(L)
    exact = forces(pos, types, L)
    got = capped_ka_forces(x + box * torch.tensor([1.0, 0.0, -3.0]), species, box, cap=1e12)[
        0
    ].numpy()
    assert np.allclose(got, exact, rtol=1e-8, atol=1e-8)
    # a close pair: the capped force is bounded by the cap and still repulsive
    y = torch.tensor([[[1.0, 1.0, 1.0], [1.3, 1.0, 1.0]]], dtype=torch.float64)
    f = capped_ka_forces(
        y, torch.tensor([[0, 0]]), torch.full((3,), 10.0, dtype=torch.float64), cap=50.0
    )[0]
    assert (
        49.9 < float(f[1, 0]) <= 50.0
        and torch.allclose(f[0], -f[1])
        and float(f[:, 1:].abs().max()) == 0.0
    )
    # permutation equivariant, invariant to a common shift
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(0))
    f0 = capped_ka_forces(x, species, box, cap=80.0)
    assert torch.allclose(
        capped_ka_forces(x[:, perm], species[:, perm], box, cap=80.0), f0[:, perm], atol=1e-10
    )
    assert torch.allclose(
        capped_ka_forces(x + torch.tensor([0.3, 7.0, -2.0]), species, box, cap=80.0), f0, atol=1e-9
    )


def test_physics_term_is_the_small_noise_score_of_boltzmann_data():
    """With the network at zero, F = exp(-(sigma / sigma_p)^2) sigma f / T (uncapped forces): the
    small-noise score of Boltzmann data at sigma << sigma_p, faded out at large noise."""
    from glassdyn.simulate.ka import forces

    pos, types_np, L = _spread_configuration(seed=5)
    types = torch.as_tensor(types_np)[None]
    box = torch.as_tensor(L)
    ref = torch.as_tensor(reference_frame.reference_index(types_np))
    f = forces(pos, types_np, L) / 0.6
    for sigma_p in (0.1, 0.02):
        cfg = DiffusionConfig(
            network="local", prior_force_cap=1e12, sigma_min=1e-2, prior_sigma=sigma_p
        )
        m = ScoreDiffusion(cfg).double()
        with torch.no_grad():
            for p in m.field.net.parameters():
                p.zero_()
        tokens, free, Tf = m._prepare(types, ref, torch.tensor([0.6]))
        u = reference_frame.to_frame(torch.as_tensor(pos)[None], box, ref)
        with torch.no_grad():
            F = m.field.denoiser(u, torch.tensor([1.0]), tokens, box, Tf, free)[0]  # sigma_min
            assert (
                float(m.field.denoiser(u, torch.tensor([0.0]), tokens, box, Tf, free).abs().max())
                < 1e-12
            )
        expected = np.exp(-((1e-2 / sigma_p) ** 2)) * 1e-2 * f * free[0, :, None].numpy()
        assert np.allclose(F.numpy(), expected, rtol=1e-9, atol=1e-12)


def _gaussian_data_model(s0: float = 0.2):
    """An SDE sampler driven by the exact score of data N(x*, s0^2) per coordinate of each of 100
    free particles (Langevin correction with a signal-to-noise step size is meant for many
    dimensions): (model, box, x* / L, types, s0)."""
    cfg = DiffusionConfig(
        sigma_min=0.02, sde_steps=60, corrector_steps=1, snr=0.16, prior_force_cap=0.0
    )
    m = ScoreDiffusion(cfg).double().eval()
    box = torch.tensor([4.0, 4.0, 4.0], dtype=torch.float64)
    u_star = torch.tensor([0.3, 0.6, 0.85], dtype=torch.float64)
    m.field.net = _ExactGaussian(u_star, s0, cfg)
    return m, box, u_star, torch.tensor([0] + [1] * 100), s0


def test_sde_sampler_with_the_exact_score_samples_the_data_law():
    """Data N(x*, s0^2) per coordinate of each free particle: predictor-corrector samples with the
    exact score have its mean and spread (after the final Tweedie step the spread is s0^2 / sqrt(s0^2 + sigma_min^2))."""
    m, box, u_star, types, s0 = _gaussian_data_model()
    x, lq = m.sample_sde(20, types, box, 0.8, generator=torch.Generator().manual_seed(0))
    assert torch.isnan(lq).all() and (x >= 0).all() and (x < box).all()
    d = x[:, 1:] - x[:, :1] - u_star * box
    d = d - box * torch.round(d / box)
    assert float(d.mean((0, 1)).abs().max()) < 0.02
    expected = s0**2 / math.sqrt(s0**2 + 0.02**2)
    assert abs(float(d.std()) - expected) < 0.1 * expected
    # extra Langevin steps at sigma_min keep the law (up to the step-size bias)
    m.final_correctors = 20
    x, _ = m.sample_sde(20, types, box, 0.8, generator=torch.Generator().manual_seed(2))
    d = x[:, 1:] - x[:, :1] - u_star * box
    d = d - box * torch.round(d / box)
    assert abs(float(d.std()) - expected) < 0.1 * expected
    m.final_correctors = 0
    # a point mass: the Tweedie step lands on it
    m.field.net = _ExactPointMass(u_star, box, m.cfg)
    x, _ = m.sample_sde(
        8, torch.tensor([0, 1]), box, 0.8, generator=torch.Generator().manual_seed(1)
    )
    d = x[:, 1] - x[:, 0] - u_star * box
    assert float((d - box * torch.round(d / box)).abs().max()) < 1e-6


def test_renoise_denoise_keeps_the_data_law_with_the_exact_score():
    """Data drawn from the model's own law come back from any noise level with the same law, the
    reference particle where it was, and a clear error below sigma_min."""
    m, box, u_star, types, s0 = _gaussian_data_model()
    g = torch.Generator().manual_seed(3)
    origin = torch.rand(20, 1, 3, generator=g, dtype=torch.float64) * box
    data = origin + u_star * box + s0 * torch.randn(20, 101, 3, generator=g, dtype=torch.float64)
    data[:, 0] = origin[:, 0]
    data = torch.remainder(data, box)
    expected = s0**2 / math.sqrt(s0**2 + 0.02**2)
    for sigma_start in (0.1, 0.5):
        x = m.renoise_denoise(
            data, types, box, 0.8, sigma_start, generator=torch.Generator().manual_seed(4)
        )
        assert (x >= 0).all() and (x < box).all()
        assert torch.allclose(x[:, 0], data[:, 0])  # the reference particle stays put
        d = x[:, 1:] - x[:, :1] - u_star * box
        d = d - box * torch.round(d / box)
        assert float(d.mean((0, 1)).abs().max()) < 0.02
        assert abs(float(d.std()) - expected) < 0.1 * expected
    with pytest.raises(ValueError, match="sigma_min"):
        m.renoise_denoise(data, types, box, 0.8, 0.01)


def test_untrained_network_outputs_zero_and_physics_only_removes_a_trained_one():
    """A new diffusion model is the physics term alone (the start a fit validates as epoch -1);
    ``physics_only`` gives that ablation of a trained one without touching it."""
    from glassdyn.gen.sampler import physics_only

    pos, types_np, L = _spread_configuration(seed=7)
    types = torch.as_tensor(types_np)[None]
    box = torch.as_tensor(L)
    ref = torch.as_tensor(reference_frame.reference_index(types_np))
    fresh = ScoreDiffusion(DiffusionConfig(hidden=16, blocks=1, prior_sigma=0.1)).double()
    tokens, free, Tf = fresh._prepare(types, ref, torch.tensor([0.8]))
    u = reference_frame.to_frame(torch.as_tensor(pos)[None], box, ref)
    for t in (0.95, 1.0):  # where the physics term is on
        tt = torch.tensor([t])
        sig = fresh.field.sigma(tt, box)
        with torch.no_grad():
            F = fresh.field.denoiser(u, tt, tokens, box, Tf, free)
            prior = fresh.field.prior(u, tokens, box, Tf, free, sig)
        assert torch.equal(F, prior) and float(prior.abs().max()) > 0
    trained = jitter(ScoreDiffusion(DiffusionConfig(hidden=16, blocks=1, prior_sigma=0.1)), seed=1)
    ablated = physics_only(trained)
    tt = torch.tensor([0.95])
    with torch.no_grad():
        sig = trained.field.sigma(tt, box)
        prior = trained.field.prior(u, tokens, box, Tf, free, sig)
        assert torch.allclose(ablated.field.denoiser(u, tt, tokens, box, Tf, free), prior)
        assert not torch.allclose(trained.field.denoiser(u, tt, tokens, box, Tf, free), prior)


def test_denoising_loss_at_one_noise_level():
    """``t=``: the whole batch at one noise level: the exact score of a point mass is exact at
    every level, a slightly wrong one costs its error at that level's sigma (in length units)."""
    cfg = DiffusionConfig(sigma_min=0.05, prior_force_cap=0.0)
    m = ScoreDiffusion(cfg).double()
    types = torch.tensor([[0, 1]]).expand(8, -1)
    box = torch.tensor([3.0, 3.0, 3.0], dtype=torch.float64)
    u_star = torch.tensor([0.3, 0.6, 0.85], dtype=torch.float64)
    x = torch.cat([torch.zeros(8, 1, 3), (u_star * box)[None, None].expand(8, 1, 3)], dim=1)
    ref = torch.zeros(8, dtype=torch.long)
    T = torch.full((8,), 0.8)
    m.field.net = _ExactPointMass(u_star, box, cfg)
    for t in (0.0, 0.5, 1.0):
        g = torch.Generator().manual_seed(0)
        assert float(m.denoising_loss(x, types, box, T, ref, g, t=t)) < 1e-20
    m.field.net = _ExactPointMass(u_star + 0.01, box, cfg)
    small = float(m.denoising_loss(x, types, box, T, ref, torch.Generator().manual_seed(0), t=1.0))
    # at sigma_min the score of a point mass 0.01 L away is off by 0.01 L / sigma_min^2 per
    # coordinate: F = sigma * score is off by 0.01 L / sigma_min = 0.6
    assert small == pytest.approx((0.01 * 3.0 / 0.05) ** 2, rel=1e-6)


def test_diffusion_validation_is_a_fixed_noise_grid():
    """Twelve levels uniform in log sigma from sigma_max to sigma_min, the same noise every call
    (so epochs compare), and the mean over levels."""
    from glassdyn.gen.dataset import TrainingData
    from glassdyn.gen.losses import VALIDATION_LEVELS, diffusion_validation

    m = _model(seed=3, steps=4, network="local")
    c = [_spread_configuration(n_side=4, seed=s) for s in range(3)]
    data = TrainingData(
        torch.as_tensor(np.stack([p for p, _, _ in c])),
        torch.as_tensor(np.stack([t for _, t, _ in c])),
        torch.full((3,), 0.8),
        torch.as_tensor(c[0][2]),
        store="",
        source="thermal",
    )
    val, per = diffusion_validation(m, data, np.arange(3))
    val2, per2 = diffusion_validation(m, data, np.arange(3))
    assert val == val2 and per == per2 and len(per) == VALIDATION_LEVELS
    sig = np.array([p[0] for p in per])
    lo, hi = m.cfg.sigma_min, m.cfg.sigma_max_factor * float(c[0][2].max())
    t = (np.arange(VALIDATION_LEVELS) + 0.5) / VALIDATION_LEVELS
    assert np.allclose(sig, hi * (lo / hi) ** t)
    assert val == pytest.approx(np.mean([p[1] for p in per]))
    assert diffusion_validation(m, data, np.arange(3), seed=9)[0] != val
