"""Reward-model training rows (ORM / PRM / HRM) from reasoning trees, PRM800K or Math-Shepherd.

    hiero rm data --kind orm|prm|hrm --from trees|prm800k|math-shepherd IN [IN ...] -o OUT_DIR
                  [--merge-label second|min|product|mc] [--neutral drop|positive|negative]
                  [--label-steps last|all] [--hard-threshold 0.5] [--eval-fraction 0.2] [--seed 0]
    python: main(RowsConfig(inputs=[...], out_dir=..., kind="hrm", source="trees")) -> summary dict

Writes OUT_DIR/train.jsonl, OUT_DIR/eval.jsonl (split by question: no question in both) and
OUT_DIR/stats.json, each atomically, only after every row was built.

Row schema (TRL "stepwise supervision" plus our fields; `hiero.types.RewardRow` checks it, and
`read_jsonl(path, RewardRow)` names file:line:field on a bad row). All lists are aligned with `completions`:
    prompt        str          the question (no template: the trainer formats it)
    completions   list[str]    the steps; the last one is the step the row is about
    labels        list[bool]   hard label per step (trees: soft >= --hard-threshold)
    soft_labels   list[float]  in [0, 1]: MC score (trees) or 1.0 / 0.0 (PRM800K, ORM)
    counts        list[[n_correct, n_total] | null]   MC counts where known
    merged        list[bool]   the step is a merged step s_i ⊕ s_{i+1} (joiner: hnc.MERGE_JOINER),
                               from a merged-pair row or from an HNC-compressed tree
    label_mask    list[bool]   which steps carry a training label (at least one); an entry with
                               mask False is context only (its labels entry is a filler)
    kind          "orm" | "prm" | "hrm"     source  "trees" | "prm800k" | "math-shepherd"     question_id  str
    meta          dict         provenance: row_type ("step" | "merged_pair" | "solution"), node /
                               depth / tree ("original" | "hnc") or step / rating
TRL's PRMTrainer reads prompt / completions / labels and ignores the rest; with the default
`--label-steps last` pass it `train_on_last_step_only=True` so it trains the same labels.

Rules (the HRM paper, arXiv 2503.13551, read against the official code):
- Tree PRM rows: group non-root nodes by (depth, MC score). A depth with several scores: sample
  max(smallest bucket, int(10% of the bucket)) nodes from every bucket (label balance); a depth with
  one score: min(5, bucket) nodes. Row = (question, path steps); the node's MC score labels the
  last step. Duplicate rows (same question, steps, labelled values) are kept once, like the
  official `set()` of prompts.
- HRM rows from trees = PRM rows ∪ one merged-pair row per sampled node with >= 2 steps (its last
  two steps merged, label by --merge-label), sampled from the tree AND from an HNC copy of it
  (`--hnc`, the official `rows(T) ∪ rows(split_node(T))`; a tree already compressed by
  `hiero augment hnc` is used as it is). Merge labels: second (official) = the later step's; mc =
  MC score of the merged node, whose subtree is the later node's, so equal to second on trees (not
  defined on PRM800K); min / product of the two soft labels (counts then unknown).
- ORM rows: every finished solution (root -> leaf that states an answer) once, labelled by the
  leaf's correctness on the last step only. PRM800K ORM rows follow the official phase-1 builder:
  the chosen trajectory and its last step's +1 alternatives are correct; the trailing run of
  steps with -1 candidates, replaced by them (product, stopped at 4x the correct count) is wrong.
- PRM800K (raw file, or `hiero data convert --format prm800k` Solution JSONL, or the stepwise
  mirror): for every rated candidate at position i: (chosen steps[:i], candidate), label +1 -> 1,
  -1 -> 0, 0 -> --neutral (drop: no row, as in the official code); unrated candidates give no row.
  HRM adds (chosen steps[:i-1], chosen step[i-1] ⊕ candidate) for i >= 1 with the merge rule.
  Step rows from `hiero data convert --emit rows` are rebuilt into those solutions first.
- Math-Shepherd (raw `ки` file, its `data convert --format math-shepherd` Solution JSONL, or any
  Solution JSONL with per-step `labels`, rows_labelled.py): one row per labelled step i,
  (steps[:i+1]) with its +/- label; HRM adds (steps[:i-1], s_{i-1} ⊕ s_i) for i >= 1 with the
  merge rule as for PRM800K (min / product: AND of the hard labels); ORM: each finished solution
  once, labelled by its last step's label (Math-Shepherd's outcome).

Departures and choices (default = paper intent; official behaviour as an option where it matters):
- --label-steps last (default) labels only the row's current step, as the official prompt-per-step
  rows do; `all` also labels the prefix steps with their own known labels (ancestor MC scores,
  chosen-step ratings); prefixes are shared across rows, so `all` weights shallow steps more.
- Hard labels from MC scores: the official tree rows only carry the soft score (MSE); here
  labels = soft >= 0.5 by default (--hard-threshold).
- Split: official trees split 80/20 by file order, PRM800K by a shuffle; here a seeded shuffle of
  question ids for both, --eval-fraction 0.2 (the official ratio). The official eval split also
  leaves merged-pair rows out of the HNC tree's rows; here train and eval rows are built alike.
- Official PRM800K code skips give_up / bad_problem lines (--skip-give-up, default on) and never uses
  human-written steps as candidates (--human-steps adds them, label 1); phase-1 filter strings
  ("# Step 1") of the official tree rows do not apply to our step lists.
- Descendants of HNC-merged nodes: see hnc.py (their prefix contains the merged step here).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from hiero.augment.hnc import check_params, hnc, merge_steps, merged_node_ids, tree_seed
from hiero.cache import derive_seed
from hiero.data.io import DataError, read_jsonl, write_json, write_jsonl
from hiero.reward.row_labels import UNKNOWN, StepLabel, make_row, merged_label  # noqa: F401  (re-exported)
from hiero.types import Node, Solution, Tree

log = logging.getLogger(__name__)



# ----------------------------------------------------------------------------- trees
def sample_nodes(
    tree: Tree, rng: random.Random, bucket_fraction: float = 0.1, single_max: int = 5
) -> list[int]:
    """The official (depth, MC score)-bucket sampling; returns node ids (root never included)."""
    buckets: dict[int, dict[float, list[int]]] = {}
    for node in tree.nodes[1:]:
        buckets.setdefault(node.depth, {}).setdefault(node.mc_score, []).append(node.id)
    out: list[int] = []
    for depth in sorted(buckets):
        by_score = buckets[depth]
        if len(by_score) > 1:
            smallest = min(len(ids) for ids in by_score.values())
            for score in sorted(by_score):
                ids = by_score[score]
                out += rng.sample(ids, max(smallest, int(len(ids) * bucket_fraction)))
        else:
            (ids,) = by_score.values()
            out += rng.sample(ids, min(single_max, len(ids)))
    return out


def _tree_label(node: Node, cfg: RowsConfig) -> StepLabel:
    """Soft label = MC score; hard label = MC >= --hard-threshold, or (any-correct) n_correct > 0."""
    s = node.mc_score
    hard = node.n_correct > 0 if cfg.hard_label == "any-correct" else s >= cfg.hard_threshold
    return StepLabel(s, hard, [node.n_correct, node.n_total])


def _merge_threshold(cfg: RowsConfig) -> float | None:
    """How merged_label derives a hard label from min / product: threshold, or AND (any-correct)."""
    return None if cfg.hard_label == "any-correct" else cfg.hard_threshold


def tree_step_rows(
    tree: Tree, node_ids: list[int], cfg: RowsConfig, *, pairs: bool, variant: str
) -> list[dict]:
    """PRM rows for the given nodes, plus (pairs=True) their merged-pair rows."""
    q, qid, merged_ids = tree.problem.question, tree.problem.id, merged_node_ids(tree)
    rows = []
    for nid in node_ids:
        path = tree.path(nid)
        steps = [n.step for n in path]
        labels = [_tree_label(n, cfg) for n in path]
        merged = [n.id in merged_ids for n in path]
        meta = {"row_type": "step", "node": nid, "depth": path[-1].depth, "tree": variant}
        rows.append(make_row(question=q, question_id=qid, steps=steps, labels=labels, merged=merged,
                             kind=cfg.kind, source="trees", label_steps=cfg.label_steps, meta=meta))
        if pairs and len(path) >= 2:
            lab = merged_label(cfg.merge_label, labels[-2], labels[-1], _merge_threshold(cfg))
            rows.append(make_row(question=q, question_id=qid,
                                 steps=steps[:-2] + [merge_steps(steps[-2], steps[-1])],
                                 labels=labels[:-2] + [lab], merged=merged[:-2] + [True], kind=cfg.kind,
                                 source="trees", label_steps=cfg.label_steps,
                                 meta={**meta, "row_type": "merged_pair"}))
    return rows


def solution_leaves(tree: Tree) -> list[int]:
    """The tree's sampled solutions (`meta["solutions"]`, bsearch trees), else every leaf."""
    leaves = tree.meta.get("solutions")
    return list(leaves) if isinstance(leaves, list) else [n.id for n in tree.leaves()]


