"""Training-step time of BOTAN on one N=4096 KA graph: ours vs the plain implementation.

Prints, side by side in one run and on the same graph:

- graph + targets build: vesin neighbour list + edge targets (ours) vs the reference's dense
  N x N numpy build (only with ``--reference``);
- one training step (forward, p MSE_node + (1-p) MSE_edge, backward, gradient clipping, Adam) of
  ``ours``   : the default path: fused message-passing steps and edge MLPs with hand-written
               backward (:mod:`glassdyn.nn.fused`), edges sorted by target;
  ``split``  : the same model with autograd through the split first edge layer (per-node
               products gathered, constant block hoisted), the previous default;
  ``naive``  : the same model and weights with the plain gather-concatenate-Linear edge update
               as the reference writes it;
  ``bf16``   : ours under bfloat16 autocast (``TrainConfig(precision="bf16")``; reported apart
               from the float32 figures);
  ``pyg_botan``: the reference model itself (``--reference PATH`` to a h3-Open-BDEC/pyg_botan
               checkout; not part of glassdyn), on the same graph;
  ``ours B=k``: ours on a mini-batch of k graphs (``--batch``; k configurations of the store),
               reported per graph;
  as the median wall time and the median CPU time of the process (user + system: it does not
  count time spent waiting for a core, which dominates wall time on a loaded machine), with the
  ratios to ours, on CPU with ``--threads`` threads (1 by default) and on CUDA if present.
On CPU the variants run with glibc's default large-block threshold and then with it raised
(:mod:`glassdyn.nn.allocator`, ``TrainConfig(tune_allocator=True)``), each as its own block of
interleaved rounds.

    OMP_NUM_THREADS=1 python scripts/bench_botan.py [--reference ../pyg_botan] [--data STORE]

The graph is a KA-like configuration (``glassdyn.testing.random_ka_configuration``, N=4096 at
density 1.2, ~143k directed edges at r < 2), or the first configuration of ``--data`` (a real
KA store: ~166k edges), or the first file of the reference's ``small_data``.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import statistics
import sys
import time
import types as pytypes

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch


def load_configurations(args, count: int = 1):
    """``count`` configurations: [(positions, types, box, displacements or None, label)]."""
    from glassdyn.testing import random_ka_configuration

    if args.data:
        from glassdyn.data.store import Store

        st = Store.open(args.data)
        sp = st.state(st.temperatures[0])
        out = []
        for c in (int(c) for c in sp.completed[:count]):
            conf = sp.configuration(c)
            disp = None
            if sp.has("isoconfig/displacements"):
                disp = sp.read("isoconfig/displacements", c)
            label = f"{args.data} T={sp.temperature:g} config {c}"
            out.append((conf.positions, conf.types, conf.box, disp, label))
        return out
    if args.reference:
        pattern = os.path.join(args.reference, "small_data", "T0.44", "train", "*.npz")
        files = sorted(glob.glob(pattern))[:count]
        if files:
            out = []
            for f in files:
                z = np.load(f)
                box = np.full(3, (4096 / 1.2) ** (1 / 3))
                pos = z["initial_positions"]
                disp = (z["positions"] - pos[None])[:, None]  # (R, 1, N, 3)
                out.append((pos, z["types"], box, disp, f))
            return out
    return [
        (c.positions, c.types, c.box, None, f"random_ka_configuration(N={args.n}, seed={i})")
        for i, c in ((i, random_ka_configuration(args.n, seed=i)) for i in range(count))
    ]


def load_reference(path):
    """Import the reference ``model.py`` (and ``load_data.py``); shim torch_scatter if missing."""
    if importlib.util.find_spec("torch_scatter") is None:
        from torch_geometric.utils import scatter as pyg_scatter

        shim = pytypes.ModuleType("torch_scatter")
        shim.scatter = lambda src, index, dim=0, dim_size=None, reduce="sum": pyg_scatter(
            src, index, dim, dim_size, reduce
        )
        sys.modules["torch_scatter"] = shim
    sys.path.insert(0, path)
    import model as ref_model

    try:
        import load_data as ref_data
    except ImportError:
        ref_data = None
    return ref_model, ref_data


VARIANTS = {  # name: keyword arguments of Botan.forward (bf16: under bfloat16 autocast)
    "ours": {},
    "split": {"fused": False},
    "naive": {"naive": True},
    "bf16": {"bf16": True},
}


def make_steps(device, graphs, ref_model, args):
    """{variant: (one training step, graphs per step)} on ``device``; all variants see the same
    first graph and targets (batches: the first k graphs)."""
    from torch_geometric.data import Batch

    from glassdyn.nn import keys as nk
    from glassdyn.nn.models import ModelConfig, build_model

    data = graphs[0].to(device)
    p = 0.4
    torch.manual_seed(0)
    ours = build_model(ModelConfig(kind="botan", n_outputs=1)).to(device)
    opt = torch.optim.Adam(ours.parameters(), lr=1e-4)

    def targets(d):
        g = torch.Generator().manual_seed(1)
        return (
            torch.randn(d.num_nodes, 1, generator=g).to(device),
            torch.randn(d.edge_index.shape[1], 1, generator=g).to(device),
        )

    def ours_step(d, kwargs):
        yn, ye = targets(d)
        kwargs = dict(kwargs)
        low = kwargs.pop("bf16", False)

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=low):
                out = ours(d, **kwargs)
            out = {k: v.float() if torch.is_tensor(v) else v for k, v in out.items()}
            loss = p * torch.mean((out[nk.NODE] - yn) ** 2) + (1 - p) * torch.mean(
                (out[nk.EDGE] - ye) ** 2
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
            opt.step()

        return step

    steps = {v: (ours_step(data, VARIANTS[v]), 1) for v in args.variants}
    for k in args.batch:
        if k > 1:
            batch = Batch.from_data_list(graphs[:k]).to(device)
            steps[f"ours B={k}"] = (ours_step(batch, {}), k)
    if ref_model is not None:
        from torch_geometric.data import Data

        ref = ref_model.Model().to(device)
        ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-4)
        rdata = Data(
            x=data.types.float()[:, None], edge_index=data.edge_index, edge_attr=data.edge_attr
        ).to(device)
        yn, ye = targets(data)

        def ref_step():
            ref_opt.zero_grad()
            node, edge = ref(rdata)
            loss = p * torch.nn.functional.mse_loss(node, yn) + (
                1 - p
            ) * torch.nn.functional.mse_loss(edge, ye)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
            ref_opt.step()

        steps["pyg_botan"] = (ref_step, 1)
    return steps


def bench_device(device, graphs, ref_model, args):
    """Median (wall, CPU) seconds per graph for each (allocator mode, variant).  Variants are
    interleaved round by round so that load changes on a shared machine hit all of them alike;
    the allocator modes run as separate blocks (each with its own warm-up round), since switching
    glibc's thresholds every step would trim the heap and undo the tuned mode (warm pages)."""
    from glassdyn.nn import allocator

    steps = make_steps(device, graphs, ref_model, args)
    modes = ["default"]
    if device.type == "cpu" and allocator.restore_default():
        modes = {"default": ["default"], "tuned": ["tuned"], "both": ["default", "tuned"]}[
            args.allocator
        ]
    times = {(m, v): ([], []) for m in modes for v in steps}
    mem = {}
    for mode in modes:
        if device.type == "cpu":
            allocator.tune_for_large_graphs() if mode == "tuned" else allocator.restore_default()
        for rep in range(args.repeats + 1):  # round 0 is the warm-up
            for name, (step, k) in steps.items():
                if device.type == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                t, c = time.perf_counter(), time.process_time()
                step()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                    mem[name] = torch.cuda.max_memory_allocated() / 2**30
                if rep > 0:
                    times[(mode, name)][0].append((time.perf_counter() - t) / k)
                    times[(mode, name)][1].append((time.process_time() - c) / k)
    allocator.restore_default()
    res = {key: (statistics.median(w), statistics.median(c)) for key, (w, c) in times.items()}
    return res, mem


