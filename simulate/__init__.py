"""Floor 2: the Kob-Andersen model and LAMMPS protocols (imports glassdyn.data only)."""
