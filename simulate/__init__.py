"""Floor 2: the Kob-Andersen model and LAMMPS protocols (imports glassdyn.data only).

- :mod:`~glassdyn.simulate.ka`: KA parameters, numpy / torch energies (independent of LAMMPS)
- :mod:`~glassdyn.simulate.engine`: loading LAMMPS (mpich preloaded)
- :mod:`~glassdyn.simulate.protocols`: the deck, melt + NVT equilibration, FIRE inherent
  structures, isoconfigurational replicas, long trajectories, energy/temperature traces
- :mod:`~glassdyn.simulate.presets`: named dataset settings (``tiny``, ``small``, ``botan``, ``ci``)
- :mod:`~glassdyn.simulate.runner`: resumable, reproducible generation on dask.distributed
- :mod:`~glassdyn.simulate.testing`: helpers to compare stores bitwise, real LAMMPS dumps for tests

tau_alpha is measured by the analysis stage (``glassdyn.analysis.dynamics``): one definition.
"""
