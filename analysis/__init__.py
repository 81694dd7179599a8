"""Floor 2: dynamic heterogeneity and structure (imports glassdyn.data only).

Kernels (pure functions, shapes in their docstrings) and compute objects (parameters in
``__init__``, ``compute(...)`` returns self and accumulates over chunks, results as properties):

- ``dynamics``: ``self_overlap``, ``self_scattering``, ``relaxation_time``, ``susceptibility``;
  ``SelfDynamics`` (Q, Fs, MSD, alpha2, chi4, chi4_iso, tau_alpha per species)
- ``fourpoint``: ``s4``, ``s4_bruteforce``; ``FourPoint`` (S4(q, t) for all times at once)
- ``ornstein_zernike``: ``fit_ornstein_zernike`` -> ``OZFit`` (chi4_OZ, xi4 with errors)
- ``structure``: ``partial_rdf``, ``partial_structure_factor``; ``RadialDistribution``, ``StructureFactor``
- ``wavevectors``: ``wave_vectors`` (shells of the periodic box), ``fourier_phases``
- ``heterogeneity``: ``DynamicHeterogeneity``, ``analyze_state`` (store), ``field_four_point``,
  ``compare_predictions`` (true propensity vs predicted mobility)
- ``plots``: the figures of ``glassdyn analyze`` (matplotlib, Agg)

Submodules are imported on use; this package import stays light.
"""
