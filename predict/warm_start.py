"""Starting weights of a graph network: another run's weights (``--init``, transfer between input
layouts) and the ridge-started linear skip.

**Transfer.**  Start a network from weights of another input layout (transfer learning).

A BOTAN checkpoint trained on thermal-structure vectors and particle types (e.g. pyg_botan's
published edge-pretrained weights) can start a model that sees *more* inputs: descriptors or
TS -> IS displacements as extra node inputs, inherent-structure pair vectors as extra edge
inputs.  The extra inputs enter only through the first Linear of the node and edge encoders, as
extra columns after the old ones (node input: one-hot type, then node_attr, then node_vec; edge
input: thermal vector, then inherent vector); a coarse-grained readout likewise only adds columns
to the node decoder's first Linear ([x, C x, C^2 x, ...]).  :func:`transfer_state` copies every tensor of the
same shape and, for those two first layers, the old columns, with the new columns set to zero, so
the new model computes exactly the old function until training moves the new weights.  Tensors
the source lacks (T-BOTAN's global feature when a BOTAN starts a T-BOTAN) keep their initial
values, and the linear skip is never copied: it is the ridge fit of this run's training data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from glassdyn.data import runs
from glassdyn.data.errors import InputError
from glassdyn.predict.config import LEGACY

# first layers whose input may grow by trailing columns
WIDENABLE = ("node_encoder.fc1.weight", "edge_encoder.fc1.weight", "node_decoder.fc1.weight")
# ModelConfig fields that may differ between the source and the model: more inputs, the skip, a
# coarse-grained readout (the node decoder reads [x, C x, ...]: new columns start at zero) and
# separate decoders (a shared decoder's state_dict also lists it as ``edge_decoder``)
GROWABLE = (
    "node_dim",
    "edge_dim",
    "node_vec_dim",
    "skip",
    "readout_hops",
    "shared_decoder",
    "thermometer",  # its fit is a buffer: this run's own
)
# parameters a source may lack: the linear skip, and T-BOTAN's global feature started from BOTAN
NEW_PARTS = ("skip_", "global_update.", "temperature_decoder.")


def transfer_state(model: torch.nn.Module, state: dict, source: str = "checkpoint") -> list[str]:
    """Load the parameters of ``state`` into ``model`` (in place); returns the names widened.

    Buffers (target normalisation) are not copied.  Raises :class:`InputError` naming the first
    parameter whose shape cannot be matched, or a parameter of ``model`` that ``state`` lacks and
    that has no initial value to keep (everything except the optional skip)."""
    widened = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("skip_"):
                continue  # the linear skip is this run's ridge fit on its own training data
            if name not in state:
                if name.startswith(NEW_PARTS):
                    continue  # new parts keep their initialisation (the skip: ridge)
                raise InputError(f"{source} lacks the weights {name!r}; it is another architecture")
            src = state[name]
            if src.shape == p.shape:
                p.copy_(src)
            elif (
                name in WIDENABLE
                and src.ndim == 2
                and src.shape[0] == p.shape[0]
                and src.shape[1] < p.shape[1]
            ):
                p.zero_()
                p[:, : src.shape[1]] = src
                widened.append(name)
            else:
                raise InputError(
                    f"{source}: {name} has shape {tuple(src.shape)} there and {tuple(p.shape)} here; "
                    "only the first encoder layers may gain input columns (same --hidden, --steps, "
                    "--times and decoder setting needed)"
                )
    return widened


def init_skip(model, graphs: list) -> dict:
    """Set the linear skip to the ridge solution on the training graphs (standardised inputs,
    normalised targets; per species and time), its strength chosen by leave-one-configuration-out
    cross-validation over those graphs (:func:`glassdyn.predict.ridge_cv.fit_ridge_loo`, as the ridge
    baseline).  The skip stays fixed in training: the network learns a correction to the best
    linear model of its descriptors instead of starting from nothing; the node decoder's last
    layer starts at zero (with separate decoders), so the model starts as that linear model.
    Returns the chosen strengths per species."""
    from glassdyn.predict.ridge_cv import fit_ridge_loo

    chosen = {}
    with torch.no_grad():
        for s in range(model.config.n_types):
            groups = []
            for g in graphs:
                m = g.types == s
                z = (g.node_attr[m] - model.node_attr_mean) / model.node_attr_std
                y = (g.y[m] - model.node_mean) / model.node_std
                if int(m.sum()) > 1:
                    groups.append((z.double().numpy(), y.double().numpy()))
            if not groups:
                continue
            fit = fit_ridge_loo(groups)
            model.skip_weight[s] = torch.as_tensor(fit["weights"], dtype=torch.float32)
            model.skip_bias[s] = torch.as_tensor(fit["intercept"], dtype=torch.float32)
            chosen["AB"[s] if s < 2 else str(s)] = np.asarray(fit["alpha"]).tolist()
    model.skip_weight.requires_grad_(False)
    model.skip_bias.requires_grad_(False)
    if not (model.config.shared_decoder and model.config.edge_head):  # the start is the ridge
        with torch.no_grad():
            model.node_decoder.fc3.weight.zero_()
            model.node_decoder.fc3.bias.zero_()
    return chosen


def init_thermometer(model, graphs: list) -> dict:
    """Start T-BOTAN's temperature read-out from the energy thermometer: T = a e + b, least
    squares over the training graphs' energies per particle ``e`` and temperatures (a = 0, b =
    their mean with one temperature), fixed; the read-out's learned correction (the temperature
    decoder) starts at zero (its last layer), so at the start the read-out *is* the thermometer.
    Returns the fit."""
    e = np.array([float(g.energy) for g in graphs])
    T = np.array([float(g.temperature) for g in graphs])
    if len(set(T.tolist())) > 1 and np.ptp(e) > 0:
        a, b = np.polyfit(e, T, 1)
    else:
        a, b = 0.0, float(T.mean())
    with torch.no_grad():
        model.thermo_slope.fill_(float(a))
        model.thermo_intercept.fill_(float(b))
        model.temperature_decoder.fc3.weight.zero_()
        model.temperature_decoder.fc3.bias.zero_()
    return {"slope": float(a), "intercept": float(b), "n": len(graphs)}


def init_weights(model, source: str | os.PathLike, device=None, spec=None) -> Path:
    """Load another run's weights (``source``: run directory -> its best.pt, or a checkpoint file)
    into ``model``.  The architectures must match, except that this model may read more inputs
    (descriptors, TS -> IS vectors, IS pair vectors: :mod:`glassdyn.predict.warm_start` starts their
    weights at zero) and have a linear skip or a BOTAN -> T-BOTAN global feature the source lacks
    (kept at their initialisation).  Normalisation buffers are not copied (this run's target
    statistics stay).  ``spec``: this run's :class:`~glassdyn.nn.dataset.GraphSpec`; a source that
    read descriptors of other coarse-graining lengths is refused (its columns would not line up).
    Returns the checkpoint path used."""
    from glassdyn.predict.checkpoints import load_checkpoint

    src = Path(source)
    path = src / runs.BEST if src.is_dir() else src
    if src.is_dir() and not path.exists():
        raise InputError(
            f"--init {src}: that run has no best.pt yet; train it first (or pass a checkpoint file)"
        )
    ckpt = load_checkpoint(path, map_location=device or "cpu")
    have, want = ckpt[runs.CKPT_MODEL_CONFIG], model.config.to_dict()
    defaults = {"node_vec_dim": 0, "skip": False, "readout_hops": 0}
    diff = [
        k
        for k in want
        if k not in GROWABLE
        and have.get(k, defaults.get(k)) != want[k]
        and not (k == "kind" and (have.get(k), want[k]) == ("botan", "tbotan"))
    ]
    if diff:
        what = ", ".join(f"{k}: {have.get(k)!r} there, {want[k]!r} here" for k in diff)
        raise InputError(
            f"--init {path}: its model does not match this run's ({what}); --init needs the same "
            "architecture (--model, --hidden, --steps, --times, --readout-hops, decoder setting); "
            "extra node / edge inputs and the skip are fine"
        )
    _check_descriptor_layout(ckpt, spec, path)
    transfer_state(model, ckpt[runs.CKPT_STATE_DICT], f"--init {path}")
    return path


def _check_descriptor_layout(ckpt: dict, spec, path: Path) -> None:
    """Refuse ``--init`` from a run whose descriptor columns differ from this run's: both read
    descriptors, at other coarse-graining lengths (runs before ``cg_lengths`` used 1, 2)."""
    src = ckpt.get(runs.CKPT_TRAIN_CONFIG) or {}
    if spec is None or spec.node_features != "descriptors":
        return
    if src.get("node_features", LEGACY["node_features"]) != "descriptors":
        return
    have = tuple(float(a) for a in src.get("cg_lengths", LEGACY["cg_lengths"]))
    if have != spec.cg_lengths:
        fmt = ",".join(f"{a:g}" for a in have)
        raise InputError(
            f"--init {path}: that run read descriptors coarse-grained at lengths {fmt}, this one "
            f"at {','.join(f'{a:g}' for a in spec.cg_lengths)}; pass --cg-lengths {fmt}"
        )
