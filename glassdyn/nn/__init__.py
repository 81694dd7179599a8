"""Floor 4, below the predictor stage: the graph networks and their inputs (models only).

- :mod:`glassdyn.nn.dataset`: graph samples from a store (inputs TS / IS / TS+IS, targets, masks,
  cube-symmetry augmentation, cache); :mod:`glassdyn.nn.keys`: their fields, said once;
- :mod:`glassdyn.nn.models`: BOTAN, T-BOTAN, the Bapst et al. GNN (:func:`build_model`);
- :mod:`glassdyn.nn.layers`: MLPs and the split-first-layer edge update;
- :mod:`glassdyn.nn.fused`: their CPU hot path (message-passing step, edge MLPs) with
  hand-written backward passes; :mod:`glassdyn.nn.allocator`: glibc settings for large graphs;
- :mod:`glassdyn.nn.losses`: BOTAN loss, temperature loss, dynamic-heterogeneity penalty;
- :mod:`glassdyn.nn.descriptors`, :mod:`glassdyn.nn.local_structure`: the coarse-grained
  descriptors (node inputs, and the inputs of the ridge / MLP baselines);
- :mod:`glassdyn.nn.pyg_botan`: the published BOTAN weights' layout.

Training, checkpoints, the baselines, evaluation and prediction are the predictor stage,
:mod:`glassdyn.predict`.  Imports are lazy here so that ``import glassdyn.nn`` does not load torch.
"""