def tree_solution_rows(tree: Tree, cfg: RowsConfig, *, pairs: bool, variant: str) -> list[dict]:
    """`--nodes solutions`: one row per sampled solution with every step labelled, each node once.

    A node shared by several solutions is labelled on the first of them and is context elsewhere,
    so no step counts twice. With pairs (HRM), two more rows per solution merge its consecutive
    steps in pairs, (s1⊕s2, s3⊕s4, ..) and (s1, s2⊕s3, ..): every consecutive pair is merged once,
    its label from --merge-label; only the merged steps carry labels there.
    """
    q, qid, merged_ids = tree.problem.question, tree.problem.id, merged_node_ids(tree)
    seen: set = set()
    rows = []
    for leaf in solution_leaves(tree):
        path = tree.path(leaf)
        steps = [n.step for n in path]
        merged = [n.id in merged_ids for n in path]
        labels = [UNKNOWN if n.id in seen else _tree_label(n, cfg) for n in path]
        seen.update(n.id for n in path)
        meta = {"row_type": "path", "node": leaf, "depth": path[-1].depth, "tree": variant}
        if any(lab.known for lab in labels):
            rows.append(make_row(question=q, question_id=qid, steps=steps, labels=labels, merged=merged,
                                 kind=cfg.kind, source="trees", label_steps="all", meta=meta))
        if not pairs or len(path) < 2:
            continue
        full = [_tree_label(n, cfg) for n in path]
        for offset in (0, 1):
            m_steps, m_labels, m_merged = steps[:offset], [UNKNOWN] * offset, merged[:offset]
            i = offset
            while i < len(path):
                if i + 1 < len(path) and (path[i].id, path[i + 1].id) not in seen:
                    seen.add((path[i].id, path[i + 1].id))
                    m_steps.append(merge_steps(steps[i], steps[i + 1]))
                    m_labels.append(
                        merged_label(cfg.merge_label, full[i], full[i + 1], _merge_threshold(cfg))
                    )
                    m_merged.append(True)
                    i += 2
                else:
                    m_steps.append(steps[i])
                    m_labels.append(UNKNOWN)
                    m_merged.append(merged[i])
                    i += 1
            if any(m and lab.known for m, lab in zip(m_merged, m_labels)):
                rows.append(make_row(question=q, question_id=qid, steps=m_steps, labels=m_labels,
                                     merged=m_merged, kind=cfg.kind, source="trees", label_steps="all",
                                     meta={**meta, "row_type": "merged_pair", "offset": offset}))
    return rows


