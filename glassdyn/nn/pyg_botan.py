"""The published BOTAN weights (h3-Open-BDEC/pyg_botan ``Model``) as a glassdyn :class:`Botan`.

pyg_botan's layout (its ``model.py``; width H = 64, 7 shared steps):

| tensor | shape | role |
| --- | --- | --- |
| ``node_encoder.fc{1,2}`` | (H, 1), (H, H) | node input: the particle type as one float (A = 0, B = 1) |
| ``edge_encoder.fc{1,2}`` | (H, 3), (H, H) | edge input: minimum-image r_j - r_i, i = edge_index[0] |
| ``network.edge_model.mlp.fc{1,2}`` | (H, 4H), (H, H) | e <- MLP([x_src, x_dst, e, e0]) |
| ``network.node_model.mlp.fc{1,2}`` | (H, 3H), (H, H) | x <- MLP([x, x0, sum of e over edges into x]) |
| ``decoder.fc{1,2,3}`` | (H, H), (H, H), (1, H) | one decoder for nodes and edges, raw LJ units |

The glassdyn graph has the same edge direction (rows (i, j), vector r_j - r_i, messages summed
at j = edge_index[1]) and the same update order, so the conversion is exact:

- node encoder: glassdyn feeds a one-hot type.  ``W x + b`` with x = type equals
  ``W' onehot + b`` for W'[:, A] = 0, W'[:, B] = W[:, 0], the same bias;
- edge update: glassdyn's :class:`~glassdyn.nn.layers.EdgeMLP` splits the first Linear over
  [x_src, x_dst, e, e0] into four blocks of H columns each (the bias goes with the last);
- targets are raw LJ lengths: the normalisation buffers stay at mean 0 / std 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from glassdyn.data.errors import InputError
from glassdyn.nn.models import Botan, ModelConfig

HIDDEN = 64
STEPS = 7


def layout(hidden: int = HIDDEN) -> dict[str, tuple[int, ...]]:
    """Every tensor of a pyg_botan ``Model`` state_dict and its shape, in the module's order."""
    H = hidden
    shapes = {}
    for prefix, n_in in (("node_encoder", 1), ("edge_encoder", 3)):
        shapes |= {f"{prefix}.fc1.weight": (H, n_in), f"{prefix}.fc1.bias": (H,)}
        shapes |= {f"{prefix}.fc2.weight": (H, H), f"{prefix}.fc2.bias": (H,)}
    shapes |= {"decoder.fc1.weight": (H, H), "decoder.fc1.bias": (H,)}
    shapes |= {"decoder.fc2.weight": (H, H), "decoder.fc2.bias": (H,)}
    shapes |= {"decoder.fc3.weight": (1, H), "decoder.fc3.bias": (1,)}
    for prefix, n_in in (("network.edge_model.mlp", 4 * H), ("network.node_model.mlp", 3 * H)):
        shapes |= {f"{prefix}.fc1.weight": (H, n_in), f"{prefix}.fc1.bias": (H,)}
        shapes |= {f"{prefix}.fc2.weight": (H, H), f"{prefix}.fc2.bias": (H,)}
    return shapes


def check_layout(state: dict, source: str = "checkpoint") -> None:
    """Raise :class:`InputError` naming the first tensor that differs from pyg_botan's layout."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(
            f"{source} is not a pyg_botan state_dict (a dict of tensors, as torch.save(model.state_dict()) writes)"
        )
    want = layout()
    for name, shape in want.items():
        if name not in state:
            raise InputError(
                f"{source} is not a pyg_botan BOTAN state_dict: it has no tensor {name!r} {shape}"
            )
        if tuple(state[name].shape) != shape:
            raise InputError(
                f"{source} is not a pyg_botan BOTAN state_dict: tensor {name!r} has shape "
                f"{tuple(state[name].shape)}, the layout (width {HIDDEN}) has {shape}"
            )
    extra = [k for k in state if k not in want]
    if extra:
        raise InputError(
            f"{source} is not a pyg_botan BOTAN state_dict: unexpected tensor {extra[0]!r}"
        )


def model_config() -> ModelConfig:
    """The glassdyn architecture of pyg_botan's model: BOTAN, one-hot types, r_ij input, K = 1."""
    return ModelConfig(
        kind="botan", n_types=2, node_dim=0, edge_dim=3, n_outputs=1, hidden=HIDDEN, steps=STEPS,
        shared_decoder=True,
    )  # fmt: skip


