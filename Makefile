# One-command set-up + run. Both targets create/refresh .venv; torch comes first so that the
# CPU build on this disk (or the one you already have) is used instead of a multi-GB CUDA download.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup setup-run demo test test-all bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

TORCH := $(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install torch==2.13.0

# setup-run: what the demo needs (hiero, and pyarrow for the real-data summary); setup: also the test tools
setup-run: $(BIN)/python
	@$(TORCH)
	$(BIN)/pip install -q -e ".[data]"

setup: $(BIN)/python
	@$(TORCH)
	$(BIN)/pip install -q -e ".[dev]"

demo: setup-run
	$(BIN)/hiero demo --out runs/demo

test: setup
	$(BIN)/python -m pytest -q -m "not slow"

test-all: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run_all.py

lint: setup
	$(BIN)/ruff check hiero tests benchmarks

clean:
	rm -rf runs .pytest_cache
