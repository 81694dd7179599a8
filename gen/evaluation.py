"""One evaluation of a fitted sampler (and the baselines) against held-out MD at one temperature.

Held-out means unseen by the fit (:func:`held_out_reference`): on the run's own store (wherever
it lies now: configurations are recognised by content) its test split; any other store whole,
unless it holds configurations the fit trained or validated on, which is refused.  Every
inherent structure of one evaluation (model, baselines, MD reference) comes from ONE minimiser
(:func:`glassdyn.gen.fire.quench`), recorded with the configurations it failed to quench.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.keys import same_temperature
from glassdyn.data.splits import identity, temperature_key, training_identities, unseen_configs
from glassdyn.gen import metrics, sampling
from glassdyn.gen.fire import choose_minimiser, describe_minimiser, quench


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


def md_reference(
    store_path,
    temperature: float,
    configs,
    n: int,
    seed: int,
    cache_dir: Path | None = None,
    log=print,
) -> dict:
    """2n MD configurations at ``temperature``: NVT chains continuing the held-out ``configs``
    (:func:`glassdyn.gen.mdpool.md_pool`, one every 2 tau_alpha), the reference whose two halves
    give the MD-vs-MD floor.  Cached in ``cache_dir`` (keyed by the configurations' identities,
    T, n and seed), so evaluating again costs no MD."""
    import json

    from glassdyn.data.splits import identity
    from glassdyn.data.store import Store
    from glassdyn.gen.mdpool import md_pool
    from glassdyn.simulate.sampling import nvt_chain

    ref = reference_data(store_path, temperature, configs)
    sp = Store.open(store_path).state(temperature)
    ids = [identity(sp, c) for c in ref["configs"]]
    key = {"temperature": float(temperature), "n": 2 * n, "seed": seed, "starts": ids}
    cache = None
    if cache_dir is not None:
        digest = __import__("hashlib").sha1(json.dumps(key).encode()).hexdigest()[:12]
        cache = Path(cache_dir) / f"md_reference_T{float(temperature):g}_{digest}.npz"
        if cache.exists():
            d = np.load(cache)
            n_ref, spacing = len(d["energy"]), float(d["spacing"])
            # the cached cost was measured under another load: time one configuration now, so
            # that MD's cost stands beside the samplers' of this evaluation
            log(f"MD reference cached; timing one MD configuration at T={temperature:g} now")
            _, _, now = nvt_chain(
                d["positions"][0],
                ref["types"][0],
                ref["box"],
                temperature,
                1,
                spacing,
                np.random.default_rng([seed, 37]),
            )
            return {
                **ref,
                "positions": d["positions"],
                "energy": d["energy"],
                "md_seconds": now.seconds * n_ref,
                "md_steps": int(d["steps"]),
                "spacing": spacing,
                "cached": True,
            }
    types = ref["types"][0]
    log(f"MD reference: {2 * n} configurations at T={temperature:g} from {len(ids)} held-out ones")
    pool = md_pool(
        ref["positions"], types, ref["box"], temperature, 2 * n, np.random.default_rng([seed, 31])
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        from glassdyn.data.runs import atomic_write

        atomic_write(
            cache,
            lambda tmp: np.savez(
                open(tmp, "wb"),
                positions=pool.positions,
                energy=pool.energy,
                seconds=pool.cost.seconds,
                steps=pool.cost.md_steps,
                spacing=pool.spacing,
            ),
        )
    return {
        **ref,
        "positions": pool.positions,
        "energy": pool.energy,
        "md_seconds": pool.cost.seconds,
        "md_steps": pool.cost.md_steps,
        "spacing": pool.spacing,
        "cached": False,
    }


def score(
    name,
    samples,
    ref_profile,
    temperature,
    seed,
    *,
    minimiser=None,
    n_quench=0,
    ref_is=None,
    report=None,
    md_row=False,
    parts=None,
) -> dict:
    """Every metric of one sample set (a :class:`~glassdyn.gen.sampler.SampleSet`, or positions
    (n, N, 3)) against the MD reference, each distance beside its MD-vs-MD floor: the distance
    from half A of the reference averaged over its chain-disjoint splits, beside half B's
    (an independent MD set of the same size); ``md_row``: the set is a half B itself, its
    distances are the floor and its e/N is compared with half A; ``parts``: the rows of each
    independent draw (a pooled set, :func:`glassdyn.gen.sampler.pooled`), every distance the
    mean of the draws' own, e/N's statistics over all of them."""
    x = samples.positions if hasattr(samples, "positions") else np.asarray(samples)
    report = report if report is not None else getattr(samples, "report", {})
    types, box = ref_profile_types_box(ref_profile)
    N = len(types)
    prof = metrics.profile(x, types, box)
    n_eff = report.get("effective_configurations") or len(x)
    res = {
        "name": name,
        "n": len(x),
        "corrected": bool(getattr(samples, "corrected", False)),
        "close_contact_fraction": float(np.mean(prof.close > 0)),
        "energy": metrics.energy_statistics(prof.energy, temperature, N, min(n_eff, len(x))),
        "distances": {k: dict(v) for k, v in ref_profile.floor.items()},
        "coordination_bb": float(np.nanmean(prof.z_bb)),
        "report": {k: v for k, v in report.items() if k not in ("steps", "log_w")},
    }
    if not md_row:
        rng = np.random.default_rng([seed, 41])
        per = [
            metrics.against_md(
                prof if rows is None else prof.subset(rows),
                ref_profile.profile,
                ref_profile.halves,
                ref_profile.floor,
                rng,
            )
            for rows in (parts if parts is not None else [None])
        ]
        res["distances"] = per[0]
        if parts is not None:
            res["distances"] = {
                k: {**d, "value": float(np.mean([p[k]["value"] for p in per]))}
                for k, d in per[0].items()
            }
            res["per_draw"] = [{k: d["value"] for k, d in p.items()} for p in per]
    # e/N's z: a sample set independent of every MD configuration is compared with all 2n of
    # them (the most precise reference); the MD row, itself one half, with the other half
    half, every = ref_profile.energy, ref_profile.energy_all
    e = res["energy"]
    e["z_half"] = float((e["mean"] - half["mean"]) / np.hypot(e["se"], half["se"]))
    if not md_row and every is not None:
        e["z"] = float((e["mean"] - every["mean"]) / np.hypot(e["se"], every["se"]))
        e["z_against"] = f"all {every['n_eff']:g} MD configurations"
    else:
        e["z"], e["z_against"] = e["z_half"], "the MD reference half"
    if n_quench:
        q = quench(x[:n_quench], types, box, minimiser, fallback=True)
        ok = q.converged
        res["quench"] = q.summary()
        res["is_energy_mean"] = float(np.mean(q.energy[ok])) if ok.any() else None
        if ref_is is not None and ok.any():
            res["is_energy_w1"] = metrics.energy_w1(q.energy[ok], ref_is)
    res["verdict"] = verdict(res)
    return res


@dataclass
class ReferenceProfile:
    """The profile of all 2n MD configurations, their chain-disjoint ``halves`` (ordered splits
    (A, B), :func:`metrics.chain_halves`) and the ``floor`` of every distance over them;
    ``energy``: e/N statistics of the first split's half A (the MD row's reference),
    ``energy_all``: of all 2n, against which samples' z is taken."""

    profile: metrics.Profile
    energy: dict
    types: np.ndarray
    box: np.ndarray
    energy_all: dict
    halves: list
    floor: dict


