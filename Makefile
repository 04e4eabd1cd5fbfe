# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit browser-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,server,eval,spark,aws,azure]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nhiwatch demo --out demo-out

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here). It is installed
# with apt-get as root or through sudo under CI; elsewhere the browser tests are skipped with a note, never a
# silent root install.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] || [ "$${CI:-}" = true ]; then \
	    echo "installing Debian's chromium with apt-get: the browser tests drive it headless"; \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; \
	  else \
	    echo "note: chromium is not installed, so the browser tests will be skipped;"; \
	    echo "      'sudo apt-get install chromium' (or 'sudo make browser-deps') adds them. CI installs it."; \
	  fi; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) browser-deps
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest_bench.py

clean:
	rm -rf $(VENV) demo-out bench-out nhiwatch.duckdb
