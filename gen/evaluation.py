"""One evaluation of a fitted sampler (and the baselines) against held-out MD at one temperature.

Held-out means unseen by the fit (:func:`held_out_reference`): on the run's own store (wherever
it lies now: configurations are recognised by content) its test split; any other store whole,
unless it holds configurations the fit trained or validated on, which is refused.  Every
inherent structure of one evaluation (model, baselines, MD reference) comes from ONE minimiser
(:func:`glassdyn.gen.fire.quench`), recorded with the configurations it failed to quench.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.splits import identity, temperature_key, training_identities, unseen_configs
from glassdyn.gen import metrics, sampling
from glassdyn.gen.fire import choose_minimiser, describe_minimiser, quench

# samples drawn per model call in an evaluation: small enough that the progress bar moves, and
# the same with or without it (the batch size decides which random numbers each sample gets)
SAMPLE_BATCH = 8


def held_out_reference(ck: dict, store_path, temperature: float) -> dict:
    """The configurations of ``store_path`` at ``temperature`` a fitted run ``ck`` may be compared
    with: ``{"store", "from": "split" | "store", "configs", "n", "unchecked"}``.

    Raises :class:`InputError` for a store holding configurations the fit trained or validated
    on, and when nothing held out is left."""
    from glassdyn.data.store import Store

    sp = Store.open(store_path).state(temperature)
    key = temperature_key(temperature)
    split, fp = ck.get("split"), ck.get("fingerprint")
    if split is not None and fp is not None:
        sel = unseen_configs(
            sp, "test", split.get(key), fp["states"].get(key), training_identities(fp, split)
        )
        unchecked, why = False, "the fit trained or validated on"
        fix = "compare with the run's own store (its test split is used) or a store of unseen configurations"
    else:  # glassdyn.gen/1 recorded no split: it trained on (almost) every configuration of its store
        sel, unchecked = _first_format_selection(ck, sp)
        why = f"the fit (format glassdyn.gen/1, no recorded split) trained on in {ck['data']['store']}"
        fix = "compare with a store of configurations it never saw"
    if sel["excluded"]:
        raise InputError(
            f"{store_path} T={key}: {len(sel['excluded'])} of its configurations are ones {why}; {fix}"
        )
    if not sel["configs"]:
        raise InputError(
            f"{store_path} T={key} has no held-out configuration for this run (its test split there is empty); "
            "pass a store of unseen configurations, or fit with --test-fraction > 0"
        )
    return {
        "store": str(store_path),
        "from": sel["from"],
        "configs": list(sel["configs"]),
        "n": len(sel["configs"]),
        "unchecked": unchecked,
    }


def _first_format_selection(ck: dict, sp) -> tuple[dict, bool]:
    """Selection for a run without a split: every configuration of its recorded store at its
    temperatures counts as training data (checked by structure when that store still exists)."""
    from glassdyn.data.store import Store

    rec = Path(ck["data"]["store"])
    try:
        old = Store.open(rec)
    except StoreError:
        old = None
    if old is None:  # cannot check by content: by path only
        same = Path(sp.store_path).resolve() == rec.resolve()
        configs = sp.completed.tolist()
        return {
            "from": "store",
            "configs": [] if same else configs,
            "excluded": configs if same else [],
        }, True
    ids = {}
    for T in ck["data"]["temperatures"]:
        if old.has_state(T):
            s = old.state(T)
            ids.update({identity(s, c): (T, c) for c in s.completed.tolist()})
    return unseen_configs(sp, "test", None, None, ids), False


def reference_data(
    store_path, temperature: float, configs=None, max_configs: int | None = None
) -> dict:
    """MD configurations ``configs`` (default: every completed one) of a store: thermal positions
    (M, N, 3), types (M, N), box (3,)."""
    from glassdyn.data.store import Store

    sp = Store.open(store_path).state(temperature)
    idx = np.asarray(sp.completed if configs is None else configs, dtype=np.int64)
    idx = idx[:max_configs] if max_configs else idx
    if len(idx) == 0:
        raise InputError(
            f"{store_path} group {sp.name} has no completed configuration to compare with"
        )
    types = sp.read(keys.TYPES, idx)
    box = sp.read(keys.BOX, idx)
    if not np.allclose(box, box[0]):
        raise InputError(f"{store_path} {sp.name}: reference configurations must share one box")
    if len({int((t == 0).sum()) for t in types}) > 1:
        raise InputError(
            f"{store_path} {sp.name}: reference configurations must share one composition"
        )
    return {
        "positions": sp.read(keys.THERMAL_POSITIONS, idx).astype(np.float64),
        "types": types,
        "box": box[0],
        "configs": idx.tolist(),
    }


def score(
    name,
    x,
    logq,
    types,
    ref,
    temperature,
    *,
    seconds=None,
    n_quench=4,
    ref_energy=None,
    minimiser=None,
    ref_is=None,
    progress=False,
):
    """Every metric for one set of samples x (M, N, 3) of composition ``types`` (N,), log q (M,).

    The first ``n_quench`` samples are quenched with ``minimiser``; ``ref_is``: the MD reference's
    inherent-structure energies per particle from the same minimiser."""
    box = ref["box"]
    N = len(types)
    e = sampling.energies(x, types, box)
    e_ref = (
        ref_energy
        if ref_energy is not None
        else sampling.energies(ref["positions"], ref["types"], box) / N
    )
    lw = sampling.log_weights(e, logq, temperature)
    has_density = not np.isnan(
        np.asarray(logq, dtype=np.float64)
    ).all()  # the diffusion SDE sampler has none
    acc = sampling.independence_chain(lw, seed=0)[1] if has_density else None
    res = {
        "name": name,
        "n": len(x),
        "rdf_l2": metrics.rdf_l2(x, ref["positions"], types, ref["types"], box),
        "energy_w1": metrics.energy_w1(e / N, e_ref),
        "energy_mean": float(np.mean(e / N)),
        "close_contact_fraction": metrics.close_contact_fraction(x, types, box),
        "coordination": metrics.coordination_numbers(x, types, box),
        "ess_per_sample": sampling.kish_ess(lw) / len(x) if has_density else None,
        "mh_acceptance": acc,
        "samples_per_second": None if not seconds else len(x) / seconds,
    }
    if n_quench:
        q = quench(x[:n_quench], types, box, minimiser, progress=progress)
        ok = q.converged
        res["quench"] = q.summary()
        res["is_energy_mean"] = float(np.mean(q.energy[ok])) if ok.any() else None
        if ref_is is not None and len(ref_is) and ok.any():
            res["is_energy_w1"] = metrics.energy_w1(q.energy[ok], ref_is)
            res["is_energy_md_mean"] = float(np.mean(ref_is))
    return res


def evaluate(
    model,
    ck: dict,
    store_path,
    temperature: float,
    *,
    n_samples: int = 16,
    n_quench: int = 4,
    max_reference: int | None = None,
    train_store=None,
    seed: int = 0,
    baselines: bool = True,
    minimiser: str | None = None,
    log=print,
    progress: bool = False,
) -> dict:
    """Model samples vs held-out MD at ``temperature``; the uniform and lattice baselines alongside.

    ``minimiser``: ``lammps`` or ``torch`` for every quench of this evaluation (None: LAMMPS when
    it takes the layout); ``train_store``: where to tune the lattice baseline when the reference
    is another store than the run's (default: the reference itself)."""
    sel = held_out_reference(ck, store_path, temperature)
    ref = reference_data(store_path, temperature, sel["configs"], max_reference)
    N = ref["types"].shape[1]
    types = np.asarray(ck["data"]["types"], dtype=np.int64)
    _check_compatible(ck, ref, types, store_path)
    e_ref = sampling.energies(ref["positions"], ref["types"], ref["box"]) / N
    minimiser = minimiser or choose_minimiser(types, ref["box"])
    out = {
        "temperature": float(temperature),
        "n_particles": N,
        "n_reference": len(ref["positions"]),
        "reference": {
            "store": sel["store"],
            "from": sel["from"],
            "configs": ref["configs"],
            "n": len(ref["configs"]),
            "unchecked": sel["unchecked"],
        },
        "minimiser": describe_minimiser(minimiser),
        "md_energy_mean": float(np.mean(e_ref)),
        "results": {},
        "md_coordination": metrics.coordination_numbers(
            ref["positions"][:256], ref["types"][:256], ref["box"]
        ),
    }
    ref_is = None
    if n_quench:
        q = quench(ref["positions"][:n_quench], types, ref["box"], minimiser, progress=progress)
        out["md_quench"] = q.summary()
        ref_is = q.energy[q.converged]
    x, logq, secs = sampling.draw(
        model,
        n_samples,
        types,
        ref["box"],
        temperature,
        seed=seed,
        batch_size=SAMPLE_BATCH,  # never tied to progress: the same seed, the same samples
        progress=progress,
    )
    log(f"sampled {n_samples} configurations in {secs:.1f} s")
    kw = dict(
        n_quench=n_quench, ref_energy=e_ref, minimiser=minimiser, ref_is=ref_is, progress=progress
    )
    out["results"]["model"] = score(
        ck["kind"], x, logq, types, ref, temperature, seconds=secs, **kw
    )
    if baselines:
        tune = _lattice_tuning_data(ck, sel, store_path, temperature, train_store, ref)
        out["results"].update(_baselines(n_samples, types, ref, temperature, tune, seed, kw))
    return out