def ref_profile_types_box(ref: ReferenceProfile):
    return ref.types, ref.box


def verdict(res: dict) -> dict:
    """The issue's bar for a sampler: mean e/N within 2 standard errors of MD, every distance
    within 1.5x its MD-vs-MD floor, no close contact."""
    out = {
        "energy_mean": bool(abs(res["energy"]["z"]) <= 2.0),
        "no_close_contacts": res["close_contact_fraction"] == 0.0,
    }
    for k, d in res["distances"].items():
        out[k] = bool(d["value"] <= 1.5 * d["floor"])
    out["all"] = all(out.values())
    return out


def chain_statistics(log_w: np.ndarray, energy: np.ndarray, seed: int = 0) -> dict:
    """Importance weights of raw proposals and the independence Metropolis-Hastings chain over
    them: Kish ESS / n, acceptance per proposal, distinct states visited, and the integrated
    autocorrelation time of the chain's e/N."""
    lw = np.asarray(log_w, dtype=np.float64)
    states, acc = sampling.independence_chain(lw, seed=seed)
    return {
        "ess_per_sample": sampling.kish_ess(lw) / len(lw),
        "mh_acceptance": acc,
        "distinct_states": int(len(np.unique(states))),
        "energy_iat": sampling.integrated_autocorrelation_time(np.asarray(energy)[states]),
        "log_w_std": float(np.std(lw[np.isfinite(lw)])) if np.isfinite(lw).any() else float("inf"),
    }


