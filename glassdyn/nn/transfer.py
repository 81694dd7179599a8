"""Start a network from weights of another input layout (transfer learning).

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

import torch

from glassdyn.data.errors import InputError

# first layers whose input may grow by trailing columns
WIDENABLE = ("node_encoder.fc1.weight", "edge_encoder.fc1.weight", "node_decoder.fc1.weight")
# ModelConfig fields that may differ between the source and the model: more inputs, the skip, a
# coarse-grained readout (the node decoder reads [x, C x, ...]: new columns start at zero) and
# separate decoders (a shared decoder's state_dict also lists it as ``edge_decoder``)
GROWABLE = ("node_dim", "edge_dim", "node_vec_dim", "skip", "readout_hops", "shared_decoder")
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