def _baselines(n_samples, types, ref, temperature, tune, seed, kw) -> dict:
    """The uniform and the perturbed-lattice baselines, scored as the model is; the lattice width
    is tuned on ``tune`` (training configurations, or the reference itself)."""
    t0 = time.perf_counter()
    xu, lu = metrics.uniform_baseline(n_samples, types, ref["box"], seed)
    out = {
        "uniform": score(
            "uniform", xu, lu, types, ref, temperature, seconds=time.perf_counter() - t0, **kw
        )
    }
    sigma, _ = metrics.tune_lattice_sigma(
        tune["positions"][:64], types, ref["box"], seed=seed + 1, ref_types=tune["types"][:64]
    )
    t0 = time.perf_counter()
    xl, ll = metrics.lattice_baseline(n_samples, types, ref["box"], sigma, seed)
    out["lattice"] = score(
        "lattice", xl, ll, types, ref, temperature, seconds=time.perf_counter() - t0, **kw
    )
    out["lattice"]["sigma"] = sigma
    return out


def _check_compatible(ck: dict, ref: dict, types: np.ndarray, store_path) -> None:
    N = ref["types"].shape[1]
    if N != ck["data"]["n_particles"]:
        raise InputError(
            f"{store_path} has N={N} particles, the model was fitted at N={ck['data']['n_particles']}; "
            "evaluate against held-out data of the same size"
        )
    if not np.allclose(ref["box"], ck["data"]["box"], rtol=1e-5):
        raise InputError(
            f"{store_path} box {ref['box']} differs from the model's {ck['data']['box']} (another density)"
        )
    if int((types == 0).sum()) != int((ref["types"][0] == 0).sum()):
        raise InputError(f"{store_path} has another A:B composition than the model's training data")


