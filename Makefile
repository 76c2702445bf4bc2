# Quick start: `make run` (the pipeline on a generated sample, locally) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export SPARKIFY_HOME ?= $(CURDIR)/.sparkify
SAMPLE := $(SPARKIFY_HOME)/sample

.PHONY: install run test lint unit integration bench down clean

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

test: lint
	$(BIN)/pytest

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
