"""The demo's self-contained report: ``report.html`` (plots embedded) and ``summary.json``."""

from __future__ import annotations

import base64
import html
import json
import platform
from pathlib import Path

import numpy as np

from glassdyn.data.keys import same_temperature
from glassdyn.report_figures import MODEL_NAMES, closest_time

BOTAN_OVER_RIDGE = 0.8  # what the demo should show: BOTAN >= 0.8 x ridge at the alpha time
TEMPERATURE_MAE = 0.02  # and T-BOTAN's temperature error at most this


def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def versions() -> dict:
    """The versions of the report: :func:`glassdyn.data.runs.versions` plus LAMMPS, vesin, dask
    and the platform."""
    from glassdyn.data.runs import PACKAGES
    from glassdyn.data.runs import versions as package_versions

    return {
        **package_versions((*PACKAGES, "lammps", "vesin", "dask")),
        "platform": platform.platform(),
    }


def collect(out: Path) -> dict:
    """Everything the demo wrote, as one JSON-ready dict."""
    info = _load_json(out / "info.json")
    models = {}
    for name in MODEL_NAMES:
        ev = _load_json(out / "runs" / name / "evaluation.json")
        if ev is not None:
            models[name] = ev
    return {
        "dataset": info,
        "models": models,
        "heterogeneity": _load_json(out / "analysis" / "heterogeneity.json"),
        "generative": _load_json(out / "runs" / "gen" / "evaluation.json"),
    }


