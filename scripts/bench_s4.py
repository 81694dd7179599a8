"""Benchmark: S4(q, t) for N=4096, K=10 times, R=32 replicas x C=10 configurations, every wave
vector with |q| <= q_max (2.5 by default) of the periodic box, on CPU, single thread.

Prints, from ONE run on the same synthetic data (random positions at the KA density, overlap-like
0/1 weights):
  * glassdyn fast path (float64 and float32): half-space vectors, phases from per-axis powers,
    one real GEMM per configuration for all replicas and times;
  * a direct numpy version (exp per particle and vector, complex matmul, all +-q) for scale;
  * the plain brute-force reference (``s4_bruteforce``: explicit loops over configurations, wave
    vectors and replicas), timed on a SUBSET (1 configuration, the first shells) and scaled
    linearly to the full problem (its cost is exactly linear in configurations x vectors);
and the ratios, plus the agreement of the fast path with both references.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_s4.py [--n 4096 --times 10 --replicas 32 --configs 10 --q-max 2.5]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
from glassdyn.analysis.fourpoint import FourPoint, s4_bruteforce
from glassdyn.analysis.wavevectors import wave_vectors


def direct_numpy(w, pos, box, q_max):
    """All +-q vectors, exp(i q.r) evaluated per element, complex matmul (what one writes first)."""
    wv = wave_vectors(box, q_max)
    q = np.concatenate([wv.q, -wv.q])  # (2M, 3)
    shell = np.concatenate([wv.shell, wv.shell])
    C, R, K, N = w.shape
    s2 = np.zeros((K, len(q)))
    s1 = np.zeros((K, len(q)), complex)
    for c in range(C):
        E = np.exp(1j * pos[c] @ q.T)  # (N, 2M)
        W = (w[c].reshape(R * K, N).astype(complex) @ E).reshape(R, K, -1)
        s2 += (np.abs(W) ** 2).sum(0)
        s1 += W.sum(0)
    per = (s2 / (C * R) - np.abs(s1 / (C * R)) ** 2) / N
    out = np.zeros((K, wv.n_shells))
    np.add.at(out.T, shell, per.T)
    return out / (2 * wv.counts)


class Timer:
    """Wall and CPU time of a block (the machine may be shared: CPU time is the fair figure)."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c

    def __str__(self):
        return f"{self.cpu:8.2f} s CPU ({self.wall:6.2f} s wall)"


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--times", type=int, default=10)
    ap.add_argument("--replicas", type=int, default=32)
    ap.add_argument("--configs", type=int, default=10)
    ap.add_argument("--q-max", type=float, default=2.5)
    ap.add_argument(
        "--brute-q-max", type=float, default=1.6, help="q_max of the brute-force subset"
    )
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)
    except ImportError:
        pass

    rng = np.random.default_rng(a.seed)
    L = (a.n / 1.2) ** (1 / 3)
    box = np.full(3, L)
    C, R, K, N = a.configs, a.replicas, a.times, a.n
    pos = rng.uniform(0, L, (C, N, 3))
    p_mobile = np.linspace(0.05, 0.95, K)
    w = (rng.random((C, R, K, N)) > p_mobile[None, None, :, None]).astype(np.float64)  # overlap 0/1
    wv = wave_vectors(box, a.q_max)
    print(
        f"S4(q,t): N={N}, K={K} times, R={R} replicas x C={C} configurations, box L={L:.5f}, "
        f"q_max={a.q_max}: {2 * wv.n_vectors} wave vectors (+-q) in {wv.n_shells} shells; 1 CPU thread"
    )

    with Timer() as t64:
        fast64 = FourPoint(box, q_max=a.q_max).compute(w, pos).s4
    with Timer() as t32:
        fast32 = FourPoint(box, q_max=a.q_max, dtype=np.float32).compute(w, pos).s4
    print(f"glassdyn FourPoint float64          : {t64}")
    print(
        f"glassdyn FourPoint float32          : {t32}   max rel. diff to float64 {np.max(np.abs(fast32 / fast64 - 1)):.1e}"
    )
    with Timer() as tdir:
        direct = direct_numpy(w, pos, box, a.q_max)
    print(
        f"direct numpy (exp + complex matmul) : {tdir}   max rel. diff {np.max(np.abs(direct / fast64 - 1)):.1e}"
    )

    # brute force on a subset: configuration 0, shells with |q| <= brute_q_max
    sub_q = max(a.brute_q_max, 2 * np.pi / L * 1.0001)
    n_sub = 2 * wave_vectors(box, sub_q).n_vectors
    with Timer() as tsub:
        _, bf = s4_bruteforce(w[:1], pos[:1], box, q_max=sub_q)
    scale = (C / 1) * (2 * wv.n_vectors / n_sub)
    bf_cpu, bf_wall = tsub.cpu * scale, tsub.wall * scale
    check = FourPoint(box, q_max=sub_q).compute(w[:1], pos[:1]).s4
    rel = np.max(np.abs(check / bf - 1))
    print(
        f"brute force (explicit loops)        : {bf_cpu:8.2f} s CPU ({bf_wall:6.2f} s wall)   ESTIMATED: measured {tsub.cpu:.2f} s CPU "
        f"on 1 of {C} configurations and {n_sub} of {2 * wv.n_vectors} wave vectors, scaled linearly; "
        f"the fast path agrees with it there to {rel:.1e} relative"
    )
    print(f"ratio brute force / fast float64    : {bf_cpu / t64.cpu:8.0f} x (CPU time)")
    print(f"ratio brute force / fast float32    : {bf_cpu / t32.cpu:8.0f} x (CPU time)")
    print(f"ratio direct numpy / fast float64   : {tdir.cpu / t64.cpu:8.1f} x (CPU time)")


if __name__ == "__main__":
    main()
