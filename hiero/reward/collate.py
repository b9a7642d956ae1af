"""Where the reward model reads its labels: marker placement, per-step prompts, padding.

Two scoring modes:

    marker    [bos] prompt(question) · step_1 "\\n" <M> · step_2 "\\n" <M> · ...   one pass scores all steps
    per-step  the official prompt, one sequence per step, read at its last real token

Marker mode rules (what users of comparable tools trip over in their issue trackers):
- the marker <M> is a dedicated special token added to the tokenizer; `add_marker` checks it
  encodes to exactly one id;
- markers are appended as token ids after each separately tokenized step, never by tokenizing a
  joined string, so training and scoring build byte-identical ids;
- step text is tokenized with `split_special_tokens=True`: a step that literally contains the
  marker string (or "<|endoftext|>") is read as plain text and never yields the marker id;
- a row whose markers do not all fit in `max_length` is dropped and counted by the caller
  (`encode_marker` returns None). The question is not left-truncated: scoring sees the whole
  question, so a model trained on cut questions would be judged on inputs it never saw;
- targets are floats with IGNORE_INDEX (-100) for unlabelled steps, never bools.

ORM: a single marker after the last step (marker mode) or only the last step's prompt (per-step),
so an ORM returns one score per solution.

Per-step truncation (`truncation="fit"`, for encoders with a bounded context such as BERT's 512
positions; the official code pads to 4096 and lets the tokenizer cut the end, i.e. the current
step): `fit_per_step_prompt` shares the token budget fairly (max-min) between the question, the
previous reasoning and the current step; the question and the current step lose their middle, the
previous reasoning its oldest part, and "..." marks every cut. A prompt that fits is unchanged.
Training and scoring call the same `per_step_ids`, so both see identical inputs.

The marker-mode prompt is the head of the official template (the text before "Previous
reasoning:"); the per-step prompt is the whole template (`hiero/templates/rm_prompt.txt`), with the
"Previous reasoning" block left out at the first step, previous steps joined by "\\n".
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import torch

from hiero.policy.prompt import STEP_SEP  # the step boundary of the raw template, defined once
from hiero.training import right_pad
from hiero.types import IGNORE_INDEX

MARKER_TOKEN = "<|step_score|>"
PREV_BLOCK = "Previous reasoning:\n{prev}\n\n"


@cache
def rm_template(name: str = "rm_prompt") -> str:
    """A packaged RM prompt with {q}, {prev}, {cur}: `hiero/templates/<name>.txt`. "rm_prompt" is the
    official one; "rm_prompt_policy" is the policy's own prompt (for an LM read with --head likelihood)."""
    text = resources.files("hiero").joinpath(f"templates/{name}.txt").read_text(encoding="utf-8")
    return text.rstrip("\n")


def check_template(template: str) -> None:
    for key in ("{q}", "{cur}", PREV_BLOCK):
        if key not in template:
            raise ValueError(f"RM prompt template lacks {key!r}")


def per_step_prompt(question: str, steps: list[str], i: int, template: str) -> str:
    """Official prompt for step i (0-based): question, previous steps, current step.

    >>> t = "Q:{q}|Previous reasoning:\\n{prev}\\n\\nNow:{cur}"
    >>> per_step_prompt("1+1?", ["1+1=2", "The answer is 2"], 0, t)
    'Q:1+1?|Now:1+1=2'
    >>> per_step_prompt("1+1?", ["1+1=2", "The answer is 2"], 1, t)
    'Q:1+1?|Previous reasoning:\\n1+1=2\\n\\nNow:The answer is 2'
    """
    if i == 0:
        template = template.replace(PREV_BLOCK, "")
    prev = STEP_SEP.join(steps[:i])
    return template.replace("{q}", question).replace("{prev}", prev).replace("{cur}", steps[i])


def marker_prompt(question: str, template: str) -> str:
    """Marker-mode prompt: the template up to the "Previous reasoning" block.

    >>> marker_prompt("1+1?", "Q:{q}|Previous reasoning:\\n{prev}\\n\\nNow:{cur}")
    'Q:1+1?|'
    """
    head = template.split(PREV_BLOCK)[0]
    return head.replace("{q}", question)


def add_marker(tokenizer, marker: str = MARKER_TOKEN) -> int:
    """Add `marker` as a special token (if absent) and return its id; it must encode to one id.

    The caller resizes the model's embeddings to `len(tokenizer)`.
    """
    if marker not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [marker]})
    ids = tokenizer.encode(marker, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"marker {marker!r} encodes to {len(ids)} ids {ids}; it must be exactly one token")
    return ids[0]


