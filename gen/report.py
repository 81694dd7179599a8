"""One evaluation of a fitted sampler (and the baselines) against held-out MD at one temperature."""

from __future__ import annotations

import time

import numpy as np

from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.gen import evaluation as ev
from glassdyn.gen import sampling
from glassdyn.gen.fire import quench


def reference_data(store_path, temperature: float, max_configs: int | None = None) -> dict:
    """Held-out MD: thermal positions (M, N, 3), types (N,), box (3,), IS energies if stored."""
    from glassdyn.data.store import Store

    sp = Store.open(store_path).state(temperature)
    idx = sp.completed[:max_configs] if max_configs else sp.completed
    if len(idx) == 0:
        raise InputError(f"{store_path} group {sp.name} has no completed configuration to compare with")
    types = sp.read(keys.TYPES, idx)
    box = sp.read(keys.BOX, idx)
    if not np.allclose(box, box[0]):
        raise InputError(f"{store_path} {sp.name}: reference configurations must share one box")
    if len({int((t == 0).sum()) for t in types}) > 1:
        raise InputError(f"{store_path} {sp.name}: reference configurations must share one composition")
    out = {"positions": sp.read(keys.THERMAL_POSITIONS, idx).astype(np.float64), "types": types, "box": box[0]}
    out["is_energy"] = sp.read(keys.INHERENT_ENERGY, idx) if sp.has(keys.INHERENT_ENERGY) else None
    return out


def score(name, x, logq, types, ref, temperature, *, seconds=None, n_quench=16, ref_energy=None):
    """Every metric for one set of samples x (M, N, 3) of composition ``types`` (N,), log q (M,)."""
    box = ref["box"]
    N = len(types)
    e = sampling.energies(x, types, box)
    e_ref = ref_energy if ref_energy is not None else sampling.energies(ref["positions"], ref["types"], box) / N
    lw = sampling.log_weights(e, logq, temperature)
    has_density = not np.isnan(np.asarray(logq, dtype=np.float64)).all()  # the diffusion SDE sampler has none
    acc = sampling.independence_chain(lw, seed=0)[1] if has_density else None
    res = {
        "name": name,
        "n": int(len(x)),
        "rdf_l2": ev.rdf_l2(x, ref["positions"], types, ref["types"], box),
        "energy_w1": ev.energy_w1(e / N, e_ref),
        "energy_mean": float(np.mean(e / N)),
        "close_contact_fraction": ev.close_contact_fraction(x, types, box),
        "coordination": ev.coordination_numbers(x, types, box),
        "ess_per_sample": sampling.kish_ess(lw) / len(x) if has_density else None,
        "mh_acceptance": acc,
        "samples_per_second": None if not seconds else len(x) / seconds,
    }
    if n_quench:
        _, e_is, _ = quench(x[:n_quench], types, box)
        res["is_energy_mean"] = float(np.mean(e_is))
        if ref.get("is_energy") is not None:
            res["is_energy_w1"] = ev.energy_w1(e_is, ref["is_energy"])
            res["is_energy_md_mean"] = float(np.mean(ref["is_energy"]))
    return res


def evaluate(model, ck: dict, store_path, temperature: float, *, n_samples: int = 256, n_quench: int = 16,
             max_reference: int | None = None, train_store=None, seed: int = 0, baselines: bool = True, log=print) -> dict:
    """Model samples vs held-out MD at ``temperature``; the uniform and lattice baselines alongside."""
    ref = reference_data(store_path, temperature, max_reference)
    N = ref["types"].shape[1]
    types = np.asarray(ck["data"]["types"], dtype=np.int64)
    if N != ck["data"]["n_particles"]:
        raise InputError(
            f"{store_path} has N={N} particles, the model was fitted at N={ck['data']['n_particles']}; "
            "evaluate against held-out data of the same size"
        )
    if not np.allclose(ref["box"], ck["data"]["box"], rtol=1e-5):
        raise InputError(f"{store_path} box {ref['box']} differs from the model's {ck['data']['box']} (another density)")
    e_ref = sampling.energies(ref["positions"], ref["types"], ref["box"]) / N
    if int((types == 0).sum()) != int((ref["types"][0] == 0).sum()):
        raise InputError(f"{store_path} has another A:B composition than the model's training data")
    x, logq, secs = sampling.draw(model, n_samples, types, ref["box"], temperature, seed=seed)
    log(f"sampled {n_samples} configurations in {secs:.1f} s")
    out = {"temperature": float(temperature), "n_particles": N, "n_reference": int(len(ref["positions"])),
           "md_energy_mean": float(np.mean(e_ref)), "results": {},
           "md_coordination": ev.coordination_numbers(ref["positions"][:256], ref["types"][:256], ref["box"])}
    out["results"]["model"] = score(ck["kind"], x, logq, types, ref, temperature, seconds=secs, n_quench=n_quench, ref_energy=e_ref)
    if baselines:
        t0 = time.perf_counter()
        xu, lu = ev.uniform_baseline(n_samples, types, ref["box"], seed)
        out["results"]["uniform"] = score("uniform", xu, lu, types, ref, temperature, seconds=time.perf_counter() - t0, n_quench=n_quench, ref_energy=e_ref)
        tune = ref if train_store is None else reference_data(train_store, temperature, 64)
        sigma, _ = ev.tune_lattice_sigma(tune["positions"][:64], types, ref["box"], seed=seed + 1, ref_types=tune["types"][:64])
        t0 = time.perf_counter()
        xl, ll = ev.lattice_baseline(n_samples, types, ref["box"], sigma, seed)
        out["results"]["lattice"] = score("lattice", xl, ll, types, ref, temperature, seconds=time.perf_counter() - t0, n_quench=n_quench, ref_energy=e_ref)
        out["results"]["lattice"]["sigma"] = sigma
    return out


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def format_table(report: dict) -> str:
    """A plain-text table of one evaluation."""
    rows = [("sampler", "g_AA L2", "g_AB L2", "g_BB L2", "Z_BB", "W1(e)", "close", "ESS/n", "MH acc", "e_IS", "samples/s")]
    for name, r in report["results"].items():
        g = r["rdf_l2"]
        rows.append((
            name, f"{g['AA']:.3f}", f"{g['AB']:.3f}", f"{g['BB']:.3f}", _num((r.get("coordination") or {}).get("BB")),
            f"{r['energy_w1']:.3g}",
            f"{r['close_contact_fraction']:.3f}", _num(r["ess_per_sample"]), _num(r["mh_acceptance"]),
            f"{r.get('is_energy_mean', float('nan')):.3f}",
            "-" if not r["samples_per_second"] else f"{r['samples_per_second']:.3g}",
        ))
    w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"T={report['temperature']:g}  N={report['n_particles']}  MD e/N={report['md_energy_mean']:.3f}"
             + (f"  MD e_IS={r0:.3f}" if (r0 := report["results"]["model"].get("is_energy_md_mean")) is not None else "")
             + (f"  MD Z_BB={z:.3g}" if (z := report.get("md_coordination", {}).get("BB")) is not None else "")]
    lines += ["  ".join(c.rjust(w[i]) for i, c in enumerate(row)) for row in rows]
    return "\n".join(lines)
