"""Score solutions with a trained reward model (`hiero rm score`), implementing scoring.base.Scorer.

    scorer = load_scorer("runs/rm_hrm")                       # any folder `hiero rm train` wrote
    scorer.score(["What is 2+3?"], [["2 + 3 = 5", "The answer is 5"]])   # -> [[0.93, 0.95]]

    hiero rm score --rm RM_DIR --input SOLUTIONS.jsonl -o SCORES.jsonl [--batch-size 32]
    # ProcessBench array
    hiero rm score --rm qwen-prm:PRM_DIR --dtype bf16 --input gsm8k.json -o SCORES.jsonl

`load_scorer` takes any folder: hiero's own (hiero_rm.json, this file's `RMScorer`) or a public PRM
format (Qwen2.5-Math-PRM-style token classification, TRL PRMTrainer, Math-Shepherd step tag:
hiero.reward.public), detected from the folder or forced with FORMAT:DIR (hiero.reward.spec).

Inputs are built exactly as in training (hiero.reward.collate): marker mode encodes each solution
once with a marker id after every step (ORM: after the last) and reads the head at the markers;
per-step mode builds the official prompt for every step (ORM: the last) and reads the last real
token. Batches are formed from length-sorted inputs (dynamic padding, little waste); results come
back in input order. A solution longer than the model's context raises ValueError naming it: a cut
solution would get scores for steps the model never read.

Output rows of `hiero rm score`: `id` (hiero.reward.precomputed: `meta.id` or problem_id#k; for a
ProcessBench .json input the item id), the input Solution fields, `kind`, `scores` (per step; one
value for an ORM) and `aggregates` {min, prod, last, mean} (null for a solution with no steps; no
`prod` when the scores are not probabilities, hiero.reward.base). The file is a valid `--scores` file
for `hiero eval processbench` / `hiero eval bon`; the summary says what the scores are (`probability`,
`scale`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.reward.aggregate import aggregate, aggregations_for
from hiero.reward.base import scale_of, score_items
from hiero.reward.precomputed import solution_ids
from hiero.reward.rm_scorer import (  # noqa: F401  (re-exported: the scorer API lives here for users)
    RMScorer,
    min_score_filter,
    min_step_scores,
    resolve_device,
)
from hiero.reward.spec import SPEC_HELP, ScorerFlags, load_scorer
from hiero.types import Solution

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- hiero rm score
@dataclass
class ScoreConfig(ScorerFlags):
    """Settings of `hiero rm score`."""

    rm: str = field(default="", metadata={"help": SPEC_HELP})
    input: str = field(
        default="", metadata={"help": "Solution JSONL (each row needs `question`) or ProcessBench .json"}
    )
    out: str = field(
        default="", metadata={"help": "output JSONL: id + solutions + per-step scores + aggregates"}
    )
    batch_size: int = field(default=32, metadata={"help": "sequences per forward pass"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:N"})


def read_inputs(path: str) -> tuple[list[Solution], list[str]]:
    """Solutions to score and their ids (`precomputed.solution_ids`; ProcessBench .json: the item ids)."""
    if path.endswith(".json") or path.endswith(".json.gz"):
        from hiero.data.sources_text import convert_processbench

        if not Path(path).exists():
            raise DataError(path, None, "file not found")
        solutions = list(convert_processbench(path).records)
        return solutions, [s.problem_id for s in solutions]
    solutions = list(read_jsonl(path, Solution))
    if not solutions:
        raise DataError(path, None, "no solutions in the file (give a Solution JSONL with at least one row)")
    for i, s in enumerate(solutions, start=1):
        if s.question is None:
            raise DataError(path, i, "field 'question': is missing (the reward model needs the question)")
    empty = [i for i, s in enumerate(solutions, start=1) if not s.steps]
    if empty:  # kept (scored as no scores, aggregates null), but never silently
        log.warning("%s: %d solution(s) with no steps (line %s%s): scored as empty", path, len(empty),
                    ", ".join(map(str, empty[:5])), ", ..." if len(empty) > 5 else "")
    return solutions, solution_ids(solutions)


def main(cfg: ScoreConfig) -> dict:
    """Score every solution of a file; writes the output atomically and returns a summary.

    Every output row starts with `id` and carries `kind`, so the file is a `--scores` file for
    `hiero eval processbench` and `hiero eval bon` (hiero.reward.precomputed). A solution the model
    cannot score (longer than its context, a separator lost) gets `"scores": null` and `"skipped":
    REASON`; the summary counts them, and the evaluations reading the file skip them by id.
    """
    if not cfg.rm or not cfg.input or not cfg.out:
        raise ValueError("hiero rm score needs --rm SPEC, --input SOLUTIONS.jsonl and -o SCORES.jsonl")
    solutions, ids = read_inputs(cfg.input)
    if not solutions:
        raise DataError(cfg.input, None, "no solutions to score")
    scorer = load_scorer(cfg.rm, batch_size=cfg.batch_size, device=cfg.device, dtype=cfg.dtype,
                         device_map=cfg.device_map, max_tokens=cfg.max_tokens, progress=True)
    if getattr(scorer, "precomputed", False) or cfg.rm == "oracle":
        raise ValueError("hiero rm score needs a model: a folder or FORMAT:DIR")
    res = score_items(scorer, [s.question for s in solutions], [s.steps for s in solutions], ids)
    usable = aggregations_for(scorer)
    rows = []
    for sid, s, sc in zip(ids, solutions, res.scores, strict=True):
        aggs = {how: aggregate(sc, how) for how in usable} if sc else None
        row = {"id": sid, **s.to_dict(), "kind": scorer.kind, "scores": sc, "aggregates": aggs}
        if sid in res.skipped:
            row["skipped"] = res.skipped[sid]
        rows.append(row)
    write_jsonl(cfg.out, rows)
    if res.skipped:
        log.warning("%d of %d solutions could not be scored (first: %s)", len(res.skipped), len(solutions),
                    next(iter(res.skipped.items())))
    n_steps = sum(len(s.steps) for s in solutions)
    fmt = getattr(scorer, "format", "hiero")
    return {"rm": cfg.rm, "format": fmt, "kind": scorer.kind, "probability": scorer.probability,
            "scale": scale_of(scorer), "aggregations": list(usable),
            "scoring": scorer.spec.scoring if fmt == "hiero" else fmt, "solutions": len(solutions),
            "steps": n_steps, **res.summary(), "out": cfg.out}
