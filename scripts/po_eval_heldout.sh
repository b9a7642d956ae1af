#!/bin/bash
# The demo's base / DPO / HiPO (and self-trained) policies on 1,000 held-out problems
# (docs/embedded-default.md, HiPO vs DPO vs base):
#   scripts/po_eval_heldout.sh runs/seed1 1
# Writes runs/po_eval_heldout_S/{problems.jsonl,eval.json,solutions.jsonl}; prints Δ vs base with paired 95% intervals.
set -euo pipefail
RUN=${1:?demo output folder}; S=${2:?seed of that demo}
H=${HIERO:-.venv/bin/hiero}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
ST=$RUN/stages
newest() { ls -td "$@" | head -n 1; }  # a rerun with other settings leaves older stage folders
POL=$(newest "$ST"/policy-*/model); PO=$(newest "$ST"/po-*); SELF=$(newest "$ST"/selftrain-*/model)
OUT=runs/po_eval_heldout_$S; mkdir -p "$OUT"
"$H" data synth --max-value 30 --n 1000 --seed $((S + 303)) --split test --out "$OUT/problems.jsonl" > /dev/null
"$H" po eval --models "base=$POL,dpo=$PO/dpo,hipo=$PO/hipo,selftrain=$SELF" --problems "$OUT/problems.jsonl" \
    --device cpu --out "$OUT/eval.json" --solutions-out "$OUT/solutions.jsonl" > /dev/null
python3 - "$OUT/eval.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
seg = d["segments"]
print(f"base {100 * d['accuracy']['base']:.1f}%  right steps {seg['base']['step_accuracy']:.3f}"
      f"  first error {seg['base']['mean_first_error']:.2f}")
for k, v in d["vs_first"].items():
    lo, hi = v["ci95"]
    print(f"{k}: {100 * v['delta']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points  right steps "
          f"{seg[k]['step_accuracy']:.3f}  first error {seg[k]['mean_first_error']:.2f}")
PY
