# Quick start: `make run` (the pipeline on a generated sample, locally) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export SPARKIFY_HOME ?= $(CURDIR)/.sparkify
SAMPLE := $(SPARKIFY_HOME)/sample
# Each checkout's tests keep their temporary folders apart. pytest keeps the last three sessions'
# folders of a user and deletes older ones, even those of a session still running in another
# checkout: its PostgreSQL lost its data folder mid-test (seen with two worktrees at once).
export PYTEST_DEBUG_TEMPROOT ?= /tmp/sparkify-pytest-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)
PYTEST := mkdir -p $(PYTEST_DEBUG_TEMPROOT) && $(BIN)/pytest

.PHONY: install run test lint typecheck unit integration bench down clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[local,dev]"
	touch $@

run: install
	$(BIN)/sparkify generate $(SAMPLE) --events 20000 --songs 2000 --seed 42
	$(BIN)/sparkify load $(SAMPLE)
	$(BIN)/sparkify report
	$(BIN)/sparkify status

test: lint typecheck
	$(PYTEST)

# The fast tier: no services, no slow tests (seconds).
unit: install
	$(PYTEST) tests/unit -m "not slow"

# Everything that starts the real local stack: integration, reliability and CLI tests.
integration: install
	$(PYTEST) tests/integration tests/reliability tests/e2e

# Each function's app.py is its own top-level module "app", so they are checked one at a time.
typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy functions/stage/app.py
	$(BIN)/mypy functions/merge/app.py
	$(BIN)/mypy functions/reconcile/app.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

bench: install
	$(BIN)/sparkify bench

down: install
	$(BIN)/sparkify down

clean: down
	rm -rf $(SPARKIFY_HOME)
