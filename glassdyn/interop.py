"""Graphs for other GNN libraries: PyTorch Geometric ``Data`` <-> DGL ``DGLGraph``.

glassdyn trains on PyTorch Geometric graphs.  ``to_dgl`` hands the same graph (edges, node and
edge features, node and edge targets, masks) to DGL code; ``from_dgl`` goes back.

DGL is an optional extra (``pip install glassdyn[dgl]``) and is imported only when these
functions run.  Its PyPI wheels stop at 2.1.0, which loads only with torch <= 2.2.1 and
numpy < 2 and has no CUDA (libdgl.so is CPU-only), so it cannot share an environment with
glassdyn's own torch (>= 2.4) and a DGL model cannot train on a GPU from PyPI wheels.  Use it in a
separate environment, e.g. ``pip install torch==2.2.1 "numpy<2" dgl torch_geometric zarr`` and
then ``pip install --no-deps glassdyn``.
"""

from __future__ import annotations

from glassdyn.data.errors import GlassdynError
from glassdyn.nn import keys as nk

DGL_HINT = (
    "DGL is an optional extra: `pip install glassdyn[dgl]`. Its PyPI wheels (dgl <= 2.1.0) need "
    "torch <= 2.2.1 and numpy < 2 (CPU only), so install it in a separate environment: "
    "`pip install torch==2.2.1 'numpy<2' dgl torch_geometric zarr` then `pip install --no-deps glassdyn`"
)


class DGLUnavailable(GlassdynError, ImportError):
    """DGL is not installed or does not load with this torch."""


def _dgl():
    try:
        import dgl
    except ImportError as exc:
        raise DGLUnavailable(f"{DGL_HINT} (import dgl failed: {exc})") from None
    except Exception as exc:  # noqa: BLE001 -- an installed DGL that does not load with this torch raises anything
        raise DGLUnavailable(
            f"DGL is installed but does not load ({type(exc).__name__}: {exc}). {DGL_HINT}"
        ) from None
    return dgl


def _kind(data, key: str, value, n_nodes: int, n_edges: int) -> str | None:
    """'node', 'edge' or None (graph-level / other) for one tensor attribute."""
    if value.dim() == 0:
        return None
    first = value.size(0)
    is_node, is_edge = first == n_nodes, first == n_edges
    if is_node and is_edge:  # same count: ask PyG (it goes by name, e.g. "edge_attr", "y_edge")
        try:
            return "edge" if data.is_edge_attr(key) else "node"
        except AttributeError:
            return "edge" if "edge" in key else "node"
    return "node" if is_node else "edge" if is_edge else None


def to_dgl(data):
    """A ``dgl.DGLGraph`` with the edges of a PyG ``Data`` (source ``edge_index[0]``, destination
    ``edge_index[1]``, same edge order) and every tensor attribute whose first dimension is the
    number of nodes in ``g.ndata`` (``x``, ``pos``, ``y``, ``mask``, ...) or of edges in
    ``g.edata`` (``edge_attr``, ``y_edge``, ``mask_edge``, ...), under the same names.

    Graph-level attributes (e.g. a temperature target of shape (1,)) have no place in a
    DGLGraph and are left out.  A PyG ``Batch`` becomes a batched DGL graph.
    """
    dgl = _dgl()
    import torch

    if hasattr(data, "to_data_list") and getattr(data, "num_graphs", None):
        return dgl.batch([to_dgl(d) for d in data.to_data_list()])
    if getattr(data, nk.EDGE_INDEX, None) is None:
        raise GlassdynError("to_dgl: the graph has no edge_index")
    n_nodes, n_edges = int(data.num_nodes), int(data.edge_index.size(1))
    src, dst = data.edge_index
    g = dgl.graph((src, dst), num_nodes=n_nodes)
    for key, value in data.items():
        if key == nk.EDGE_INDEX or not torch.is_tensor(value):
            continue
        kind = _kind(data, key, value, n_nodes, n_edges)
        if kind == "node":
            g.ndata[key] = value
        elif kind == "edge":
            g.edata[key] = value
    return g


def from_dgl(g):
    """A PyG ``Data`` from a (homogeneous) DGLGraph: ``edge_index`` from ``g.edges()`` in edge-id
    order, ``g.ndata`` / ``g.edata`` as attributes, ``num_nodes`` set."""
    _dgl()
    import torch
    from torch_geometric.data import Data

    src, dst = g.edges(order="eid")
    data = Data(edge_index=torch.stack([src, dst]).long(), num_nodes=g.num_nodes())
    for key, value in g.ndata.items():
        data[key] = value
    for key, value in g.edata.items():
        if key in data:
            raise GlassdynError(f"from_dgl: {key!r} is both a node and an edge feature; rename one")
        data[key] = value
    return data
