# schoolplan — two commands for a fresh machine with Python 3.11:
#   make demo   set up .venv and run the main job on the bundled demo county
#   make test   set up .venv and run the linter and the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= demo_output

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/schoolplan demo --out $(OUT)

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts

test: lint
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/bench_network.py
	$(BIN)/python benchmarks/bench_optimize.py
	$(BIN)/python benchmarks/bench_forecast.py
	{ printf '# Benchmark results\n\nMade by `make bench` from the three engine benchmarks below.\n\n'; \
	  for f in network optimize forecast; do sed 's/^#/##/' benchmarks/RESULTS_$$f.md; printf '\n'; done; } \
	  > benchmarks/RESULTS.md

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
