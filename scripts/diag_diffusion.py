"""Where does a diffusion model go wrong?  Renoise held-out MD and denoise it, by noise level.

With the exact score, equilibrium configurations noised to sigma_0 and run through the rest of
the reverse SDE come back with their statistics unchanged.  So the drift of energy, chemical order
(Z_BB) and g(r) after renoising at sigma_0 measures the model's errors at noise levels below
sigma_0, one level at a time, and needs no sampling from the prior:

    OMP_NUM_THREADS=1 .venv/bin/python scripts/diag_diffusion.py RUN --data out/gen/bench/test.zarr \\
        --temperature 0.8 --sigmas 0.05 0.2 0.5 1.0 --n 16 [--steps 100 --correctors 2 --snr 0.5 --quench]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def small_q_fluctuations(x: np.ndarray, types: np.ndarray, box: np.ndarray) -> tuple[float, float]:
    """Bhatia-Thornton S_NN and S_CC at the smallest wave vectors (2 pi / L along each axis and face
    diagonal), averaged: box-scale fluctuations of density and of composition."""
    t = np.asarray(types)
    c = np.where(
        t == 1, 1.0 - np.mean(t == 1), -np.mean(t == 1)
    )  # per-particle concentration contrast
    snn, scc = [], []
    for n in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1)]:
        q = 2 * np.pi * np.asarray(n) / box
        ph = np.exp(1j * (x @ q))  # (M, N)
        snn.append(np.abs(ph.sum(-1)) ** 2 / x.shape[1])
        scc.append(np.abs((c * ph).sum(-1)) ** 2 / x.shape[1])
    return float(np.mean(snn)), float(np.mean(scc))


def main(argv=None) -> int:
    import torch
    from glassdyn.data.errors import InputError
    from glassdyn.gen import metrics, sampling
    from glassdyn.gen.checkpoints import load_run
    from glassdyn.gen.evaluation import held_out_reference, reference_data
    from glassdyn.gen.fire import quench
    from glassdyn.gen.options import SamplerOptions

    from glassdyn.commands.options import add_setting, settings_from_args

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run")
    p.add_argument("--data", required=True, help="held-out MD store")
    p.add_argument("--temperature", type=float, required=True)
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.05, 0.2, 0.5, 1.0])
    p.add_argument("--n", type=int, default=16, help="MD configurations renoised per level")
    p.add_argument("--seed", type=int, default=0)
    for name in ("sampler", "steps", "correctors", "snr", "final_correctors"):
        add_setting(p, SamplerOptions, name)
    p.add_argument(
        "--quench",
        action="store_true",
        help="also FIRE-quench and report the inherent-structure energy",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    model, ck = load_run(args.run)
    if model.kind != "diffusion":
        raise InputError(f"{args.run} is a {model.kind} run; renoising applies to diffusion runs")
    if args.sampler == "ode":
        raise InputError("renoising runs the reverse SDE; --sampler ode does not apply")
    settings_from_args(SamplerOptions, args).apply(model)
    held = held_out_reference(ck, args.data, args.temperature)  # never the fit's own configurations
    ref = reference_data(args.data, args.temperature, held["configs"])
    box, types = ref["box"], ref["types"][: args.n]
    x0 = ref["positions"][: args.n]
    N = types.shape[1]
    rest = ref["positions"][args.n :]

    def row(name, x, secs=None):
        e = sampling.energies(x, types, box) / N
        g = metrics.rdf_l2(x, rest, types, ref["types"][args.n :], box)
        z = metrics.coordination_numbers(x, types, box)
        snn, scc = small_q_fluctuations(x, types[0], box)
        t = f"  S_NN/S_CC(q_min) {snn:.3f}/{scc:.3f}" + (
            "" if secs is None else f"  ({secs:.0f} s)"
        )
        if args.quench:
            q = quench(x, types[0], box)
            t = (
                f"  e_IS {np.mean(q.energy[q.converged]):.3f} ({q.minimiser}, {q.converged.sum()}/{len(x)})"
                + t
            )
        print(
            f"{name:>14}  e/N mean {e.mean():7.3f} median {np.median(e):7.3f}  Z_BB {z['BB']:.3f}  Z_AB {z['AB']:.3f}  "
            f"g L2 AA/AB/BB {g['AA']:.3f}/{g['AB']:.3f}/{g['BB']:.3f}{t}",
            flush=True,
        )

    print(
        f"{args.run}: {args.n} held-out MD configurations at T={args.temperature:g} (N={N}), renoised and denoised"
    )
    row("MD as is", x0)
    xt = torch.as_tensor(x0, dtype=torch.float32)
    for s in args.sigmas:
        t0 = time.perf_counter()
        out = model.renoise_denoise(
            xt,
            torch.as_tensor(types),
            torch.as_tensor(box, dtype=torch.float32),
            args.temperature,
            s,
            generator=torch.Generator().manual_seed(args.seed),
        )
        row(f"from sigma {s:g}", out.double().numpy(), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    import sys

    from glassdyn.data.errors import InputError, StoreError

    try:
        raise SystemExit(main())
    except (InputError, StoreError) as exc:
        print(f"diag_diffusion: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
