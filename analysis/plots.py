"""Figures of a heterogeneity analysis, drawn from the JSON-ready dicts of ``heterogeneity``
(so they can be redrawn from ``heterogeneity.json``).  Matplotlib Agg backend; LJ units.

``results`` below is {label: DynamicHeterogeneity.to_dict()}; a label is a temperature (float)
or a name (str, e.g. "trajectory" when a trajectory's temperature is not given).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FONT = {"font.size": 12, "axes.labelsize": 13, "axes.titlesize": 13, "legend.fontsize": 10}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(FONT)
    return plt


def _arr(x) -> np.ndarray:
    return (
        np.array([np.nan if v is None else v for v in x], dtype=np.float64)
        if x is not None
        else None
    )


def label_text(label) -> str:
    """ "T = 0.8" for a temperature, the name otherwise."""
    return f"T = {label:g}" if isinstance(label, (int, float)) else str(label)


def file_tag(label) -> str:
    """ "T0.800" for a temperature, the name otherwise (file names of the figures)."""
    return f"T{label:.3f}" if isinstance(label, (int, float)) else str(label)


def _temp_colors(temps):
    """Cold = blue, hot = red, through purple (no pale middle colour)."""
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list("cold_hot", ["#1f3fbf", "#8a2be2", "#d62728"])
    ts = sorted(temps, key=_order)
    return {T: cmap(0.0 if len(ts) == 1 else i / (len(ts) - 1)) for i, T in enumerate(ts)}


def _order(label):
    return (0, label, "") if isinstance(label, (int, float)) else (1, 0.0, str(label))


def _tau(res, species="A"):
    v = res["species"].get(species, {}).get("tau_alpha")
    return np.nan if v is None else float(v)


def plot_chi4(results: dict, path: str | Path, species: str = "total") -> Path:
    """chi4(t) per temperature, tau_alpha (from Fs_A) marked by a dotted line of the same colour."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.6), constrained_layout=True)
    colors = _temp_colors(results)
    for T in sorted(results, key=_order):
        res = results[T]
        t = _arr(res["times"])
        sp = res["species"][species]
        err = _arr(sp.get("chi4_err")) if sp.get("chi4_err") is not None else None
        ax.errorbar(
            t,
            _arr(sp["chi4"]),
            yerr=None if err is None else np.nan_to_num(err),
            fmt="o-",
            capsize=3,
            color=colors[T],
            label=label_text(T),
        )
        tau = _tau(res)
        if np.isfinite(tau):
            ax.axvline(tau, color=colors[T], ls=":", lw=1.5)
    ax.set_xscale("log")
    ax.set_xlabel(r"time $t$  [$\sqrt{m\sigma^2/\epsilon}$]")
    ax.set_ylabel(r"$\chi_4(t)$" + ("" if species == "total" else f" ({species})"))
    ax.set_title(
        r"Dynamic susceptibility (overlap, $a=0.3\sigma$); dotted: $\tau_\alpha$", fontsize=12
    )
    ax.legend(frameon=False)
    path = Path(path)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_dynamics(results: dict, path: str | Path) -> Path:
    """Four panels: Fs_A(k, t) with 1/e, Q_A(t), MSD_A(t), alpha2_A(t), one curve per temperature."""
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.6), constrained_layout=True)
    colors = _temp_colors(results)
    for T in sorted(results, key=_order):
        res = results[T]
        t = _arr(res["times"])
        sA = res["species"].get("A", res["species"]["total"])
        kw = {"color": colors[T], "marker": "o", "ms": 4, "label": label_text(T)}
        axes[0, 0].plot(t, _arr(sA["Fs"]), **kw)
        tau = _tau(res)
        if np.isfinite(tau):
            axes[0, 0].plot([tau], [np.exp(-1)], "s", color=colors[T], ms=9, mfc="none")
        axes[0, 1].plot(t, _arr(sA["Q"]), **kw)
        axes[1, 0].plot(t, _arr(sA["MSD"]), **kw)
        axes[1, 1].plot(t, _arr(sA["alpha2"]), **kw)
    k = next(iter(results.values()))["species"].get("A", {}).get("k", 7.25)
    axes[0, 0].axhline(np.exp(-1), color="gray", ls="--", lw=1)
    axes[0, 0].set_ylabel(rf"$F_s(k={k:g}\,\sigma^{{-1}}, t)$  (A)")
    axes[0, 0].set_title(r"squares: $\tau_\alpha$ where $F_s = 1/e$")
    axes[0, 1].set_ylabel(r"self overlap $Q(t)$  (A)")
    axes[1, 0].set_ylabel(r"MSD  [$\sigma^2$]  (A)")
    axes[1, 0].set_yscale("log")
    axes[1, 1].set_ylabel(r"non-Gaussian $\alpha_2(t)$  (A)")
    for ax in axes.ravel():
        ax.set_xscale("log")
        ax.set_xlabel(r"time $t$  [$\sqrt{m\sigma^2/\epsilon}$]")
    axes[0, 0].legend(frameon=False)
    path = Path(path)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _ylim_from_values(ax, values):
    """Y range from the values, so that a huge error bar of a failed fit does not flatten the plot."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v):
        top = float(v.max())
        ax.set_ylim(min(0.0, float(v.min())), 1.6 * top if top > 0 else 1.0)


def _s4_panel(
    ax,
    s4: dict,
    times,
    *,
    log=True,
    label_fmt="t = {:.3g}",
    fits=True,
    ls="-",
    colors=None,
    labels=True,
    max_curves=None,
):
    import matplotlib

    q = _arr(s4["q"])
    S = np.array([_arr(row) for row in s4["S4"]])
    E = np.array([_arr(row) for row in s4["S4_err"]])
    cmap = matplotlib.colormaps["viridis"]
    K = len(times)
    qq = np.linspace(0, q.max(), 200)
    shown = (
        range(K)
        if not max_curves or K <= max_curves
        else np.unique(np.linspace(0, K - 1, max_curves).round().astype(int))
    )
    for k in shown:
        col = colors[k] if colors is not None else cmap(k / max(K - 1, 1))
        lab = label_fmt.format(times[k]) if labels else None
        if np.all(np.isfinite(E[k])):
            ax.errorbar(
                q, S[k], yerr=E[k], fmt="o" + ls, ms=4, color=col, label=lab, capsize=2, lw=1.2
            )
        else:
            ax.plot(q, S[k], "o" + ls, ms=4, color=col, label=lab, lw=1.2)
        chi, xi = s4["chi4_OZ"][k], s4["xi4"][k]
        if fits and chi is not None and xi is not None:
            ax.plot(qq, chi / (1 + (qq * xi) ** 2), "--", color=col, lw=1)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(r"$q$  [$\sigma^{-1}$]")
    ax.set_xlim(0, None)


def oz_fit_range(s4: dict, q_fit_max: float | None = None) -> str:
    """The shells the OZ fits used, in words: "OZ fit on q ≤ 1.82 (3 shells)", saying when the
    fit went past ``q_fit_max`` (``--q-fit-max``) because fewer than 3 shells lie below it."""
    n_fit = max((n or 0) for n in s4["fit_shells"]) if s4["fit_shells"] else 0
    if not n_fit:
        return "no OZ fit"
    q_fit = float(_arr(s4["q"])[n_fit - 1])
    text = f"OZ fit on q ≤ {q_fit:.2f} ({n_fit} shells)"
    if q_fit_max is not None and q_fit > float(q_fit_max) * (1 + 1e-9):
        text += f", past --q-fit-max {float(q_fit_max):g}: a fit needs 3 shells"
    return text


def plot_s4(result: dict, temperature: float, path: str | Path) -> Path:
    """S4(q) with the OZ fits (dashed) at every time (12 of them when there are more), and
    xi4(t), chi4_OZ(t) vs chi4(t)."""
    plt = _plt()
    fig, (a0, a1, a2) = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    times = _arr(result["times"])
    s4 = result["s4"]
    _s4_panel(a0, s4, times, max_curves=12)  # trajectories have tens of lags
    a0.set_ylabel(r"$S_4(q, t)$")
    a0.set_title(
        f"{label_text(temperature)}; dashed: {oz_fit_range(s4, result.get('config', {}).get('q_fit_max'))}",
        fontsize=9,
    )
    a0.legend(frameon=False, fontsize=8, ncol=2)
    xi, xe = _arr(s4["xi4"]), _arr(s4["xi4_err"])
    a1.errorbar(times, xi, yerr=np.nan_to_num(xe), fmt="o-", capsize=3)
    _ylim_from_values(a1, xi)
    _mark_failed_fits(a1, times, xi)
    a1.set_title(r"$\xi_4$ (n/a: no OZ fit)", fontsize=11)
    a1.set_xscale("log")
    a1.set_xlabel(r"time $t$  [$\sqrt{m\sigma^2/\epsilon}$]")
    a1.set_ylabel(r"$\xi_4(t)$  [$\sigma$]")
    ch, ce = _arr(s4["chi4_OZ"]), _arr(s4["chi4_OZ_err"])
    a2.errorbar(
        times,
        ch,
        yerr=np.nan_to_num(ce),
        fmt="o-",
        capsize=3,
        label=r"$\chi_4^{OZ}$ (S4 fit, $q\to 0$)",
    )
    chi4 = _arr(result["species"][result["config"].get("s4_species", "total")]["chi4"])
    a2.plot(times, chi4, "s--", label=r"$\chi_4$ (overlap fluctuation)")
    _ylim_from_values(a2, np.concatenate([ch, chi4]))
    a2.set_xscale("log")
    a2.set_xlabel(r"time $t$  [$\sqrt{m\sigma^2/\epsilon}$]")
    a2.set_ylabel(r"$\chi_4(t)$")
    a2.legend(frameon=False)
    tau = _tau(result)
    if np.isfinite(tau):
        for ax in (a1, a2):
            ax.axvline(tau, color="gray", ls=":", lw=1.5)
    path = Path(path)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _mark_failed_fits(ax, times, values) -> None:
    """Write "n/a" at the times whose OZ fit failed (no value): a gap, never a zero."""
    import matplotlib.transforms as mtransforms

    trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for t, v in zip(times, values):
        if not np.isfinite(v):
            ax.text(t, 0.03, "n/a", transform=trans, ha="center", fontsize=8, color="gray")


def plot_predicted_s4(comparison: dict, temperature: float, path: str | Path) -> Path:
    """True propensity vs predicted mobility.  Top: S4(q) of the centred fields and of the
    standardized fields (solid true, dotted predicted).  Bottom, each quantity on its own axis:
    the OZ length xi4 of the standardized fields (failed fits "n/a"), the spread (std) of the
    fields and the per-configuration Pearson r."""
    import matplotlib

    plt = _plt()
    fig, axd = plt.subplot_mosaic(
        [["c", "c", "c", "s", "s", "s"], ["x", "x", "w", "w", "p", "p"]],
        figsize=(15, 9),
        constrained_layout=True,
    )
    times = _arr(comparison["times"])
    K = len(times)
    cols = [matplotlib.colormaps["viridis"](k / max(K - 1, 1)) for k in range(K)]
    for key, mode in (("c", "centered"), ("s", "standardized")):
        ax = axd[key]
        _s4_panel(ax, comparison["true"][mode], times, ls="-", colors=cols, fits=False)
        _s4_panel(
            ax, comparison["predicted"][mode], times, ls=":", colors=cols, fits=False, labels=False
        )
        unit = r"[$\sigma^2$]" if mode == "centered" else "(unit variance)"
        ax.set_ylabel(rf"$S_4(q)$, {mode} field {unit}")
    axd["c"].set_title(
        f"{label_text(temperature)}: true (solid) vs predicted (dotted)", fontsize=11
    )
    axd["s"].set_title("fields scaled to unit variance per configuration", fontsize=11)
    axd["c"].legend(frameon=False, fontsize=8, ncol=2, title="time", title_fontsize=8)
    t_label = r"time $t$  [$\sqrt{m\sigma^2/\epsilon}$]"
    ax = axd["x"]
    for name, ls in (("true", "-"), ("predicted", ":")):
        st = comparison[name]["standardized"]
        xi = _arr(st["xi4"])
        ax.errorbar(
            times, xi, yerr=np.nan_to_num(_arr(st["xi4_err"])), fmt="o" + ls, capsize=3, label=name
        )
        _ylim_from_values(ax, xi)
        _mark_failed_fits(ax, times, xi)
    ax.set_ylabel(r"$\xi_4$ of the standardized field [$\sigma$]")
    ax.set_title("OZ length (n/a: no fit)", fontsize=11)
    ax = axd["w"]
    for name, ls in (("true", "-"), ("predicted", ":")):
        ax.plot(times, _arr(comparison[name]["std"]), "s" + ls, label=name)
    ax.set_ylabel(r"spread (std) of the field [$\sigma$]")
    ax.set_ylim(0, None)
    ax.set_title("spread", fontsize=11)
    ax = axd["p"]
    ax.plot(times, _arr(comparison["pearson"]), "^-", color="C2")
    ax.set_ylim(min(0.0, float(np.nanmin(_arr(comparison["pearson"])))), 1.0)
    who = {"total": "all", "A": "A", "B": "B"}.get(comparison.get("species", "total"), "all")
    ax.set_ylabel(f"Pearson r, {who} particles (per configuration)")
    ax.set_title("correlation (the predictor tables: A particles)", fontsize=10)
    for key in ("x", "w", "p"):
        axd[key].set_xscale("log")
        axd[key].set_xlabel(t_label)
        if key != "p":
            axd[key].legend(frameon=False, fontsize=9)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_structure(structure: dict, temperature: float, path: str | Path) -> Path:
    """Partial g(r) (left) and partial S(q) (right, Ashcroft-Langreth) of the thermal configurations."""
    plt = _plt()
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    r = _arr(structure["r"])
    for k, col in zip(("AA", "AB", "BB", "total"), ("C0", "C1", "C2", "k")):
        a0.plot(
            r,
            _arr(structure["g"][k]),
            color=col,
            lw=1.5 if k != "total" else 1.0,
            ls="-" if k != "total" else "--",
            label=k,
        )
    a0.axhline(1, color="gray", lw=0.8)
    a0.set_xlabel(r"$r$  [$\sigma_{AA}$]")
    a0.set_ylabel(r"$g_{\alpha\beta}(r)$")
    a0.set_title(f"{label_text(temperature)}, {structure['n_frames']} configurations")
    a0.legend(frameon=False)
    q = _arr(structure["q"])
    for k, col in zip(("AA", "AB", "BB", "total"), ("C0", "C1", "C2", "k")):
        a1.plot(
            q,
            _arr(structure["S"][k]),
            color=col,
            lw=1.5 if k != "total" else 1.0,
            ls="-" if k != "total" else "--",
            label=k,
        )
    a1.axhline(1, color="gray", lw=0.8)
    a1.axhline(0, color="gray", lw=0.5)
    a1.set_xlabel(r"$q$  [$\sigma_{AA}^{-1}$]")
    a1.set_ylabel(r"$S_{\alpha\beta}(q)$  (Ashcroft-Langreth)")
    a1.legend(frameon=False)
    path = Path(path)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
