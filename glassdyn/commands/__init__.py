"""One module per ``glassdyn`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args)``.

Modules import only argparse at top level; heavy imports (torch, LAMMPS) happen inside ``run``.
"""
