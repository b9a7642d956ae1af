"""The reward-model scoring protocol, shared by search strategies and evaluation.

    scorer.score(questions, solutions) -> per-step scores
        questions: list[str] (B), solutions: list[list[str]] (B, steps per solution)
        returns list (B) of list[float]: one score per step for PRM/HRM (higher = better);
        an ORM returns a one-element list per solution (the whole-solution score)
    score_items(scorer, questions, solutions, ids) -> Scored(scores, skipped)
        the same, never stopped by one item: an item that cannot be scored (longer than the
        model's context, a separator lost in tokenization, no precomputed row) gets None and its
        reason, keyed by its id. Evaluations use this and report what they skipped.

`kind` is "orm", "prm" or "hrm"; step-level search needs a per-step scorer (prm/hrm).

One meaning of a score: a scorer declares `probability` — True when every score is P(this step is
right) in [0, 1] (every public PRM: softmax / sigmoid; hiero's own reward models trained with a CE
loss; the oracle; a scores file whose values all lie in [0, 1]), False otherwise (hiero's MSE head is a
regression on Monte-Carlo scores and is not bounded; a scores file with other values), and `scale`,
the words that say so. What reads a score against a fixed value asks `threshold_for` (a default 0.5 only
for probabilities; a threshold outside [0, 1] refused for them) and `check_threshold_split` (a raw score
threshold that every score falls on one side of is refused, naming the range); `aggregate(.., "prod")`
refuses scores outside [0, 1].

`EncodedScorer` is the one encode -> batch -> read loop behind every model-backed scorer (hiero's
own `RMScorer` and the public formats' `PublicPRMScorer`): each solution is encoded once into one or
more examples (input_ids, and the positions its scores are read at), examples are sorted by length
and cut into batches of at most `batch_size` sequences and `max_tokens` padded tokens, right-padded
(every real token keeps its unpadded position, so a batched score equals the solution's score alone)
and read; results come back in input order.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from tqdm.auto import tqdm

Encoding = tuple[list[int], list[int]]  # (input_ids, positions where the scores are read)


@runtime_checkable
class Scorer(Protocol):
    kind: str
    probability: bool  # every score is P(step right) in [0, 1] (module docstring)

    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]: ...


@dataclass
class Scored:
    """Scores of many items: None where an item could not be scored; `skipped` maps its id to why."""

    scores: list[list[float] | None]
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self, limit: int = 20) -> dict:
        return skip_summary(self.skipped, limit)


def skip_summary(skipped: dict[str, str], limit: int = 20) -> dict:
    """What an output file records: how many were skipped and the first few ids with their reasons."""
    return {"n_skipped": len(skipped), "skipped": dict(list(skipped.items())[:limit])}


def is_probability(scorer) -> bool:
    """Whether `scorer` declares its scores P(step right) in [0, 1] (undeclared: not)."""
    return bool(getattr(scorer, "probability", False))


def scale_of(scorer) -> str:
    """Words for what a scorer's numbers are, for messages and output files."""
    default = "P(step right) in [0, 1]" if is_probability(scorer) else "not declared as probabilities"
    return str(getattr(scorer, "scale", default))


def threshold_for(scorer, threshold: float | None, flag: str, name: str = "the reward model",
                  default: float = 0.5) -> float:
    """The threshold a filter applies to `scorer`'s step scores.

    None means the command's default for probabilities (`default`, 0.5: the decision point); a scorer whose
    scores are not probabilities
    has none, so the user must give one in its own units. A finite threshold outside [0, 1] on
    probabilities would keep all or nothing and is refused; ±inf (keep all / none on purpose) passes.

    >>> class P: probability = True
    >>> class R: probability, scale = False, "an MSE regression on MC scores"
    >>> threshold_for(P(), None, "--rm-threshold")
    0.5
    >>> threshold_for(R(), -2.5, "--rm-threshold")
    -2.5
    >>> threshold_for(R(), None, "--rm-threshold")
    Traceback (most recent call last):
    ...
    ValueError: --rm-threshold: the reward model's scores are not probabilities (an MSE regression on MC ...
    """
    if threshold is None:
        if is_probability(scorer):
            return default
        raise ValueError(
            f"{flag}: {name}'s scores are not probabilities ({scale_of(scorer)}), so {default:g} means "
            f"nothing for it: give {flag} in its own units, or train it with --loss hard_ce / soft_ce "
            "(P(step right))"
        )
    threshold = float(threshold)
    if math.isnan(threshold):
        raise ValueError(f"{flag}: NaN is not a threshold")
    if is_probability(scorer) and math.isfinite(threshold) and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"{flag} {threshold:g}: {name}'s scores are probabilities in [0, 1]; a threshold "
                         "outside keeps all or nothing (give one in [0, 1], or -inf / inf on purpose)")
    return threshold


