#!/usr/bin/env bash
# The README's Quick reference, runnable: every stage of `hiero demo` as the CLI commands a user types,
# in order, with the demo's recipe (recipes/embedded/quick.yaml; docs/embedded-default.md
# says why each one is what it is). Each command writes what a later one reads; nothing is left unused.
#
#   bash recipes/quickstart.sh                 # quick size -> runs/quickstart/ (the same work as `hiero demo`, 6-7
#                                              # minutes on 2 cores, plus each command's start-up; not timed)
#   SIZE=micro bash recipes/quickstart.sh      # a 2-minute smoke run (116 s measured; figures meaningless; tests run it)
#   OUT=elsewhere HIERO=.venv/bin/hiero bash recipes/quickstart.sh
#
# A rerun goes on where it stopped: a command whose output is complete is skipped (annotate and the
# trainers also resume inside a command); delete OUT to start over.
set -euo pipefail

HIERO=${HIERO:-hiero}
OUT=${OUT:-runs/quickstart}
SIZE=${SIZE:-quick}
SHARED=${SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data}

case $SIZE in
  quick)  # recipes/embedded/quick.yaml
    DOMAIN="--max-value 30" SYNTH=max_value=30  # the domain's settings as flags / as a problem-source spec
    POLICY="--preset quick --n-layers 2 --max-steps 600" TRAIN_N=12000
    RM_BASE_STEPS=720
    TREE_PROBLEMS=600 TREES="--mode bsearch --samples 8 --rollouts 4 --depth 6 --temperature 0.7 --step-tokens 32 --batch-problems 64"
    RM="--max-steps 150 --batch-size 32 --lr 1e-2"
    HELD_OUT=100 NS=1,2,4,8,16,32,64 SEARCH_N=2,4,8,16 TOKENS="--max-new-tokens 96 --step-tokens 32"
    PB_N=200 RM_THRESHOLD=0.5 EVAL_N=200 SELFTRAIN="--epochs 1 --lr 5e-5 --batch-size 16"
    PAIR_PROBLEMS=800 PO="--epochs 3 --batch-size 16 --lr 2e-5" PO_PROBLEMS=200 ;;
  micro)  # recipes/embedded/micro.yaml: seconds per stage; its PRM ranks nothing, so its filters keep all (-inf)
    DOMAIN="--max-ops 2" SYNTH=max_ops=2
    TRAIN_N=1500 POLICY="--preset micro --max-steps 80 --hidden 64 --n-layers 2 --heads 2 --lr 3e-3 --batch-size 32 --n-test 20"
    RM_BASE_STEPS=10
    TREE_PROBLEMS=4 TREES="--mode bfs --children 4 --depth 5 --temperature 1.0 --step-tokens 16 --batch-problems 4"
    RM="--epochs 1 --batch-size 16 --lr 1e-3"
    HELD_OUT=4 NS=1,2,4 SEARCH_N=2,4 TOKENS="--max-new-tokens 24 --step-tokens 8"
    PB_N=12 RM_THRESHOLD=-inf EVAL_N=4 SELFTRAIN="--epochs 1 --lr 2e-4 --batch-size 8"
    PAIR_PROBLEMS=6 PO="--max-steps 2 --batch-size 4 --lr 5e-5" PO_PROBLEMS=4 ;;
  *) echo "SIZE=$SIZE: expected quick or micro" >&2; exit 2 ;;
esac

mkdir -p "$OUT" && cd "$OUT"
# run NAME OUTPUT CMD...: skip when OUTPUT is complete (a file: exists; a folder: hiero marked it complete)
run() {
  local name=$1 out=$2; shift 2
  if [ -f "$out" ] || { [ -d "$out" ] && grep -qs '"complete": true' "$out/hiero_run.json"; }; then
    echo "== $name: done ($out)"; return
  fi
  echo "== $name"; "$@"
}

# ---- quick reference (README.md shows these lines; tests/test_quickstart.py checks they agree) ----
# 1. problems of the built-in domain: training problems for the trees and the pairs, held-out ones to evaluate
run problems  problems.jsonl  $HIERO data synth --n $TREE_PROBLEMS --seed 101 --split train $DOMAIN -o problems.jsonl
run pair-problems pair_problems.jsonl $HIERO data synth --n $PAIR_PROBLEMS --seed 202 --split train $DOMAIN -o pair_problems.jsonl
run test-problems test_problems.jsonl $HIERO data synth --n $PO_PROBLEMS --seed 303 --split test $DOMAIN -o test_problems.jsonl
# 2. the policy (tiny SFT model), and the reward models' backbone: its SFT continued on clean solutions
run policy    policy   $HIERO policy train $POLICY --problems synth:n=$TRAIN_N,$SYNTH -o policy
run rm-base   rm_base  $HIERO policy train $POLICY --problems synth:n=$TRAIN_N,$SYNTH --init policy \
                           --max-steps $RM_BASE_STEPS \
                           --p-error 0 --p-correction 0 -o rm_base
