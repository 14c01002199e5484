# Two commands for a newcomer: `make run` and `make test`. Everything else here serves those two.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test bench load install dev-install models chromium axe lint lock test-sqlite test-postgresql

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Dependencies come from the hashed lock files in requirements/ (made by `make lock`), then the package
# itself without dependencies. Reinstall only when the lock or pyproject.toml changes. `pip check` fails
# when pyproject.toml asks for something the lock does not give (run `make lock`).
$(VENV)/.installed: requirements/run.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements/run.txt
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip check
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip check
	touch $(VENV)/.installed $@

install: $(VENV)/.installed models

dev-install: $(VENV)/.installed-dev models

# The lock files, one per combination we install, each with every file's SHA-256:
#   requirements/base.txt  the app alone (an EDIT_BACKEND=openai deployment)
#   requirements/run.txt   + the `local` extra (the offline engine): `make run`, the Dockerfile
#   requirements/dev.txt   + local + dev: `make test`, `make lint`, `make bench`
# One resolution for Python 3.11 and newer on every platform. uv keeps the versions already in the files
# unless pyproject.toml needs others; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest.
# run and base are constrained by dev, so a package has the same version in all three;
# requirements/constraints.in holds back what must not move (each line says why).
UV_VERSION := 0.13.8
LOCK_FLAGS ?=
COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" -c requirements/constraints.in $(LOCK_FLAGS)

$(VENV)/.uv-$(UV_VERSION): | $(BIN)/python
	$(BIN)/pip install -q uv==$(UV_VERSION)
	touch $@

lock: $(VENV)/.uv-$(UV_VERSION)
	$(COMPILE) --extra local --extra dev -o requirements/dev.txt
	$(COMPILE) --extra local -c requirements/dev.txt -o requirements/run.txt
	$(COMPILE) -c requirements/dev.txt -o requirements/base.txt

# The offline engine's person-segmentation model, fetched from PyPI and checked by its SHA-256.
models: $(BIN)/python
	$(BIN)/python -m app.backends.local.models

run: install
	$(BIN)/python -m app migrate
	$(BIN)/python -m app serve

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# axe-core for the accessibility browser tests (tests/web/test_accessibility.py): the npm package's
# axe.min.js, fetched with `npm pack` from the registry and checked by its SHA-256 before it is unpacked.
AXE_VERSION := 4.14.1
AXE_SHA256 := e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
AXE_DIR := $(VENV)/axe-core
$(AXE_DIR)/axe.min.js: | $(BIN)/python
	mkdir -p $(AXE_DIR)
	cd $(AXE_DIR) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null
	echo "$(AXE_SHA256)  $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz" | sha256sum -c --quiet
	tar -xzf $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz -C $(AXE_DIR) --strip-components=1 package/axe.min.js
	rm $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz

axe: $(AXE_DIR)/axe.min.js

test: dev-install chromium axe
	$(MAKE) test-sqlite
	$(MAKE) test-postgresql

test-sqlite:
	TEST_DATABASE=sqlite $(BIN)/python -m pytest -q

# The same suite on PostgreSQL; tests that never touch a database (marked nodb) ran once above.
test-postgresql:
	TEST_DATABASE=postgresql $(BIN)/python -m pytest -q -m "not nodb"

bench: dev-install
	$(BIN)/python -m bench

# N people submitting and polling for a while, against the embedded default and then compose.yaml's topology
# as processes (bench/load.py; the second needs PostgreSQL on 127.0.0.1:5432 and redis-server installed).
LOAD_PEOPLE ?= 8
LOAD_SECONDS ?= 30
load: dev-install
	$(BIN)/python -m bench.load --people $(LOAD_PEOPLE) --seconds $(LOAD_SECONDS)

lint: dev-install
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy app
