"""hiero's own reward model as a `Scorer`, and the min-score filter self-training and preference pairs use.

    RMScorer(model, tokenizer, spec)        one forward pass per solution (marker / step-end reading), or
                                            the per-step prompts; `probability` says what its scores are
    min_step_scores(scorer, questions, solutions) -> each solution's min step score (-inf: unscorable)
    min_score_filter(scorer, ..., threshold) -> (min scores, the threshold applied, checked)

Loaded through `hiero.reward.spec.load_scorer` (a folder `hiero rm train` wrote); `hiero rm score`
(scorer.py) writes its scores to a file.
"""

from __future__ import annotations

import logging

import torch

from hiero.reward.aggregate import aggregate
from hiero.reward.base import EncodedScorer, check_threshold_split, scale_of, score_items, threshold_for
from hiero.reward.collate import (
    collate_marker,
    collate_pooled,
    encode_marker,
    per_step_ids,
)
from hiero.reward.losses import step_scores
from hiero.reward.model import RewardModel, RMSpec

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class RMScorer(EncodedScorer):
    """A reward model as a `Scorer`: score(questions, solutions) -> per-step scores."""

    format = "hiero"

    def __init__(
        self,
        model: RewardModel,
        tokenizer,
        spec: RMSpec,
        *,
        batch_size: int = 32,
        max_tokens: int = 0,
        max_length: int | None = None,
        progress: bool = False,
    ):
        self.model, self.tokenizer, self.spec = model.eval(), tokenizer, spec
        self.kind = spec.kind
        self.probability = spec.probability
        if not self.probability:  # base.scale_of words the probability case
            self.scale = "trained with --loss mse: a regression on Monte-Carlo scores, not bounded to [0, 1]"
        self.batch_size, self.max_tokens, self.progress = batch_size, max_tokens, progress
        ctx = getattr(model.backbone.config, "max_position_embeddings", None)
        self.max_length = max_length or ctx or spec.max_length
        self.pad_id = tokenizer.pad_token_id

    # ------------------------------------------------------------------ encode
    def step_ids(self, question: str, steps: list[str], k: int) -> list[int] | None:
        """Per-step mode: ids of step k's prompt, built as in training (`truncation` "fit": cut to the
        trained --max-length); None if it does not fit the context."""
        fit = self.spec.truncation == "fit"
        return per_step_ids(self.tokenizer, question, steps, k, self.spec.template,
                            self.spec.max_length if fit else self.max_length, self.spec.truncation)

    def examples(self, question: str, steps: list[str], only: list[int] | None = None) -> list[dict]:
        """Marker mode: one example, a marker after every step (ORM: after the last); per-step mode: the
        prompt of every step (ORM: the last), one score each. Built exactly as in training."""
        if self.spec.scoring == "marker":
            enc = encode_marker(
                self.tokenizer,
                question,
                steps,
                self.spec.marker_id,
                self.spec.template,
                orm=self.spec.orm,
                max_length=self.max_length,
                step_tokens=self.spec.lm_features,
            )
            if enc is None:
                raise ValueError(f"longer than the reward model's context ({self.max_length} tokens)")
            return [{"input_ids": enc[0], "positions": enc[1], **(enc[2] if len(enc) > 2 else {})}]
        out = []
        for k in ([len(steps) - 1] if self.spec.orm else (range(len(steps)) if only is None else only)):
            ids = self.step_ids(question, steps, k)
            if ids is None:
                raise ValueError(f"step {k}: prompt longer than the context ({self.max_length} tokens)")
            out.append({"input_ids": ids})
        return out

    def collate(self, examples: list[dict]) -> dict:
        return (collate_marker if self.spec.scoring == "marker" else collate_pooled)(examples, self.pad_id)

    def read(self, batch: dict) -> torch.Tensor:
        return step_scores(self.model.outputs(batch), self.spec.loss)


def min_step_scores(scorer, questions: list[str], solutions: list[list[str]]) -> list[float]:
    """Each solution's min step score (one batched pass); -inf for a solution without steps or one the
    model cannot score (counted in a warning), so a filter never keeps it and never stops on it.
    Self-training's filter and the reward-model preference pairs read this."""
    res = score_items(scorer, questions, solutions, [str(i) for i in range(len(solutions))])
    if res.skipped:
        log.warning("%d of %d solutions could not be scored and count as failing the filter (first: %s)",
                    len(res.skipped), len(solutions), next(iter(res.skipped.items())))
    return [aggregate(x, "min") if x else float("-inf") for x in res.scores]


def min_score_filter(scorer, questions: list[str], solutions: list[list[str]], threshold: float | None,
                     flag: str = "--rm-threshold", default: float = 0.5) -> tuple[list[float], float]:
    """Every solution's min step score and the threshold a filter keeps them at (`base.threshold_for`:
    None is 0.5 for probabilities, and must be given for raw scores), checked against what was scored
    (`base.check_threshold_split`). One batched pass."""
    threshold = threshold_for(
        scorer, threshold, flag, default=default
    )  # before the pass: a refused threshold costs nothing
    mins = min_step_scores(scorer, questions, solutions)
    kept = check_threshold_split(scorer, mins, threshold, flag)
    log.info("%s %g keeps %d of %d solutions (min step score; %s)", flag, threshold, kept, len(mins),
             scale_of(scorer))
    return mins, threshold