def evaluate(
    model,
    ck: dict,
    store_path,
    temperature: float,
    *,
    n_samples: int = 32,
    n_quench: int = 4,
    seed: int = 0,
    draws: int = 1,
    options=None,
    baselines: bool = True,
    ablation: bool = True,
    minimiser: str | None = None,
    cache_dir=None,
    log=print,
) -> dict:
    """The fitted run's corrected samples at ``temperature`` against held-out MD, every figure
    beside its MD-vs-MD floor; the run's raw proposals, its ablation (the identity transport for
    flow and cnf: population annealing from the same base; the physics term alone for
    diffusion) and the uniform / perturbed-lattice baselines on the same scale.  The run and its
    ablation draw ``draws`` independent sets of ``n_samples`` (each distance: the draws' mean);
    ``false_fail``: how often an exact sampler fails the verdict's distances at 1, 4 and
    ``draws`` draws."""
    from glassdyn.gen.sampler import DRAW_SEED, CorrectionOptions, pooled, sample_run

    if draws < 1:
        raise InputError(f"--draws must be >= 1, got {draws}")

    options = options or CorrectionOptions()
    sel = held_out_reference(ck, store_path, temperature)
    types = np.asarray(ck["data"]["types"], dtype=np.int64)
    _check_compatible(
        ck, reference_data(store_path, temperature, sel["configs"]), types, store_path
    )
    if ck["kind"] in ("flow", "cnf"):
        check_below_base(ck, temperature)  # before any MD
    ref = md_reference(store_path, temperature, sel["configs"], n_samples, seed, cache_dir, log)
    N = len(types)
    box = ref["box"]
    # 2n MD configurations from S chains (md_pool: start k gives configurations k, k + S, ...),
    # split into halves from disjoint chains every way (up to 20): a sample set is compared
    # with half A, the floor is half B (an independent MD set of the sample's size) against A,
    # both averaged over the splits; one split alone is one draw of a floor that spreads 40-75%
    from glassdyn.gen.mdpool import chain_of

    e_all = ref["energy"] / N
    origin = chain_of(len(e_all), len(ref["configs"]))
    prof = metrics.profile(ref["positions"], types, box, e_all)
    halves = metrics.chain_halves(origin, n_samples, np.random.default_rng([seed, 43]))
    a0, b0 = halves[0]
    iid = metrics.iid_distances(prof, n_samples, np.random.default_rng([seed, 44]))
    floor = metrics.md_floor(prof, halves, iid)
    refp = ReferenceProfile(
        prof,
        metrics.energy_statistics(e_all[a0], temperature, N),
        types,
        box,
        metrics.energy_statistics(e_all, temperature, N),
        halves,
        floor,
    )
    minimiser = minimiser or choose_minimiser(types, box)
    out = {
        "temperature": float(temperature),
        "n_particles": N,
        "n_samples": n_samples,
        "reference": {
            "store": sel["store"],
            "from": sel["from"],
            "starts": ref["configs"],
            "n": len(ref["energy"]),
            "chains": len(np.unique(origin)),
            "splits": len(halves),
            "half": [min(len(a) for a, _ in halves), max(len(a) for a, _ in halves)],
            "spacing": ref["spacing"],
            "unchecked": sel["unchecked"],
            "md_seconds_per_configuration": ref["md_seconds"] / len(ref["energy"]),
            "md_timed": "one configuration, now (reference cached)"
            if ref["cached"]
            else "the reference's chains, now",
            "md_steps_per_configuration": ref["md_steps"] / len(ref["energy"]),
        },
        "md_energy": refp.energy,
        "md_energy_all": refp.energy_all,
        "md_coordination_bb": float(np.nanmean(prof.z_bb)),
        "minimiser": describe_minimiser(minimiser),
        "draws": int(draws),
        "false_fail": {
            str(k): metrics.false_fail(iid, floor, k, np.random.default_rng([seed, 45]))
            for k in sorted({1, 4, int(draws)})
        },
        "results": {},
    }
    ref_is = None
    if n_quench:
        q = quench(ref["positions"][:n_quench], types, box, minimiser, fallback=True)
        out["md_quench"] = q.summary()
        ref_is = q.energy[q.converged]
        out["md_is_energy_mean"] = float(np.mean(ref_is)) if len(ref_is) else None
    kw = dict(minimiser=minimiser, n_quench=n_quench, ref_is=ref_is)
    out["results"]["md"] = score(
        "MD (other half)",
        ref["positions"][b0],
        refp,
        temperature,
        seed,
        report={"effective_configurations": len(b0)},
        md_row=True,
        **kw,
    )

    control = independent_md(ck, sel, store_path, temperature, n_samples)
    if control is not None:  # a positive control: MD that shares nothing with the reference
        out["results"]["md_independent"] = score(
            "MD, independent configurations of the store",
            control,
            refp,
            temperature,
            seed,
            report={"effective_configurations": len(control)},
            **{**kw, "n_quench": 0},  # its floors are the point; no inherent structures
        )

    def draw(opts, transport="model", say=None, k=0):
        return sample_run(
            model,
            ck,
            temperature,
            n_samples,
            seed=seed + DRAW_SEED * k,
            options=opts,
            store=base_store(sel, store_path),
            transport=transport,
            log=say,
        )

    def drawn(opts, transport="model", say=None):
        sets = []
        for k in range(draws):
            if say and draws > 1:
                say(f"draw {k + 1} of {draws}")
            sets.append(draw(opts, transport, say, k))
        return pooled(sets)

    # the rows of each draw in a pooled set (one draw: the whole set)
    parts = (
        [np.arange(k * n_samples, (k + 1) * n_samples) for k in range(draws)] if draws > 1 else None
    )
    log(f"sampling {n_samples} corrected configurations with the {ck['kind']} run")
    s = drawn(options, say=log)
    out["results"]["model"] = score(ck["kind"], s, refp, temperature, seed, parts=parts, **kw)
    raw = s.raw(types, box) or draw(replace(options, raw=True))  # diffusion: its own proposals
    out["results"]["model_raw"] = score(
        f"{ck['kind']} raw proposals",
        raw,
        refp,
        temperature,
        seed,
        parts=parts if len(raw.energy) == len(s.energy) else None,
        **kw,
    )
    if "log_w" in raw.report:
        out["results"]["model_raw"]["chain"] = chain_statistics(
            raw.report["log_w"], raw.energy / N, seed
        )
    if ablation:
        which = "none" if ck["kind"] in ("flow", "cnf") else "physics"
        log(
            f"ablation: the same correction with {'the identity transport' if which == 'none' else 'the physics term alone'}"
        )
        a = drawn(options, which, log)
        out["results"]["ablation"] = score(a.method, a, refp, temperature, seed, parts=parts, **kw)
    if baselines:
        tune = _lattice_tuning_data(ck, sel, store_path, temperature, None, ref)
        out["results"].update(_baselines(n_samples, types, ref, tune, seed, refp, temperature, kw))
    return out