def convert_state(state: dict, source: str = "checkpoint") -> Botan:
    """A :class:`Botan` computing exactly pyg_botan's function with the weights ``state``."""
    check_layout(state, source)
    s = {k: v.detach().to(torch.float32).cpu() for k, v in state.items()}
    H = HIDDEN
    model = Botan(model_config())
    w_node = s["node_encoder.fc1.weight"]  # (H, 1): acts on the type as a float
    ours = {
        "node_encoder.fc1.weight": torch.cat([torch.zeros_like(w_node), w_node], dim=1),
        "node_encoder.fc1.bias": s["node_encoder.fc1.bias"],
    }
    for name in ("node_encoder.fc2", "edge_encoder.fc1", "edge_encoder.fc2"):
        ours |= {f"{name}.weight": s[f"{name}.weight"], f"{name}.bias": s[f"{name}.bias"]}
    w_src, w_dst, w_edge, w_const = s["network.edge_model.mlp.fc1.weight"].split(H, dim=1)
    ours |= {
        "edge_update.lin_src.weight": w_src,
        "edge_update.lin_dst.weight": w_dst,
        "edge_update.lin_edge.weight": w_edge,
        "edge_update.lin_const.weight": w_const,
        "edge_update.lin_const.bias": s["network.edge_model.mlp.fc1.bias"],
        "edge_update.fc2.weight": s["network.edge_model.mlp.fc2.weight"],
        "edge_update.fc2.bias": s["network.edge_model.mlp.fc2.bias"],
    }
    for layer in ("fc1", "fc2"):
        for p in ("weight", "bias"):
            ours[f"node_update.{layer}.{p}"] = s[f"network.node_model.mlp.{layer}.{p}"]
    for layer in ("fc1", "fc2", "fc3"):
        for p in ("weight", "bias"):
            ours[f"node_decoder.{layer}.{p}"] = s[f"decoder.{layer}.{p}"]
            ours[f"edge_decoder.{layer}.{p}"] = s[f"decoder.{layer}.{p}"]  # the same module
    params = dict(model.named_parameters())
    missing = set(params) - set(ours)
    if missing:  # a change of the glassdyn model this mapping does not know
        raise RuntimeError(f"pyg_botan conversion does not fill {sorted(missing)}")
    with torch.no_grad():
        for name, value in ours.items():
            target = model.get_parameter(name)
            if target.shape != value.shape:
                raise RuntimeError(
                    f"pyg_botan conversion: {name} {tuple(value.shape)} vs {tuple(target.shape)}"
                )
            target.copy_(value)
    return model.eval()


def load_state_dict(path: str | os.PathLike) -> dict:
    """The state_dict in a ``.pth`` file written by pyg_botan (``torch.save(model.state_dict())``)."""
    p = Path(path)
    if not p.exists():
        raise InputError(
            f"no file at {p}: pass a pyg_botan weights file such as initial_model/model1.pth"
        )
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's message runs to several lines of advice that does not apply
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        why = first.split(". ")[0][:120]
        raise InputError(
            f"{p} is not a readable torch state_dict ({type(exc).__name__}: {why}); pass a "
            "pyg_botan weights file such as initial_model/model1.pth"
        ) from None
    if isinstance(state, dict) and "format" in state:
        raise InputError(
            f"{p} is a glassdyn checkpoint, not pyg_botan weights; use it with --init directly"
        )
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise InputError(
            f"{p} holds a {type(state).__name__}, not a state_dict of tensors; pass a pyg_botan "
            "weights file such as initial_model/model1.pth"
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise InputError(
            f"{p}: tensor {bad[0]!r} holds NaN or inf ({len(bad)} of {len(state)} tensors): these "
            "weights cannot predict; pass an intact copy of the file"
        )
    return state
