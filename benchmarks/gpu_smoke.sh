#!/usr/bin/env bash
# GPU smoke test (not in CI): vLLM backend, hf backend on CUDA, RM training in bf16 -> PASS / FAIL / SKIP
# per part (benchmarks/gpu_smoke.py says what each checks). <= 5 minutes on one GPU; on a machine
# without CUDA (or without vllm) those parts print SKIP and the model-folder part still runs.
#   bash benchmarks/gpu_smoke.sh [--only hf rm_bf16 vllm] [--work DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout "${GPU_SMOKE_TIMEOUT:-320}" "$PY" benchmarks/gpu_smoke.py "$@"