def check_threshold_split(scorer, scores: Sequence[float], threshold: float, flag: str,
                          name: str = "the reward model") -> int:
    """After scoring: how many of `scores` reach `threshold`. For scores that are not probabilities, a
    finite threshold above or below every finite score is refused, naming their range (0.5 on scores
    in [-8, -1] keeps nothing, and would otherwise look like a model that likes no solution)."""
    finite = [x for x in scores if math.isfinite(x)]
    kept = sum(1 for x in scores if x >= threshold)
    if finite and not is_probability(scorer) and math.isfinite(threshold) \
            and (min(finite) >= threshold or max(finite) < threshold):
        raise ValueError(
            f"{flag} {threshold:g}: {name}'s scores ({scale_of(scorer)}) lie in "
            f"[{min(finite):.4g}, {max(finite):.4g}], so it keeps {'all' if kept else 'none'} of "
            f"{len(scores)}: give a threshold inside that range"
        )
    return kept


def token_batches(lengths: Sequence[int], batch_size: int, max_tokens: int = 0) -> list[list[int]]:
    """Indices sorted by length (longest first), cut into batches of at most `batch_size` rows and, when
    max_tokens > 0, at most `max_tokens` padded tokens (rows x the longest row); a row longer than the
    budget goes alone.

    >>> token_batches([3, 9, 1, 7], 2)
    [[1, 3], [0, 2]]
    >>> token_batches([3, 9, 1, 7], 8, max_tokens=18)
    [[1, 3], [0, 2]]
    >>> token_batches([30, 2], 8, max_tokens=10)
    [[0], [1]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    out: list[list[int]] = []
    for i in order:
        cur = out[-1] if out else None
        if (
            cur
            and len(cur) < batch_size
            and (max_tokens <= 0 or (len(cur) + 1) * lengths[cur[0]] <= max_tokens)
        ):
            cur.append(i)
        else:
            out.append([i])
    return out


class EncodedScorer(ABC):
    """Base of the model-backed scorers: subclasses give `examples` and `read` (and may give `collate`)."""

    kind = "prm"
    format = "hiero"
    probability = True  # softmax / sigmoid outputs; a subclass with raw outputs says otherwise
    batch_size: int = 32
    max_tokens: int = 0
    max_length: int | None = None
    progress: bool = False
    pad_id: int = 0
    model: torch.nn.Module

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- what a subclass provides: `examples` and `read` (and, optionally, encode_many / collate)
    @abstractmethod
    def examples(self, question: str, steps: list[str], only: list[int] | None = None) -> list[dict]:
        """One solution -> its examples (each: input_ids, optionally positions: one score per position,
        else one score per example). ValueError says why the solution cannot be scored. `only`: the
        steps whose scores are wanted (a scorer that builds one input per step builds just those)."""

    def encode_many(self, questions: list[str], solutions: list[list[str]]) -> list | None:
        """Optional: every solution's Encoding (or the ValueError saying why it has none) in one call, for
        scorers whose tokenizer encodes a batch of texts at once (faster than one call per text)."""
        return None

    def collate(self, examples: list[dict]) -> dict:
        from hiero.reward.collate import collate_marker

        return collate_marker(examples, self.pad_id)

    @abstractmethod
    def read(self, batch: dict) -> torch.Tensor:
        """A collated batch -> its scores, flat, in (example, position) order."""

    # -- the loop
    def _encode_all(self, questions, solutions, only) -> tuple[list[dict], dict[int, str]]:
        if len(questions) != len(solutions):
            raise ValueError(f"score: {len(questions)} questions but {len(solutions)} solutions")
        examples, failed = [], {}
        todo = [i for i, steps in enumerate(solutions) if steps]
        many = (
            self.encode_many([questions[i] for i in todo], [list(solutions[i]) for i in todo])
            if todo
            else None
        )
        pre = dict(zip(todo, many)) if many is not None else {}
        for i, (q, steps) in enumerate(zip(questions, solutions)):
            if not steps:
                continue
            try:
                if i in pre:
                    if isinstance(pre[i], Exception):
                        raise pre[i]
                    exs = [{"input_ids": pre[i][0], "positions": pre[i][1]}]
                else:
                    exs = self.examples(q, list(steps), None if only is None else only[i])
                for e in exs:
                    if self.max_length and len(e["input_ids"]) > self.max_length:
                        raise ValueError(f"longer than the reward model's context "
                                         f"({len(e['input_ids'])} > {self.max_length} tokens)")
            except ValueError as e:
                failed[i] = str(e)
                continue
            examples += [{**e, "owner": i} for e in exs]
        return examples, failed

    @torch.inference_mode()
    def score_indexed(self, questions: list[str], solutions: list[list[str]],
                      only: list[list[int]] | None = None) -> tuple[list, dict[int, str]]:
        """(scores with None where a solution failed, {index: reason}). `only[i]`: return just these
        steps' scores of solution i, in that order (step AUROC on rows that label a few steps)."""
        examples, failed = self._encode_all(questions, solutions, only)
        per_example: list[list[float]] = [[] for _ in examples]
        batches = token_batches([len(e["input_ids"]) for e in examples], self.batch_size, self.max_tokens)
        for idx in tqdm(batches, desc="score", disable=not self.progress, dynamic_ncols=True):
            batch = {k: v.to(self.device) for k, v in self.collate([examples[j] for j in idx]).items()}
            flat = iter(self.read(batch).float().tolist())
            for j in idx:
                per_example[j] = [next(flat) for _ in examples[j].get("positions", [None])]
        out: list[list[float] | None] = [None if i in failed else [] for i in range(len(solutions))]
        for e, s in zip(examples, per_example):  # examples are in owner order (per-step: step order)
            out[e["owner"]] += s
        if only is not None:
            for i, o in enumerate(out):
                if o is not None and len(o) == len(solutions[i]) != len(only[i]):  # read everywhere: pick
                    out[i] = [o[k] for k in only[i]]
        return out, failed

    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]:
        """questions (B), solutions (B, steps) -> (B, steps) scores; [] for no steps; ValueError naming
        the first solution that cannot be scored."""
        out, failed = self.score_indexed(questions, solutions)
        if failed:
            i, why = next(iter(failed.items()))
            raise ValueError(f"solution {i} ({self.format} format): {why}")
        return out

    def score_items(self, questions: list[str], solutions: list[list[str]], ids: Sequence[str]) -> Scored:
        out, failed = self.score_indexed(questions, solutions)
        return Scored(out, {str(ids[i]): why for i, why in failed.items()})


