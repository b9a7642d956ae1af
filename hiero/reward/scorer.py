"""Score solutions with a trained reward model (`hiero rm score`), implementing scoring.base.Scorer.

    scorer = load_scorer("runs/rm_hrm")                       # any folder `hiero rm train` wrote
    scorer.score(["What is 2+3?"], [["2 + 3 = 5", "The answer is 5"]])   # -> [[0.93, 0.95]]

    hiero rm score --rm RM_DIR --input SOLUTIONS.jsonl -o SCORES.jsonl [--batch-size 32]
    hiero rm score --rm PUBLIC_PRM --rm-format auto --input gsm8k.json -o SCORES.jsonl   # ProcessBench array

`load_scorer` takes any folder: hiero's own (hiero_rm.json, this file's `RMScorer`) or a public PRM
format (Qwen2.5-Math-PRM-style token classification, TRL PRMTrainer, Math-Shepherd step tag:
hiero.reward.public), detected from the folder or forced with `--rm-format`.

Inputs are built exactly as in training (hiero.reward.collate): marker mode encodes each solution
once with a marker id after every step (ORM: after the last) and reads the head at the markers;
per-step mode builds the official prompt for every step (ORM: the last) and reads the last real
token. Batches are formed from length-sorted inputs (dynamic padding, little waste); results come
back in input order. A solution longer than the model's context raises ValueError naming it: a cut
solution would get scores for steps the model never read.

Output rows of `hiero rm score`: `id` (hiero.reward.precomputed: `meta.id` or problem_id#k; for a
ProcessBench .json input the item id), the input Solution fields, `kind`, `scores` (per step; one
value for an ORM) and `aggregates` {min, prod, last, mean} (null for a solution with no steps). The
file is a valid `--scores` file for `hiero eval processbench` / `hiero eval bon`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.reward.aggregate import AGGREGATIONS, aggregate
from hiero.reward.collate import (
    collate_marker,
    collate_pooled,
    encode_marker,
    length_batches,
    per_step_ids,
)
from hiero.reward.losses import step_scores
from hiero.reward.model import RewardModel, RMSpec, load_reward_model
from hiero.reward.precomputed import solution_ids
from hiero.reward.public import RM_FORMATS, RMFormat, detect_format, load_public_scorer
from hiero.types import Solution

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class RMScorer:
    """A reward model as a `Scorer`: score(questions, solutions) -> per-step scores."""

    def __init__(self, model: RewardModel, tokenizer, spec: RMSpec, *, batch_size: int = 32,
                 max_length: int | None = None, progress: bool = False):
        self.model, self.tokenizer, self.spec = model.eval(), tokenizer, spec
        self.kind = spec.kind
        self.batch_size = batch_size
        ctx = getattr(model.backbone.config, "max_position_embeddings", None)
        self.max_length = max_length or ctx or spec.max_length
        self.pad_id = tokenizer.pad_token_id
        self.progress = progress

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ encode
    def _encode_marker(self, questions, solutions) -> list[dict]:
        examples = []
        for i, (q, steps) in enumerate(zip(questions, solutions, strict=True)):
            enc = encode_marker(self.tokenizer, q, steps, self.spec.marker_id, self.spec.template,
                                orm=self.spec.orm, max_length=self.max_length, step_tokens=self.spec.lm_features)
            if enc is None:
                raise ValueError(f"solution {i} is longer than the reward model's context ({self.max_length} tokens)")
            examples.append({"input_ids": enc[0], "positions": enc[1], "owner": i, **(enc[2] if len(enc) > 2 else {})})
        return examples

    def step_ids(self, question: str, steps: list[str], k: int) -> list[int] | None:
        """Per-step mode: ids of step k's prompt, built as in training (`truncation` "fit": cut to the
        trained --max-length); None if it does not fit the context."""
        fit = self.spec.truncation == "fit"
        return per_step_ids(self.tokenizer, question, steps, k, self.spec.template,
                            self.spec.max_length if fit else self.max_length, self.spec.truncation)

    def _encode_per_step(self, questions, solutions) -> list[dict]:
        examples = []
        for i, (q, steps) in enumerate(zip(questions, solutions, strict=True)):
            for k in ([len(steps) - 1] if self.spec.orm else range(len(steps))):
                ids = self.step_ids(q, steps, k)
                if ids is None:
                    raise ValueError(f"solution {i} step {k}: prompt longer than the context ({self.max_length} tokens)")
                examples.append({"input_ids": ids, "owner": i})
        return examples

    # ------------------------------------------------------------------ score
    @torch.inference_mode()
    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]:
        """questions (B), solutions (B, steps) -> (B, steps) scores (ORM: (B, 1)); [] for no steps."""
        if len(questions) != len(solutions):
            raise ValueError(f"score: {len(questions)} questions but {len(solutions)} solutions")
        keep = [i for i, s in enumerate(solutions) if s]
        qs, sols = [questions[i] for i in keep], [solutions[i] for i in keep]
        marker = self.spec.scoring == "marker"
        examples = self._encode_marker(qs, sols) if marker else self._encode_per_step(qs, sols)
        collate = collate_marker if marker else collate_pooled
        per_example: list[list[float]] = [[] for _ in examples]
        batches = length_batches([len(e["input_ids"]) for e in examples], self.batch_size)
        for idx in tqdm(batches, desc="score", disable=not self.progress):
            batch = {k: v.to(self.device) for k, v in collate([examples[j] for j in idx], self.pad_id).items()}
            scores = step_scores(self.model.outputs(batch), self.spec.loss).tolist()
            if marker:  # scores come out in (example, marker) order of the batch
                it = iter(scores)
                for j in idx:
                    per_example[j] = [next(it) for _ in examples[j]["positions"]]
            else:
                for j, s in zip(idx, scores, strict=True):
                    per_example[j] = [s]
        out: list[list[float]] = [[] for _ in solutions]
        for e, s in zip(examples, per_example, strict=True):  # examples are in owner order (per-step: step order)
            out[keep[e["owner"]]] += s
        return out


def min_step_scores(scorer, questions: list[str], solutions: list[list[str]]) -> list[float]:
    """Each solution's min step score (one batched `scorer.score` pass); -inf for a solution without steps.
    Self-training's filter and the reward-model preference pairs read this."""
    return [aggregate(x, "min") if x else float("-inf") for x in scorer.score(questions, solutions)]


