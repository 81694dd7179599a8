"""The demo report's own figures (PNG bytes): Pearson vs time with error bars and tau_alpha,
parity (hexbin) of predicted vs true propensity, the mobility distribution, training curves.

Each function returns PNG bytes, or None when the data it needs is absent; the analysis
figures (chi4, S4, g(r)) come from ``glassdyn analyze`` itself."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

MODEL_NAMES = {
    "botan": "BOTAN",
    "tbotan": "T-BOTAN",
    "bapst": "Bapst GNN",
    "ridge": "Ridge (local descriptors)",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def closest_time(times, tau: float | None) -> int:
    """Index of the sampled time closest to ``tau`` in log t (the middle one without tau)."""
    times = np.asarray(times, dtype=np.float64)
    if not tau or not np.isfinite(tau):
        return len(times) // 2
    return int(np.argmin(np.abs(np.log(times) - np.log(tau))))


def pearson_vs_time(models: dict, times_by_t: dict, tau_by_t: dict) -> bytes | None:
    """Node Pearson (A) vs time per model, mean +- standard error over the test
    configurations, one panel per temperature; tau_alpha dotted, r = 0 (chance) solid grey."""
    temps = sorted({t for ev in models.values() for t in (ev.get("node_pearson") or {})}, key=float)
    if not temps:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(temps), figsize=(5.6 * len(temps), 4.2), squeeze=False)
    for ax, T in zip(axes[0], temps):
        n = None
        for i, (name, ev) in enumerate(models.items()):
            vals = (ev.get("node_pearson") or {}).get(T)
            if not vals:
                continue
            se = ((ev.get("node_pearson_se") or {}).get(T)) or [None] * len(vals)
            x = np.asarray(times_by_t.get(T) or range(1, len(vals) + 1), dtype=float)[: len(vals)]
            x = x * (1 + 0.03 * (i - 1.5))  # a small offset per model, so error bars do not hide
            y = np.array([np.nan if v is None else v for v in vals], dtype=float)
            e = np.array([np.nan if v is None else v for v in se], dtype=float)
            ax.errorbar(
                x, y, yerr=np.nan_to_num(e), fmt="o-", capsize=3, label=MODEL_NAMES.get(name, name)
            )
            n = ((ev.get("configs") or {}).get(T) or {}).get("n", n)
        tau = tau_by_t.get(T)
        if tau:
            ax.axvline(tau, color="gray", ls=":", lw=1.5, label=r"$\tau_\alpha$")
        ax.axhline(0, color="gray", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("time t (LJ units)")
        ax.set_ylabel("Pearson r, node propensity (A)")
        ax.set_title(
            f"T = {float(T):g}: mean ± SE over {n or '?'} test configurations", fontsize=10
        )
        ax.set_ylim(-0.2, 1.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return _png(fig)


def propensity_pairs(store_path: Path, predictions_path: Path, tau_by_t: dict) -> dict:
    """{T: (predicted (M,), true (M,), time, n_configs)}: the A particles of every predicted
    configuration at the predicted time closest to tau_alpha."""
    from glassdyn.data import keys
    from glassdyn.data.keys import same_temperature
    from glassdyn.data.predictions import read_predictions
    from glassdyn.data.store import Store

    if not (Path(store_path).exists() and Path(predictions_path).exists()):
        return {}
    store, out = Store.open(store_path), {}
    for T, p in read_predictions(predictions_path).items():
        if not store.has_state(T):
            continue
        sp = store.state(T)
        tau = next((v for k, v in tau_by_t.items() if same_temperature(float(k), T)), None)
        k = closest_time(p.times, tau)
        ks = int(np.argmin(np.abs(np.asarray(sp.times) - p.times[k])))
        configs = [int(c) for c in p.configs]
        true = sp.read(keys.ISO_PROPENSITY, configs)[:, ks]  # (C, N)
        a = sp.read(keys.TYPES, configs) == 0
        out[f"{T:g}"] = (p.mobility[:, k][a], true[a], float(p.times[k]), len(configs))
    return out


def parity(pairs: dict, model: str = "BOTAN") -> bytes | None:
    """Hexbin of predicted vs true propensity (A particles) near tau_alpha, one panel per T."""
    if not pairs:
        return None
    plt = _plt()
    temps = sorted(pairs, key=float)
    fig, axes = plt.subplots(1, len(temps), figsize=(5.0 * len(temps), 4.4), squeeze=False)
    for ax, T in zip(axes[0], temps):
        pred, true, t, n = pairs[T]
        lo, hi = float(min(pred.min(), true.min())), float(max(pred.max(), true.max()))
        hb = ax.hexbin(true, pred, gridsize=35, bins="log", cmap="viridis", mincnt=1)
        ax.plot([lo, hi], [lo, hi], color="C3", lw=1, label="y = x")
        r = float(np.corrcoef(pred, true)[0, 1])
        ax.set_xlabel(r"true propensity [$\sigma$]")
        ax.set_ylabel(rf"{model} prediction [$\sigma$]")
        ax.set_title(
            f"T = {T}, t = {t:.3g}: {n} test configurations, pooled r = {r:.2f}", fontsize=9
        )
        ax.legend(fontsize=8, loc="upper left")
        fig.colorbar(hb, ax=ax, label="particles (log)")
    fig.tight_layout()
    return _png(fig)


def mobility_distribution(pairs: dict, model: str = "BOTAN") -> bytes | None:
    """Distribution of true (solid) and predicted (dashed) propensity of A particles near
    tau_alpha, per temperature: the spread the predictor must reproduce."""
    if not pairs:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    for i, T in enumerate(sorted(pairs, key=float)):
        pred, true, t, n = pairs[T]
        bins = np.linspace(0, float(max(true.max(), pred.max())), 40)
        kw = {"bins": bins, "density": True, "histtype": "step", "color": f"C{i}"}
        ax.hist(true, lw=1.6, label=f"T = {T}, t = {t:.3g}: MD ({n} configurations)", **kw)
        ax.hist(pred, ls="--", lw=1.2, label=f"T = {T}: {model}", **kw)
    ax.set_yscale("log")
    ax.set_xlabel(r"propensity of A particles [$\sigma$]")
    ax.set_ylabel("probability density")
    ax.set_title("mobility distribution near tau_alpha (test configurations)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def training_curves(histories: dict) -> bytes | None:
    """Training and validation loss per epoch of each run ({model: history records}); the
    kept epoch (lowest validation loss) circled."""
    histories = {k: h for k, h in histories.items() if h}
    if not histories:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(histories), figsize=(4.6 * len(histories), 3.8), squeeze=False)
    for ax, (name, hist) in zip(axes[0], histories.items()):
        for key, style in (("train_loss", "-"), ("val_loss", "--")):
            pts = [(h["epoch"], h[key]) for h in hist if h.get(key) is not None]
            if pts:
                e, v = np.array(pts, dtype=float).T
                ax.plot(e, v, style, marker=".", label=key.replace("_", " "))
        val = [(h["val_loss"], h["epoch"]) for h in hist if h.get("val_loss") is not None]
        if val:
            best = min(val)
            ax.plot([best[1]], [best[0]], "o", mfc="none", ms=10, color="k", label="kept")
        ax.set_yscale("log")
        ax.set_xlabel("epoch (-1: the ridge-started start)")
        ax.set_ylabel("loss (normalised units)")
        ax.set_title(MODEL_NAMES.get(name, name), fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def slice_map(store_path: Path, predictions_path: Path, tau_by_t: dict) -> bytes | None:
    """True and predicted propensity of the particles in a 2-sigma slab through the middle of
    one test configuration per temperature, near tau_alpha; each field in units of its own
    spread (z-score), so that the maps compare where mobility is, not how much."""
    from glassdyn.data import keys
    from glassdyn.data.keys import same_temperature
    from glassdyn.data.predictions import read_predictions
    from glassdyn.data.store import Store

    if not (Path(store_path).exists() and Path(predictions_path).exists()):
        return None
    store, rows = Store.open(store_path), []
    for T, p in sorted(read_predictions(predictions_path).items()):
        if not store.has_state(T):
            continue
        sp = store.state(T)
        tau = next((v for k, v in tau_by_t.items() if same_temperature(float(k), T)), None)
        k = closest_time(p.times, tau)
        ks = int(np.argmin(np.abs(np.asarray(sp.times) - p.times[k])))
        c = int(p.configs[0])
        pos = sp.read(keys.THERMAL_POSITIONS, [c])[0]
        box = sp.read(keys.BOX, [c])[0]
        true = sp.read(keys.ISO_PROPENSITY, [c])[0, ks]
        slab = np.abs(pos[:, 2] - box[2] / 2) < 1.0
        rows.append((T, c, float(p.times[k]), pos[slab], true[slab], p.mobility[0, k][slab]))
    if not rows:
        return None
    plt = _plt()
    fig, axes = plt.subplots(len(rows), 2, figsize=(8.4, 4.0 * len(rows)), squeeze=False)
    for (T, c, t, xy, true, pred), (a0, a1) in zip(rows, axes):
        r = float(np.corrcoef(true, pred)[0, 1])
        for ax, f, what in ((a0, true, "MD propensity"), (a1, pred, "BOTAN prediction")):
            z = (f - f.mean()) / (f.std() or 1.0)
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=z, cmap="coolwarm", vmin=-2, vmax=2, s=60)
            ax.set_aspect("equal")
            ax.set_title(f"T = {T:g}, config {c}, t = {t:.3g}: {what}", fontsize=9)
            ax.set_xlabel(r"x [$\sigma$]")
            ax.set_ylabel(r"y [$\sigma$]")
        fig.colorbar(sc, ax=a1, label="z-score (own spread)")
        a0.text(0.01, 0.01, f"r = {r:.2f} in this slab", transform=a0.transAxes, fontsize=8)
    fig.tight_layout()
    return _png(fig)
