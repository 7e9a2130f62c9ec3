# The project's interface: `make demo` runs the whole pipeline on the demo province,
# `make test` lints and runs the test suite, `make fmt` formats. All create the virtual
# environment on first use.
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

.PHONY: install demo test lint fmt ui suites bench lock clean

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

# `make test TEST_LINT=` runs the tests without linting first
TEST_LINT ?= lint
# the suite runs on three processes, one test file (or group of files) each at a time (module fixtures built once); `TEST_WORKERS=0` runs it
# in one. Three on a 2-CPU machine: two kept both CPUs busy only ~75% of the time (pipeline runs wait on files, browsers, dagster dev),
# and three finished 875 tests in 6 min 40 s against 8 min 20 s with two
TEST_WORKERS ?= 3
# files as groups, slowest first (tests/conftest.py); the tests' scratch homes on tmpfs where the machine has one
# (a nightly run commits its DuckDB and Dagster SQLite files hundreds of times: scratch data need no disk flush)
TEST_TMP ?= $(firstword $(wildcard /dev/shm) $(or $(TMPDIR),/tmp))
test: install $(TEST_LINT)
	scratch=$$(mktemp -d "$(TEST_TMP)/zhengai-tests.XXXXXX") && trap 'rm -rf "$$scratch"' EXIT && \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --basetemp "$$scratch/pytest"

# ruff (Python) and sqlfluff (sql/, DuckDB): configured in pyproject.toml and .sqlfluff
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql

# sqlfluff's fix leaves long lines (LT05) to a hand wrap: its own wrapping breaks the hanging
# indents the SQL files use. The command line replaces .sqlfluff's exclude_rules, so repeat them.
SQLFLUFF_NO_FIX = $(shell sed -n 's/^exclude_rules *= *//p' .sqlfluff | tr -d ' '),LT05
fmt: install
	$(BIN)/ruff check --fix --exit-zero --silent .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix --exclude-rules $(SQLFLUFF_NO_FIX) sql

# the Dagster UI on http://127.0.0.1:3000, its instance under $(ZHENGAI_HOME)/dagster
ui: install
	$(BIN)/zhengai ui

# rewrite expectations/*.json from the platform catalog and expectations/refinements.json
suites: install
	$(BIN)/python -m pipelines.quality.suites

bench: install
	$(BIN)/python benchmarks/run_all.py

lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 --generate-hashes --extra test --extra dev --no-header pyproject.toml -o requirements.lock

clean:
	rm -rf "$(ZHENGAI_HOME)"
