#!/usr/bin/env bash
# Paper-scale HiPO (GPU): a 7B instruct policy trained with DPO (baseline) and HiPO on Math StackExchange
# preference pairs, then evaluated on GSM8K and MATH500 with the same prompt for every model.
#
#   POLICY=/models/Qwen2.5-7B-Instruct PREFS=/data/math_stack_exchange.jsonl bash recipes/paper_hipo_mse.sh
#
# Data: prhegde/preference-data-math-stack-exchange (question, chosen, rejected; ~19K pairs) as a local
# JSONL (PREFS; only the authors' 5-row decomposed sample sits in ../shared/data, the default for dry runs).
# Settings (REFERENCE.md §2; the authors' MetaCognition config.cfg): beta 0.2, lr 5e-6, the Rq-bias and
# Mt-bias weight rows trained one after another (--schedule sequential, 5 epochs each; Qwen gained most from
# Rq+Mt-bias), DPO baseline = HiPO with weights (0,0,0,1) for the same epochs, max length 1024,
# bf16, FSDP full sharding (recipes/accelerate/fsdp.yaml; the frozen reference's log-probs are computed once
# and cached, so only the policy is sharded). Segments: the pairs' own Rq/Mt/Ra tags when present, else
# hiero's heuristic splitter (the authors rewrote answers with GPT-4.1: `hiero po pairs --segmenter llm`).
#
# Dry run on CPU (tests/test_paper_recipes.py): POLICY=<tiny local model> LAUNCH="python -m hiero.cli"
# EPOCHS=1 MAX_STEPS=1 EVAL_LIMIT=2 ...; every command below runs unchanged.
set -euo pipefail

POLICY=${POLICY:?set POLICY to a local Hugging Face folder of a 7B instruct model (nothing is downloaded)}
HIERO=${HIERO:-hiero}
PY=${PY:-python}                                        # reads the trained HiPO folder from its summary
NUM_PROCESSES=${NUM_PROCESSES:-8}
ACCEL_CONFIG=${ACCEL_CONFIG:-recipes/accelerate/fsdp.yaml}
LAUNCH=${LAUNCH:-accelerate launch --config_file $ACCEL_CONFIG --num_processes $NUM_PROCESSES -m hiero.cli}
DATA=${DATA:-../shared/data}
PREFS=${PREFS:-$DATA/math_stackexchange_prefs/metacognition_prhegde_first5_decomposed.jsonl}
OUT=${OUT:-runs/paper_hipo_mse}
PRESETS=${PRESETS:-rq-bias,mt-bias}
SCHEDULE=${SCHEDULE:-sequential}
LR=${LR:-5e-6}
BETA=${BETA:-0.2}
EPOCHS=${EPOCHS:-5}                                     # per weight row
DPO_EPOCHS=${DPO_EPOCHS:-$EPOCHS}                       # the baseline (one row)
MAX_STEPS=${MAX_STEPS:--1}
BATCH=${BATCH:-1}
GRAD_ACCUM=${GRAD_ACCUM:-16}
MAX_LENGTH=${MAX_LENGTH:-1024}
PRECISION=${PRECISION:-bf16}
CHAT_TEMPLATE=${CHAT_TEMPLATE:-true}                    # instruct models: render with their chat template
EVAL_LIMIT=${EVAL_LIMIT:-0}                             # problems per benchmark (0 = all)
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-1024}
SEED=${SEED:-0}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

for f in "$POLICY/config.json" "$PREFS" "$DATA/gsm8k/test.jsonl" "$DATA/math500/test.jsonl"; do
  [ -e "$f" ] || { echo "paper_hipo_mse: $f not found" >&2; exit 2; }
done
mkdir -p "$OUT"
set -x
$HIERO po pairs --prefs "$PREFS" --seed "$SEED" -o "$OUT/pairs.jsonl"
common=(--model "$POLICY" --pairs "$OUT/pairs.jsonl" --lr "$LR" --beta "$BETA" --max-steps "$MAX_STEPS" --batch-size "$BATCH" --grad-accum "$GRAD_ACCUM" --max-length "$MAX_LENGTH"
        --mixed-precision "$PRECISION" --chat-template "$CHAT_TEMPLATE" --ref-cache-dir "$OUT/ref_cache"
        --seed "$SEED")
$LAUNCH po train --loss dpo --epochs "$DPO_EPOCHS" "${common[@]}" -o "$OUT/dpo"
$LAUNCH po train --loss hipo --weight-preset "$PRESETS" --schedule "$SCHEDULE" --epochs "$EPOCHS" "${common[@]}" -o "$OUT/hipo"
HIPO_DIR=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["model_dir"])' "$OUT/hipo/summary.json")  # the last weight row
$HIERO data convert --format gsm8k "$DATA/gsm8k/test.jsonl" -o "$OUT/gsm8k_test.jsonl"
$HIERO data convert --format math500 "$DATA/math500/test.jsonl" -o "$OUT/math500_test.jsonl"
for bench in gsm8k math500; do
  $HIERO po eval --models "base=$POLICY,dpo=$OUT/dpo,hipo=$HIPO_DIR" --problems "$OUT/${bench}_test.jsonl" \
    --limit "$EVAL_LIMIT" --max-new-tokens "$MAX_NEW_TOKENS" -o "$OUT/eval_$bench.json"
done
