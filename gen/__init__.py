"""Floor 3: generative samplers of KA configurations (imports data, simulate, analysis).

Modules:

* :mod:`~glassdyn.gen.reference_frame` - the reference-particle frame that makes log q exactly invariant
  to common periodic shifts (read its docstring for the design choice);
* :mod:`~glassdyn.gen.network` - the permutation-equivariant particle transformer (species
  embeddings, Fourier features, distance-biased attention) and the local pair network;
* :mod:`~glassdyn.gen.coupling` - coupling flow with circular rational-quadratic splines
  (normflows) on the torus, splits x|yz, y|xz, z|xy;
* :mod:`~glassdyn.gen.cnf` - continuous temperature transport (learned pair field, exact
  divergence; many-body fields exact or Hutchinson), trained on the reverse KL, optionally with
  the likelihood and conditional flow matching on the torus (:mod:`~glassdyn.gen.losses`);
* :mod:`~glassdyn.gen.diffusion` - score-based diffusion on the torus (target score matching,
  capped-KA-force physics term; reverse-SDE or probability-flow-ODE sampling);
* :mod:`~glassdyn.gen.training` - fit / resume on the split of :mod:`glassdyn.data.splits`
  (``glassdyn gen fit``): the samplers' plug-in of the run engine :mod:`glassdyn.data.run_engine`
  (model, batches, loss, validation); :mod:`~glassdyn.gen.config` - its settings;
  :mod:`~glassdyn.gen.dataset` - the training data; :mod:`~glassdyn.gen.losses` - the losses per
  model; :mod:`~glassdyn.gen.checkpoints` - what a run's files hold, earlier formats, loading;
* :mod:`~glassdyn.gen.sampling` - samples, Boltzmann importance weights, Kish ESS,
  independence Metropolis-Hastings;
* :mod:`~glassdyn.gen.metrics` - the formulas of sample quality against held-out MD and the
  uniform / perturbed-lattice baselines; :mod:`~glassdyn.gen.evaluation` - the workflow of
  ``glassdyn gen evaluate`` (as :mod:`glassdyn.predict.metrics` and :mod:`glassdyn.predict.evaluation` are for
  the mobility predictors);
* :mod:`~glassdyn.gen.options` - the network options of a fit, the model builder and the sampler
  options;
* :mod:`~glassdyn.gen.fire` - FIRE minimisation in torch, and one pinned minimiser (LAMMPS or
  torch FIRE) per evaluation for inherent structures of samples;
* :mod:`~glassdyn.gen.writers` - samples to a store or extended XYZ (``glassdyn gen sample``).

Nothing heavy is imported here.
"""
