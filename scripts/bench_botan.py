"""Training-step time of BOTAN on one N=4096 KA-like graph: ours vs the plain implementation.

Prints, side by side in one run and on the same graph:

- graph + targets build: vesin neighbour list + edge targets (ours) vs the reference's dense
  N x N numpy build (only with ``--reference``);
- one training step (forward, p MSE_node + (1-p) MSE_edge, backward, Adam) of
  ``ours``   : split first edge layer (per-node products gathered), constant block hoisted;
  ``naive``  : the same model and weights with the plain gather-concatenate-Linear edge update
               as the reference writes it;
  ``pyg_botan``: the reference model itself (``--reference PATH`` to a h3-Open-BDEC/pyg_botan
               checkout; not part of glassdyn), on the same graph;
  with the ratios to ours, on CPU with ``--threads`` threads (1 by default) and on CUDA if present.
On CPU every variant also runs with glibc's large-block threshold raised
(:mod:`glassdyn.nn.allocator`, ``TrainConfig(tune_allocator=True)``), rounds interleaved.

    OMP_WAIT_POLICY=PASSIVE python scripts/bench_botan.py [--reference ../pyg_botan] [--data STORE]

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


def load_configuration(args):
    from glassdyn.testing import random_ka_configuration

    if args.data:
        from glassdyn.data.store import Store

        st = Store.open(args.data)
        sp = st.state(st.temperatures[0])
        c = int(sp.completed[0])
        conf = sp.configuration(c)
        disp = sp.read("isoconfig/displacements", c) if sp.has("isoconfig/displacements") else None
        return (
            conf.positions,
            conf.types,
            conf.box,
            disp,
            f"{args.data} T={sp.temperature:g} config {c}",
        )
    if args.reference:
        files = sorted(
            glob.glob(os.path.join(args.reference, "small_data", "T0.44", "train", "*.npz"))
        )
        if files:
            z = np.load(files[0])
            box = np.full(3, (4096 / 1.2) ** (1 / 3))
            pos = z["initial_positions"]
            disp = (z["positions"] - pos[None])[:, None]  # (R, 1, N, 3)
            return pos, z["types"], box, disp, files[0]
    conf = random_ka_configuration(args.n, seed=0)
    return conf.positions, conf.types, conf.box, None, f"random_ka_configuration(N={args.n})"


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
    except Exception:
        ref_data = None
    return ref_model, ref_data


def make_steps(device, data, ref_model):
    """{variant: one training step} on ``device``; all variants see the same graph and targets."""
    from glassdyn.nn.models import ModelConfig, build_model

    data = data.to(device)
    E = data.edge_index.shape[1]
    yn = torch.randn(data.num_nodes, 1, device=device)
    ye = torch.randn(E, 1, device=device)
    p = 0.4
    torch.manual_seed(0)
    ours = build_model(ModelConfig(kind="botan", n_outputs=1)).to(device)
    opt = torch.optim.Adam(ours.parameters(), lr=1e-4)

    def ours_step(naive):
        def step():
            opt.zero_grad(set_to_none=True)
            out = ours(data, naive=naive)
            loss = p * torch.mean((out["node"] - yn) ** 2) + (1 - p) * torch.mean(
                (out["edge"] - ye) ** 2
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
            opt.step()

        return step

    steps = {"ours": ours_step(False), "naive": ours_step(True)}
    if ref_model is not None:
        from torch_geometric.data import Data

        ref = ref_model.Model().to(device)
        ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-4)
        rdata = Data(
            x=data.types.float()[:, None], edge_index=data.edge_index, edge_attr=data.edge_attr
        ).to(device)

        def ref_step():
            ref_opt.zero_grad()
            node, edge = ref(rdata)
            loss = p * torch.nn.functional.mse_loss(node, yn) + (
                1 - p
            ) * torch.nn.functional.mse_loss(edge, ye)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
            ref_opt.step()

        steps["pyg_botan"] = ref_step
    return steps


def bench_device(device, data, ref_model, args):
    """Median step time per (allocator mode, variant), variants interleaved round by round so
    that load changes on a shared machine hit all of them alike."""
    from glassdyn.nn import allocator

    steps = make_steps(device, data, ref_model)
    modes = (
        ["default", "tuned"]
        if device.type == "cpu" and allocator.restore_default()
        else ["default"]
    )
    times = {(m, v): [] for m in modes for v in steps}
    mem = {}
    for rep in range(args.repeats + 1):  # round 0 is the warm-up
        for mode in modes:
            if device.type == "cpu":
                allocator.tune_for_large_graphs() if mode == "tuned" else allocator.restore_default()
            for name, step in steps.items():
                if device.type == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                t = time.perf_counter()
                step()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                    mem[name] = torch.cuda.max_memory_allocated() / 2**30
                if rep > 0:
                    times[(mode, name)].append(time.perf_counter() - t)
    allocator.restore_default()
    return {k: statistics.median(v) for k, v in times.items()}, mem


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
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from glassdyn.data.graph import edge_targets, node_propensity, radius_graph
    from torch_geometric.data import Data

    pos, types, box, disp, source = load_configuration(args)
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

    data = Data(
        types=torch.as_tensor(np.asarray(types), dtype=torch.long),
        edge_index=torch.from_numpy(ei),
        edge_attr=torch.from_numpy(vec.astype(np.float32)),
        num_nodes=len(types),
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
        res, mem = bench_device(device, data, ref_model, args)
        print(
            f"train step on {label}, torch {torch.__version__}, median of {args.repeats} interleaved rounds:"
        )
        base = res[("default", "ours")]
        for (mode, name), t in res.items():
            alloc = f" [{mode} allocator]" if device.type == "cpu" else ""
            extra = f"  peak {mem[name]:.2f} GiB" if name in mem else ""
            print(f"  {name:<10}{alloc:<22} {t:8.4f} s  {t / base:5.2f}x ours-default{extra}")
        if ("default", "pyg_botan") in res:
            ref = res[("default", "pyg_botan")]
            print(
                f"  speed-up over pyg_botan as shipped: {ref / base:.2f}x (same allocator)", end=""
            )
            if ("tuned", "ours") in res:
                print(
                    f", {ref / res[('tuned', 'ours')]:.2f}x with glassdyn's allocator setting",
                    end="",
                )
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
