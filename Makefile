# The project's interface: `make demo` runs the whole pipeline on the demo province,
# `make test` runs the test suite. Both create the virtual environment on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export ZHENGAI_HOME ?= $(CURDIR)/var
DEMO_SCHOOLS ?= 47
DEMO_YEARS ?= 2022-2024
DEMO_SEED ?= 2026
# the demo's data end with collection year 2024: judge staleness as of that year's collection
DEMO_AS_OF ?= 2024-12-01

.PHONY: install demo test bench lock clean

install: $(VENV)/.installed

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.installed: requirements.lock pyproject.toml | $(UV)
	test -x $(BIN)/python || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(UV) pip install --quiet --compile-bytecode --no-deps --python $(BIN)/python -e .
	touch $@

demo: install
	$(BIN)/zhengai synth --out "$(ZHENGAI_HOME)/inbox" --schools $(DEMO_SCHOOLS) --years $(DEMO_YEARS) --seed $(DEMO_SEED) --defects --layouts mixed
	$(BIN)/zhengai run --as-of $(DEMO_AS_OF) --keep-as-of
	$(BIN)/zhengai where
	$(BIN)/zhengai demo-check --manifest "$(ZHENGAI_HOME)/inbox/manifest.json"

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/run_all.py

lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 --generate-hashes --extra test --no-header pyproject.toml -o requirements.lock

clean:
	rm -rf "$(ZHENGAI_HOME)"
