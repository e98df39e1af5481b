# Two commands for a fresh machine:  make serve   |   make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARTEFACTS ?= ../shared/artefacts
DATA_DIR ?= data

.PHONY: install artefacts serve test test-slow lint bench

$(BIN)/gateway: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/gateway

# Installs the pinned validation artefacts once (verifies every sha256); ARTEFACTS may be a
# folder, a zip or an http(s) URL of a zip.
artefacts: install
	@test -f $${GATEWAY_DATA_DIR:-$(DATA_DIR)}/artefacts/installed.json || \
	  GATEWAY_DATA_DIR=$${GATEWAY_DATA_DIR:-$(DATA_DIR)} $(BIN)/gateway artefacts install --from $(ARTEFACTS)

# Runs the gateway with its embedded SQLite default on http://127.0.0.1:8080
serve: artefacts
	GATEWAY_DATA_DIR=$${GATEWAY_DATA_DIR:-$(DATA_DIR)} $(BIN)/gateway serve

# The default suite (under ~12 min on 2 cores); test-slow runs the rest (kill -9 restarts,
# corpus-wide parity and rewrite comparisons). CI (.ci/run) runs both.
test: install
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench

bench: artefacts
	$(BIN)/python -m bench.validate --data-dir $${GATEWAY_DATA_DIR:-$(DATA_DIR)}
