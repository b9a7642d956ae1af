"""Score solutions with a trained reward model (`hiero rm score`), implementing scoring.base.Scorer.

    scorer = load_scorer("runs/rm_hrm")                       # any folder `hiero rm train` wrote
    scorer.score(["What is 2+3?"], [["2 + 3 = 5", "The answer is 5"]])   # -> [[0.93, 0.95]]

    hiero rm score --rm RM_DIR --input SOLUTIONS.jsonl -o SCORES.jsonl [--batch-size 32]

Inputs are built exactly as in training (hiero.reward.collate): marker mode encodes each solution
once with a marker id after every step (ORM: after the last) and reads the head at the markers;
per-step mode builds the official prompt for every step (ORM: the last) and reads the last real
token. Batches are formed from length-sorted inputs (dynamic padding, little waste); results come
back in input order. A solution longer than the model's context raises ValueError naming it: a cut
solution would get scores for steps the model never read.

Output rows of `hiero rm score`: the input Solution fields plus `scores` (per step; one value for an
ORM) and `aggregates` {min, prod, last, mean} (null for a solution with no steps).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.reward.collate import (
    collate_marker,
    collate_pooled,
    encode_marker,
    encode_per_step,
    length_batches,
    per_step_prompt,
)
from hiero.reward.losses import step_scores
from hiero.reward.model import RewardModel, RMSpec, load_reward_model
from hiero.scoring.aggregate import AGGREGATIONS, aggregate
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
                                orm=self.spec.orm, max_length=self.max_length)
            if enc is None:
                raise ValueError(f"solution {i} is longer than the reward model's context ({self.max_length} tokens)")
            examples.append({"input_ids": enc[0], "positions": enc[1], "owner": i})
        return examples

    def _encode_per_step(self, questions, solutions) -> list[dict]:
        examples = []
        for i, (q, steps) in enumerate(zip(questions, solutions, strict=True)):
            for k in ([len(steps) - 1] if self.spec.orm else range(len(steps))):
                ids = encode_per_step(self.tokenizer, per_step_prompt(q, steps, k, self.spec.template), self.max_length)
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


def load_scorer(rm_dir: str | Path, *, batch_size: int = 32, device: str = "auto", progress: bool = False) -> RMScorer:
    """Load a reward-model folder written by `hiero rm train` as a Scorer."""
    model, tokenizer, spec = load_reward_model(rm_dir, device=resolve_device(device))
    return RMScorer(model, tokenizer, spec, batch_size=batch_size, progress=progress)


# ----------------------------------------------------------------------------- hiero rm score
@dataclass
class ScoreConfig:
    """Settings of `hiero rm score`."""

    rm: str = field(default="", metadata={"help": "reward-model folder written by `hiero rm train`"})
    input: str = field(default="", metadata={"help": "Solution JSONL (each row needs `question`)"})
    out: str = field(default="", metadata={"help": "output JSONL: solutions + per-step scores + aggregates"})
    batch_size: int = field(default=32, metadata={"help": "sequences per forward pass"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:N"})


def main(cfg: ScoreConfig) -> dict:
    """Score every solution of a file; writes the output atomically and returns a summary."""
    if not cfg.rm or not cfg.input or not cfg.out:
        raise ValueError("hiero rm score needs --rm DIR, --input SOLUTIONS.jsonl and -o SCORES.jsonl")
    solutions = list(read_jsonl(cfg.input, Solution))
    for i, s in enumerate(solutions, start=1):
        if s.question is None:
            raise DataError(cfg.input, i, "field 'question': is missing (the reward model needs the question)")
    scorer = load_scorer(cfg.rm, batch_size=cfg.batch_size, device=cfg.device, progress=True)
    scores = scorer.score([s.question for s in solutions], [s.steps for s in solutions])
    rows = []
    for s, sc in zip(solutions, scores, strict=True):
        aggs = {how: aggregate(sc, how) for how in AGGREGATIONS} if sc else None
        rows.append({**s.to_dict(), "scores": sc, "aggregates": aggs})
    write_jsonl(cfg.out, rows)
    n_steps = sum(len(s.steps) for s in solutions)
    return {"rm": cfg.rm, "kind": scorer.kind, "scoring": scorer.spec.scoring, "solutions": len(solutions),
            "steps": n_steps, "out": cfg.out}