def _text_ids(tokenizer, text: str) -> list[int]:
    """Token ids of plain text: special-token strings inside it are read as ordinary text."""
    return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]


def encode_marker(
    tokenizer, question: str, steps: list[str], marker_id: int, template: str, *,
    orm: bool = False, max_length: int | None = None, step_tokens: bool = False,
) -> tuple[list[int], list[int]] | tuple[list[int], list[int], dict] | None:
    """Ids of one solution with a marker after every step (ORM: after the last step only).

    marker_id -1 adds no token: each step is read at its own last token (its separator), so a
    language-model backbone sees exactly the text it was trained on.

    Returns (input_ids, marker_positions), one position per scored step, or None when a marker
    would fall beyond `max_length` (the caller drops the row and counts it). With `step_tokens`
    a third item, {"tok_pos", "tok_prev", "tok_step"}: every token of the steps' own text (not the
    separator, not markers), the position whose output predicts it (the one before it, skipping a
    marker: a language model reads the plain solution), and the index of the marker that closes it
    (ORM: 0 for every step). The separator counts as step text only where the tokenizer merges it
    into the step's last token.

    Every step is tokenized on its own, so the ids of steps[:k] are a prefix of the ids of steps:
    scoring a prefix separately reads the same tokens a single pass reads.
    """
    ids = ([tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else [])
    ids += _text_ids(tokenizer, marker_prompt(question, template))
    positions = []
    tokens = {"tok_pos": [], "tok_prev": [], "tok_step": []}
    for k, step in enumerate(steps):
        piece = _text_ids(tokenizer, step + STEP_SEP)
        if marker_id in piece:  # split_special_tokens makes this impossible; keep the guarantee explicit
            raise ValueError(
                f"step {k} tokenized to the marker id: the tokenizer does not split special tokens"
            )
        if step_tokens:
            own = _text_ids(tokenizer, step)
            n_text = len(own) if piece[:len(own)] == own else len(piece)
            start = len(ids)
            after_marker = marker_id >= 0 and bool(positions) and positions[-1] == start - 1
            tokens["tok_pos"] += range(start, start + n_text)
            tokens["tok_prev"] += [
                start - 2 if after_marker else start - 1,
                *range(start, start + n_text - 1),
            ][:n_text]
            tokens["tok_step"] += [len(positions)] * n_text
        ids += piece
        if not orm or k == len(steps) - 1:
            if marker_id >= 0:  # -1: no marker token, the step's last token is read
                ids.append(marker_id)
            positions.append(len(ids) - 1)
    if max_length is not None and len(ids) > max_length:
        return None
    return (ids, positions, tokens) if step_tokens else (ids, positions)


def encode_per_step(tokenizer, text: str, max_length: int | None = None) -> list[int] | None:
    """Ids of one official per-step prompt (with the tokenizer's own special tokens, e.g. [CLS]);
    None if longer than `max_length` (the current step sits at the end: truncation would cut it)."""
    ids = tokenizer(text, add_special_tokens=True, split_special_tokens=True)["input_ids"]
    if max_length is not None and len(ids) > max_length:
        return None
    return ids


ELLIPSIS = "..."


def _n_tokens(tokenizer, text: str) -> int:
    return len(_text_ids(tokenizer, text))


def _cut(tokenizer, text: str, keep: int, where: str) -> str:
    """`text` shortened to about `keep` of its tokens, cut at token boundaries; "..." marks the cut.

    where "middle": keep the first and last halves; "left": keep the last `keep` tokens.
    """
    enc = tokenizer(text, add_special_tokens=False, split_special_tokens=True, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if len(offsets) <= keep:
        return text
    if keep <= 0:
        return ELLIPSIS
    if where == "left":
        return ELLIPSIS + " " + text[offsets[len(offsets) - keep][0]:]
    head = (keep + 1) // 2
    tail = keep - head
    left = text[:offsets[head - 1][1]]
    right = text[offsets[len(offsets) - tail][0]:] if tail else ""
    return f"{left} {ELLIPSIS} {right}".rstrip()


def fair_shares(lengths: list[int], budget: int) -> list[int]:
    """Max-min fair split of `budget` tokens among pieces of the given lengths.

    >>> fair_shares([10, 300, 40], 120)
    [10, 70, 40]
    >>> fair_shares([500, 0, 500], 100)
    [50, 0, 50]
    """
    shares = [0] * len(lengths)
    left = max(0, budget)
    open_ = [i for i, n in enumerate(lengths) if n > 0]
    while open_ and left > 0:
        each = left // len(open_)
        if each == 0:
            break
        for i in list(open_):
            give = min(lengths[i] - shares[i], each)
            shares[i] += give
            left -= give
            if shares[i] == lengths[i]:
                open_.remove(i)
    return shares


def fit_per_step_prompt(tokenizer, question: str, steps: list[str], i: int, template: str,
                        max_length: int) -> str | None:
    """The official per-step prompt for step i, cut to at most `max_length` tokens (with the
    tokenizer's special tokens); None when even the template alone does not fit.

    The budget left after the template is shared max-min fairly between question, previous
    reasoning and current step (`fair_shares`): a short piece keeps all of its tokens and the
    others split the rest. Question and current step are cut in the middle, the previous
    reasoning keeps its most recent tokens. Cutting re-tokenizes at the joins, so the result is
    measured and the budget lowered until it fits.
    """
    text = per_step_prompt(question, steps, i, template)
    total = len(tokenizer(text, add_special_tokens=True, split_special_tokens=True)["input_ids"])
    if total <= max_length:
        return text
    prev = STEP_SEP.join(steps[:i])
    lengths = [
        _n_tokens(tokenizer, question),
        _n_tokens(tokenizer, prev) if i else 0,
        _n_tokens(tokenizer, steps[i]),
    ]
    reserve = 3 * _n_tokens(tokenizer, f" {ELLIPSIS} ")  # one cut mark per piece
    budget = max_length - (total - sum(lengths)) - reserve
    for _ in range(16):
        if budget <= 0:
            return None
        kq, kp, kc = fair_shares(lengths, budget)
        q2, cur2 = _cut(tokenizer, question, kq, "middle"), _cut(tokenizer, steps[i], kc, "middle")
        if i:
            text = per_step_prompt(q2, [_cut(tokenizer, prev, kp, "left"), cur2], 1, template)
        else:
            text = per_step_prompt(q2, [cur2], 0, template)
        got = len(tokenizer(text, add_special_tokens=True, split_special_tokens=True)["input_ids"])
        if got <= max_length:
            return text
        budget -= got - max_length
    return None


def per_step_ids(tokenizer, question: str, steps: list[str], i: int, template: str,
                 max_length: int | None, truncation: str = "none") -> list[int] | None:
    """Ids of step i's per-step prompt: as is (None if over `max_length`), or fitted ("fit")."""
    if truncation not in ("none", "fit"):
        raise ValueError(f"truncation {truncation!r}: expected none or fit")
    if truncation == "fit" and max_length is not None:
        text = fit_per_step_prompt(tokenizer, question, steps, i, template, max_length)
        return None if text is None else encode_per_step(tokenizer, text, max_length)
    return encode_per_step(tokenizer, per_step_prompt(question, steps, i, template), max_length)


def row_targets(row: dict, label_type: str) -> list[float]:
    """Per-step float targets of a stepwise-supervision row; IGNORE_INDEX where `label_mask` is False.

    >>> row_targets({"labels": [True, False], "soft_labels": [0.8, 0.2], "label_mask": [False, True]}, "soft")
    [-100.0, 0.2]
    >>> row_targets({"labels": [True, False]}, "hard")
    [1.0, 0.0]
    """
    n = len(row["completions"]) if "completions" in row else len(row["labels"])
    mask = row.get("label_mask") or [True] * n
    if label_type == "soft" and row.get("soft_labels") is not None:
        values = [float(x) for x in row["soft_labels"]]
    else:
        # hard labels: bool/int -> 1.0 / 0.0 (the value, not truthiness: -100 is handled by the mask)
        values = [1.0 if x is True or x == 1 else 0.0 for x in row["labels"]]
    return [v if m else float(IGNORE_INDEX) for v, m in zip(values, mask, strict=True)]


# ----------------------------------------------------------------------------- padding
TOKEN_KEYS = ("tok_b", "tok_pos", "tok_prev", "tok_step")  # batched step tokens, as RewardModel reads them


def collate_marker(examples: list[dict], pad_id: int) -> dict:
    """Right-pad marker examples into a batch.

    examples: dicts with input_ids (list[int]), positions (list[int]), targets (list[float], same
    length as positions), and optionally encode_marker's step tokens (tok_pos, tok_prev, tok_step).
    Returns
        input_ids (B, L) long, attention_mask (B, L) long,
        batch_idx (M,) long, pos_idx (M,) long   -- where each scored step's marker sits
        targets (M,) float                        -- IGNORE_INDEX for unlabelled steps
        tok_b, tok_pos, tok_prev, tok_step (T,)   -- with step tokens: row, position, predicting
                                                     position, marker index into batch_idx / pos_idx
    Right padding keeps every real token at its unpadded position id, so a padded row computes
    what it would alone.
    """
    ids, mask = right_pad([e["input_ids"] for e in examples], pad_id)
    b_idx, p_idx, targets = [], [], []
    toks = {k: [] for k in TOKEN_KEYS}
    with_tokens = all("tok_pos" in e for e in examples)
    for b, e in enumerate(examples):
        if with_tokens:
            toks["tok_b"] += [b] * len(e["tok_pos"])
            toks["tok_pos"] += e["tok_pos"]
            toks["tok_prev"] += e["tok_prev"]
            toks["tok_step"] += [len(p_idx) + k for k in e["tok_step"]]
        b_idx += [b] * len(e["positions"])
        p_idx += e["positions"]
        targets += e.get("targets") or [float(IGNORE_INDEX)] * len(e["positions"])
    out = {
        "input_ids": ids,
        "attention_mask": mask,
        "batch_idx": torch.tensor(b_idx, dtype=torch.long),
        "pos_idx": torch.tensor(p_idx, dtype=torch.long),
        "targets": torch.tensor(targets, dtype=torch.float),
    }
    if with_tokens:
        out.update({k: torch.tensor(v, dtype=torch.long) for k, v in toks.items()})
    return out


def collate_pooled(examples: list[dict], pad_id: int) -> dict:
    """Right-pad per-step examples: input_ids (B, L), attention_mask (B, L), targets (B,) float."""
    ids, mask = right_pad([e["input_ids"] for e in examples], pad_id)
    targets = torch.tensor([e.get("target", float(IGNORE_INDEX)) for e in examples], dtype=torch.float)
    return {"input_ids": ids, "attention_mask": mask, "targets": targets}


# ----------------------------------------------------------------------------- prefix packing
def pack_prefixes(examples: list[dict]) -> list[dict]:
    """Merge marker examples whose ids and markers are a prefix of a longer example's: same labels, fewer
    passes.

    Rows sampled from one reasoning tree are mostly prefixes of each other ((q, s1), (q, s1, s2), ...).
    The backbone is causal, so the head output at a marker depends only on the tokens up to it: a
    row that is a token prefix of another is scored, exactly, by the longer row's pass. Its labelled
    targets move onto the longer example's matching markers. A target that would land on a marker
    already labelled keeps its row apart (a duplicate row still counts twice, and an HNC copy of a
    node whose MC score changed keeps its own label). ORM examples (one marker, after the last step) pack
    only onto an example
    ending at the same marker. Labelled steps are preserved one for one; order: longest first.

    >>> a = {"input_ids": [5, 1, 9, 2, 9], "positions": [2, 4], "targets": [-100.0, 0.5]}
    >>> b = {"input_ids": [5, 1, 9], "positions": [2], "targets": [1.0]}
    >>> c = {"input_ids": [5, 1, 9], "positions": [2], "targets": [0.0]}   # conflicts with b
    >>> [(e["input_ids"], e["targets"]) for e in pack_prefixes([b, a, c])]
    [([5, 1, 9, 2, 9], [1.0, 0.5]), ([5, 1, 9], [0.0])]
    """
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]["input_ids"]))
    carriers: list[dict] = []
    slot: list[dict[int, int]] = []  # per carrier: marker position -> index in its targets
    # (ids up to and including a marker, [the markers so far]) -> carrier holding that marker. With
    # LM features the markers are part of the key: the features read each step's tokens, and without
    # a marker token (marker_id -1) a merged HRM step has the ids of the two steps it merges
    by_prefix: dict[tuple, int] = {}
    for i in order:
        e = examples[i]
        steps = "tok_pos" in e  # features read each step's tokens: the steps are part of the input
        host = by_prefix.get((tuple(e["input_ids"]), tuple(e["positions"]) if steps else None))
        if host is not None:
            tgt, where = carriers[host]["targets"], slot[host]
            moves = [
                (where[p], t) for p, t in zip(e["positions"], e["targets"], strict=True) if t != IGNORE_INDEX
            ]
            if all(tgt[j] == IGNORE_INDEX for j, _ in moves) and len({j for j, _ in moves}) == len(moves):
                for j, t in moves:
                    tgt[j] = t
                continue
        carriers.append({**e, "positions": list(e["positions"]), "targets": list(e["targets"])})
        slot.append({p: j for j, p in enumerate(e["positions"])})
        ids = e["input_ids"]
        for k, p in enumerate(e["positions"]):
            key = (tuple(ids[:p + 1]), tuple(e["positions"][:k + 1]) if steps else None)
            by_prefix.setdefault(key, len(carriers) - 1)
    return carriers