def tree_orm_rows(tree: Tree, cfg: RowsConfig, counts: dict) -> list[dict]:
    """One row per finished solution (a leaf stating an answer), labelled by its correctness."""
    merged_ids = merged_node_ids(tree)
    rows = []
    for leaf in tree.leaves():
        if leaf.answer is None:  # unfinished (depth / token limit): not a solution an ORM is asked about
            counts["orm_unfinished_skipped"] = counts.get("orm_unfinished_skipped", 0) + 1
            continue
        path = tree.path(leaf.id)
        ok = leaf.correct is True
        lab = StepLabel(float(ok), ok, None)
        rows.append(make_row(question=tree.problem.question, question_id=tree.problem.id,
                             steps=[n.step for n in path], labels=[lab] * len(path),
                             merged=[n.id in merged_ids for n in path], kind="orm", source="trees",
                             meta={"row_type": "solution", "node": leaf.id, "depth": leaf.depth}))
    return rows


def rows_from_tree(tree: Tree, cfg: RowsConfig, counts: dict) -> list[dict]:
    if cfg.kind == "orm":
        return tree_orm_rows(tree, cfg, counts)
    pairs = cfg.kind == "hrm"
    compressed = "hnc" in tree.meta
    rng = random.Random(derive_seed(cfg.seed, "rows", tree.problem.id, "hnc" if compressed else "original"))
    variant = "hnc" if compressed else "original"
    if cfg.nodes == "solutions":
        rows = tree_solution_rows(tree, cfg, pairs=pairs, variant=variant)
        if pairs and cfg.hnc and not compressed:
            h = hnc(tree, cfg.hnc_p, cfg.hnc_min_children, cfg.hnc_min_depth, seed=tree_seed(cfg.seed, tree))
            counts["hnc_merges"] = counts.get("hnc_merges", 0) + len(merged_node_ids(h))
            rows += tree_solution_rows(h, cfg, pairs=True, variant="hnc")
        return rows
    rows = tree_step_rows(tree, sample_nodes(tree, rng, cfg.bucket_fraction, cfg.single_score_max), cfg,
                          pairs=pairs, variant=variant)
    if pairs and cfg.hnc and not compressed:
        h = hnc(tree, cfg.hnc_p, cfg.hnc_min_children, cfg.hnc_min_depth, seed=tree_seed(cfg.seed, tree))
        counts["hnc_merges"] = counts.get("hnc_merges", 0) + len(merged_node_ids(h))
        rng = random.Random(derive_seed(cfg.seed, "rows", tree.problem.id, "hnc"))
        rows += tree_step_rows(h, sample_nodes(h, rng, cfg.bucket_fraction, cfg.single_score_max), cfg,
                               pairs=True, variant="hnc")
    return rows


