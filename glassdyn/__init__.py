"""glassdyn: glassy dynamics from simulation to mobility prediction.

Stages live in subpackages (``glassdyn.data``, ``glassdyn.simulate``, ``glassdyn.analysis``,
``glassdyn.gen``, ``glassdyn.nn``, ``glassdyn.predict``); this module stays light so that ``import glassdyn.data``
never pulls torch or LAMMPS.
"""

__version__ = "0.1.0"
