"""How much one split of the MD reference moves the MD-vs-MD floor of `gen evaluate`.

`gen evaluate RUN --n n` caches 2n MD configurations in RUN/evaluation/ (NVT chains continuing
the run's S held-out configurations, 2 tau_alpha apart; start k gives rows k, k + S, ...).  This
prints, for every split of the chains into two halves, half B's distances from half A (the floor
of that split alone) and e/N per chain, then the mean and coefficient of variation over the splits
(what `gen evaluate` now averages over):

    python scripts/floor_splits.py RUN --data STORE --temperature T [--n 32]
"""

from __future__ import annotations

import argparse
import glob

import numpy as np

from glassdyn.gen import metrics
from glassdyn.gen.checkpoints import load_run
from glassdyn.gen.evaluation import held_out_reference, reference_data
from glassdyn.gen.mdpool import chain_of


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--data", required=True)
    p.add_argument("--temperature", type=float, required=True)
    p.add_argument("--n", type=int, default=32)
    a = p.parse_args()
    _, ck = load_run(a.run)
    sel = held_out_reference(ck, a.data, a.temperature)
    found = sorted(glob.glob(f"{a.run}/evaluation/md_reference_T{a.temperature:g}_*.npz"))
    if not found:
        raise SystemExit(
            f"{a.run}/evaluation/ holds no MD reference at T={a.temperature:g}: run gen evaluate first"
        )
    ref = reference_data(a.data, a.temperature, sel["configs"][:1])
    types, box = ref["types"][0], ref["box"]
    for path in found:
        d = np.load(path)
        e = d["energy"] / len(types)
        origin = chain_of(len(e), len(sel["configs"]))
        prof = metrics.profile(d["positions"], types, box, e)
        S = len(np.unique(origin))
        print(f"{path}: {len(e)} configurations from {S} chains")
        print("  e/N per chain " + " ".join(f"{e[origin == k].mean():.4f}" for k in range(S)))
        print("  " + " ".join(f"{k:>9s}" for k in metrics.DISTANCES) + "   split (chains of A)")
        halves = metrics.chain_halves(origin, a.n, np.random.default_rng(0))
        rows = []
        for (A, _), c in zip(halves, metrics.split_floors(prof, halves)):
            rows.append([c[k] for k in metrics.DISTANCES])
            print(
                "  "
                + " ".join(f"{v:9.4f}" for v in rows[-1])
                + f"   {sorted(int(c) for c in set(origin[A]))}"
            )
        rows = np.array(rows)
        print("  " + " ".join(f"{v:9.4f}" for v in rows.mean(0)) + "   mean")
        print(
            "  "
            + " ".join(f"{v:9.2f}" for v in rows.std(0) / rows.mean(0))
            + "   spread (std / mean)"
        )


if __name__ == "__main__":
    main()