# ----------------------------------------------------------------------------- PRM800K
def load_prm800k(path: str | Path, neutral: str) -> list[Solution]:
    """PRM800K solutions with their candidates in meta["alternatives"] (`hiero data convert --format
    prm800k`):
    a raw label file, a stepwise-critic mirror, an already converted Solution JSONL, or the step
    rows of `hiero data convert --emit rows` (rebuilt into solutions, see solutions_from_step_rows)."""
    from hiero.data.sources import run_converter
    from hiero.data.sources_common import iter_records

    path = Path(path)
    if path.name.endswith(".parquet"):
        return run_converter("prm800k-stepwise", path, neutral=neutral).records
    first = next((rec for _, rec in iter_records(path)), None)
    if first is None:
        raise DataError(path, None, "no records")
    if isinstance(first, dict) and "prev_steps" in first and "step" in first:  # `--emit rows` output
        from hiero.data.sources import read_step_rows
        from hiero.data.sources_prm800k import solutions_from_step_rows

        return solutions_from_step_rows(read_step_rows(path), neutral)
    if isinstance(first, dict) and "label" in first and "question" in first:
        return run_converter("prm800k", path, neutral=neutral).records
    if isinstance(first, dict) and "instruction" in first:
        return run_converter("prm800k-stepwise", path, neutral=neutral).records
    sols = list(read_jsonl(path, Solution))
    for i, s in enumerate(sols, start=1):
        if "alternatives" not in s.meta or "ratings" not in s.meta:
            raise DataError(path, i, "field 'meta.alternatives': missing (not a PRM800K conversion; "
                                     "make one with `hiero data convert --format prm800k`)")
    return sols