def independent_md(ck: dict, sel: dict, store_path, temperature: float, n: int):
    """Up to ``n`` equilibrated configurations of the store at ``temperature`` that are not the
    reference's starts (each from its own melt: independent of the reference and of each other),
    positions (m, N, 3); None when the store has fewer than 2 or the reference is not the run's
    own split.  Scored like a sample, it is the evaluation's positive control: MD passes its own
    test when the floor is right."""
    from glassdyn.data import keys
    from glassdyn.data.store import Store

    if sel["from"] != "split":
        return None
    sp = Store.open(store_path).state(temperature)
    used = {int(c) for c in sel["configs"]}
    idx = [int(c) for c in np.flatnonzero(np.asarray(sp.done, dtype=bool)) if int(c) not in used]
    if len(idx) < 2:
        return None
    types = sp.read(keys.TYPES, idx[:n])
    if not (types == np.asarray(ck["data"]["types"])[None]).all():
        return None  # another composition: not comparable configuration by configuration
    return sp.read(keys.THERMAL_POSITIONS, idx[:n]).astype(np.float64)


def base_store(sel: dict, store_path):
    """Where a transport run's base configurations are read: the evaluated store when it is the
    run's own (its test split is the reference), else the run's recorded store (None)."""
    return store_path if sel["from"] == "split" else None


