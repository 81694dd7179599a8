"""Floor 4: the predictor stage: training, evaluating and applying mobility predictors.

- :mod:`~glassdyn.predict.config`: the settings of a training job (``glassdyn train``);
- :mod:`~glassdyn.predict.training`: plan a run (inputs, split, fingerprint) and train it
  (``glassdyn train``); :mod:`~glassdyn.predict.gnn`: the graph networks' plug-in of the run engine
  (:mod:`glassdyn.data.run_engine`: model, batches, loss, validation, BOTAN's two phases);
  :mod:`~glassdyn.predict.distributed`: several processes (torch DDP);
- :mod:`~glassdyn.predict.checkpoints`: what a training checkpoint holds, its earlier formats, loading;
- :mod:`~glassdyn.predict.warm_start`: starting weights (another run's, across input layouts; the
  ridge-started skip);
- :mod:`~glassdyn.predict.baselines`, :mod:`~glassdyn.predict.ridge_cv`,
  :mod:`~glassdyn.predict.mlp`: the ridge and MLP baselines on coarse-grained descriptors;
- :mod:`~glassdyn.predict.metrics`: the formulas of prediction accuracy;
  :mod:`~glassdyn.predict.evaluation`: the workflow that applies them (``glassdyn evaluate``,
  ``glassdyn predict``);
- :mod:`~glassdyn.predict.convert`: published weights as a run directory (``glassdyn convert``).

The models themselves (BOTAN, T-BOTAN, Bapst; graph samples, descriptors) are :mod:`glassdyn.nn`.
Nothing heavy is imported here.
"""