def _rating_label(rating: int | None, human: bool, neutral: str) -> StepLabel:
    from hiero.data.sources_prm800k import rating_label

    lab = rating_label(rating, human, neutral)
    return UNKNOWN if lab is None else StepLabel(float(lab), bool(lab), None)


def prm800k_step_rows(sol: Solution, cfg: RowsConfig, counts: dict) -> list[dict]:
    """PRM (and HRM merged) rows of one PRM800K solution: chosen prefix + each rated candidate."""
    q, qid = sol.question or "", sol.problem_id
    chosen = [_rating_label(r, src == "human", cfg.neutral)
              for r, src in zip(sol.meta["ratings"], sol.meta["step_sources"])]
    rows = []
    for alt in sol.meta["alternatives"]:
        i = alt["step"]
        if alt["human"] and not cfg.human_steps:
            continue
        if alt["rating"] is None and not alt["human"]:
            counts["unrated_skipped"] = counts.get("unrated_skipped", 0) + 1
            continue
        lab = _rating_label(alt["rating"], alt["human"], cfg.neutral)
        if not lab.known:
            counts["neutral_dropped"] = counts.get("neutral_dropped", 0) + 1
            continue
        meta = {"row_type": "step", "step": i, "rating": alt["rating"], "human": alt["human"]}
        prefix = sol.steps[:i]
        rows.append(make_row(question=q, question_id=qid, steps=prefix + [alt["text"]],
                             labels=chosen[:i] + [lab], kind=cfg.kind, source="prm800k",
                             label_steps=cfg.label_steps, meta=meta))
        if cfg.kind == "hrm" and i >= 1:
            mlab = merged_label(cfg.merge_label, chosen[i - 1], lab, None)
            if not mlab.known:
                counts["merged_unknown_skipped"] = counts.get("merged_unknown_skipped", 0) + 1
                continue
            rows.append(make_row(question=q, question_id=qid,
                                 steps=prefix[:-1] + [merge_steps(prefix[-1], alt["text"])],
                                 labels=chosen[:i - 1] + [mlab], merged=[False] * (i - 1) + [True],
                                 kind=cfg.kind, source="prm800k", label_steps=cfg.label_steps,
                                 meta={**meta, "row_type": "merged_pair"}))
    return rows


def prm800k_orm_rows(sol: Solution, cfg: RowsConfig, counts: dict) -> list[dict]:
    """The official phase-1 ORM builder (see the module docstring) on one solution."""
    n = len(sol.steps)
    pos: dict[int, list[str]] = {}
    neg: dict[int, list[str]] = {}
    for alt in sol.meta["alternatives"]:
        if not alt["human"] and alt["rating"] in (1, -1):
            (pos if alt["rating"] == 1 else neg).setdefault(alt["step"], []).append(alt["text"])
    if n == 0 or n - 1 not in pos:  # the official builder requires a +1 candidate at the last step
        counts["orm_no_final_positive"] = counts.get("orm_no_final_positive", 0) + 1
        return []
    correct = [list(sol.steps)] + [sol.steps[:-1] + [t] for t in pos[n - 1]]
    run = []
    i = n - 1
    while i in neg:  # trailing run of positions that have -1 candidates
        run.append(i)
        i -= 1
    wrong: list[list[str]] = []
    if run:
        queue = [list(sol.steps)]
        for idx in run:
            queue = [item[:idx] + [t] + item[idx + 1:] for item in queue for t in neg[idx]]
            if len(queue) > 4 * len(correct):
                break
        wrong = queue
    q, qid = sol.question or "", sol.problem_id
    rows = []
    for steps, ok in [(s, True) for s in correct] + [(s, False) for s in wrong]:
        lab = StepLabel(float(ok), ok, None)
        rows.append(make_row(question=q, question_id=qid, steps=steps, labels=[lab] * len(steps),
                             kind="orm", source="prm800k", meta={"row_type": "solution"}))
    return rows


