"""Floor 1: the data model (imports numpy, zarr, vesin; never torch or LAMMPS).

- :mod:`~glassdyn.data.keys`: every store path with its shape and meaning, said once;
  :mod:`~glassdyn.data.store`: the Zarr store (:class:`~glassdyn.data.store.Store`,
  :class:`~glassdyn.data.store.StatePoint`); :mod:`~glassdyn.data.records`: particle types and
  one stored configuration; :mod:`~glassdyn.data.errors`: the errors a user sees;
- :mod:`~glassdyn.data.box`, :mod:`~glassdyn.data.neighbors`, :mod:`~glassdyn.data.graph`:
  periodic boxes, neighbour lists, graphs and edge targets;
- structure files: :mod:`~glassdyn.data.frame`, :mod:`~glassdyn.data.formats`,
  :mod:`~glassdyn.data.lammps_io`, :mod:`~glassdyn.data.extxyz`; imports and exports:
  :mod:`~glassdyn.data.importers`, :mod:`~glassdyn.data.npz_datasets`, :mod:`~glassdyn.data.export`;
  trajectories: :mod:`~glassdyn.data.trajectory` (and its two readers);
- runs of both trainers: :mod:`~glassdyn.data.runs` (files, checkpoint keys),
  :mod:`~glassdyn.data.run_engine` (the run engine), :mod:`~glassdyn.data.splits` (splits and data
  fingerprints), :mod:`~glassdyn.data.lock` (one writer); :mod:`~glassdyn.data.settings`
  (configuration fields with their help); :mod:`~glassdyn.data.predictions`.

Each name has one import path: import it from its module.
"""
