"""The ``glassdyn analyze`` workflow as library functions: a store's state points or a set of
trajectories in, heterogeneity.json and the figures out.

>>> rep = analyze_store("out/small.zarr", HeterogeneityConfig())             # doctest: +SKIP
>>> rep = analyze_trajectories(["run.lammpstrj"], temperature=0.8)           # doctest: +SKIP
>>> write_report(rep, "out/analysis")                                        # doctest: +SKIP

heterogeneity.json::

    {"source", "kind" ("store" | "trajectory"), "store" (stores), "predictions",
     "temperatures": {"0.640" (or "trajectory"): {
        "temperature", "times" (K,), "n_configs", "n_samples", "config" (analysis parameters),
        "species": {"A"|"B"|"total": {"k", "Q", "Fs", "MSD", "alpha2", "chi4", "chi4_err",
                                     "chi4_iso", "chi4_Fs" (K,), "tau_alpha", "tau_alpha_err"}},
        "s4": {"q" (Q,), "shell_counts" (Q,), "S4" (K, Q), "S4_err" (K, Q),
               "chi4_OZ", "chi4_OZ_err", "xi4", "xi4_err", "fit_shells", "fit_ok" (K,)},
        "structure": {"r", "g": {"AA", "AB", "BB", "total"}, "q", "S": {...}, "n_frames"},
        "predictions": {"times", "configs", "pearson" (K',), "true"|"predicted":
                        {"centered"|"standardized": <like "s4">, "std" (K',)}},
        trajectories only: "source" (one description per file), "n_origins" (K,) pairs per lag,
        "origins", "n_blocks", "lag_options"}}}

(null where a value is undefined, e.g. tau_alpha when Fs never reaches 1/e).  For a store, K are
the stored isoconfigurational times and chi4 fluctuates over configurations x replicas; for
trajectories K are lags and chi4 fluctuates over time origins (chi4_iso is null).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from glassdyn.analysis.heterogeneity import (
    HeterogeneityConfig,
    analyze_state,
    compare_predictions,
    jsonable,
)
from glassdyn.analysis.structure import RadialDistribution, StructureFactor, state_structure
from glassdyn.data.errors import InputError
from glassdyn.data.keys import same_temperature


@dataclass(frozen=True)
class TrajectoryOptions:
    """How trajectory frames pair into time origins and lags (see :mod:`lags`), and how they
    are read.  ``chunk_frames`` None: as many frames as fit in 32 MB of float64 positions (the
    chunk only bounds the reading buffers: work is per frame and per origin, so any chunk size
    gives the same numbers at the same cost); ``structure_frames``: frames (evenly spaced) for
    g(r) and S(q) (S(q) to q = 12 costs ~9 s of CPU per frame at N = 4096)."""

    origins: str = "auto"
    max_origins: int | None = 200
    max_lags: int = 40
    lags: tuple[float, ...] | None = None
    min_origins: int = 5
    n_blocks: int = 10
    chunk_frames: int | None = None
    structure_frames: int = 3

    def __post_init__(self):
        limits = {"max_origins": 1, "max_lags": 1, "min_origins": 1, "n_blocks": 2,
                  "chunk_frames": 1, "structure_frames": 0}  # fmt: skip
        for name, low in limits.items():
            value = getattr(self, name)
            if value is not None and value < low:
                raise InputError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
        if self.origins not in ("auto", "all", "blocks"):
            raise InputError(f"--origins must be auto, all or blocks, got {self.origins!r}")


@dataclass
class Report:
    """What :func:`write_report` writes: the JSON dict, per-label results, prediction
    comparisons, and notes for the user (truncated files, missing predictions, ...)."""

    report: dict
    results: dict = field(default_factory=dict)
    comparisons: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- stores
def analyze_store(
    path,
    config: HeterogeneityConfig | None = None,
    *,
    temperatures: Sequence[float] | None = None,
    predictions: str | None = None,
    max_configs: int | None = None,
    structure: bool = True,
) -> Report:
    """Self dynamics, chi4, S4 + OZ fits (and g(r), S(q), predicted vs true S4) per state point."""
    from glassdyn.data.store import Store

    cfg = config or HeterogeneityConfig()
    store = Store.open(path)
    temps = list(temperatures) if temperatures else store.temperatures
    if not temps:
        raise InputError(f"store {path} has no state points")
    preds = None
    if predictions:
        from glassdyn.data.predictions import check_made_for, read_predictions

        preds = read_predictions(predictions)
        check_made_for(preds, store, predictions)  # before anything is computed
    rep = Report(
        {
            "source": str(store.path),
            "kind": "store",
            "store": str(store.path),
            "predictions": predictions,
            "temperatures": {},
        }
    )
    for T in temps:
        sp = store.state(T)
        configs = sp.completed[:max_configs] if max_configs else sp.completed
        t0 = time.perf_counter()
        res = analyze_state(sp, cfg, configs=configs).to_dict()
        res["temperature"] = sp.temperature
        res["seconds"] = time.perf_counter() - t0
        if structure:
            res["structure"] = jsonable(state_structure(sp, configs))
        if preds is not None:
            match = [p for t, p in preds.items() if same_temperature(t, sp.temperature)]
            if match:
                comp = compare_predictions(sp, match[0], cfg, species=cfg.s4_species)
                rep.comparisons[sp.temperature] = res["predictions"] = comp
            else:
                rep.notes.append(
                    f"T={sp.temperature:g}: no predictions at this temperature in {predictions}"
                )
        rep.results[sp.temperature] = res
        rep.report["temperatures"][label_key(sp.temperature)] = res
    return rep


# ------------------------------------------------------------------------------- trajectories
def analyze_trajectories(
    paths: Sequence,
    config: HeterogeneityConfig | None = None,
    options: TrajectoryOptions | None = None,
    *,
    species: Sequence[str] | None = None,
    dt: float | None = None,
    temperature: float | None = None,
    structure: bool = True,
    progress: bool = False,
) -> Report:
    """Time-origin averaged heterogeneity of one or several trajectories of one state point
    (LAMMPS text dumps or extended XYZ; independent runs pool their pairs lag by lag)."""
    from glassdyn.analysis.lags import plan_lags
    from glassdyn.analysis.timeorigin import TimeOriginHeterogeneity
    from glassdyn.data.trajectory import open_trajectory

    cfg, opt = config or HeterogeneityConfig(), options or TrajectoryOptions()
    trajs = [open_trajectory(p, species=species, dt=dt) for p in paths]
    if not trajs:
        raise InputError("no trajectory given")
    ref = trajs[0]
    for tr in trajs[1:]:
        if not (np.array_equal(tr.types, ref.types) and np.allclose(tr.box, ref.box, rtol=1e-9)):
            raise InputError(
                f"{tr.path} has other particles or another box than {ref.path}; analyse "
                "trajectories of one system together"
            )
    plan = plan_lags(
        [tr.times for tr in trajs],
        origins=opt.origins,
        max_origins=opt.max_origins,
        max_lags=opt.max_lags,
        lags=opt.lags,
        min_origins=opt.min_origins,
        n_blocks=opt.n_blocks,
    )
    acc = TimeOriginHeterogeneity(plan, ref.types, ref.box, cfg)
    t0 = time.perf_counter()
    frames = opt.structure_frames if structure else 0
    static = _stream(trajs, acc, opt.chunk_frames, frames, progress)
    res = acc.to_dict()
    res["temperature"] = temperature
    res["seconds"] = time.perf_counter() - t0
    res["source"] = [tr.describe() for tr in trajs]
    res["lag_options"] = asdict(opt)
    if static is not None:
        res["structure"] = static
    label = temperature if temperature is not None else "trajectory"
    rep = Report(
        {
            "source": [str(tr.path) for tr in trajs],
            "kind": "trajectory",
            "predictions": None,
            "temperatures": {label_key(label): res},
        }
    )
    rep.results[label] = res
    rep.notes += [tr.truncated for tr in trajs if tr.truncated]
    rep.notes += [
        f"{tr.path}: times from {tr.time_source}" for tr in trajs if "default" in tr.time_source
    ]
    return rep


def _stream(trajs, acc, chunk_frames, structure_frames: int, progress: bool) -> dict | None:
    """Read every needed frame once, in chunks, into ``acc`` (and g(r), S(q) of
    ``structure_frames`` frames of the first trajectory); returns the structure dict or None."""
    from tqdm.auto import tqdm

    plan, ref = acc.plan, trajs[0]
    rdf, sf, picks = (
        _structure_objects(ref, structure_frames) if structure_frames > 0 else (None,) * 3
    )
    chunk = (
        chunk_frames if chunk_frames is not None else max(1, int(32e6 // (24 * ref.n_particles)))
    )
    needed = [int(plan.target[plan.trajectory == t].max(initial=-1)) + 1 for t in range(len(trajs))]
    if picks is not None:
        needed[0] = max(needed[0], int(picks.max()) + 1)
    bar = tqdm(
        total=sum(needed), unit="frame", desc="frames", disable=not progress, file=sys.stderr
    )
    with bar:
        for t, tr in enumerate(trajs):
            for start, x in tr.chunks(chunk):
                if start >= needed[t]:
                    break
                acc.compute(t, start, x)
                if t == 0 and picks is not None:
                    for f in picks[(picks >= start) & (picks < start + len(x))]:
                        rdf.compute(x[f - start], ref.types, ref.box)
                        sf.compute(x[f - start], ref.types)
                bar.update(min(len(x), needed[t] - start))
    if rdf is None:
        return None
    return jsonable(
        {
            "r": rdf.r,
            "g": rdf.g,
            "q": sf.q,
            "S": sf.result,
            "n_frames": rdf.n_frames,
            "which": "trajectory frames",
        }
    )


def _structure_objects(tr, n_frames: int):
    """g(r) / S(q) accumulators (the store analysis' parameters) and the frames to use."""
    r_max = min(3.0, 0.999 * float(tr.box.min()) / 2)
    rdf = RadialDistribution(r_max=r_max, bins=max(1, round(r_max / 0.02)))
    sf = StructureFactor(tr.box, q_max=12.0, shell_width=0.1)
    picks = np.unique(
        np.linspace(0, tr.n_frames - 1, min(n_frames, tr.n_frames)).round().astype(int)
    )
    return rdf, sf, picks


# ------------------------------------------------------------------------------------- output
def label_key(label) -> str:
    """JSON key of a result: "0.640" for a temperature, the label itself otherwise."""
    return f"{label:.3f}" if isinstance(label, (int, float)) else str(label)


def summary_line(label, res: dict) -> str:
    """One line per analysed state point: samples, tau_alpha(A) and the chi4 peak."""
    main = res["species"].get("A", res["species"]["total"])
    tau, tau_err = main["tau_alpha"], main["tau_alpha_err"]
    chi = np.array([np.nan if v is None else v for v in res["species"]["total"]["chi4"]])
    err = np.array([np.nan if v is None else v for v in res["species"]["total"]["chi4_err"]])
    k = int(np.nanargmax(chi)) if np.any(np.isfinite(chi)) else 0
    tau_txt = (
        "not reached (sample longer times)"
        if tau is None
        else f"{tau:.4g} +- {tau_err if tau_err is not None else float('nan'):.2g}"
    )
    if "n_origins" in res:
        n_o = res["n_origins"]
        what = f"{len(res['times'])} lags, {min(n_o)}-{max(n_o)} time origins per lag"
    else:
        per = res["n_samples"] // max(res["n_configs"], 1)
        what = f"{res['n_configs']} configurations x {per} replicas"
    name = f"T={label:g}" if isinstance(label, (int, float)) else str(label)
    return (
        f"{name}: {what}, tau_alpha(A)={tau_txt}, max chi4={chi[k]:.4g} +- {err[k]:.2g} at "
        f"t={res['times'][k]:.4g}  ({res['seconds']:.1f} s)"
    )


def write_report(rep: Report, out, *, plots: bool = True) -> list[Path]:
    """Write ``out/heterogeneity.json`` and (``plots``) the PNG figures; returns the paths."""
    from glassdyn.analysis import plots as figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "heterogeneity.json"
    path.write_text(json.dumps(jsonable(rep.report), indent=1))
    written = [path]
    if plots:
        written.append(figures.plot_chi4(rep.results, out / "chi4.png"))
        written.append(figures.plot_dynamics(rep.results, out / "dynamics.png"))
        for label, res in rep.results.items():
            tag = figures.file_tag(label)
            written.append(figures.plot_s4(res, label, out / f"s4_{tag}.png"))
            if "structure" in res:
                written.append(
                    figures.plot_structure(res["structure"], label, out / f"structure_{tag}.png")
                )
        for T, comp in rep.comparisons.items():
            tag = figures.file_tag(T)
            written.append(figures.plot_predicted_s4(comp, T, out / f"s4_predicted_{tag}.png"))
    return written