def _png_tag(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _tau_alpha(het: dict | None, T: str) -> float | None:
    """tau_alpha of the A particles at temperature ``T`` ("0.8") from heterogeneity.json."""
    for key, d in ((het or {}).get("temperatures") or {}).items():
        if same_temperature(key, T):
            tau = ((d.get("species") or {}).get("A") or {}).get("tau_alpha")
            return float(tau) if tau is not None else None
    return None


def alpha_summary(models: dict, het: dict | None, times_by_t: dict) -> tuple[list[list], list[str]]:
    """Rows (T, t_alpha, node Pearson per model at the sampled time closest to tau_alpha, BOTAN /
    ridge, T-BOTAN temperature MAE, the energy thermometer's MAE, the least MAE of an unbiased
    reading of one configuration) and one sentence per figure
    below the demo's targets."""
    rows, notes = [], []
    temps = sorted({T for ev in models.values() for T in (ev.get("node_pearson") or {})}, key=float)
    for T in temps:
        times = times_by_t.get(T) or []
        tau = _tau_alpha(het, T)
        if not times:
            continue
        k = (
            int(np.argmin(np.abs(np.log(np.asarray(times)) - np.log(tau))))
            if tau
            else len(times) // 2
        )
        r = {
            name: (ev.get("node_pearson") or {}).get(T, [None] * (k + 1))[k]
            for name, ev in models.items()
        }
        tb = models.get("tbotan") or {}
        mae = (tb.get("temperature_mae_per_T") or {}).get(T)
        thermometer = tb.get("energy_thermometer") or {}
        energy_mae = (thermometer.get("temperature_mae_per_T") or {}).get(T)
        floor = (thermometer.get("floor_mae_per_T") or {}).get(T)
        ratio = r["botan"] / r["ridge"] if r.get("botan") is not None and r.get("ridge") else None
        rows.append(
            [T, times[k], tau, *(r.get(n) for n in MODEL_NAMES), ratio, mae, energy_mae, floor]
        )
        if ratio is not None and ratio < BOTAN_OVER_RIDGE:
            notes.append(
                f"At T={T} BOTAN reaches {ratio:.2f} of ridge's node Pearson (target "
                f"{BOTAN_OVER_RIDGE}): it trains on a few small configurations for a few minutes, where "
                "the descriptors it shares with ridge carry most of the signal."
            )
        if mae is not None and mae > TEMPERATURE_MAE:
            notes.append(_temperature_note(T, mae, energy_mae, floor, thermometer.get("c_v")))
    return rows, notes


def _temperature_note(T: str, mae: float, energy_mae, floor, c_v) -> str:
    """One sentence on a T-BOTAN temperature error above the demo's target: against the energy
    thermometer and the Cramer-Rao floor of an unbiased reading of one configuration (within 2x
    the floor, the target is below what one configuration tells; above, the read-out has not
    learned)."""
    than = (
        ""
        if energy_mae is None
        else f", against {energy_mae:.3f} for a thermometer linear in the potential energy"
    )
    if floor is None:
        return (
            f"At T={T} T-BOTAN's temperature error is {mae:.3f} (target {TEMPERATURE_MAE}){than}, "
            "because in a small system one configuration's energy per particle fluctuates by about "
            "sqrt(c_v / N) T, which limits any reading of temperature from one structure."
        )
    cr = (
        f"(Cramer-Rao: the energy is a sufficient statistic for T, so the mean error is at least "
        f"sqrt(2 / pi) T / sqrt(N c_v), c_v = {c_v:.2f})"
    )
    if mae <= 2.0 * floor:  # one configuration's |error| exceeds 2x its mean 1 time in 10
        return (
            f"At T={T} T-BOTAN's temperature error is {mae:.3f} (target {TEMPERATURE_MAE}){than} and "
            f"{floor:.3f} expected of the best unbiased reading of one configuration of this size "
            f"{cr}, so the target is below what one configuration can tell."
        )
    return (
        f"At T={T} T-BOTAN's temperature error is {mae:.3f} (target {TEMPERATURE_MAE}){than}, while "
        f"an unbiased reading of one configuration of this size could reach {floor:.3f} {cr}: the "
        "read-out has not learned the temperature from these few training configurations."
    )


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    return html.escape(str(v))


def _table(header: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _images(folder: Path) -> str:
    if not folder.exists():
        return ""
    return "\n".join(
        f"<figure>{_png_tag(p.read_bytes(), p.stem)}<figcaption>{html.escape(p.stem.replace('_', ' '))}</figcaption></figure>"
        for p in sorted(folder.glob("*.png"))
    )


def _flat(d, prefix="") -> list[tuple[str, object]]:
    rows = []
    if isinstance(d, dict):
        for k, v in d.items():
            rows += _flat(
                v,
                f"{prefix}{k}."
                if not isinstance(v, (int, float, str, type(None)))
                else f"{prefix}{k}",
            )
        return rows
    return [(prefix.rstrip("."), d)]


def _against_floor(d: dict | None) -> str:
    """``value (floor)``, flagged when above 1.5x the MD-vs-MD floor (the issue's bar)."""
    if not d or d.get("value") is None:
        return "–"
    flag = " ⚠" if d["value"] > 1.5 * d["floor"] else ""
    return f"{d['value']:.3g} ({d['floor']:.3g}){flag}"


def _generative_row(T: float, key: str, res: dict, md: dict) -> list:
    e = res.get("energy") or {}
    chain = res.get("chain") or {}
    rep = res.get("report") or {}
    verdict = res.get("verdict") or {}
    z = e.get("z")
    energy = f"{e.get('mean', float('nan')):.4f} ± {e.get('se', float('nan')):.4f}"
    if z is not None and key != "md":
        energy += f" (z {z:+.1f}){' ⚠' if abs(z) > 2 else ''}"
    dist = res.get("distances") or {}
    ess = rep.get("effective_configurations") or chain.get("ess_per_sample")
    return [
        f"{T:g}",
        str(res.get("name", key)),
        res.get("n"),
        "yes" if res.get("corrected") else "no",
        f"{res.get('close_contact_fraction', float('nan')):.2f}",
        energy,
        f"{e.get('n_var_over_t2', float('nan')):.2f} ({md.get('n_var_over_t2', float('nan')):.2f})",
        *[_against_floor(dist.get(k)) for k in ("energy_w1", "g_AA", "g_AB", "g_BB", "z_bb")],
        f"{ess:.3g}" if isinstance(ess, (int, float)) else "–",
        "–" if key == "md" else ("pass" if verdict.get("all") else "fail"),
    ]


def _bases(gen: dict) -> str:
    """A sentence on where the transports' populations start (a bridged base named as such)."""
    said = []
    for ev in gen.get("evaluations", []):
        rep = ((ev.get("results") or {}).get("model") or {}).get("report") or {}
        Tb, Ts = rep.get("base_temperature"), rep.get("base_source")
        if Tb is None:
            continue
        bridged = f" (equilibrated from the store's T={Ts:g})" if Ts and abs(Ts - Tb) > 1e-9 else ""
        said.append(f"to T={ev.get('temperature'):g} from MD at T={Tb:g}{bridged}")
    return f" The transport carries its population {'; '.join(said)}." if said else ""


def _false_fail(gen: dict) -> str:
    """How often an exact sampler fails the bar, per evaluation (from ``gen evaluate``'s JSON)."""
    from glassdyn.gen.evaluation import false_fail_note

    said = [
        f"T={ev.get('temperature'):g}: {html.escape(false_fail_note(ev))}"
        for ev in gen.get("evaluations", [])
        if ev.get("false_fail")
    ]
    return (
        " A pass or a ⚠ is one draw of a noisy test, read it with its rate for MD itself: "
        + "; ".join(said)
        + "."
        if said
        else ""
    )


def _generative_table(gen: dict) -> str:
    """One row per (temperature, sampler) of ``glassdyn gen evaluate --json``, every distance
    beside its MD-vs-MD floor (the MD row: an independent MD set of the same size)."""
    rows = []
    for ev in gen.get("evaluations", []):
        md = ev.get("md_energy") or {}
        for key, res in (ev.get("results") or {}).items():
            rows.append(_generative_row(ev.get("temperature", float("nan")), key, res, md))
    header = [
        "T",
        "sampler",
        "n",
        "corrected",
        "close contacts",
        "e/N ± SE (z vs MD)",
        "N Var(e)/T² (MD)",
        "W1(e/N) (floor)",
        "g_AA L2 (floor)",
        "g_AB L2 (floor)",
        "g_BB L2 (floor)",
        "Z_BB dist. (floor)",
        "effective configs",
        "verdict",
    ]
    refs = [ev.get("reference") or {} for ev in gen.get("evaluations", [])]
    n_ref = ", ".join(str(r.get("n")) for r in refs)
    splits = ", ".join(str(r["splits"]) for r in refs if r.get("splits"))
    split_text = f" in {splits} ways" if splits else ""
    note = (
        f"<p>Reference: {n_ref} MD configurations per temperature, NVT chains 2 τ<sub>α"
        "</sub> apart continuing held-out configurations, split into two halves from disjoint "
        f"chains{split_text}: each row's distance is its distance from one half, the <em>MD</em> "
        "row (an independent MD set of the sample size) the other half's, which is every row's "
        "floor (in brackets), all averaged over the splits. ⚠: above 1.5x the floor, or e/N more "
        "than 2 standard errors from MD. A sampler passes when nothing is flagged and it has no "
        "close contact. Raw proposals and the ablation (the same correction without the network) "
        f"are shown beside the corrected samples.{_bases(gen)}{_false_fail(gen)}</p>"
    )
    return (
        note + _table(header, rows)
        if rows
        else _table(["metric", "value"], [[k, v] for k, v in _flat(gen) if not isinstance(v, list)])
    )


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.7em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child{text-align:left}figure{display:inline-block;margin:.5em;vertical-align:top}
img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85em;color:#555;text-align:center}
code,pre{background:#f6f6f6;padding:.1em .3em;font-size:.85em}pre{padding:.6em;overflow-x:auto}
caption{caption-side:top;text-align:left;font-size:.9em;color:#444;padding:.2em 0}
.failed{color:#b00}"""


def _dataset_section(info: dict | None) -> tuple[list[str], dict]:
    """Section 1 (the store's state points) and the sampled times per temperature."""
    times_by_t = {}
    if not info:
        return [], times_by_t
    rows = []
    for s in info["states"]:
        times_by_t[f"{s['temperature']:g}"] = s["times"]
        rows.append(
            [
                f"{s['temperature']:g}",
                s["n_particles"],
                f"{s['completed']}/{s['n_configs']}",
                s["n_replicas"],
                ", ".join(f"{t:.3g}" for t in (s["times"] or [])),
            ]
        )
    return [
        "<h2>1. Dataset (LAMMPS, Kob-Andersen 80:20)</h2>"
        + _table(["T", "N", "configurations", "replicas R", "times (LJ)"], rows)
    ], times_by_t


def _pm(mean, se, digits: int = 2) -> str:
    """ "0.52 ± 0.03"; "n/a" without a value; "± n/a" without an error."""
    if mean is None or not np.isfinite(mean):
        return "n/a"
    if se is None or not np.isfinite(se):
        return f"{mean:.{digits}f} ± n/a"
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def _num(v) -> float:
    """A number of the JSON files as a float: NaN for null (JSON's NaN)."""
    return float("nan") if v is None else float(v)


def _n_configs(ev: dict, T: str):
    return ((ev.get("configs") or {}).get(T) or {}).get("n") or (ev.get("n_configs") or {}).get(T)


def _figures_table(header: list[str], rows: list[list[str]], caption: str = "") -> str:
    """A table of measured figures: every row says over how many configurations (a column whose
    header names them) and every number carries its error (``mean ± SE``), or is "n/a"."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table class='figures'>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def predictor_tables(models: dict, times_by_t: dict, key: str = "node_pearson") -> list[str]:
    """One table per temperature: a row per model, a column per sampled time (the header gives
    t), cells mean ± standard error over the test configurations, and their count."""
    tables = []
    temps = sorted({T for ev in models.values() for T in (ev.get(key) or {})}, key=float)
    what = (
        "node Pearson r on A particles"
        if key == "node_pearson"
        else "edge Pearson r on AA pairs r0 < 1.35"
    )
    for T in temps:
        times = times_by_t.get(T) or []
        rows = []
        for name, ev in models.items():
            vals = (ev.get(key) or {}).get(T)
            if not vals:
                continue
            se = (ev.get(key + "_se") or {}).get(T) or [None] * len(vals)
            rows.append(
                [MODEL_NAMES.get(name, name), _n_configs(ev, T) or "?"]
                + [_pm(v, e) for v, e in zip(vals, se)]
            )
        if not rows:
            continue
        header = ["model", "test configurations"] + [
            f"t = {t:.3g}" for t in times[: len(rows[0]) - 2]
        ]
        tables.append(
            _figures_table(
                header, rows, f"T = {float(T):g}: {what}, mean ± standard error over configurations"
            )
        )
    return tables


def _alpha_rows(models: dict, het: dict | None, times_by_t: dict) -> list[list[str]]:
    """Node Pearson of every model at the sampled time closest to tau_alpha, with errors."""
    rows = []
    temps = sorted({T for ev in models.values() for T in (ev.get("node_pearson") or {})}, key=float)
    for T in temps:
        times = times_by_t.get(T) or []
        if not times:
            continue
        tau = _tau_alpha(het, T)
        k = closest_time(times, tau)
        cells, ns = [], set()
        for name in MODEL_NAMES:
            ev = models.get(name) or {}
            vals = (ev.get("node_pearson") or {}).get(T)
            se = (ev.get("node_pearson_se") or {}).get(T)
            cells.append(_pm(vals[k], se[k] if se else None) if vals else "n/a")
            if vals:
                ns.add(_n_configs(ev, T))
        n = ", ".join(str(x) for x in sorted(ns, key=str)) or "?"
        rows.append(
            [f"{float(T):g}", n, f"{times[k]:.3g}", "n/a" if tau is None else f"{tau:.3g}", *cells]
        )
    return rows


def temperature_rows(models: dict) -> list[list[str]]:
    """T-BOTAN's temperature read-out per temperature, once: its mean |error| ± SE is not
    stored, so the rows give the mean |error| of n configurations beside the two references."""
    tb = models.get("tbotan") or {}
    per_t = tb.get("temperature_mae_per_T") or {}
    thermometer = tb.get("energy_thermometer") or {}
    rows = []
    for T in sorted(per_t, key=float):
        e = (thermometer.get("temperature_mae_per_T") or {}).get(T)
        f = (thermometer.get("floor_mae_per_T") or {}).get(T)
        rows.append(
            [
                f"{float(T):g}",
                _n_configs(tb, T) or "?",
                f"{per_t[T]:.3f}",
                "n/a" if e is None else f"{e:.3f}",
                "n/a" if f is None else f"{f:.3f}",
            ]
        )
    return rows


def _edge_note(
    models: dict, times_by_t: dict, het: dict | None, histories: dict | None = None
) -> list[str]:
    """A sentence when a model's edge Pearson at tau_alpha is far (> 2 combined SE) below
    BOTAN's, with what its training history says (``histories``: {model: history.json})."""
    notes = []
    b = models.get("botan") or {}
    for name, ev in models.items():
        if name == "botan" or not ev.get("edge_pearson"):
            continue
        for T, vals in ev["edge_pearson"].items():
            ref = (b.get("edge_pearson") or {}).get(T)
            if not ref or not times_by_t.get(T):
                continue
            k = closest_time(times_by_t[T], _tau_alpha(het, T))
            se = ((ev.get("edge_pearson_se") or {}).get(T) or [np.nan] * len(vals))[k]
            se_b = ((b.get("edge_pearson_se") or {}).get(T) or [np.nan] * len(ref))[k]
            gap = float(np.hypot(np.nan_to_num(_num(se)), np.nan_to_num(_num(se_b))))
            if ref[k] is not None and vals[k] is not None and ref[k] - vals[k] > 2 * gap + 0.1:
                hist = [
                    h["val_edge_pearson"]
                    for h in (histories or {}).get(name) or []
                    if h.get("val_edge_pearson") is not None
                ]
                why = (
                    f" (its validation edge Pearson stayed at or below {max(hist):.2f} in every "
                    "epoch of history.json, see the training curves)"
                    if hist
                    else ""
                )
                notes.append(
                    f"At T={T} {MODEL_NAMES.get(name, name)}'s edge Pearson is "
                    f"{_pm(vals[k], se)} against BOTAN's {_pm(ref[k], se_b)}: its edge output did "
                    f"not learn in this run{why}, so its edge figures say nothing; the node "
                    "Pearson is what the models are compared on."
                )
    return notes


def _models_section(out: Path, models: dict, het: dict | None, times_by_t: dict) -> list[str]:
    """Section 2: Pearson per model, temperature and time, with errors and counts; the
    alpha-time summary; the temperature read-out once; figures."""
    from glassdyn import report_figures as figs

    if not models:
        return []
    parts = [
        "<h2>2. Mobility predictors (test split; checkpoints chosen on validation)</h2>",
        (
            "<p>Every Pearson is the mean over the test configurations of the per-configuration "
            "Pearson, ± its standard error (std / sqrt(n)); r = 0 is chance.</p>"
        ),
    ]
    parts += predictor_tables(models, times_by_t, "node_pearson")
    parts += predictor_tables(models, times_by_t, "edge_pearson")
    rows = _alpha_rows(models, het, times_by_t)
    if rows:
        parts.append(
            _figures_table(
                ["T", "test configurations", "t", "tau_alpha", *MODEL_NAMES.values()],
                rows,
                "node Pearson at the sampled time closest to tau_alpha (A particles, measured "
                "in section 3), mean ± standard error",
            )
        )
    trows = temperature_rows(models)
    if trows:
        parts.append(
            _table(
                [
                    "T",
                    "test configurations",
                    "T-BOTAN mean |T error|",
                    "energy thermometer mean |T error|",
                    "least mean |T error| of an unbiased reading",
                ],
                trows,
            )
        )
    histories = {
        name: _load_json(out / "runs" / name / "history.json")
        for name in models
        if (out / "runs" / name / "history.json").exists()
    }
    _, notes = alpha_summary(models, het, times_by_t)
    notes += _edge_note(models, times_by_t, het, histories)
    parts.extend(f"<p class='failed'>{html.escape(n)}</p>" for n in notes)
    tau_by_t = {T: _tau_alpha(het, T) for T in times_by_t}
    figures = [
        (
            figs.pearson_vs_time(models, times_by_t, tau_by_t),
            "node Pearson vs time, mean ± SE over the test configurations; dotted: tau_alpha",
        )
    ]
    pairs = figs.propensity_pairs(out / "data.zarr", out / "predictions_botan.zarr", tau_by_t)
    figures.append((figs.parity(pairs), "BOTAN: predicted vs true propensity near tau_alpha"))
    figures.append(
        (figs.mobility_distribution(pairs), "distribution of true and predicted propensity")
    )
    figures.append(
        (
            figs.slice_map(out / "data.zarr", out / "predictions_botan.zarr", tau_by_t),
            "true vs predicted mobility in a 2-sigma slab of one test configuration",
        )
    )
    figures.append((figs.training_curves(histories), "training curves (history.json)"))
    for png, caption in figures:
        if png:
            parts.append(
                f"<figure>{_png_tag(png, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    return parts


def _state_items(het: dict | None) -> list[tuple[str, dict]]:
    temps = (het or {}).get("temperatures") or {}
    return sorted(temps.items(), key=lambda kv: float(kv[0])) if isinstance(temps, dict) else []


def _at(s4: dict, name: str, k: int) -> float | None:
    """Entry ``k`` of the per-time list ``s4[name]`` (None when absent or failed)."""
    vals = s4.get(name) or []
    return None if k >= len(vals) or vals[k] is None else float(vals[k])


def chi4_rows(het: dict | None) -> list[list[str]]:
    """Per temperature: samples, tau_alpha ± error, the chi4 peak ± its error and its time, and
    chi4_OZ and xi4 of the S4 fit at that time ("n/a" where the fit failed)."""
    rows = []
    for T, d in _state_items(het):
        species = d.get("species") or {}
        a = species.get("A") or {}
        tot = species.get((d.get("config") or {}).get("s4_species", "total")) or a
        chi4 = np.array([np.nan if v is None else v for v in tot.get("chi4") or []], dtype=float)
        if not chi4.size or not np.isfinite(chi4).any():
            continue
        err = tot.get("chi4_err") or [None] * len(chi4)
        k = int(np.nanargmax(chi4))
        s4 = d.get("s4") or {}

        samples = f"{d.get('n_configs', '?')} x {d.get('n_samples', '?')}"
        rows.append(
            [
                f"{float(T):g}",
                samples,
                _pm(a.get("tau_alpha"), a.get("tau_alpha_err"), 3),
                _pm(float(chi4[k]), err[k], 2),
                f"{d['times'][k]:.3g}",
                _pm(_at(s4, "chi4_OZ", k), _at(s4, "chi4_OZ_err", k), 2),
                _pm(_at(s4, "xi4", k), _at(s4, "xi4_err", k), 2),
            ]
        )
    return rows


def box_side(info: dict | None, het: dict | None) -> float | None:
    """The box side L (sigma) of the demo's store: from S4's smallest shell q_min = 2 pi / L."""
    for _, d in _state_items(het):
        q = (d.get("s4") or {}).get("q")
        if q:
            return float(2 * np.pi / q[0])
    return None


OZ_MIN_BOX = 10.0  # sigma: below this the smallest S4 shell (2 pi / L > 0.6) sits past 1/xi4


def _heterogeneity_section(out: Path, het: dict | None) -> list[str]:
    """Section 3: tau_alpha and the chi4 peak per temperature with errors, the OZ caveat of a
    small box, and the analysis figures."""
    if not het:
        return []
    parts = ["<h2>3. Dynamic heterogeneity (MD and predicted mobility)</h2>"]
    rows = chi4_rows(het)
    if rows:
        parts.append(
            _figures_table(
                [
                    "T",
                    "configurations x samples",
                    "tau_alpha (A)",
                    "chi4 peak",
                    "at t",
                    "chi4_OZ at t",
                    "xi4 at t (sigma)",
                ],
                rows,
                "chi4 = N Var(Q) over configurations and replicas, ± jackknife error; tau_alpha "
                "where Fs_A(k=7.25) = 1/e; n/a: no OZ fit",
            )
        )
    L = box_side(None, het)
    if L is not None and L < OZ_MIN_BOX:
        parts.append(
            f"<p class='failed'>A box of L = {L:.1f} sigma (smallest wave vector q_min = "
            f"{2 * np.pi / L:.2f}) cannot carry an Ornstein-Zernike extrapolation: S4 has no "
            "shell below q ~ 1/xi4, so chi4_OZ and xi4 here are fits of two or three large-q "
            "shells, not measurements (N >= ~4000, L >= 15 sigma, is needed).</p>"
        )
    folder = out / "analysis"
    captions = [
        ("chi4.png", "chi4(t) per temperature, jackknife errors; dotted: tau_alpha"),
        ("dynamics.png", "Fs, Q, MSD and alpha2 of the A particles"),
    ]
    for _, d in _state_items(het):
        tag = f"T{float(d.get('temperature', 0)):.3f}"
        captions += [
            (f"s4_{tag}.png", f"S4(q, t) with OZ fits at {tag}"),
            (f"s4_predicted_{tag}.png", f"S4 of true vs BOTAN-predicted mobility at {tag}"),
            (f"structure_{tag}.png", f"g(r) and S(q) at {tag}"),
        ]
    for name, caption in captions:
        path = folder / name
        if path.exists():
            parts.append(
                f"<figure>{_png_tag(path.read_bytes(), caption)}<figcaption>{html.escape(caption)}"
                "</figcaption></figure>"
            )
    return parts


def weak_figures(models: dict, het: dict | None, times_by_t: dict) -> list[str]:
    """The figures of this report that cannot be trusted, one sentence each, and why."""
    out = []
    rows = []
    for T, d in _state_items(het):
        tot = (d.get("species") or {}).get("total") or {}
        chi4 = [np.nan if v is None else v for v in tot.get("chi4") or []]
        if chi4 and np.isfinite(chi4).any():
            k = int(np.nanargmax(chi4))
            e = (tot.get("chi4_err") or [None] * len(chi4))[k]
            rows.append((float(T), float(chi4[k]), np.nan if e is None else float(e)))
    if len(rows) >= 2:
        (t_cold, c_cold, e_cold), (t_hot, c_hot, e_hot) = rows[0], rows[-1]
        gap = float(np.hypot(np.nan_to_num(e_cold), np.nan_to_num(e_hot)))
        peaks = (
            f"{c_hot:.2f} ± {e_hot:.2f} at T={t_hot:g} and {c_cold:.2f} ± {e_cold:.2f} at "
            f"T={t_cold:g}"
        )
        if c_cold <= c_hot:
            out.append(
                f"chi4's peak does not grow on cooling here ({peaks}): with this demo's "
                "configurations and replicas its statistical error hides the growth."
            )
        elif not c_cold - c_hot > 2 * gap:
            out.append(
                f"chi4's peak grows on cooling ({peaks}), but by less than two errors: this "
                "demo's configurations and replicas suggest the growth without resolving it."
            )
    L = box_side(None, het)
    if L is not None and L < OZ_MIN_BOX:
        out.append(
            f"chi4_OZ, xi4 and the OZ curves of the S4 figures: the box (L = {L:.1f} sigma) "
            "has no wave vector small enough for the q -> 0 extrapolation."
        )
    for T, d in _state_items(het):
        comp = d.get("predictions")
        if comp and not any(v is not None for v in comp["true"]["standardized"].get("xi4", [])):
            out.append(
                f"The predicted-vs-true S4 lengths at T={float(T):g}: no OZ fit succeeded for "
                "the true field (n/a on the figure)."
            )
    for name, ev in models.items():
        for T in ev.get("node_pearson") or {}:
            n = _n_configs(ev, T)
            if n is not None and n < 3:
                out.append(
                    f"{MODEL_NAMES.get(name, name)} at T={T}: {n} test configuration(s), so its "
                    "Pearsons have no usable error bar."
                )
    b, r = models.get("botan") or {}, models.get("ridge") or {}
    for T in sorted(set(b.get("node_pearson") or {}) & set(r.get("node_pearson") or {}), key=float):
        if not times_by_t.get(T):
            continue
        k = closest_time(times_by_t[T], _tau_alpha(het, T))
        se = [((m.get("node_pearson_se") or {}).get(T) or [np.nan] * (k + 1))[k] for m in (b, r)]
        diff = _num(b["node_pearson"][T][k]) - _num(r["node_pearson"][T][k])
        if not np.isfinite(diff):
            continue
        gap = float(np.hypot(*np.nan_to_num(np.array(se, dtype=float))))
        if abs(diff) <= 2 * gap or not np.isfinite(gap) or gap == 0:
            out.append(
                f"BOTAN vs ridge at T={T}: their node Pearsons near tau_alpha differ by "
                f"{abs(diff):.2f}, within two standard errors ({gap:.2f}): the demo does not rank "
                "them (every predictor here starts from, and stays near, the ridge solution)."
            )
    if "tbotan" in models:
        out.append(
            "T-BOTAN's temperature errors: one configuration of N particles cannot tell T better "
            "than the Cramer-Rao floor in the table, and a few test configurations make each "
            "mean |error| uncertain by ~30%."
        )
    return out


def write_report(run) -> Path:
    """Write ``report.html`` and ``summary.json`` into the demo's output folder."""
    out = Path(run.config.out)
    data = collect(out)
    total = sum(r.seconds for r in run.results)
    summary = {
        "config": {k: str(v) for k, v in vars(run.config).items()},
        "steps": [vars(r) for r in run.results],
        "total_seconds": total,
        "versions": versions(),
        **data,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))

    preset, where = html.escape(run.config.preset), html.escape(str(out))
    parts = [
        f"<h1>glassdyn demo report</h1><p>Preset <b>{preset}</b>, output <code>{where}</code>, "
        f"{len(run.results)} steps in {total:.0f} s of compute (reused steps count their first "
        "run).</p>"
    ]
    dataset, times_by_t = _dataset_section(data["dataset"])
    parts += dataset
    parts += _models_section(out, data["models"], data["heterogeneity"], times_by_t)
    parts += _heterogeneity_section(out, data["heterogeneity"])
    weak = weak_figures(data["models"], data["heterogeneity"], times_by_t)
    if data["generative"]:
        parts.append("<h2>4. Generative sampler vs held-out MD</h2>")
        parts.append(_generative_table(data["generative"]))
        parts.append(_images(out / "runs" / "gen"))
    if weak:
        parts.append(
            "<h2 id='weak'>5. Weak figures: what this report cannot tell, and why</h2><ul>"
            + "".join(f"<li>{html.escape(w)}</li>" for w in weak)
            + "</ul>"
        )
    rows = [[r.name, r.status, f"{r.seconds:.1f}", r.error] for r in run.results]
    parts.append(
        "<h2>6. Commands, timings and versions</h2>"
        + _table(["step", "status", "seconds", "error"], rows)
    )
    parts.append("<pre>" + "\n".join(html.escape(r.command) for r in run.results) + "</pre>")
    parts.append(_table(["package", "version"], [[k, v] for k, v in versions().items()]))
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'><title>glassdyn demo report</title>"
        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    )
    path = out / "report.html"
    path.write_text(doc)
    return path
