"""Benchmark: time-origin Fs, chi4 and S4 of one trajectory, glassdyn vs atooms-pp, one run.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_trajectory.py TRAJ \\
        --reference /work/ref/w16/venv/bin/python [--frames 1001] [--shells 6] [--out DIR]

TRAJ is a LAMMPS text dump with a block-periodic log schedule (``glassdyn simulate
--trajectory``).  Both sides use the same pairs: origins at the block starts (atooms-pp's
``norigins=-1`` with its detected block size; glassdyn ``origins="blocks"``), the same exact lags
(the in-block offsets and multiples of the period), the first ``--shells`` |q| shells of the box
for S4 and every lattice vector within 0.1 of k = 7.25 for atooms' Fs (glassdyn uses the
isotropic average at their mean |k|).

atooms-pp runs in its own environment (``pip install atooms atooms-pp`` in a separate venv; it is
not a glassdyn dependency): this file re-runs itself there with ``--atooms-side``.  Its S4ktOverlap
takes one lag per call, so it is timed per lag (``_compute`` only, trajectory reading excluded and
reported apart); glassdyn computes every quantity for every lag in one pass that includes reading
the file.  Wall and CPU (process) times are printed: the machine may be shared, CPU time is the
fair figure.

atooms-pp's S4 subtracts |sum_k <W_k>|^2 (the shell's vectors summed before the modulus) where
glassdyn subtracts sum_k |<W_k>|^2 (per vector, the definition); the script compares the connected
part <|W|^2>/N, the full S4, and atooms' own estimator rebuilt from glassdyn's per-vector sums.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


# ------------------------------------------------------------------------------ atooms side
def atooms_side(spec: dict) -> dict:
    """Runs inside the atooms-pp environment: Chi4SelfOverlap and SelfIntermediateScattering for
    all lags (one call each), S4ktOverlap one call per lag.  Times are ``_compute`` only; the
    unfolded positions read once by the chi4 object are handed to the S4 objects."""
    import atooms.postprocessing as pp
    from atooms.trajectory import TrajectoryLAMMPS

    def clock(fn):
        w, c = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w, time.process_time() - c

    def setup(obj):
        if hasattr(obj, "_kgrid"):  # what FourierSpaceCorrelation.compute() does first
            obj._kgrid.setup(obj.trajectory[0].cell.side)
        obj._setup_arrays()

    th = TrajectoryLAMMPS(spec["path"])
    th.timestep = spec["dt"]
    out = {"block_size": th.block_size, "frames": len(th.steps)}
    chi = pp.Chi4SelfOverlap(th, tgrid=spec["lags"], norigins=-1, a=spec["a"])
    out["chi4_setup"] = clock(lambda: setup(chi))
    out["chi4_time"] = clock(chi._compute)
    out["chi4"], out["chi4_lags"] = [float(v) for v in chi.value], [float(t) for t in chi.grid]
    fs = pp.SelfIntermediateScattering(
        th, tgrid=spec["lags"], kgrid=[7.25], nk=100000, dk=0.1, norigins=-1
    )
    out["fs_setup"] = clock(lambda: setup(fs))
    out["fs_time"] = clock(fs._compute)
    out["fs_k"] = float(fs.grid[0][0])
    out["fs_lags"] = [float(t) for t in fs.grid[1]]
    out["fs"] = [float(v) for v in fs.value[0]]
    out["s4"], out["s4_time"] = [], []
    for t in spec["s4_lags"]:
        s4 = pp.S4ktOverlap(
            th, tgrid=[t], kgrid=spec["shells"], nk=100000, dk=spec["dk"], norigins=-1, a=spec["a"]
        )
        s4._kgrid.setup(th[0].cell.side)
        s4._pos_unf = chi._pos_unf  # the same unfolded positions, not read again
        out["s4_time"].append(clock(s4._compute))
        out["s4"].append([float(v) for v in s4.value[0]])
        out["s4_k"] = [float(k) for k in s4.grid[1]]
        out["s4_counts"] = [len(v) for v in s4.kvectors]
    return out


# ------------------------------------------------------------------------------ glassdyn side
def glassdyn_side(path: Path, lags, shells_q_max: float, fs_k: float, a: float):
    """Open, plan, stream and finish every quantity for every lag; returns (times, acc, plan)."""
    import numpy as np
    from glassdyn.analysis.heterogeneity import HeterogeneityConfig
    from glassdyn.analysis.lags import plan_lags
    from glassdyn.analysis.timeorigin import TimeOriginHeterogeneity
    from glassdyn.data.trajectory import open_trajectory

    w, c = time.perf_counter(), time.process_time()
    tr = open_trajectory(path)
    plan = plan_lags([tr.times], origins="blocks", max_origins=None, lags=lags, min_origins=1)
    cfg = HeterogeneityConfig(a=a, k={"A": fs_k, "B": fs_k, "total": fs_k}, q_max=shells_q_max)
    acc = TimeOriginHeterogeneity(plan, tr.types, tr.box, cfg)
    for start, x in tr.chunks(512):
        acc.compute(0, start, x)
    res = {"chi4": acc.chi4["total"], "fs": acc.fs["total"], "s4": acc.s4}
    res["chi4_err"], res["s4_err"] = acc.chi4_err["total"], acc.s4_err
    res["sums"] = acc.vector_sums()
    elapsed = (time.perf_counter() - w, time.process_time() - c)
    return elapsed, res, acc, np.asarray(plan.n_origins)


def atooms_estimator(acc, sums):
    """atooms-pp's S4: (sum_k <|W_k|^2> - |sum_k <W_k>|^2) / (n_k N) over the full shell (+-k)."""
    import numpy as np

    w2, w, n = sums
    wv = acc.wave_vectors
    N = int(acc._s4_mask.sum())
    out = np.zeros((w2.shape[0], wv.n_shells))
    for s in range(wv.n_shells):
        v = wv.shell == s
        conn = 2 * (w2[:, v] / n[:, None]).sum(1)
        disc = (2 * (w[:, v] / n[:, None]).real.sum(1)) ** 2
        out[:, s] = (conn - disc) / (2 * v.sum() * N)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("trajectory", type=Path)
    ap.add_argument("--reference", help="python of the atooms-pp environment")
    ap.add_argument("--frames", type=int, help="use the first FRAMES frames (a copy in --out)")
    ap.add_argument("--shells", type=int, default=6, help="|q| shells of S4 (default 6)")
    ap.add_argument("--s4-lags", type=int, default=8, help="lags atooms computes S4 at (default 8)")
    ap.add_argument("--multiples", default="1,2,5,10,20,50", help="lags m x period (comma list)")
    ap.add_argument("--out", type=Path, default=Path("out/bench_trajectory"))
    ap.add_argument("--atooms-side", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.atooms_side:
        spec = json.loads(Path(args.atooms_side).read_text())
        Path(spec["result"]).write_text(json.dumps(atooms_side(spec)))
        return
    run(args)


def run(args) -> None:
    import numpy as np
    from glassdyn.analysis.lags import schedule_period
    from glassdyn.analysis.wavevectors import wave_vectors
    from glassdyn.data.trajectory import open_trajectory

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.trajectory
    tr = open_trajectory(path)
    if args.frames and args.frames < tr.n_frames:
        cut = args.out / f"first{args.frames}.lammpstrj"
        with open(path, "rb") as src, open(cut, "wb") as dst:
            dst.write(src.read(int(tr.offsets[args.frames])))
        path, tr = cut, open_trajectory(cut)
    dt = float(tr.times[1] / (tr.steps[1] - tr.steps[0]))
    K = schedule_period(tr.times, 1e-6 * np.diff(tr.times).min())
    period = tr.times[K] - tr.times[0]
    blocks = (tr.n_frames - 1) // K
    multiples = [int(m) for m in args.multiples.split(",") if int(m) < blocks]
    lags = sorted({*(tr.times[1:K] - tr.times[0]).tolist(), *(m * period for m in multiples)})
    s4_lags = [lags[int(i)] for i in np.unique(np.linspace(0, len(lags) - 1, args.s4_lags).round())]
    wv = wave_vectors(tr.box, 2 * np.pi / tr.box.min() * (args.shells**0.5 + 0.5))
    shells = wv.shells[: args.shells].tolist()
    q_max = shells[-1] * (1 + 1e-9)
    a = 0.3
    print(
        f"{tr!r}\nload: {os.getloadavg()}, block size {K} frames, period {period:g}, "
        f"{blocks} blocks, {len(lags)} lags, S4 on {args.shells} shells (q <= {q_max:.4f})"
    )

    ours = [glassdyn_side(path, lags, q_max, 7.25, a)]  # warm-up / first timing
    ref = None
    if args.reference:
        spec = {
            "path": str(path.resolve()),
            "dt": dt,
            "lags": lags,
            "s4_lags": s4_lags,
            "a": a,
            "shells": shells,
            "dk": 0.02,
            "result": str((args.out / "atooms.json").resolve()),
        }
        (args.out / "spec.json").write_text(json.dumps(spec))
        w = time.perf_counter()
        # run in --out: atooms' Fortran helpers compile into the working directory
        subprocess.run(
            [
                args.reference,
                str(Path(__file__).resolve()),
                str(path.resolve()),
                "--atooms-side",
                str((args.out / "spec.json").resolve()),
            ],
            check=True,
            cwd=args.out,
        )
        ref = json.loads((args.out / "atooms.json").read_text())
        ref["wall_total"] = time.perf_counter() - w
        fs_k = ref["fs_k"]
    else:
        fs_k = 7.25
    ours.append(glassdyn_side(path, lags, q_max, fs_k, a))
    (elapsed, res, acc, n_origins) = ours[-1]
    times = [o[0] for o in ours]
    report = {
        "trajectory": str(path),
        "frames": tr.n_frames,
        "N": tr.n_particles,
        "lags": lags,
        "n_origins": n_origins.tolist(),
        "glassdyn_wall_cpu": times,
        "shells": shells,
        "load": os.getloadavg(),
    }
    print(
        f"\nglassdyn, all {len(lags)} lags in one pass (read + Q, Fs, MSD, chi4, S4 on "
        f"{acc.wave_vectors.n_vectors} half-space vectors): wall/cpu "
        + ", ".join(f"{w:.2f}/{c:.2f} s" for w, c in times)
    )
    if ref is not None:
        compare(report, res, acc, ref, lags, s4_lags, times)
    (args.out / "bench_trajectory.json").write_text(json.dumps(report, indent=1, default=float))
    print(f"\n{args.out / 'bench_trajectory.json'}")


def compare(report, res, acc, ref, lags, s4_lags, times) -> None:
    import numpy as np

    lag_index = [int(np.argmin(np.abs(np.asarray(lags) - t))) for t in s4_lags]
    chi_ref = np.asarray(ref["chi4"])
    d_chi = np.abs(res["chi4"] - chi_ref).max()
    fs_ref = np.interp(lags, ref["fs_lags"], ref["fs"])
    d_fs = np.abs(res["fs"] - fs_ref).max()
    s4_ref = np.asarray(ref["s4"])
    ours_s4 = res["s4"][lag_index]
    ours_atooms = atooms_estimator(acc, res["sums"])[lag_index]
    w2, _, n = res["sums"]
    conn = acc.wave_vectors.shell_mean(w2 / n[:, None])[lag_index] / int(acc._s4_mask.sum())
    d_s4_atooms = np.abs(ours_atooms - s4_ref).max()
    d_s4 = np.abs(ours_s4 - s4_ref).max()
    rel = np.abs(ours_s4 - s4_ref) / res["s4_err"][lag_index]
    t_s4 = np.array(ref["s4_time"])  # (lags, 2): wall, cpu
    ours_w, ours_c = min(t[0] for t in times), min(t[1] for t in times)
    per_lag_ours = (ours_w / len(lags), ours_c / len(lags))
    lines = [
        f"chi4 (total, {len(lags)} lags): largest |glassdyn - atooms| = {d_chi:.3g} "
        f"(chi4 up to {chi_ref.max():.3g})",
        f"Fs (k = {ref['fs_k']:.4f}; atooms: every lattice vector |k - 7.25| < 0.1; glassdyn: "
        f"isotropic sin(kr)/kr): largest difference {d_fs:.3g}",
        f"S4 ({len(s4_lags)} lags x {len(ref['s4_k'])} shells of {ref['s4_counts']} vectors):",
        f"  atooms' estimator rebuilt from glassdyn's per-vector sums vs atooms: {d_s4_atooms:.3g}",
        f"  glassdyn S4 (per-vector disconnected term) vs atooms: {d_s4:.3g} "
        f"(median {np.median(rel):.2g}, max {rel.max():.2g} jackknife errors)",
        f"atooms-pp: chi4 all lags {ref['chi4_time'][0]:.2f}/{ref['chi4_time'][1]:.2f} s, "
        f"Fs all lags {ref['fs_time'][0]:.2f}/{ref['fs_time'][1]:.2f} s (wall/cpu, reading excluded: "
        f"{ref['chi4_setup'][0]:.1f} s per call)",
        f"atooms-pp S4, one call per lag: {t_s4[:, 0].mean():.3f}/{t_s4[:, 1].mean():.3f} s",
        f"glassdyn everything, per lag: {per_lag_ours[0]:.4f}/{per_lag_ours[1]:.4f} s",
        f"speed ratio per lag, atooms S4 alone / glassdyn everything: wall "
        f"{t_s4[:, 0].mean() / per_lag_ours[0]:.1f}x, "
        f"cpu {t_s4[:, 1].mean() / per_lag_ours[1]:.1f}x",
        f"all lags: atooms chi4 + Fs + S4 ({len(lags)} lags x per-lag S4) = "
        f"{ref['chi4_time'][1] + ref['fs_time'][1] + len(lags) * t_s4[:, 1].mean():.1f} s cpu vs "
        f"glassdyn {ours_c:.2f} s cpu",
    ]
    print("\n".join(lines))
    report.update(
        {
            "d_chi4": d_chi,
            "d_fs": d_fs,
            "d_s4_atooms_estimator": d_s4_atooms,
            "d_s4": d_s4,
            "atooms": ref,
            "summary": lines,
            "s4_lags": s4_lags,
            "s4_connected_glassdyn": conn.tolist(),
        }
    )


if __name__ == "__main__":
    main()
