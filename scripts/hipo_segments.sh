#!/bin/bash
# Base vs DPO vs HiPO where each of the three segments can go wrong (issue 32, item 2;
# docs/embedded-default.md, "Three segments that can each go wrong"):
#   scripts/hipo_segments.sh 0            # one policy seed; run it for 0, 1 and 2
# For policy seed S: the demo's quick policy recipe in the restate style (the givens restated, the
# equations, an answer sentence; SFT noise per segment: givens misread 0.15, a wrong equation 0.1
# per step, answer sentence wrong 0.1), 8 samples on 800 training problems, pairs that differ in one
# segment (`hiero po pairs --by-segment`), then DPO and HiPO (each weight preset) trained with the
# demo's preference settings under RUNS training seeds, all evaluated on the same 1,000 held-out
# problems with each segment checked; and DPO at 0.6x the lr (the diagnosis arm). Writes
# runs/hipo_segments/S/{eval.json,eval_lowlr.json,...}; finished steps are skipped on a rerun. Pool the
# seeds with `python scripts/hipo_segments_summary.py runs/hipo_segments 0 1 2`.
# Env: PRESETS (default: every HiPO preset), RUNS (training seeds).
set -euo pipefail
S=${1:?policy seed}
H=${HIERO:-.venv/bin/hiero}
PRESETS=${PRESETS:-rq-bias mt-bias ra-bias full-bias}
RUNS=${RUNS:-"$S 11 12"}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=runs/hipo_segments/$S; mkdir -p "$OUT/po"
DOM=(--max-value 30 --style restate)
POL=$OUT/policy
[ -f "$POL/config.json" ] || "$H" policy train --preset quick --n-layers 2 --max-steps 600 \
    --problems synth:max_value=30,style=restate \
    --p-restate 0.15 --p-answer 0.1 --p-correction 0 --seed "$S" --out "$POL" > "$OUT/policy.log" 2>&1
[ -f "$OUT/pairs_problems.jsonl" ] || "$H" data synth "${DOM[@]}" --n 800 --seed $((S + 202)) --split train \
    --out "$OUT/pairs_problems.jsonl" > /dev/null
[ -f "$OUT/solutions.jsonl" ] || "$H" policy sample --policy "$POL" --problems "$OUT/pairs_problems.jsonl" --n 8 \
    --temperature 0.8 --max-new-tokens 96 --seed "$S" --out "$OUT/solutions.jsonl" > /dev/null 2>&1
[ -f "$OUT/pairs.jsonl" ] || "$H" po pairs --solutions "$OUT/solutions.jsonl" --problems "$OUT/pairs_problems.jsonl" \
    --by-segment true --max-per-problem 3 --seed "$S" --out "$OUT/pairs.jsonl" > "$OUT/pairs.json"
[ -f "$OUT/problems.jsonl" ] || "$H" data synth "${DOM[@]}" --n 1000 --seed $((S + 303)) --split test \
    --out "$OUT/problems.jsonl" > /dev/null
MODELS="base=$POL"
for T in $RUNS; do
  for L in dpo $PRESETS; do
    D=$OUT/po/$L-$T
    if [ "$L" = dpo ]; then LOSS=(--loss dpo); else LOSS=(--loss hipo --weight-preset "$L"); fi
    [ -f "$D/config.json" ] || "$H" po train --model "$POL" --pairs "$OUT/pairs.jsonl" --out "$D" --seed "$T" \
        "${LOSS[@]}" --epochs 3 --batch-size 16 --lr 2e-5 --dpop-lambda 50 --segmenter heuristic \
        --ref-cache-dir "$OUT/ref_cache" > "$D.log" 2>&1
    MODELS="$MODELS,$L-$T=$D"
  done
done
[ -f "$OUT/eval.json" ] || "$H" po eval --models "$MODELS" --problems "$OUT/problems.jsonl" --device cpu \
    --out "$OUT/eval.json" --solutions-out "$OUT/eval_solutions.jsonl" > /dev/null 2>&1
# the diagnosis arm: DPO at 0.6x the lr (the step mt-bias takes on the reasoning tokens of a pair that
# differs in reasoning only, where the clarification term's gradient is exactly 0)
MODELS="base=$POL"
for T in $RUNS; do
  D=$OUT/po/dpolr-$T
  [ -f "$D/config.json" ] || "$H" po train --model "$POL" --pairs "$OUT/pairs.jsonl" --out "$D" --seed "$T" \
      --loss dpo --epochs 3 --batch-size 16 --lr 1.2e-5 --dpop-lambda 50 --segmenter heuristic \
      --ref-cache-dir "$OUT/ref_cache" > "$D.log" 2>&1
  MODELS="$MODELS,dpolr-$T=$D"
done
[ -f "$OUT/eval_lowlr.json" ] || "$H" po eval --models "$MODELS" --problems "$OUT/problems.jsonl" --device cpu \
    --out "$OUT/eval_lowlr.json" --solutions-out "$OUT/eval_lowlr_solutions.jsonl" > /dev/null 2>&1
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
d = json.load(open(f"{out}/eval.json"))
pairs = json.load(open(f"{out}/pairs.json"))
print(f"pairs {pairs['pairs']} by segment {pairs['by_source'].get('by_segment')}")
seg = d["segments"]
def row(k):
    s = seg[k]
    b = s["by_segment"]
    return (f"givens {100 * b['clarification']:.1f}  reasoning {100 * b['reasoning']:.1f}  "
            f"equations {100 * s['equation_accuracy']:.1f}  answer sentence {100 * b['answer']:.1f}")
print(f"base {100 * d['accuracy']['base']:.1f}%  {row('base')}")
for k, v in d["vs_first"].items():
    lo, hi = v["ci95"]
    print(f"{k}: {100 * v['delta']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]  {row(k)}")
PY