def report(res, mem, device) -> None:
    """Per mode: each variant's wall and CPU time (per graph) and its ratio to ours; then the
    speed-ups over pyg_botan."""
    cpu = device.type == "cpu"
    modes = list(dict.fromkeys(m for m, _ in res))
    for mode in modes:
        bw, bc = res[(mode, "ours")]
        for (m, name), (w, c) in res.items():
            if m != mode:
                continue
            alloc = f" [{mode} allocator]" if cpu else ""
            line = f"  {name:<10}{alloc:<22} wall {w:8.4f} s {w / bw:5.2f}x ours"
            if cpu:
                line += f"   cpu {c:8.4f} s {c / bc:5.2f}x ours"
            if name in mem:
                line += f"  peak {mem[name]:.2f} GiB"
            print(line)
    what = "wall / cpu" if cpu else "wall"

    def ratio(a, b):
        r = f"{res[a][0] / res[b][0]:.2f}x"
        return r + (f" / {res[a][1] / res[b][1]:.2f}x" if cpu else "")

    for mode in modes:
        if (mode, "pyg_botan") in res:
            key = (mode, "pyg_botan"), (mode, "ours")
            print(
                f"  speed-up over pyg_botan, both with the {mode} allocator ({what}): {ratio(*key)}"
            )
    if ("default", "pyg_botan") in res and ("tuned", "ours") in res:
        key = ("default", "pyg_botan"), ("tuned", "ours")
        print(
            f"  speed-up over pyg_botan as shipped (default allocator), ours tuned ({what}): "
            f"{ratio(*key)}"
        )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--n", type=int, default=4096, help="particles of the synthetic KA-like configuration"
    )
    ap.add_argument(
        "--data", default=None, help="take the first configuration of this store instead"
    )
    ap.add_argument(
        "--reference", default=None, help="path to a h3-Open-BDEC/pyg_botan checkout (optional)"
    )
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    ap.add_argument(
        "--repeats", type=int, default=3, help="timed steps per variant (median reported)"
    )
    ap.add_argument(
        "--devices", default="auto", help="auto (cpu, and cuda if present) | cpu | cuda"
    )
    ap.add_argument(
        "--variants",
        default="ours,split,naive",
        help=f"comma-separated, from {','.join(VARIANTS)} (pyg_botan is added by --reference)",
    )
    ap.add_argument(
        "--allocator",
        choices=("default", "tuned", "both"),
        default="both",
        help="glibc large-block setting(s) on CPU, each a separate block of rounds",
    )
    ap.add_argument(
        "--batch",
        default="1",
        help="comma-separated mini-batch sizes k for 'ours B=k' (k configurations of the store), "
        "e.g. 1,2,4; times are per graph",
    )
    args = ap.parse_args(argv)
    try:
        args.batch = sorted({int(k) for k in args.batch.split(",")})
    except ValueError:
        ap.error(f"--batch must be comma-separated integers, got {args.batch!r}")
    if args.batch[0] < 1:
        ap.error("--batch sizes must be >= 1")
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown or "ours" not in args.variants:
        ap.error(f"--variants must include ours and come from {','.join(VARIANTS)}, got {unknown}")
    torch.set_num_threads(args.threads)

    from glassdyn.data.graph import edge_targets, node_propensity, radius_graph
    from torch_geometric.data import Data

    confs = load_configurations(args, max(args.batch))
    if len(confs) < max(args.batch):
        ap.error(f"--batch {max(args.batch)} needs as many configurations, found {len(confs)}")
    pos, types, box, disp, source = confs[0]
    t = time.perf_counter()
    ei, vec = radius_graph(pos, box)
    t_graph = time.perf_counter() - t
    t_targets = None
    if disp is not None:
        t = time.perf_counter()
        edge_targets(vec, ei, disp)
        node_propensity(disp)
        t_targets = time.perf_counter() - t
    print(f"graph: {source}: N={len(types)}, E={ei.shape[1]} directed edges (r < 2.0)")
    line = f"build  ours (vesin):  graph {t_graph:.3f} s"
    if t_targets is not None:
        line += f" + targets ({disp.shape[0]} replicas x {disp.shape[1]} times) {t_targets:.3f} s"
    print(line)

    ref_model = None
    if args.reference:
        ref_model, ref_data = load_reference(args.reference)
        if ref_data is not None:
            ds = ref_data.Dataset.__new__(ref_data.Dataset)
            ds.edge_threshold, ds.num_nodes, ds.box = (
                2.0,
                len(types),
                np.asarray(box, dtype=np.float64),
            )
            t = time.perf_counter()
            ds.make_graph_from_static_structure(np.asarray(pos), np.asarray(types))
            t_ref_graph = time.perf_counter() - t
            line = f"build  pyg_botan (dense N x N): graph {t_ref_graph:.3f} s  ({t_ref_graph / t_graph:.1f}x ours)"
            if disp is not None and hasattr(ds, "get_targets_edge"):
                final = np.asarray(pos)[None] + disp[:, 0]
                t = time.perf_counter()
                ds.get_targets_edge(np.asarray(pos), final, np.asarray(types))
                ds.get_targets_node(np.asarray(pos), final, np.asarray(types))
                line += f" + targets {time.perf_counter() - t:.3f} s"
            print(line)

    graphs = []
    for i, (pos_i, types_i, box_i, _, _) in enumerate(confs):
        ei_i, vec_i = (ei, vec) if i == 0 else radius_graph(pos_i, box_i)
        graphs.append(
            Data(
                types=torch.as_tensor(np.asarray(types_i), dtype=torch.long),
                edge_index=torch.from_numpy(ei_i),
                edge_attr=torch.from_numpy(vec_i.astype(np.float32)),
                num_nodes=len(types_i),
            )
        )
    devices = (
        ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        if args.devices == "auto"
        else [args.devices]
    )
    for dev in devices:
        device = torch.device(dev)
        label = (
            f"cpu ({args.threads} thread{'s' if args.threads > 1 else ''})"
            if dev == "cpu"
            else torch.cuda.get_device_name(0)
        )
        res, mem = bench_device(device, graphs, ref_model, args)
        print(
            f"train step on {label}, torch {torch.__version__}, median of {args.repeats} "
            "interleaved rounds (per graph):"
        )
        report(res, mem, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
