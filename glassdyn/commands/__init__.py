"""One module per ``glassdyn`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args)``.

Modules import only argparse (and :mod:`glassdyn.commands.options`, the one parser of list options
such as ``--temperatures 0.8,0.64``) at top level; heavy imports (torch, LAMMPS) happen inside ``run``.
"""
