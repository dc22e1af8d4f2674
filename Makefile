# infogap: every target creates or updates .venv itself.
# PYTHON: the first interpreter >= 3.12 found (override with `make PYTHON=...`).
PY_CANDIDATES := python3.14 python3.13 python3.12 python3 \
	$(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3) $(wildcard /usr/local/bin/python3.1[2-9])
PYTHON ?= $(firstword $(foreach p,$(PY_CANDIDATES),$(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && echo $(p))))

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= scenarios/lemons.toml
WORKERS ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: run test bench bench-sweep lint clean check-python browser

check-python:
	@test -n "$(PYTHON)" || { echo "infogap needs Python >= 3.12; none found. Install one or run make PYTHON=/path/to/python3.12"; exit 1; }

# pip compiles a regular install's modules to bytecode; an editable install leaves
# simulator/'s to its first import, which cannot save it where PYTHONDONTWRITEBYTECODE is
# set, so every start would compile the sources again (about 0.1 s of a run): compileall.
$(STAMP): pyproject.toml | check-python
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q simulator
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/infogap run $(SCENARIO) --workers $(WORKERS)
	@echo "infogap is in $(BIN)/, not on your PATH: run  . $(BIN)/activate  (or call $(BIN)/infogap)"

# The browser tests drive Debian's Chromium; install it when missing and we may.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "note: chromium not installed; browser tests will be skipped (outside CI)"

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# JSON lines: engine per market size (core, every mechanism, 100,000 x 2,000), the shipped
# scenarios as users run them, then the engine against the plain per-agent Mesa loop, then
# the CLI's fixed costs (--help, validate, a tiny run). Sweep throughput: make bench-sweep.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_market.py
	$(BIN)/python benchmarks/bench_scenarios.py --repeat 3
	$(BIN)/python benchmarks/bench_reference.py --buyers 10000 --sellers 200 --steps 30
	$(BIN)/python benchmarks/bench_cli.py

bench-sweep: $(STAMP)
	$(BIN)/python benchmarks/bench_sweep.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) results .pytest_cache