# 3. reasoning trees with Monte-Carlo labels of every step (OmegaPRM-style binary search at quick size)
run annotate  trees.done bash -c "$HIERO annotate --policy policy --problems problems.jsonl -o trees.jsonl $TREES && touch trees.done"
# 4. reward-model rows: one row per sampled solution, a step good when some completion through it is right;
#    the HRM rows add merged pairs s_i+s_(i+1) from every tree and from its HNC-compressed copy (--hnc)
for kind in orm prm hrm; do
  run rows-$kind rows_$kind/stats.json $HIERO rm data --kind $kind --from trees trees.jsonl -o rows_$kind \
      --nodes solutions --hard-label any-correct
done
# 5. reward models: each step read at its own last token (--read step-end), scored by a calibration of the
#    backbone's log-probabilities (--head likelihood); the ORM regresses the outcome (MSE)
for kind in prm hrm; do
  run rm-$kind rm_$kind $HIERO rm train --kind $kind --data rows_$kind --base rm_base -o rm_$kind $RM \
      --loss hard_ce --label-type hard --read step-end --head likelihood --backbone-lr 1e-5 --template policy
done
run rm-orm rm_orm $HIERO rm train --kind orm --data rows_orm --base rm_base -o rm_orm $RM \
    --loss mse --label-type soft --read step-end --head likelihood --backbone-lr 1e-5 --template policy
# 6. ProcessBench protocol on built-in items and on the real GSM8K split (40 items spread over the file; one
#    longer than the tiny model's context is skipped and named by id); threshold 0.5, a probability's midpoint
run pb-prm pb_prm.json $HIERO eval processbench --rm rm_prm --data synth:n=$PB_N,seed=12,$SYNTH \
    -o pb_prm.json
if [ -f "$SHARED/processbench/gsm8k.json" ]; then
  run pb-real pb_gsm8k.json $HIERO eval processbench --rm rm_hrm --data "$SHARED/processbench/gsm8k.json" \
      --limit 40 --threshold 0.5 -o pb_gsm8k.json
fi
# 7. best-of-N curves (accuracy vs N, 95% intervals) and step-level greedy / beam search
run bon bon/results.json $HIERO eval bon --policy policy --rm prm=rm_prm --rm hrm=rm_hrm --rm orm=rm_orm \
    --n $NS --search step_greedy,beam --search-n $SEARCH_N --problems synth:n=$HELD_OUT,seed=7,$SYNTH $TOKENS -o bon
# 8. self-training on the trees' high-MC trajectories the PRM also calls right at every step (quick: 0.5,
#    its probability's decision point)
run selftrain selftrain $HIERO selftrain --policy policy --trees trees.jsonl --select node --rm rm_prm \
    --rm-threshold=$RM_THRESHOLD $SELFTRAIN --eval-problems synth:n=$EVAL_N,seed=1,$SYNTH \
    -o selftrain
# 9. preference pairs: the policy's samples picked by the PRM (a wrong greedy solution as rejected) and
#    Step-DPO pairs from the trees; then DPO and HiPO (DPOP floor on the chosen side), evaluated on one prompt
run samples solutions.jsonl $HIERO policy sample --policy policy --problems pair_problems.jsonl --n 4 \
    --temperature 0.8 --max-new-tokens 96 -o solutions.jsonl
run greedy greedy.jsonl $HIERO policy sample --policy policy --problems pair_problems.jsonl --temperature 0 \
    --max-new-tokens 96 -o greedy.jsonl
run pairs pairs.jsonl $HIERO po pairs --solutions solutions.jsonl --greedy greedy.jsonl --rm rm_prm \
    --rm-threshold=$RM_THRESHOLD --trees trees.jsonl --problems pair_problems.jsonl --segmenter heuristic -o pairs.jsonl
run dpo dpo $HIERO po train --loss dpo --model policy --pairs pairs.jsonl --dpop-lambda 50 $PO -o dpo
run hipo hipo $HIERO po train --loss hipo --weight-preset mt-bias --model policy --pairs pairs.jsonl --dpop-lambda 50 $PO \
    -o hipo
run po-eval po_eval.json $HIERO po eval --models base=policy,dpo=dpo,hipo=hipo --problems test_problems.jsonl \
    -o po_eval.json
# ---- end of the quick reference ----
echo "done: $(pwd)"
