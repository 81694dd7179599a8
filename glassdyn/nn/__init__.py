"""Floor 4: graph datasets, the BOTAN family and baselines.

- :mod:`glassdyn.nn.dataset`: graph samples from a store (inputs TS / IS / TS+IS, targets, masks,
  cube-symmetry augmentation, cache);
- :mod:`glassdyn.nn.models`: BOTAN, T-BOTAN, the Bapst et al. GNN (:func:`build_model`);
- :mod:`glassdyn.nn.layers`: MLPs and the split-first-layer edge update;
- :mod:`glassdyn.nn.fused`: their CPU hot path (message-passing step, edge MLPs) with
  hand-written backward passes;
- :mod:`glassdyn.nn.losses`: BOTAN loss, temperature loss, dynamic-heterogeneity penalty;
- :mod:`glassdyn.nn.descriptors`, :mod:`glassdyn.nn.baselines`, :mod:`glassdyn.nn.ridge_cv`: the
  coarse-grained descriptors and the ridge / MLP baselines on them;
- :mod:`glassdyn.nn.checkpoint`: checkpoints (state_dict + config + versions).

Training, evaluation and prediction: :mod:`glassdyn.training`, :mod:`glassdyn.evaluation`.
Imports are lazy here so that ``import glassdyn.nn`` does not load torch.
"""
