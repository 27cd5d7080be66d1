# spendsentry — the two README commands (`make run`, `make test`) and their helpers.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | md5sum | cut -c1-12)
# Dev stamp (`make test`, `make lint`): the package with its dev extras. Run stamp (`make run`): the
# package alone; a venv that already has the dev extras has everything `run` needs, so it counts too.
STAMP := $(VENV)/.installed-$(HASH)
RUN_STAMP := $(VENV)/.run-installed-$(HASH)
# pip's and setuptools' chatter goes to a log; the terminal gets one line per step (the log on failure).
LOG := $(VENV)/install.log
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint unit bench demo clean

# $(1): what the step does (plain text, no quotes or commas); $(2): the command. POSIX sh (make's shell).
define install_step
	@echo '$(1)'
	@$(2) >>$(LOG) 2>&1 || { tail -n 40 $(LOG); echo 'failed: $(1) (full log: $(LOG))'; exit 1; }
endef

$(VENV)/bin/python:
	@echo "creating $(VENV)"
	@$(PY) -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	@: > $(LOG)
	$(call install_step,upgrading pip,$(PIP) install -q --upgrade pip)
	$(call install_step,installing spendsentry with the dev extras (tests and lint),$(PIP) install -q -e '.[dev]')
	@rm -f $(VENV)/.installed-* $(VENV)/.run-installed-*
	@touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	@if [ -f $(STAMP) ]; then touch $(RUN_STAMP); else \
	  : > $(LOG); \
	  echo "upgrading pip"; \
	  $(PIP) install -q --upgrade pip >>$(LOG) 2>&1 || { tail -n 40 $(LOG); echo "failed (log: $(LOG))"; exit 1; }; \
	  echo "installing spendsentry (what running needs; \`make test\` adds the dev extras)"; \
	  $(PIP) install -q -e . >>$(LOG) 2>&1 || { tail -n 40 $(LOG); echo "failed (log: $(LOG))"; exit 1; }; \
	  rm -f $(VENV)/.run-installed-*; touch $(RUN_STAMP); fi

# Ingest (demo export when no data is configured) -> train -> sweep, then serve API, dashboard and scheduler.
run: $(RUN_STAMP)
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