def load_scorer(rm_dir: str | Path, *, batch_size: int = 32, device: str = "auto", progress: bool = False,
                rm_format: str = "auto", separator: str = "", good_token: str = "+", bad_token: str = "-"):
    """Load any reward-model folder as a Scorer: hiero's own (`RMScorer`) or a public PRM format.

    rm_format "auto" reads the folder (hiero_rm.json, else config.json; `public.detect_format`);
    separator / good_token / bad_token configure the public formats (see hiero.reward.public).
    """
    if rm_format not in RM_FORMATS:
        raise ValueError(f"--rm-format {rm_format!r}: expected one of {list(RM_FORMATS)}")
    if not Path(rm_dir).is_dir():
        raise FileNotFoundError(f"{rm_dir}: reward-model folder not found")
    fmt = detect_format(rm_dir) if rm_format == "auto" else rm_format
    if fmt != "hiero":
        return load_public_scorer(rm_dir, fmt, separator=separator, good_token=good_token, bad_token=bad_token,
                                  batch_size=batch_size, device=resolve_device(device), progress=progress)
    model, tokenizer, spec = load_reward_model(rm_dir, device=resolve_device(device))
    return RMScorer(model, tokenizer, spec, batch_size=batch_size, progress=progress)


# ----------------------------------------------------------------------------- hiero rm score
@dataclass
class ScoreConfig:
    """Settings of `hiero rm score`."""

    rm: str = field(default="", metadata={"help": "reward-model folder (`hiero rm train` output or a public PRM)"})
    input: str = field(default="", metadata={"help": "Solution JSONL (each row needs `question`) or ProcessBench .json"})
    out: str = field(default="", metadata={"help": "output JSONL: id + solutions + per-step scores + aggregates"})
    batch_size: int = field(default=32, metadata={"help": "sequences per forward pass"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:N"})
    rm_format: RMFormat = field(default="auto", metadata={"help": "reward-model format (auto: from the folder)"})
    rm_separator: str = field(default="", metadata={"help": "public formats: step separator / tag ('' = the format's)"})
    rm_good_token: str = field(default="+", metadata={"help": "step-tag format: the token of a good step"})
    rm_bad_token: str = field(default="-", metadata={"help": "step-tag format: the token of a bad step"})


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
    `hiero eval processbench` and `hiero eval bon` (hiero.reward.precomputed).
    """
    if not cfg.rm or not cfg.input or not cfg.out:
        raise ValueError("hiero rm score needs --rm DIR, --input SOLUTIONS.jsonl and -o SCORES.jsonl")
    solutions, ids = read_inputs(cfg.input)
    scorer = load_scorer(cfg.rm, batch_size=cfg.batch_size, device=cfg.device, progress=True, rm_format=cfg.rm_format,
                         separator=cfg.rm_separator, good_token=cfg.rm_good_token, bad_token=cfg.rm_bad_token)
    scores = scorer.score([s.question for s in solutions], [s.steps for s in solutions])
    rows = []
    for sid, s, sc in zip(ids, solutions, scores, strict=True):
        aggs = {how: aggregate(sc, how) for how in AGGREGATIONS} if sc else None
        rows.append({"id": sid, **s.to_dict(), "kind": scorer.kind, "scores": sc, "aggregates": aggs})
    write_jsonl(cfg.out, rows)
    n_steps = sum(len(s.steps) for s in solutions)
    fmt = getattr(scorer, "format", "hiero")
    return {"rm": cfg.rm, "format": fmt, "kind": scorer.kind,
            "scoring": scorer.spec.scoring if fmt == "hiero" else fmt, "solutions": len(solutions),
            "steps": n_steps, "out": cfg.out}
