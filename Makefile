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

.PHONY: install setup test test-all
install: $(BIN)/glassdyn

setup: install
	OMP_WAIT_POLICY=PASSIVE $(BIN)/glassdyn demo --out out/demo

test: install
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -m "not slow" -q

test-all: install
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q
