# The two commands of the Quick start: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install serve test lint typecheck pytest schema bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

serve: install
	$(BIN)/python -m app serve

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

schema: install
	$(BIN)/python -m app export-schema

bench: install
	$(BIN)/python bench/reject.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