def _lattice_tuning_data(ck, sel, store_path, temperature, train_store, ref) -> dict:
    """Configurations to tune the lattice baseline on: the fit's training configurations when
    the reference is its own store, else ``train_store``, else the reference itself."""
    key = temperature_key(temperature)
    if sel["from"] == "split" and ck.get("split") and ck["split"].get(key, {}).get("train"):
        return reference_data(store_path, temperature, ck["split"][key]["train"], 64)
    if train_store is not None:
        return reference_data(train_store, temperature, max_configs=64)
    return ref


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def format_table(report: dict) -> str:
    """A plain-text table of one evaluation."""
    rows = [
        (
            "sampler",
            "g_AA L2",
            "g_AB L2",
            "g_BB L2",
            "Z_BB",
            "W1(e)",
            "close",
            "ESS/n",
            "MH acc",
            "e_IS",
            "samples/s",
        )
    ]
    for name, r in report["results"].items():
        g = r["rdf_l2"]
        rows.append(
            (
                name,
                f"{g['AA']:.3f}",
                f"{g['AB']:.3f}",
                f"{g['BB']:.3f}",
                _num((r.get("coordination") or {}).get("BB")),
                f"{r['energy_w1']:.3g}",
                f"{r['close_contact_fraction']:.3f}",
                _num(r["ess_per_sample"]),
                _num(r["mh_acceptance"]),
                _num(r.get("is_energy_mean")),
                "-" if not r["samples_per_second"] else f"{r['samples_per_second']:.3g}",
            )
        )
    w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    ref = report.get("reference") or {}
    where = "the run's test split of" if ref.get("from") == "split" else "every configuration of"
    lines = [
        f"T={report['temperature']:g}  N={report['n_particles']}  MD e/N={report['md_energy_mean']:.3f}"
        + (
            f"  MD e_IS={r0:.3f}"
            if (r0 := report["results"]["model"].get("is_energy_md_mean")) is not None
            else ""
        )
        + (
            f"  MD Z_BB={z:.3g}"
            if (z := report.get("md_coordination", {}).get("BB")) is not None
            else ""
        )
    ]
    lines += ["  ".join(c.rjust(w[i]) for i, c in enumerate(row)) for row in rows]
    if ref:
        lines.append(f"reference: {ref['n']} held-out MD configurations ({where} {ref['store']})")
    if report.get("minimiser"):
        bad = {name: r["quench"] for name, r in report["results"].items() if "quench" in r}
        if "md_quench" in report:
            bad["MD"] = report["md_quench"]
        notes = [f"{k} {q['converged']}/{q['n']}" for k, q in bad.items()]
        lines.append(f"inherent structures: {report['minimiser']}; converged {', '.join(notes)}")
    return "\n".join(lines)
