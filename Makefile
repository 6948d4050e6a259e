# Quick start: `make demo` and `make test`. Both create or reuse .venv and install the project
# with its pinned dependencies (no root needed).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast install bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=77" wheel
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ghostfpga demo

# the whole suite on every core (pytest-xdist; builds are cached per design and locked), the
# 15 slowest tests listed at the end
test: $(STAMP)
	$(PY) -m pytest -n auto --durations=15

# pure Python and block tests: no co-simulation, proof, system top or netlist (under 2 minutes)
test-fast: $(STAMP)
	$(PY) -m pytest -n auto -m "not (verilator or icarus or formal or system or gatelevel or slow)"

bench: $(STAMP)
	$(PY) benchmarks/accuracy.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
