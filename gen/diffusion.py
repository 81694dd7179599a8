"""Score-based diffusion on the periodic box (variance-exploding, wrapped Gaussian noise).

Forward process on the free fractional coordinates of the reference frame
(:mod:`glassdyn.gen.reference_frame`): each length coordinate gets Gaussian noise of width sigma and is
wrapped into the box,

    x_sigma = (x_0 + sigma eps) mod L,       sigma in [sigma_min, sigma_max],  sigma_max = L,

whose transition density is the wrapped normal  p(d) ~ sum_k N(d + k L; 0, sigma^2).  At
sigma_max = L it differs from the uniform density on the torus by a relative exp(-2 pi^2) ~ 3e-9
per coordinate, so the uniform law is the prior (Song et al., ICLR 2021, VE-SDE; on tori as in
De Bortoli et al., NeurIPS 2022 and Jing et al., NeurIPS 2022).

Training: denoising score matching with sigma^2 weighting, sigma log-uniform,

    L_DSM = E_{sigma, x_0, eps} | F_theta(x_sigma, sigma) - sigma grad log p_sigma(x_sigma | x_0) |^2,

where F = sigma s_theta is the network output (length units, O(1) at every noise level) and the
conditional score of the wrapped normal is summed over enough images to be exact to double
precision (|k| <= 8 at sigma = L).

Target score matching (De Bortoli, Hutchinson, Wirnsberger & Doucet, arXiv:2402.08667): for noise
that acts by convolution (the wrapped normal on the torus does), grad log p_sigma(x_sigma) =
E[grad log p_0(x_0) | x_sigma], and for thermal configurations at T the data score is known,
grad log p_0 = f(x_0) / T with f = -grad U the KA forces (in the reference frame, the forces on
the free particles).  Its regression target sigma f / T has a variance that vanishes as sigma -> 0,
where the DSM target (~ -eps) is almost pure noise, so the small-noise score, which decides close
contacts, is learned from far fewer samples.  Both targets have the same conditional mean, so any
blend w(sigma) TSM + (1 - w(sigma)) DSM is unbiased; we use w = 1 / (1 + (sigma / sigma_tsm)^2).
Inherent structures are not Boltzmann-distributed: for them, DSM only.

Physics term (default on).  Diffusion models learn the score only where noised data go; KA
configurations never hold pairs closer than ~0.8 sigma_ab, so a learned score has no reason to
repel such pairs, and the sampler's small errors at large noise leave overlaps it never removes.
Because the small-noise score of Boltzmann data is sigma grad log p_0 = sigma f / T, the
denoiser is written as that limit plus a learned residual,

    F(x, sigma) = F_theta(x, sigma) + exp(-(sigma / sigma_p)^2) sigma f_cap(x) / T,

with f_cap the KA forces whose pair magnitudes are capped smoothly (cap tanh(|f| / cap)) so the
ODE stays integrable when noised particles overlap.  The network learns what the physics term
misses (it is trained on the total); log q stays the exact density of the probability flow (the
divergence includes the physics term).  ``prior_force_cap = 0`` gives the plain learned model.

Sampling and density: the probability-flow ODE dx/dsigma = -sigma s_theta(x, sigma).  With the
flow time t in [0, 1] and sigma(t) = sigma_max (sigma_min / sigma_max)^t (uniform steps in
log sigma), the velocity is

    dx/dt = Lambda sigma(t) F_theta(x, sigma(t)),    Lambda = ln(sigma_max / sigma_min),

so the sampler is a continuous flow from the uniform prior (t = 0) to the data (t = 1),
integrated with its log-density by :mod:`glassdyn.gen.ode` (exact divergence for small N,
Hutchinson's estimator above), on the equivariant networks of :mod:`glassdyn.gen.network` with the
noise level as their time conditioning.  log q is the density of the ODE's output, i.e. of the
model's law smoothed at sigma_min.

Neither sampler's output is Boltzmann-distributed: ``glassdyn gen sample`` refines the reverse-SDE
proposals by Hybrid Monte Carlo moves at T (:mod:`glassdyn.gen.sampler`), and reports how many.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from glassdyn.gen import ode, reference_frame
from glassdyn.gen.network import make_field
from torch import nn

IMAGE_RANGE = 7.0  # images summed: |k| <= ceil(IMAGE_RANGE * sigma / L) + 1 (weights below e^-24)


EXACT_MAX_PARTICLES = 32  # the ODE's divergence: exact up to this N, Hutchinson above


@dataclass(frozen=True)
class DiffusionConfig:
    """The network (:func:`glassdyn.gen.network.make_field`; ``steps``: RK4 steps of the
    probability-flow ODE, uniform in log sigma), the noise schedule, samplers and physics term."""

    hidden: int = 64
    heads: int = 4
    blocks: int = 3
    n_freq: int = 4
    pair_channels: int = 16
    r_cut: float = 2.0  # pairwise term cutoff (sigma_AA)
    steps: int = 100
    network: str = "local"  # or "transformer" (:class:`~glassdyn.gen.network.VectorField`)
    sigma_min: float = 0.02  # smallest noise (length units, sigma_AA)
    sigma_max_factor: float = 1.0  # sigma_max = factor * largest box length
    sde_steps: int = 100  # noise levels of the stochastic sampler
    corrector_steps: int = 2  # Langevin corrector steps per noise level
    snr: float = 0.5  # Langevin step size eps = 2 (snr |z| / |s|)^2 (Song et al.; 0.16 for images)
    sigma_tsm: float = 0.1  # crossover of the target-score / denoising-score blend (length units)
    prior_force_cap: float = (
        200.0  # physics term: capped KA pair forces (0: none); see module docstring
    )
    prior_sigma: float = 0.02  # the physics term fades as exp(-(sigma / prior_sigma)^2)

    def as_dict(self) -> dict:
        return asdict(self)


def wrapped_normal_score(d: torch.Tensor, sigma: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """d/dd log sum_k exp(-(d + k L)^2 / (2 sigma^2)), elementwise.

    d (..., D) displacements (any image), sigma of the shape of d, L (D,) box lengths."""
    d = d - L * torch.round(d / L)
    n_images = int(math.ceil(IMAGE_RANGE * float((sigma / L).max()))) + 1
    k = torch.arange(-n_images, n_images + 1, dtype=d.dtype, device=d.device)
    dk = d[..., None] + k * L[..., None]  # (..., D, K)
    logw = -(dk * dk) / (2 * sigma[..., None] ** 2)
    w = torch.softmax(logw, dim=-1)
    return -(w * dk).sum(-1) / sigma**2


def capped_ka_forces(
    x: torch.Tensor, species: torch.Tensor, box: torch.Tensor, cap: float, params=None
) -> torch.Tensor:
    """KA forces with every pair force smoothly capped: |f| -> cap tanh(|f| / cap) (repulsive part).

    x (B, N, 3) positions (any image), species (B, N) in {0, 1}, box (3,) -> (B, N, 3).  Dense
    minimum-image pairs (N^2), differentiable (for the divergence of the probability flow)."""
    from glassdyn.simulate.ka import KAParameters

    p = params or KAParameters()
    eps = torch.as_tensor(p.epsilon, dtype=x.dtype, device=x.device)
    sig = torch.as_tensor(p.sigma, dtype=x.dtype, device=x.device)
    d = x[:, None, :, :] - x[:, :, None, :]  # r_j - r_i
    d = d - box * torch.round(d / box).detach()
    si, sj = species[:, :, None], species[:, None, :]
    s_ab, e_ab = sig[si, sj], eps[si, sj]
    r2 = (d * d).sum(-1)
    inside = (r2 < (p.cutoff * s_ab) ** 2) & ~torch.eye(
        x.shape[1], dtype=torch.bool, device=x.device
    )
    r2 = torch.where(inside, r2, torch.ones_like(r2)).clamp(min=1e-12)
    r2c = r2.clamp(min=(0.5 * s_ab) ** 2)  # below 0.5 sigma the capped force is saturated anyway
    sr6 = (s_ab * s_ab / r2c) ** 3
    mag = 24 * e_ab * (2 * sr6 * sr6 - sr6) / torch.sqrt(r2c)  # |f| along the pair, > 0 repulsive
    mag = torch.where(mag > 0, cap * torch.tanh(mag / cap), mag) * inside
    return -(mag / torch.sqrt(r2))[..., None].mul(d).sum(2)


def zero_output(net: nn.Module) -> None:
    """Zero the last layers of a :func:`~glassdyn.gen.network.make_field` network, so that it
    outputs zero until trained (the learned part of the score then starts from nothing)."""
    last = [net.net.edge2[-1]] if hasattr(net.net, "edge2") else [net.net.head, net.pair[-1]]
    for layer in last:
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)


class _ScoreVelocity(nn.Module):
    """The probability-flow velocity du/dt (fractional units) built on the shared network."""

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        self.cfg = cfg
        self.net = make_field(cfg)
        zero_output(self.net)  # untrained: the physics term alone (the start a fit validates)

    def sigma_bounds(self, box: torch.Tensor) -> tuple[float, float]:
        return float(self.cfg.sigma_min), float(self.cfg.sigma_max_factor * box.max())

    def sigma(self, t: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        lo, hi = self.sigma_bounds(box)
        return hi * (lo / hi) ** t

    def prior(self, u, tokens, box, Tf, free, sig):
        """The physics term exp(-(sigma / sigma_p)^2) sigma f_cap(x) / T (B, N, 3), length units."""
        w = torch.exp(-((sig / self.cfg.prior_sigma) ** 2))
        T = reference_frame.temperature_from_features(Tf)
        f = capped_ka_forces(
            u * box, reference_frame.physical_species(tokens), box, self.cfg.prior_force_cap
        )
        return (w * sig / T)[:, None, None] * f * free[..., None]

    def denoiser(self, u, t, tokens, box, Tf, free):
        """F = sigma * score (B, N, 3) in length units: network (+ physics term)."""
        F = self.net(u, t, tokens, box, Tf, free) * box
        if self.cfg.prior_force_cap > 0:
            F = F + self.prior(u, tokens, box, Tf, free, self.sigma(t, box))
        return F

    def forward(self, u, t, tokens, box, Tf, free):
        lo, hi = self.sigma_bounds(box)
        lam = math.log(hi / lo)
        sig = self.sigma(t, box)
        return (lam * sig)[:, None, None] * self.denoiser(u, t, tokens, box, Tf, free) / box


class ScoreDiffusion(nn.Module):
    """Temperature-conditioned score-based diffusion: :meth:`sample` (reverse SDE, or the
    probability-flow ODE with ``log q``), :meth:`log_prob` and :meth:`denoising_loss`."""

    kind = "diffusion"
    sample_dtype = torch.float32

    def __init__(self, cfg: DiffusionConfig = DiffusionConfig()):
        super().__init__()
        self.cfg = cfg
        self.field = _ScoreVelocity(cfg)
        self.divergence = "auto"
        self.n_probes = 1
        self.steps = cfg.steps
        self.sde_steps, self.corrector_steps, self.snr = cfg.sde_steps, cfg.corrector_steps, cfg.snr
        self.final_correctors = 0  # extra Langevin steps at sigma_min before the Tweedie step
        self.sampler = (
            "sde"  # what :meth:`sample` uses: "sde" (better samples) or "ode" (with log q)
        )

    def sample(self, n, types, box, T, generator=None):
        """n configurations (n, N, 3) and log q (n,): NaN for the SDE sampler (see ``sampler``)."""
        if self.sampler == "sde":
            return self.sample_sde(n, types, box, T, generator)
        if self.sampler != "ode":
            raise ValueError(f"sampler must be 'sde' or 'ode', got {self.sampler!r}")
        return self.sample_ode(n, types, box, T, generator)

    def _prepare(self, types, ref, T):
        tokens = reference_frame.species_tokens(types, ref)
        return tokens, tokens != reference_frame.REFERENCE, reference_frame.temperature_features(T)

    def _batch(self, n, types, box, T):
        dev = box.device
        types_b = types.to(dev).long()[None].expand(n, -1)
        ref = torch.as_tensor(
            reference_frame.reference_index(types_b[:1].cpu().numpy()), device=dev
        ).expand(n)
        Tn = torch.full((n,), float(T), dtype=box.dtype, device=dev)
        return types_b, ref, self._prepare(types_b, ref, Tn)

    def _integrate(self, u, tokens, box, Tf, free, t0, t1, generator=None):
        """The probability-flow ODE in frame coordinates u from t0 to t1 with its log-density:
        (u(t1), int div v dt (B,)); the divergence in u equals the one in x (a linear change)."""
        method = self.divergence
        if method == "auto":
            method = "exact" if u.shape[1] <= EXACT_MAX_PARTICLES else "hutchinson"
        training = torch.is_grad_enabled()

        def field(uu, t):
            with torch.enable_grad():
                uu = uu if uu.requires_grad else uu.detach().requires_grad_(True)
                v = self.field(uu, t, tokens, box, Tf, free)
                div, var = ode.autograd_divergence(
                    v,
                    uu,
                    method,
                    max(self.n_probes, 2),
                    create_graph=training,
                    generator=generator,
                )
            return (v, div, var) if training else (v.detach(), div.detach(), var)

        u1, logdet, _ = ode.integrate(field, u, self.steps, t0=t0, t1=t1)
        return u1, logdet

    def log_prob(self, positions, types, box, T, ref=None):
        """log q(x) (B,) of the probability-flow ODE, integrating from the data back to the prior."""
        if ref is None:
            ref = torch.as_tensor(
                reference_frame.reference_index(types.cpu().numpy()), device=positions.device
            )
        tokens, free, Tf = self._prepare(types, ref, T)
        u = reference_frame.to_frame(positions, box, ref)
        _, logdet = self._integrate(u, tokens, box, Tf, free, 1.0, 0.0)
        # integrated backwards: logdet = -int_0^1 div v dt = log p_1(x) - log p_0 with log p_0 = 0
        return logdet - reference_frame.log_volume(box, positions.shape[1])

    def sample_ode(self, n, types, box, T, generator=None):
        """n configurations (n, N, 3) from the probability-flow ODE and their log q (n,)."""
        types_b, ref, (tokens, free, Tf) = self._batch(n, types, box, T)
        z = (
            torch.rand(
                n, types_b.shape[1], 3, generator=generator, dtype=box.dtype, device=box.device
            )
            * free[..., None]
        )
        with torch.no_grad():
            u, logdet = self._integrate(z, tokens, box, Tf, free, 0.0, 1.0, generator)
        u = torch.remainder(u.detach(), 1.0) * free[..., None]
        origin = torch.rand(n, 3, generator=generator, dtype=box.dtype, device=box.device) * box
        x = reference_frame.from_frame(u, box, origin)
        return x, -logdet.detach() - reference_frame.log_volume(box, types_b.shape[1])

    def denoising_loss(
        self, positions, types, box, T, ref, generator=None, data_score=None, *, t=None
    ):
        """sigma^2-weighted denoising score matching, per free coordinate (scalar, length^2).

        ``data_score`` (B, N, 3): grad log p_0 at the data, i.e. forces / T for thermal
        configurations (any frame: only the free particles' rows are used); when given, the target
        is the target-score / denoising-score blend of the module docstring.  ``t``: one noise
        level for the whole batch (flow time in [0, 1]; default: uniform per configuration)."""
        tokens, free, Tf = self._prepare(types, ref, T)
        u0 = reference_frame.to_frame(positions, box, ref)
        B = u0.shape[0]
        if t is None:
            t = torch.rand(B, generator=generator, dtype=u0.dtype, device=u0.device)
        else:
            t = torch.full((B,), float(t), dtype=u0.dtype, device=u0.device)
        sig = self.field.sigma(t, box)
        eps = torch.randn(u0.shape, generator=generator, dtype=u0.dtype, device=u0.device)
        d = sig[:, None, None] * eps * free[..., None]  # length units
        ut = torch.remainder(u0 + d / box, 1.0) * free[..., None]
        target = sig[:, None, None] * wrapped_normal_score(d, sig[:, None, None].expand_as(d), box)
        if data_score is not None:
            w = (1.0 / (1.0 + (sig / self.cfg.sigma_tsm) ** 2))[:, None, None]
            target = w * sig[:, None, None] * data_score.to(target.dtype) + (1 - w) * target
        target = target * free[..., None]
        F = self.field.denoiser(ut, t, tokens, box, Tf, free)
        err = (F - target) ** 2
        return err.sum((-1, -2)).div(free.sum(-1)).mean() / 3.0

    # ----------------------------------------------------------- stochastic sampler
    @torch.no_grad()
    def sample_sde(
        self,
        n,
        types,
        box,
        T,
        generator=None,
        *,
        corrector_steps: int | None = None,
        snr: float | None = None,
    ):
        """n configurations from the reverse-time SDE with Langevin correction (Song et al., ICLR
        2021, predictor-corrector for the VE SDE), ``self.sde_steps`` noise levels with
        ``corrector_steps`` (default ``self.corrector_steps``) Langevin steps each of signal-to-noise
        ratio ``snr`` (default ``self.snr``), ``self.final_correctors`` more Langevin steps at
        sigma_min, then one Tweedie denoising step x + sigma_min^2 s.
        On KA (N=160, T=0.8) a larger snr than the 0.16 used for images brings the samples much
        closer to MD (g(r) L2 1.64 -> 0.95 from snr 0.16 to 0.5 at 100 levels x 2 correctors).  Usually closer to the data than the ODE for the same
        network, but its density is intractable: log q is returned as NaN (no importance weights).
        """
        dev, dt = box.device, box.dtype
        types_b, ref, (tokens, free, Tf) = self._batch(n, types, box, T)
        u = torch.rand(n, types_b.shape[1], 3, generator=generator, dtype=dt, device=dev) * free[
            ..., None
        ].to(dt)
        u = self._reverse_sde(u, 0, tokens, box, Tf, free, generator, corrector_steps, snr)
        origin = torch.rand(n, 3, generator=generator, dtype=dt, device=dev) * box
        return reference_frame.from_frame(u, box, origin), torch.full(
            (n,), float("nan"), dtype=dt, device=dev
        )

    @torch.no_grad()
    def renoise_denoise(self, positions, types, box, T, sigma_start: float, generator=None):
        """Noise configurations (B, N, 3) to the first sampler level at or below ``sigma_start`` and
        run the reverse SDE from there (the sampler's remaining levels, correctors, Tweedie step).

        A diagnostic of the score by noise level: with the exact score, equilibrium configurations
        come back with their statistics (g(r), energy, coordination) unchanged, so any drift of
        renoised held-out MD localises the model's errors below ``sigma_start``."""
        dev, dt = box.device, box.dtype
        positions = positions.to(dev, dt)
        B, N, _ = positions.shape
        types_b = (
            types.to(dev).long()[None].expand(B, -1) if types.dim() == 1 else types.to(dev).long()
        )
        ref = torch.as_tensor(reference_frame.reference_index(types_b.cpu().numpy()), device=dev)
        tokens, free, Tf = self._prepare(
            types_b, ref, torch.full((B,), float(T), dtype=dt, device=dev)
        )
        ts = torch.linspace(0.0, 1.0, self.sde_steps + 1, dtype=dt, device=dev)
        sig = self.field.sigma(ts, box)
        if not float(sig[-1]) <= sigma_start:
            raise ValueError(
                f"sigma_start must be at least sigma_min = {float(sig[-1]):.3g}, got {sigma_start}"
            )
        k0 = int((sig > sigma_start).sum())
        mask = free[..., None].to(dt)
        noise = torch.randn(positions.shape, generator=generator, dtype=dt, device=dev)
        u = (
            torch.remainder(
                reference_frame.to_frame(positions, box, ref) + sig[k0] * noise * mask / box, 1.0
            )
            * mask
        )
        u = self._reverse_sde(u, k0, tokens, box, Tf, free, generator)
        return reference_frame.from_frame(u, box, positions[torch.arange(B), ref])

    def _reverse_sde(
        self, u, k0, tokens, box, Tf, free, generator=None, corrector_steps=None, snr=None
    ):
        """Predictor-corrector from noise level k0 of the ``sde_steps + 1`` levels to sigma_min, the
        final correctors and the Tweedie step; u (B, N, 3) fractional, reference frame."""
        n, dev, dt = u.shape[0], u.device, u.dtype
        mask = free[..., None].to(dt)
        ts = torch.linspace(0.0, 1.0, self.sde_steps + 1, dtype=dt, device=dev)
        corrector_steps = self.corrector_steps if corrector_steps is None else corrector_steps
        snr = self.snr if snr is None else snr

        def score(u, t):
            tt = t.expand(n)
            sig = self.field.sigma(tt, box)[:, None, None]
            return self.field.denoiser(u, tt, tokens, box, Tf, free) / sig  # length^-1

        def move(u, dx):
            return torch.remainder(u + dx / box, 1.0) * mask

        def langevin(u, t):
            s = score(u, t)
            z = torch.randn(u.shape, generator=generator, dtype=dt, device=dev) * mask
            eps = (
                2
                * (snr * z.flatten(1).norm(dim=1) / s.flatten(1).norm(dim=1).clamp(min=1e-12)) ** 2
            )
            return move(u, eps[:, None, None] * s + torch.sqrt(2 * eps)[:, None, None] * z)

        for k in range(k0, self.sde_steps):
            s_hi, s_lo = (
                self.field.sigma(ts[k : k + 1], box),
                self.field.sigma(ts[k + 1 : k + 2], box),
            )
            var = s_hi**2 - s_lo**2
            z = torch.randn(u.shape, generator=generator, dtype=dt, device=dev) * mask
            u = move(u, var * score(u, ts[k]) + torch.sqrt(var) * z)
            for _ in range(corrector_steps):
                u = langevin(u, ts[k + 1])
        for _ in range(self.final_correctors):  # optional extra Langevin steps at sigma_min
            u = langevin(u, ts[-1])
        s_min = self.field.sigma(ts[-1:], box)
        return move(u, s_min**2 * score(u, ts[-1]))
