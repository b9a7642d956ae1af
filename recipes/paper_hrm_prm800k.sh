#!/usr/bin/env bash
# Paper-scale HRM on PRM800K (GPU): Qwen2.5-Math-1.5B as a per-step PRM and HRM on the phase-1 human labels,
# the official code's hyper-parameters, DeepSpeed ZeRO-2 through Accelerate.
#
#   MODEL=/models/Qwen2.5-Math-1.5B bash recipes/paper_hrm_prm800k.sh
#   NUM_PROCESSES=4 MODEL=... bash recipes/paper_hrm_prm800k.sh        # the paper's HRM ran on 4 GPUs
#
# Official settings (tengwang0318/hierarchial_reward_model, sft_rw_manual_annotation/sft_rw.py; REFERENCE.md §1):
# sequence classification with 2 classes on the human labels (CE, score = P(good)), the official per-step
# prompt (one sequence per step), lr 1e-5, max_grad_norm 0.01, per-device batch 5 x gradient accumulation 32,
# 40 epochs (human labels; MC labels: 20, batch 5 x 16), evaluation every 20 steps, best checkpoint by eval
# loss, fp16 (bf16 here: Ampere and newer), DeepSpeed ZeRO-2, inputs up to 4096 tokens. hiero pads per
# batch instead of to 4096, and drops (counts) the rare rows over MAX_LENGTH instead of cutting their
# current step. Then: ProcessBench (4 splits, threshold tuned on gsm8k) and PRM800K phase-1 test step AUROC.
#
# Dry run on CPU (tests/test_paper_recipes.py): MODEL=<tiny local model> LAUNCH="python -m hiero.cli"
# EPOCHS=... MAX_STEPS=2 TRAIN_QUESTIONS=2 ... with small data in DATA; every command below runs unchanged.
set -euo pipefail

MODEL=${MODEL:?set MODEL to a local Hugging Face folder of Qwen2.5-Math-1.5B (nothing is downloaded)}
HIERO=${HIERO:-hiero}                                   # data preparation and evaluation commands
NUM_PROCESSES=${NUM_PROCESSES:-8}
ACCEL_CONFIG=${ACCEL_CONFIG:-recipes/accelerate/deepspeed_zero2.yaml}
LAUNCH=${LAUNCH:-accelerate launch --config_file $ACCEL_CONFIG --num_processes $NUM_PROCESSES -m hiero.cli}
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/paper_hrm_prm800k}
KINDS=${KINDS:-prm hrm}
SCORING=${SCORING:-per-step}                            # official; `marker` scores a solution in one pass
LR=${LR:-1e-5}
CLIP=${CLIP:-0.01}
BATCH=${BATCH:-5}
GRAD_ACCUM=${GRAD_ACCUM:-32}
EPOCHS=${EPOCHS:-40}
MAX_STEPS=${MAX_STEPS:--1}
EVAL_EVERY=${EVAL_EVERY:-20}
EVAL_BATCH=${EVAL_BATCH:-64}
MAX_LENGTH=${MAX_LENGTH:-4096}
PRECISION=${PRECISION:-bf16}
WARMUP=${WARMUP:-0.01}                                  # the official 10 warm-up steps of ~1,000
TRAIN_QUESTIONS=${TRAIN_QUESTIONS:-0}                   # 0 = all (dry runs use a few)
PB_LIMIT=${PB_LIMIT:-0}                                 # 0 = all 3,400 ProcessBench items
TEST_ROWS=${TEST_ROWS:-0}                               # 0 = all PRM800K test candidates
SCORE_BATCH=${SCORE_BATCH:-32}
SEED=${SEED:-0}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

TRAIN_FILE=$DATA/prm800k/phase1_train_plus.stepwise-critic.jsonl.gz
TEST_FILE=$DATA/prm800k/phase1_test.jsonl
PB_DIR=$DATA/processbench
for f in "$MODEL/config.json" "$TRAIN_FILE" "$TEST_FILE" "$PB_DIR/gsm8k.json"; do
  [ -e "$f" ] || { echo "paper_hrm_prm800k: $f not found" >&2; exit 2; }
done
mkdir -p "$OUT"
set -x
$HIERO rm data --from prm800k --kind prm --eval-fraction 0 --skip-give-up false "$TEST_FILE" -o "$OUT/rows_test"
for kind in $KINDS; do
  $HIERO rm data --from prm800k --kind "$kind" --seed "$SEED" "$TRAIN_FILE" -o "$OUT/rows_$kind"
  data="$OUT/rows_$kind"
  if [ "$TRAIN_QUESTIONS" -gt 0 ]; then
    data="$OUT/data_$kind"
    $HIERO data sample "$OUT/rows_$kind/train.jsonl" --groups "$TRAIN_QUESTIONS" --seed "$SEED" -o "$data/train.jsonl"
    $HIERO data sample "$OUT/rows_$kind/eval.jsonl" --groups "$TRAIN_QUESTIONS" --seed "$SEED" -o "$data/eval.jsonl"
  fi
  $LAUNCH rm train --kind "$kind" --data "$data" --base "$MODEL" -o "$OUT/rm_$kind" --read "$SCORING" \
    --loss hard_ce --label-type hard --lr "$LR" --max-grad-norm "$CLIP" --batch-size "$BATCH" \
    --grad-accum "$GRAD_ACCUM" --epochs "$EPOCHS" --max-steps "$MAX_STEPS" --eval-every "$EVAL_EVERY" \
    --eval-batch-size "$EVAL_BATCH" --max-length "$MAX_LENGTH" --mixed-precision "$PRECISION" \
    --warmup-ratio "$WARMUP" --save-every "$EVAL_EVERY" --seed "$SEED"
  $HIERO eval processbench --rm "$OUT/rm_$kind" --data "$PB_DIR" --limit "$PB_LIMIT" --limit-mode spread \
    --batch "$SCORE_BATCH" -o "$OUT/eval_$kind/processbench.json"
  $HIERO eval steps --rm "$OUT/rm_$kind" --rows "$OUT/rows_test/train.jsonl" --limit "$TEST_ROWS" \
    --batch "$SCORE_BATCH" --seed "$SEED" -o "$OUT/eval_$kind/prm800k_test.json"
done
