# The two commands of the README's quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## Create the virtual environment, load the sample workspace into SQLite, show today.
demo: $(STAMP)
	$(BIN)/unghost demo

## Install what the tests need (Debian packages too), lint, type-check, run every test.
test: $(STAMP) lint
	scripts/install-test-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src

## Benchmarks print their figures; they are not part of `make test`.
bench: $(STAMP)
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/import_workspace.py
	$(BIN)/python bench/replies.py
	$(BIN)/python bench/web_today.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
