#!/bin/bash
# Self-training with and without the reward-model filter on one demo run, measured on 1,000 held-out
# problems (docs/embedded-default.md, self-training):
#   scripts/selftrain_filter.sh runs/seed1 1 [thresholds...]    (default thresholds: 0.5 0.7 0.8)
# Writes OUT=runs/selftrain_filter_S/{mc,rm<T>}/ and eval.json (Δ vs the policy with paired 95% intervals).
set -euo pipefail
RUN=${1:?demo output folder}; S=${2:?seed of that demo}; shift 2
THRESHOLDS=${*:-0.5 0.7 0.8}
H=${HIERO:-.venv/bin/hiero}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
ST=$RUN/stages
newest() { ls -td "$@" | head -n 1; }  # a rerun with other settings leaves older stage folders
POL=$(newest "$ST"/policy-*/model); TREES=$(newest "$ST"/annotate-*)/trees.jsonl; PRM=$(newest "$ST"/rm_train-*/prm)
OUT=runs/selftrain_filter_$S; mkdir -p "$OUT"
"$H" data synth --max-value 30 --n 1000 --seed $((S + 303)) --split test --out "$OUT/problems.jsonl" > /dev/null
common=(--policy "$POL" --trees "$TREES" --select node --lr 5e-5 --epochs 1 --batch-size 16 --seed "$S"
        --eval-problems "$OUT/problems.jsonl")
"$H" selftrain "${common[@]}" -o "$OUT/mc" > "$OUT/mc.log"
models="base=$POL,mc=$OUT/mc"
for t in $THRESHOLDS; do
  "$H" selftrain "${common[@]}" --rm "$PRM" --rm-threshold "$t" -o "$OUT/rm$t" > "$OUT/rm$t.log"
  models="$models,rm$t=$OUT/rm$t"
done
"$H" po eval --models "$models" --problems "$OUT/problems.jsonl" --device cpu --out "$OUT/eval.json" > /dev/null
python3 - "$OUT/eval.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"base {100 * d['accuracy']['base']:.1f}%")
for k, v in d["vs_first"].items():
    lo, hi = v["ci95"]
    print(f"{k}: {100 * v['delta']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points")
PY
