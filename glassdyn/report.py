"""The demo's self-contained report: ``report.html`` (plots embedded) and ``summary.json``."""

from __future__ import annotations

import base64
import html
import io
import json
import platform
from pathlib import Path

import numpy as np

from glassdyn.data.keys import same_temperature

MODEL_NAMES = {
    "botan": "BOTAN",
    "tbotan": "T-BOTAN",
    "bapst": "Bapst GNN",
    "ridge": "Ridge (local descriptors)",
}
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


def _model_figure(models: dict, times_by_t: dict) -> bytes | None:
    """Node Pearson vs time, one panel per temperature, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temps = sorted({t for ev in models.values() for t in (ev.get("node_pearson") or {})}, key=float)
    if not temps:
        return None
    fig, axes = plt.subplots(1, len(temps), figsize=(5 * len(temps), 3.8), squeeze=False)
    for ax, T in zip(axes[0], temps):
        for name, ev in models.items():
            vals = (ev.get("node_pearson") or {}).get(T)
            if not vals:
                continue
            x = times_by_t.get(T) or list(range(1, len(vals) + 1))
            ax.plot(x[: len(vals)], vals, "o-", label=MODEL_NAMES.get(name, name))
        ax.set_xscale("log")
        ax.set_xlabel("time t (LJ units)")
        ax.set_ylabel("Pearson r, node propensity (A)")
        ax.set_title(f"T = {float(T):g} (test split)")
        ax.set_ylim(-0.1, 1.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


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
    note = (
        f"<p>Reference: {n_ref} MD configurations per temperature, NVT chains 2 τ<sub>α"
        "</sub> apart continuing held-out configurations: half of them is the reference, the other "
        "half the <em>MD</em> row, an independent MD set of the sample size whose distances are "
        "every row's floor (in brackets). ⚠: above 1.5x the floor, or e/N more than 2 "
        "standard errors from MD. A sampler passes when nothing is flagged and it has no close "
        "contact. Raw proposals and the ablation (the same correction without the network) are "
        "shown beside the corrected samples.</p>"
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


def _models_section(out: Path, models: dict, het: dict | None, times_by_t: dict) -> list[str]:
    """Section 2: Pearson per model, temperature and time; the alpha-time summary; figures."""
    if not models:
        return []
    parts = ["<h2>2. Mobility predictors (test split; checkpoints chosen on validation)</h2>"]
    rows = []
    for name, ev in models.items():
        for T, vals in sorted((ev.get("node_pearson") or {}).items(), key=lambda kv: float(kv[0])):
            edge = (ev.get("edge_pearson") or {}).get(T)
            rows.append([MODEL_NAMES.get(name, name), T, vals, edge, ev.get("temperature_mae")])
    header = ["model", "T", "node Pearson per time (A)", "edge Pearson per time (AA, r0<1.35)"]
    parts.append(_table([*header, "temperature MAE"], rows))
    rows, notes = alpha_summary(models, het, times_by_t)
    if rows:
        header = ["T", "t", "tau_alpha", *(MODEL_NAMES[n] for n in MODEL_NAMES), "BOTAN / ridge"]
        parts.append(
            "<p>At the sampled time closest to tau_alpha (of the A particles, measured below):</p>"
            + _table(
                [
                    *header,
                    "T-BOTAN |T error|",
                    "energy thermometer |T error|",
                    "least |T error| of an unbiased reading",
                ],
                rows,
            )
        )
    parts.extend(f"<p class='failed'>{html.escape(n)}</p>" for n in notes)
    fig = _model_figure(models, dict(times_by_t))
    if fig:
        tag = _png_tag(fig, "model comparison")
        parts.append(f"<figure>{tag}<figcaption>node Pearson vs time</figcaption></figure>")
    parts.extend(_images(out / "runs" / name) for name in models)
    return parts


def _heterogeneity_section(out: Path, het: dict | None) -> list[str]:
    """Section 3: tau_alpha and the chi4 peak per temperature, and the analysis figures."""
    if not het:
        return []
    parts = ["<h2>3. Dynamic heterogeneity (MD and predicted mobility)</h2>"]
    rows = []
    temps = het.get("temperatures", het) if isinstance(het, dict) else {}
    for T, d in temps.items() if isinstance(temps, dict) else []:
        species = (d or {}).get("species") or {}
        if "A" in species:
            chi4 = (species.get("total") or species["A"]).get("chi4") or []
            rows.append(
                [f"{float(T):g}", species["A"].get("tau_alpha"), max(chi4) if chi4 else None]
            )
    if rows:
        parts.append(_table(["T", "tau_alpha (LJ)", "max chi4(t)"], rows))
    parts.append(_images(out / "analysis"))
    return parts


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
    if data["generative"]:
        parts.append("<h2>4. Generative sampler vs held-out MD</h2>")
        parts.append(_generative_table(data["generative"]))
        parts.append(_images(out / "runs" / "gen"))
    rows = [[r.name, r.status, f"{r.seconds:.1f}", r.error] for r in run.results]
    parts.append(
        "<h2>5. Commands, timings and versions</h2>"
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
