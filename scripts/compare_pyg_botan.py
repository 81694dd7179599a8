"""Converted pyg_botan weights vs pyg_botan's own model on the same test graphs.

Step 1 (outside this project, in an environment holding a h3-Open-BDEC/pyg_botan checkout): run
its ``Model`` with the published weights on BOTAN files and save, per file k (in the order given),
``node_k`` (N,), ``edge_k`` (E,), ``edge_index_k`` (2, E) and ``files`` (the file paths), e.g.
``np.savez(out, node_0=..., ...)`` after ``node, edge = model(dataset.data[k])`` (no rotation).

Step 2 (here)::

    glassdyn convert pyg-botan model1.pth --out RUN --data STORE       # STORE: `glassdyn import botan`
    python scripts/compare_pyg_botan.py --run RUN --data STORE --reference-npz ref.npz

prints, per file, the largest absolute difference of node and edge predictions (edges matched by
their (i, j) pair), and the node Pearson on A particles and edge Pearson on AA pairs r0 < 1.35 of
the converted model against the store's targets.
"""

from __future__ import annotations

import argparse
import re

import numpy as np
from glassdyn.data.store import Store
from glassdyn.predict.evaluation import TrainedRun
from glassdyn.predict.metrics import pearson

from glassdyn.nn import keys as nk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--reference-npz", required=True)
    ap.add_argument("--temperature", type=float, default=0.44)
    args = ap.parse_args()

    ref = np.load(args.reference_npz)
    run = TrainedRun(args.run)
    sp = Store.open(args.data).state(args.temperature)
    ids = sp.attrs["import"]["ids"]
    rows = []
    for k, path in enumerate(ref["files"]):
        cid = int(re.search(r"_(\d+)_tc\d+\.npz$", str(path)).group(1))
        c = ids.index(cid)
        pred, data = run.predict(sp, c)
        ei = data.edge_index.numpy()
        rei = ref[f"edge_index_{k}"]
        n = sp.n_particles
        ours = dict(zip((ei[0] * n + ei[1]).tolist(), range(ei.shape[1])))
        common = [
            (m, ours[key]) for m, key in enumerate((rei[0] * n + rei[1]).tolist()) if key in ours
        ]
        a, b = np.array(common).T
        d_node = np.abs(pred[nk.NODE][:, 0] - ref[f"node_{k}"]).max()
        d_edge = np.abs(pred[nk.EDGE][b, 0] - ref[f"edge_{k}"][a]).max()
        nm, em = data.node_mask.numpy(), data.edge_mask.numpy()
        r_node = pearson(pred[nk.NODE][nm, 0], data.y.numpy()[nm, 0])
        r_edge = pearson(pred[nk.EDGE][em, 0], data.y_edge.numpy()[em, 0])
        rows.append(
            (cid, c, ei.shape[1], rei.shape[1], len(common), d_node, d_edge, r_node, r_edge)
        )
    print(
        f"{'id':>5} {'config':>6} {'E ours':>8} {'E ref':>8} {'matched':>8} {'max|dnode|':>11} {'max|dedge|':>11} {'node r (A)':>10} {'edge r (AA<1.35)':>16}"
    )
    for r in rows:
        print(
            f"{r[0]:>5} {r[1]:>6} {r[2]:>8} {r[3]:>8} {r[4]:>8} {r[5]:>11.2e} {r[6]:>11.2e} {r[7]:>10.4f} {r[8]:>16.4f}"
        )
    a = np.array([r[5:] for r in rows])
    se = a.std(0, ddof=1) / np.sqrt(len(a)) if len(a) > 1 else np.zeros(4)
    print(f"max |dnode| {a[:, 0].max():.2e}, max |dedge| {a[:, 1].max():.2e}; node Pearson (A) "
          f"{a[:, 2].mean():.4f} +- {se[2]:.4f}, edge Pearson (AA r0<1.35) {a[:, 3].mean():.4f} +- {se[3]:.4f} "
          f"(mean +- standard error over {len(a)} files)")  # fmt: skip


if __name__ == "__main__":
    main()
