"""Samples, Boltzmann importance weights and the independence Metropolis-Hastings chain.

For a proposal density q and the KA Boltzmann density pi(x) ~ exp(-U(x)/T) (configurational part,
k_B = 1), the log importance weight is

    log w(x) = -U(x)/T - log q(x)          (up to a constant),

self-normalised averages  <A> = sum_k w_k A(x_k) / sum_k w_k  are consistent, and Kish's effective
sample size is ESS = (sum w)^2 / sum w^2 (ESS / n = 1 for a perfect proposal).  The independence
sampler (Tierney, Ann. Statist. 22, 1701 (1994)) proposes x' ~ q independently of the current x
and accepts with probability min(1, w(x') / w(x)); its stationary law is exactly pi, so chain
averages stay exact whatever the model's error, which only costs acceptance.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from glassdyn.data.errors import InputError


def draw(
    model,
    n: int,
    types: np.ndarray,
    box: np.ndarray,
    temperature: float,
    *,
    batch_size: int = 64,
    seed: int = 0,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    progress: bool = False,
):
    """n samples of a fitted model: positions (n, N, 3) float64 in [0, L), log q (n,), seconds.

    ``dtype``: arithmetic of the sampler, default the model's ``sample_dtype`` (float64 for the
    flows, whose log-determinants sum many terms; float32 for the diffusion ODE); ``progress``:
    a progress bar counting samples (it moves once per batch)."""
    from glassdyn.data.runs import progress as bar

    dtype = dtype or getattr(model, "sample_dtype", torch.float64)
    g = torch.Generator(device=device).manual_seed(int(seed))
    box_t = torch.as_tensor(np.asarray(box, dtype=np.float64), dtype=dtype, device=device)
    types_t = torch.as_tensor(np.asarray(types), dtype=torch.long, device=device)
    model = model.to(device=device, dtype=dtype)
    xs, lqs = [], []
    t0 = time.perf_counter()
    pbar = bar(total=n, desc=f"sampling T={float(temperature):g}", enabled=progress, leave=False)
    with torch.no_grad():
        for s in range(0, n, batch_size):
            m = min(batch_size, n - s)
            x, lq = model.sample(m, types_t, box_t, float(temperature), generator=g)
            xs.append(x.detach().cpu().double().numpy())
            lqs.append(lq.detach().cpu().double().numpy())
            pbar.update(m)
    pbar.close()
    seconds = time.perf_counter() - t0
    return np.concatenate(xs), np.concatenate(lqs), seconds


def energies(positions: np.ndarray, types: np.ndarray, box: np.ndarray, params=None) -> np.ndarray:
    """Total KA potential energy (M,) of configurations (M, N, 3) (numpy, float64)."""
    from glassdyn.simulate.ka import KAParameters, potential_energy

    params = params or KAParameters()
    types = np.asarray(types)
    return np.array(
        [
            potential_energy(p, types if types.ndim == 1 else types[k], box, params)
            for k, p in enumerate(positions)
        ]
    )


def log_weights(energy: np.ndarray, log_q: np.ndarray, temperature: float) -> np.ndarray:
    """log w = -U/T - log q (M,); U total energies."""
    energy, log_q = np.asarray(energy, dtype=np.float64), np.asarray(log_q, dtype=np.float64)
    if energy.shape != log_q.shape:
        raise InputError(f"energy {energy.shape} and log_q {log_q.shape} must have the same shape")
    return -energy / float(temperature) - log_q


def kish_ess(log_w: np.ndarray) -> float:
    """Kish effective sample size (sum w)^2 / sum w^2 from log weights (non-finite -> weight 0)."""
    lw = np.asarray(log_w, dtype=np.float64)
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    if not np.isfinite(lw).any():
        return 0.0
    lw = lw - lw.max()
    w = np.exp(lw)
    return float(w.sum() ** 2 / (w * w).sum())


def self_normalised_mean(values: np.ndarray, log_w: np.ndarray) -> float:
    """sum_k w_k A_k / sum_k w_k."""
    lw = np.asarray(log_w, dtype=np.float64)
    w = np.exp(lw - lw[np.isfinite(lw)].max())
    w = np.where(np.isfinite(w), w, 0.0)
    return float((w * np.asarray(values)).sum() / w.sum())


def independence_chain(
    log_w: np.ndarray, *, seed: int = 0, start: int = 0
) -> tuple[np.ndarray, float]:
    """Independence Metropolis-Hastings over proposals in order.

    log_w (M,) are the log weights of M independent proposals.  The chain starts at proposal
    ``start`` and, at step k, proposes proposal k and accepts with probability
    min(1, w_k / w_current).  Returns the index of the state after each step (M,) and the
    acceptance rate over the M - 1 proposals after the start.
    """
    lw = np.asarray(log_w, dtype=np.float64)
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    rng = np.random.default_rng(seed)
    cur = int(start)
    states = np.empty(len(lw), dtype=np.int64)
    accepted = 0
    for k in range(len(lw)):
        if k != start:
            if np.log(rng.random()) < lw[k] - lw[cur]:
                cur = k
                accepted += 1
        states[k] = cur
    return states, accepted / max(len(lw) - 1, 1)


def integrated_autocorrelation_time(a: np.ndarray, c: float = 5.0) -> float:
    """tau_int = 1 + 2 sum_t rho(t) of a series (M,), summed up to Sokal's automatic window (the
    first W >= c tau_int(W)); 1 for independent draws, M for a chain that never moves."""
    a = np.asarray(a, dtype=np.float64)
    M = len(a)
    d = a - a.mean()
    var = float(np.dot(d, d) / M)
    if M < 2 or var == 0.0:
        return float(M)
    f = np.fft.rfft(d, n=2 * M)
    rho = np.fft.irfft(f * np.conj(f))[:M] / (var * M)
    tau = 1.0
    for w in range(1, M):
        tau += 2 * rho[w]
        if w >= c * tau:
            break
    return float(max(tau, 1.0))
