"""Floor 2: the Kob-Andersen model and LAMMPS protocols (imports glassdyn.data only).

- :mod:`~glassdyn.simulate.ka`: KA parameters, numpy / torch energies (independent of LAMMPS)
- :mod:`~glassdyn.simulate.engine`: loading LAMMPS (mpich preloaded)
- :mod:`~glassdyn.simulate.protocols`: the deck, melt + NVT equilibration, FIRE inherent
  structures, isoconfigurational replicas, energy/temperature traces
- :mod:`~glassdyn.simulate.presets`: named dataset settings (``tiny``, ``small``, ``botan``, ``ci``)
- :mod:`~glassdyn.simulate.runner`: resumable, reproducible generation on dask.distributed
- :mod:`~glassdyn.simulate.relaxation`: Fs_A(k, t) and tau_alpha from stored displacements
- :mod:`~glassdyn.simulate.testing`: helpers to compare stores bitwise
"""