def score_items(scorer, questions: Sequence[str], solutions: Sequence[Sequence[str]], ids: Sequence[str],
                batch: int = 0, desc: str | None = None) -> Scored:
    """Per-step scores of many items, each failure reported by its id instead of stopping the run.

    Scorers with their own `score_items` (model-backed, precomputed) are asked once; any other
    `Scorer` is called `batch` solutions at a time (0: all at once), and a call that raises is
    retried one item at a time so that only the failing items are skipped.
    """
    if len(ids) != len(solutions) or len(questions) != len(solutions):
        raise ValueError(
            f"score_items: {len(questions)} questions, {len(solutions)} solutions, {len(ids)} ids"
        )
    qs, sols = [str(q) for q in questions], [list(s) for s in solutions]
    if hasattr(scorer, "score_items"):
        res = scorer.score_items(qs, sols, [str(i) for i in ids])
        _check_lengths(scorer, res.scores, sols, ids)
        return res
    res = Scored([None] * len(sols))
    size = batch if batch > 0 else max(1, len(sols))
    starts = range(0, len(sols), size)
    for s in tqdm(starts, desc=desc, disable=desc is None or len(starts) < 2, dynamic_ncols=True):
        chunk = range(s, min(s + size, len(sols)))
        try:
            got = scorer.score([qs[i] for i in chunk], [sols[i] for i in chunk])
            for i, g in zip(chunk, got, strict=True):
                res.scores[i] = [float(x) for x in g]
        except ValueError:
            for i in chunk:
                try:
                    res.scores[i] = [float(x) for x in scorer.score([qs[i]], [sols[i]])[0]]
                except ValueError as e:
                    res.skipped[str(ids[i])] = str(e)
    _check_lengths(scorer, res.scores, sols, ids)
    return res


def _check_lengths(scorer, scores, sols, ids) -> None:
    want_one = getattr(scorer, "kind", "prm") == "orm"
    for i, (sc, steps) in enumerate(zip(scores, sols)):
        if sc is not None and steps and len(sc) != (1 if want_one else len(steps)):
            raise ValueError(f"the scorer gave {len(sc)} scores for the {len(steps)} steps of item {ids[i]}")