# ----------------------------------------------------------------------------- split, entry point
def split_by_question(rows: list[dict], eval_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded split of question ids: every row of a question lands in the same split; with >= 2
    questions and a fraction > 0 each split gets at least one question."""
    qids = sorted({r["question_id"] for r in rows})
    random.Random(derive_seed(seed, "split")).shuffle(qids)
    n_eval = round(len(qids) * eval_fraction)
    if eval_fraction > 0 and len(qids) >= 2:
        n_eval = min(max(n_eval, 1), len(qids) - 1)
    eval_ids = set(qids[:n_eval])
    return [r for r in rows if r["question_id"] not in eval_ids], [
        r for r in rows if r["question_id"] in eval_ids
    ]


def dedup(rows: list[dict]) -> list[dict]:
    """Keep the first of rows equal in question, steps, merge marks and labelled values."""
    seen, out = set(), []
    for r in rows:
        key = (
            r["question_id"],
            tuple(r["completions"]),
            tuple(r["merged"]),
            tuple((s, h) if m else None for s, h, m in zip(r["soft_labels"], r["labels"], r["label_mask"])),
        )
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


@dataclass
class RowsConfig:
    """Settings of `hiero rm data`."""

    inputs: list[str] = field(default_factory=list, metadata={"help": "trees JSONL or PRM800K files"})
    out_dir: str = field(default="", metadata={"help": "output folder: train.jsonl, eval.jsonl, stats.json"})
    kind: Literal["orm", "prm", "hrm"] = field(
        default="prm", metadata={"help": "which reward model the rows train"}
    )
    source: Literal["trees", "prm800k", "math-shepherd"] = field(
        default="trees", metadata={"help": "input kind (--from)"}
    )
    eval_fraction: float = field(
        default=0.2, metadata={"help": "fraction of questions in eval.jsonl (official 0.2)"}
    )
    seed: int = field(default=0, metadata={"help": "seed of sampling, HNC and the split"})
    label_steps: Literal["last", "all"] = field(default="last", metadata={
        "help": "last: only the row's current step is labelled (official); all: prefix steps too"})
    hard_threshold: float = field(
        default=0.5, metadata={"help": "trees: hard label = MC score >= this (--hard-label mc)"}
    )
    hard_label: Literal["mc", "any-correct"] = field(
        default="mc",
        metadata={
            "help": "trees: hard label = MC >= --hard-threshold (mc), or some completion through the step is "
                    "right "
            "(any-correct: Math-Shepherd hard estimation, OmegaPRM's MC > 0)"
        },
    )
    nodes: Literal["buckets", "solutions"] = field(default="buckets", metadata={
        "help": "trees: which nodes make rows: (depth, MC) buckets (official), or every step of the sampled "
                "solutions (bsearch trees; others: every leaf path), each node labelled once"})
    merge_label: Literal["second", "min", "product", "mc"] = field(default="second", metadata={
        "help": "label of a merged pair s_i+s_(i+1): second (official), min, product, mc (trees only)"})
    neutral: Literal["drop", "positive", "negative"] = field(default="drop", metadata={
        "help": "PRM800K rating 0: drop (official HRM), positive (Qwen baseline), negative"})
    human_steps: bool = field(
        default=False, metadata={"help": "PRM800K: human-written steps as +1 candidates"}
    )
    skip_give_up: bool = field(
        default=True, metadata={"help": "PRM800K: skip give_up / bad_problem lines (official)"}
    )
    hnc: bool = field(default=True, metadata={"help": "hrm from trees: also sample an HNC copy of each tree"})
    hnc_p: float = field(default=0.5, metadata={"help": "HNC merge probability"})
    hnc_min_children: int = field(default=4, metadata={"help": "HNC minimum children"})
    hnc_min_depth: int = field(default=2, metadata={"help": "HNC minimum depth of a merged child"})
    bucket_fraction: float = field(
        default=0.1, metadata={"help": "trees: share of each score bucket sampled (official 0.1)"}
    )
    single_score_max: int = field(
        default=5, metadata={"help": "trees: nodes sampled at a depth with one score (official 5)"}
    )

    def check(self) -> None:
        if not self.inputs or not self.out_dir:
            raise ValueError("rm data: at least one input file and -o OUT_DIR are required")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError(f"rm data: --eval-fraction must be in [0, 1), got {self.eval_fraction}")
        if not 0.0 <= self.hard_threshold <= 1.0:
            raise ValueError(f"rm data: --hard-threshold must be in [0, 1], got {self.hard_threshold}")
        if self.source != "trees" and self.kind == "hrm" and self.merge_label == "mc":
            raise ValueError(f"rm data: --merge-label mc needs Monte-Carlo counts; {self.source} rows have "
                             "per-step labels only")
        if not 0.0 < self.bucket_fraction <= 1.0 or self.single_score_max < 1:
            raise ValueError("rm data: --bucket-fraction must be in (0, 1] and --single-score-max >= 1")
        check_params(self.hnc_p, self.hnc_min_children, self.hnc_min_depth)


def _label_summary(rows: list[dict]) -> dict:
    hard = [h for r in rows for h, m in zip(r["labels"], r["label_mask"]) if m]
    soft = [s for r in rows for s, m in zip(r["soft_labels"], r["label_mask"]) if m]
    types: dict[str, int] = {}
    for r in rows:
        types[r["meta"]["row_type"]] = types.get(r["meta"]["row_type"], 0) + 1
    return {"rows": len(rows), "questions": len({r["question_id"] for r in rows}), "row_types": types,
            "rows_with_merged_step": sum(any(r["merged"]) for r in rows), "labelled_steps": len(hard),
            "positive_fraction": round(sum(hard) / len(hard), 4) if hard else None,
            "mean_soft_label": round(sum(soft) / len(soft), 4) if soft else None,
            "mean_steps": round(sum(len(r["completions"]) for r in rows) / len(rows), 2) if rows else None}


def main(cfg: RowsConfig) -> dict:
    """Build, split and write the rows; returns the stats also written to OUT_DIR/stats.json."""
    cfg.check()
    t0 = time.perf_counter()
    counts: dict = {"inputs": 0}
    rows: list[dict] = []
    for path in cfg.inputs:
        if cfg.source == "trees":
            for tree in tqdm(
                read_jsonl(path, Tree), desc=f"rows {Path(path).name}", unit="tree", mininterval=1.0
            ):
                counts["inputs"] += 1
                rows += rows_from_tree(tree, cfg, counts)
        elif cfg.source == "math-shepherd":
            from hiero.reward.rows_labelled import labelled_rows, load_labelled

            for sol in load_labelled(path):
                counts["inputs"] += 1
                rows += labelled_rows(sol, cfg, counts)
        else:
            for sol in load_prm800k(path, cfg.neutral):
                if cfg.skip_give_up and sol.meta.get("finish_reason") in ("give_up", "bad_problem"):
                    counts["give_up_skipped"] = counts.get("give_up_skipped", 0) + 1
                    continue
                counts["inputs"] += 1
                rows += (prm800k_orm_rows if cfg.kind == "orm" else prm800k_step_rows)(sol, cfg, counts)
    if counts["inputs"] == 0:
        raise DataError(
            ", ".join(map(str, cfg.inputs)),
            None,
            f"no {'trees' if cfg.source == 'trees' else 'solutions'} "
            "in the input (an empty file); nothing to build rows from",
        )
    n_built = len(rows)
    rows = dedup(rows)
    train, evl = split_by_question(rows, cfg.eval_fraction, cfg.seed)
    out = Path(cfg.out_dir)
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "eval.jsonl", evl)
    stats = {
        "kind": cfg.kind,
        "source": cfg.source,
        **counts,
        "rows_built": n_built,
        "duplicates_removed": n_built - len(rows),
        "train": _label_summary(train),
        "eval": _label_summary(evl),
        "time_s": round(time.perf_counter() - t0, 3),
        "out_dir": str(out),
        "config": asdict(cfg),
    }
    write_json(out / "stats.json", stats)
    log.info("rm data: %d train / %d eval rows -> %s", len(train), len(evl), out)
    return stats