def _baselines(n_samples, types, ref, tune, seed, refp, temperature, kw) -> dict:
    """The uniform and the perturbed-lattice baselines (raw), scored as the model is; the lattice
    width is tuned on ``tune`` (training configurations, or the reference itself)."""
    xu, _ = metrics.uniform_baseline(n_samples, types, ref["box"], seed)
    out = {"uniform": score("uniform", xu, refp, temperature, seed, report={}, **kw)}
    sigma, _ = metrics.tune_lattice_sigma(
        tune["positions"][:64], types, ref["box"], seed=seed + 1, ref_types=tune["types"][:64]
    )
    xl, _ = metrics.lattice_baseline(n_samples, types, ref["box"], sigma, seed)
    out["lattice"] = score("lattice", xl, refp, temperature, seed, report={"sigma": sigma}, **kw)
    return out


def check_below_base(ck: dict, temperature: float) -> None:
    """A transport samples below its base temperature only (sample's own refusal, said first)."""
    Tb = ck["data"].get("base_temperature")
    if Tb is not None and (temperature >= Tb or same_temperature(temperature, Tb)):
        raise InputError(
            f"T={temperature:g} is not below the run's base temperature {Tb:g}: a {ck['kind']} "
            "carries base configurations down; evaluate one of the temperatures it was fitted to"
        )


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


def _num(v, fmt=".3g") -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, fmt)


TABLE_COLUMNS = (
    "sampler",
    "close",
    "e/N +- SE",
    "z",
    "N var/T^2",
    "W1(e)",
    "g_AA",
    "g_AB",
    "g_BB",
    "dZ_BB",
    "e_IS",
    "ESS|families",
    "s/config",
    "pass",
)


def _row(name: str, r: dict) -> tuple:
    e, d, rep = r["energy"], r["distances"], r.get("report", {})
    eff = rep.get("ess_per_member")
    fam = rep.get("effective_families")
    chain = r.get("chain")
    if chain is not None:
        quality = f"{chain['ess_per_sample']:.2g} IS, MH {chain['mh_acceptance']:.2f}"
    elif eff is not None:
        quality = f"{eff:.2f}|{fam:.1f}"
    else:
        quality = "-"
    spc = rep.get("seconds_per_effective_configuration")
    return (
        name,
        f"{r['close_contact_fraction']:.2f}",
        f"{e['mean']:.4f} +- {e['se']:.4f}",
        f"{e['z']:+.1f}",
        f"{e['n_var_over_t2']:.2f}",
        *(f"{d[k]['value']:.3g}/{d[k]['floor']:.2g}" for k in metrics.DISTANCES),
        _num(r.get("is_energy_mean"), ".4f"),
        quality,
        _num(spc, ".3g"),
        "yes" if r["verdict"]["all"] else "no",
    )


def format_table(report: dict) -> str:
    """A plain-text table of one evaluation: each distance as value/floor (the floor: the same
    distance between two independent MD halves of the same size)."""
    rows = [TABLE_COLUMNS]
    for key, r in report["results"].items():
        name = r["name"] + ("" if r.get("corrected") or key in ("md", "uniform", "lattice") else "")
        rows.append(_row(name, r))
    w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    md = report["md_energy"]
    ref = report["reference"]
    head = (
        f"T={report['temperature']:g}  N={report['n_particles']}  MD e/N={md['mean']:.4f} +- {md['se']:.4f}"
        + (
            f" (all {every['n_eff']:g}: {every['mean']:.4f} +- {every['se']:.4f})"
            if (every := report.get("md_energy_all"))
            else ""
        )
        + f"  N var/T^2={md['n_var_over_t2']:.2f}  MD Z_BB={report['md_coordination_bb']:.3f}"
        + (
            f"  MD e_IS={report['md_is_energy_mean']:.4f}"
            if report.get("md_is_energy_mean")
            else ""
        )
    )
    lines = [head]
    lines += ["  ".join(c.rjust(w[i]) for i, c in enumerate(row)) for row in rows]
    where = "the run's test split of" if ref.get("from") == "split" else "unseen configurations of"
    lines.append(
        f"reference: {ref['n']} MD configurations from NVT chains {ref['spacing']:.3g} apart "
        f"(2 tau_alpha) continuing {len(ref['starts'])} of {where} {ref['store']}; MD costs "
        f"{ref['md_seconds_per_configuration']:.3g} s per configuration (timed: "
        f"{ref.get('md_timed', 'when the reference was made')})"
    )
    split = (
        f"its {ref['splits']} splits into halves of "
        f"{'-'.join(str(h) for h in sorted(set(ref['half'])))} from disjoint chains"
        if ref.get("chains", 0) > 1
        else "its alternate configurations (one chain: correlated halves, a floor too small)"
        if "chains" in ref
        else "one halving"
    )
    lines.append(
        "distances are value/floor, each averaged over "
        f"{split}: value, the samples against half A; floor, half B against A (the MD row: an "
        "independent MD set of the same size), never below two random halves of the "
        "configurations (their own scatter; `floor_chains` / `floor_iid` in the JSON); z of e/N "
        "against all MD configurations (the MD row's: against half A); pass: |z| <= 2, every "
        "distance <= 1.5 x floor, no close contact; the store's other configurations at T (MD "
        "from independent melts) are scored like a sampler, a control that should pass"
    )
    if report.get("minimiser"):
        lines.append(f"inherent structures: {report['minimiser']}")
    if report.get("false_fail"):
        lines.append(false_fail_note(report))
    return "\n".join(lines)


