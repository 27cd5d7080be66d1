# spendsentry — the two README commands (`make run`, `make test`) and their helpers.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint unit bench demo clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# Ingest (demo export when no data is configured) -> train -> sweep, then serve API, dashboard and scheduler.
run: $(STAMP)
	$(BIN)/spendsentry bootstrap
	$(BIN)/spendsentry serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

unit: $(STAMP)
	$(BIN)/pytest -m "not slow" -q

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var/*.db var/facts var/models .mypy_cache .pytest_cache .ruff_cache