def false_fail_note(report: dict) -> str:
    """One line: how often an exact sampler fails this evaluation's distances, at its draws."""
    ff, K = report["false_fail"], int(report.get("draws", 1))

    def rates(f):
        parts = ", ".join(f"{k} {100 * f[k]:.0f}%" for k in metrics.DISTANCES if f[k] >= 0.005)
        return f"{100 * f['any']:.0f}% ({parts})" if parts else f"{100 * f['any']:.0f}%"

    text = (
        f"an exact sampler (independent MD sets of {report['n_samples']}, random halves of the "
        f"reference) fails some distance's 1.5 x floor in {rates(ff[str(K)])} of evaluations "
        f"with {K} draw{'s' if K > 1 else ''}"
    )
    if K == 1 and "4" in ff:
        text += f"; with --draws 4 (each distance the mean of 4 sets) in {rates(ff['4'])}"
    shared = " (more: the draws share one reference, whose own deviation no draw averages away)"
    return text + (shared if K > 1 or "4" in ff else "") + "; |z| > 2 adds ~5%"


def evaluate_run(
    run_dir,
    data,
    temperatures=None,
    *,
    n_samples: int = 32,
    n_quench: int = 4,
    seed: int = 0,
    draws: int = 1,
    options=None,
    sampler=None,
    baselines: bool = True,
    ablation: bool = True,
    minimiser: str | None = None,
    log=print,
) -> dict:
    """``glassdyn gen evaluate``: :func:`evaluate` at each of ``temperatures`` (default: the run's
    fitted ones that ``data`` holds); the MD references are cached in ``RUN/evaluation/``."""
    from glassdyn.data.store import Store
    from glassdyn.gen.checkpoints import load_run

    if n_samples < 2 or n_quench < 0 or draws < 1:
        raise InputError(
            f"--n must be >= 2, --n-quench >= 0 and --draws >= 1, got {n_samples}, {n_quench} "
            f"and {draws}"
        )
    model, ck = load_run(run_dir)
    if sampler is not None:
        sampler.apply(model)
    store = Store.open(data)
    fitted = ck["data"].get("target_temperatures") or ck["data"]["temperatures"]
    temps = list(temperatures or [t for t in fitted if store.has_state(t)])
    if not temps:
        raise InputError(
            f"{data} has none of the run's temperatures {fitted} (it has {store.temperatures}); "
            "pass --temperatures"
        )
    run = Path(run_dir)
    cache = run / "evaluation" if run.is_dir() else None
    reports = []
    for T in temps:
        rep = evaluate(
            model,
            ck,
            data,
            T,
            n_samples=n_samples,
            n_quench=n_quench,
            seed=seed,
            draws=draws,
            options=options,
            baselines=baselines,
            ablation=ablation,
            minimiser=minimiser,
            cache_dir=cache,
            log=log,
        )
        reports.append(rep)
    return {"run": str(run_dir), "model": ck["kind"], "data": str(data), "evaluations": reports}
