"""Public process-reward-model formats behind the `Scorer` protocol, chosen from the model folder.

    scorer = load_scorer("DIR")                                    # hiero.reward.scorer: any format, auto
    scorer = load_public_scorer("DIR", "step-tag", separator="ки", good_token="+", bad_token="-")
    scorer.score(["What is 2+3?"], [["2 + 3 = 5", "The answer is 5"]])   # -> [[0.93, 0.95]]
    hiero rm score | eval processbench | eval bon  --rm DIR --rm-format auto|hiero|token-classification|trl|step-tag

Formats (the values of --rm-format; each model loads through `from_pretrained`, nothing downloads):

    hiero                 a folder `hiero rm train` wrote (hiero_rm.json): `RMScorer`, unchanged.
    token-classification  Qwen2.5-Math-PRM (model card): a solution split into steps (Qwen splits a
                          response at "\\n\\n", which is then dropped) is the assistant turn
                          `step_1<sep>step_2<sep>…` with <sep> = "<extra_0>", under the system
                          prompt "Please reason step by step, and put your final answer within
                          \\boxed{}." and the question as the user turn,
                          rendered by the tokenizer's chat template (no template: `plain_text`) and
                          encoded as one string. Score = softmax(logits)[1], P(positive), at every
                          <sep>. Loaded with AutoModelForTokenClassification (2 labels).
    trl                   folders TRL's (since removed) PRMTrainer wrote: AutoModelForTokenClassification,
                          2 labels (False / True), step_separator "\\n". `tokenize_row` tokenized the
                          prompt and every step on its own (no special tokens), appended the separator
                          ids after each step, prepended BOS when the tokenizer has one, and labelled
                          the last token of each step + separator; `trl_layout` rebuilds exactly those
                          ids. Score = softmax(logits)[1] there.
    step-tag              Math-Shepherd (peiyi9979/math-shepherd-mistral-7b-prm): a causal LM; input
                          `f"{question} {step_1} ки\\n{step_2} ки…"` encoded with the tokenizer's
                          special tokens (BOS); at each "ки" the LM's logits of the good and bad
                          tokens ("+", "-") are softmaxed and P("+") is the score. Only those two rows
                          of the output embedding are applied (a 32k-vocabulary logit tensor per
                          position is never built), except for models that rescale logits after the
                          head (soft-capping, logit_scale), which take the full logits.

`--rm-format auto` (`detect_format`): hiero_rm.json → hiero; config.json architectures ending in
ForTokenClassification (2 labels) → token-classification when the tokenizer knows "<extra_0>", else
trl; ending in ForCausalLM → step-tag. A forced format must match the folder's architecture (else a
randomly initialised head would score), and weights missing from the checkpoint are an error.
The separator (`--rm-separator`, default per format above) and the good / bad tokens
(`--rm-good-token`, `--rm-bad-token`) are configurable.

Separator / tag checks (the "ки" → "kи" trap: a BPE that merges the tag with the step's last
character silently loses that step's score):
  * text layouts (token-classification, step-tag): it must encode to exactly one token id
    (`separator_id`), and at load `check_tag_stands_alone` tokenizes probe steps ending in a
    digit, a Latin letter, punctuation and Cyrillic, each followed by the tag, and requires the
    tag id as the last token, once; at scoring, every solution must contain the tag id exactly
    once per step and no step or question may contain the tag text. Anything else raises
    ValueError naming the folder or the solution and what was found;
  * trl builds ids by concatenation, so the positions are exact by construction; as in TRL, a
    separator of several ids is appended whole and read at its last id.
The good / bad tokens must each encode to one id (Math-Shepherd's `encode("+ -")[1:]` on its
SentencePiece tokenizer gives the ids of "+" and "-" as encoded alone).

Batching: solutions are encoded once each, sorted by length and padded on the right in batches of
`batch_size` (one forward pass per solution, little padding); right padding keeps every real token
at its unpadded position, so a batched score equals the score of the solution alone. A solution
longer than the model's context (max_position_embeddings) raises ValueError naming it.
Departures: none in how scores are read; the model's own code (e.g. Qwen2.5-Math-PRM's
`Qwen2ForProcessRewardModel`, which needs trust_remote_code) is not run: such folders are refused.

Tests: `.venv/bin/pytest -q tests/reward/test_public.py` (tiny models in each format, built on the fly).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import torch
from tqdm.auto import tqdm

from hiero.reward.collate import collate_marker, length_batches

RMFormat = Literal["auto", "hiero", "token-classification", "trl", "step-tag"]  # --rm-format, in every config
RM_FORMATS = get_args(RMFormat)
PUBLIC_FORMATS = RM_FORMATS[2:]
DEFAULT_SEPARATOR = {"token-classification": "<extra_0>", "trl": "\n", "step-tag": "ки"}
ARCH_SUFFIX = {"token-classification": "ForTokenClassification", "trl": "ForTokenClassification",
               "step-tag": "ForCausalLM"}
QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
# step endings the tag must survive: digit, Latin letter (the "kи" trap), punctuation, Cyrillic
PROBE_STEPS = ("2 + 3 = 5", "so the answer is k", "x = 3.", "ответ так")


@dataclass(frozen=True)
class Layout:
    """How a public PRM reads a solution: format, separator (or step tag) and the token ids."""

    fmt: str
    separator: str
    sep_ids: tuple[int, ...]  # one id, except trl, which (like TRL) appends however many the separator has
    good_id: int | None = None  # step-tag: the LM tokens whose softmax gives P(good)
    bad_id: int | None = None

    @property
    def sep_id(self) -> int:
        """The id scores are read at: the separator's (last) token."""
        return self.sep_ids[-1]


# ----------------------------------------------------------------------------- layouts (pure)
def qwen_messages(question: str, steps: list[str], separator: str, system: str = QWEN_SYSTEM) -> list[dict]:
    """The chat of the Qwen2.5-Math-PRM model card: system, question, steps each followed by <sep>.

    >>> qwen_messages("1+1?", ["1+1=2", "The answer is 2"], "<extra_0>")[2]
    {'role': 'assistant', 'content': '1+1=2<extra_0>The answer is 2<extra_0>'}
    """
    return [{"role": "system", "content": system}, {"role": "user", "content": question},
            {"role": "assistant", "content": "".join(s + separator for s in steps)}]


def plain_text(question: str, steps: list[str], separator: str) -> str:
    """token-classification input for a tokenizer without a chat template (a hiero choice).

    >>> plain_text("1+1?", ["1+1=2", "The answer is 2"], "<extra_0>")
    '1+1?\\n\\n1+1=2<extra_0>The answer is 2<extra_0>'
    """
    return question + "\n\n" + "".join(s + separator for s in steps)


def step_tag_text(question: str, steps: list[str], tag: str) -> str:
    """Math-Shepherd input: the question, a space, the steps one per line, each ending in " " + tag.

    >>> step_tag_text("1+1?", ["1+1=2", "The answer is 2"], "ки")
    '1+1? 1+1=2 ки\\nThe answer is 2 ки'
    """
    return f"{question} " + "\n".join(f"{s} {tag}" for s in steps)


def trl_layout(prompt_ids: list[int], step_ids: list[list[int]], sep_ids: list[int],
               bos_id: int | None = None) -> tuple[list[int], list[int]]:
    """TRL PRMTrainer.tokenize_row: [bos] prompt · step_1 sep · step_2 sep …; label at each sep.

    Returns (input_ids, positions), one position per step: the last token of step + separator
    (a separator of several ids, e.g. "\n" on a SentencePiece tokenizer, is read at its last one).

    >>> trl_layout([5, 6], [[7], [8, 9]], sep_ids=[1], bos_id=0)
    ([0, 5, 6, 7, 1, 8, 9, 1], [4, 7])
    >>> trl_layout([5], [[7]], sep_ids=[2, 1])
    ([5, 7, 2, 1], [3])
    """
    ids = ([bos_id] if bos_id is not None else []) + list(prompt_ids)
    positions = []
    for piece in step_ids:
        ids += list(piece) + list(sep_ids)
        positions.append(len(ids) - 1)
    return ids, positions


def tag_positions(ids: list[int], tag_id: int, n_steps: int) -> list[int]:
    """Positions of the tag id; there must be exactly one per step (else the layout is broken).

    >>> tag_positions([3, 9, 4, 9], 9, 2)
    [1, 3]
    >>> tag_positions([3, 4, 9], 9, 2)
    Traceback (most recent call last):
    ...
    ValueError: found 1 separator token(s) for 2 steps
    """
    pos = [i for i, t in enumerate(ids) if t == tag_id]
    if len(pos) != n_steps:
        raise ValueError(f"found {len(pos)} separator token(s) for {n_steps} steps")
    return pos


# ----------------------------------------------------------------------------- encoders
def _check_text(question: str, steps: list[str], separator: str) -> None:
    if separator in question:
        raise ValueError(f"the question contains the separator {separator!r}")
    for k, s in enumerate(steps):
        if separator in s:
            raise ValueError(f"step {k} contains the separator {separator!r}")


def encode_token_classification(tokenizer, layout: Layout, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
    """Qwen2.5-Math-PRM layout -> (input_ids, separator positions)."""
    _check_text(question, steps, layout.separator)
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(qwen_messages(question, steps, layout.separator), tokenize=False,
                                             add_generation_prompt=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]  # the template carries its specials
    else:
        ids = tokenizer(plain_text(question, steps, layout.separator), add_special_tokens=True)["input_ids"]
    return ids, tag_positions(ids, layout.sep_id, len(steps))


def encode_trl(tokenizer, layout: Layout, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
    """TRL PRMTrainer layout -> (input_ids, label positions)."""
    prompt = tokenizer(question, add_special_tokens=False)["input_ids"]
    pieces = [tokenizer(s, add_special_tokens=False)["input_ids"] for s in steps]
    return trl_layout(prompt, pieces, list(layout.sep_ids), tokenizer.bos_token_id)


def encode_step_tag(tokenizer, layout: Layout, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
    """Math-Shepherd layout -> (input_ids, tag positions)."""
    _check_text(question, steps, layout.separator)
    ids = tokenizer(step_tag_text(question, steps, layout.separator), add_special_tokens=True)["input_ids"]
    return ids, tag_positions(ids, layout.sep_id, len(steps))


ENCODERS: dict[str, Callable] = {"token-classification": encode_token_classification, "trl": encode_trl,
                                 "step-tag": encode_step_tag}
JOINER = {"token-classification": "", "step-tag": " "}  # text between a step and its tag (text layouts)


# ----------------------------------------------------------------------------- checks at load
def separator_id(tokenizer, text: str, what: str, where: str) -> int:
    """The one id `text` encodes to (no special tokens added); ValueError otherwise."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = tokenizer.convert_ids_to_tokens(ids)
        raise ValueError(f"{where}: the {what} {text!r} encodes to {len(ids)} tokens {pieces} (ids {ids}); "
                         "it must be exactly one token id")
    return ids[0]


def check_tag_stands_alone(tokenizer, tag: str, tag_id: int, joiner: str, where: str) -> None:
    """Each probe step + joiner + tag must end in the tag id, once: the tag never merges with the step."""
    for step in PROBE_STEPS:
        ids = tokenizer(step + joiner + tag, add_special_tokens=False)["input_ids"]
        if not ids or ids[-1] != tag_id or ids.count(tag_id) != 1:
            pieces = tokenizer.convert_ids_to_tokens(ids)
            raise ValueError(
                f"{where}: the separator {tag!r} (id {tag_id}) does not stand alone after the step {step!r}: "
                f"{step + joiner + tag!r} tokenizes as {pieces}. The tokenizer merges it with the text before it, "
                "so that step's score could not be read; use a separator the tokenizer keeps whole "
                "(e.g. an added special token) via --rm-separator")


def make_layout(tokenizer, fmt: str, separator: str = "", good_token: str = "+", bad_token: str = "-",
                where: str = "reward model") -> Layout:
    """Resolve and check the separator (and good / bad tokens) of a public format on its tokenizer."""
    if fmt not in PUBLIC_FORMATS:
        raise ValueError(f"unknown public reward-model format {fmt!r}; expected one of {list(PUBLIC_FORMATS)}")
    sep = separator or DEFAULT_SEPARATOR[fmt]
    if fmt == "trl":  # ids are concatenated, never searched for: any non-empty id sequence works
        ids = tuple(tokenizer(sep, add_special_tokens=False)["input_ids"])
        if not ids:
            raise ValueError(f"{where}: the separator {sep!r} encodes to no token")
        return Layout(fmt, sep, ids)
    sep_id = separator_id(tokenizer, sep, "separator", where)
    check_tag_stands_alone(tokenizer, sep, sep_id, JOINER[fmt], where)
    if fmt != "step-tag":
        return Layout(fmt, sep, (sep_id,))
    good = separator_id(tokenizer, good_token, "good token", where)
    bad = separator_id(tokenizer, bad_token, "bad token", where)
    if good == bad:
        raise ValueError(f"{where}: the good and bad tokens {good_token!r}, {bad_token!r} are the same id {good}")
    return Layout(fmt, sep, (sep_id,), good, bad)


def read_config(rm_dir: str | Path) -> dict:
    path = Path(rm_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{rm_dir}: not a reward-model folder (no hiero_rm.json, no config.json)")
    return json.loads(path.read_text(encoding="utf-8"))


def detect_format(rm_dir: str | Path, tokenizer=None) -> str:
    """The format of a model folder, from hiero_rm.json / config.json (see the module docstring)."""
    from hiero.reward.model import SPEC_FILE

    rm_dir = Path(rm_dir)
    if (rm_dir / SPEC_FILE).exists():
        return "hiero"
    archs = read_config(rm_dir).get("architectures") or []
    if any(a.endswith("ForTokenClassification") for a in archs):
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(rm_dir)
        return "token-classification" if DEFAULT_SEPARATOR["token-classification"] in tokenizer.get_vocab() else "trl"
    if any(a.endswith("ForCausalLM") for a in archs):
        return "step-tag"
    if any(a.endswith("ForProcessRewardModel") for a in archs):
        raise ValueError(f"{rm_dir}: {archs[0]} runs the model's own code (trust_remote_code), which hiero does not "
                         "run; save it as a *ForTokenClassification checkpoint with 2 labels")
    raise ValueError(f"{rm_dir}: cannot tell the reward-model format from architectures {archs}; "
                     f"give --rm-format ({' | '.join(RM_FORMATS[1:])})")


def _check_architecture(config: dict, fmt: str, where: str) -> None:
    archs = config.get("architectures") or []
    if archs and not any(a.endswith(ARCH_SUFFIX[fmt]) for a in archs):
        raise ValueError(f"{where}: --rm-format {fmt} needs a *{ARCH_SUFFIX[fmt]} checkpoint, this one is {archs}")


# ----------------------------------------------------------------------------- the scorer
class PublicPRMScorer:
    """A public PRM as a `Scorer`: score(questions, solutions) -> per-step P(good step)."""

    kind = "prm"

    def __init__(self, model, tokenizer, layout: Layout, *, batch_size: int = 32, max_length: int | None = None,
                 progress: bool = False):
        self.model, self.tokenizer, self.layout = model.eval(), tokenizer, layout
        self.format = layout.fmt
        self.batch_size = batch_size
        self.max_length = max_length or getattr(model.config, "max_position_embeddings", None)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = pad if pad is not None else 0  # right padding under the mask: the id is never read
        self.progress = progress

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        """One solution -> (input_ids, one position per step where its score is read)."""
        return ENCODERS[self.layout.fmt](self.tokenizer, self.layout, question, steps)

    def step_logits(self, batch: dict) -> torch.Tensor:
        """Collated batch -> (M, 2) logits at the M scored positions; column 1 is the good class."""
        ids, mask, b, p = batch["input_ids"], batch["attention_mask"], batch["batch_idx"], batch["pos_idx"]
        if self.layout.fmt != "step-tag":
            return self.model(input_ids=ids, attention_mask=mask).logits[b, p]
        cols = [self.layout.bad_id, self.layout.good_id]
        head = self.model.get_output_embeddings()
        cfg = self.model.config
        if head is None or getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None):
            return self.model(input_ids=ids, attention_mask=mask).logits[b, p][:, cols]
        h = self.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state[b, p]  # (M, H)
        out = h @ head.weight[cols].T
        return out + head.bias[cols] if getattr(head, "bias", None) is not None else out

    @torch.inference_mode()
    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]:
        """questions (B), solutions (B, steps) -> (B, steps) scores in [0, 1]; [] for no steps."""
        if len(questions) != len(solutions):
            raise ValueError(f"score: {len(questions)} questions but {len(solutions)} solutions")
        examples = []
        for i, (q, steps) in enumerate(zip(questions, solutions)):
            if not steps:
                continue
            try:
                ids, pos = self.encode(q, list(steps))
            except ValueError as e:
                raise ValueError(f"solution {i} ({self.layout.fmt} format): {e}") from None
            if self.max_length and len(ids) > self.max_length:
                raise ValueError(f"solution {i} is longer than the reward model's context "
                                 f"({len(ids)} > {self.max_length} tokens)")
            examples.append({"input_ids": ids, "positions": pos, "owner": i})
        out: list[list[float]] = [[] for _ in solutions]
        batches = length_batches([len(e["input_ids"]) for e in examples], self.batch_size)
        for idx in tqdm(batches, desc="score", disable=not self.progress):
            batch = {k: v.to(self.device) for k, v in collate_marker([examples[j] for j in idx], self.pad_id).items()}
            probs = iter(self.step_logits(batch).float().softmax(dim=-1)[:, 1].tolist())
            for j in idx:  # scores come out in (example, position) order of the batch
                out[examples[j]["owner"]] = [next(probs) for _ in examples[j]["positions"]]
        return out


def load_public_scorer(rm_dir: str | Path, fmt: str = "auto", *, separator: str = "", good_token: str = "+",
                       bad_token: str = "-", batch_size: int = 32, device: str = "cpu",
                       dtype: torch.dtype = torch.float32, progress: bool = False) -> PublicPRMScorer:
    """Load a token-classification / trl / step-tag folder via from_pretrained, checking its layout first."""
    from transformers import AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer

    where = str(rm_dir)
    config = read_config(rm_dir)
    tokenizer = AutoTokenizer.from_pretrained(rm_dir)
    if fmt == "auto":
        fmt = detect_format(rm_dir, tokenizer)
    if fmt not in PUBLIC_FORMATS:
        raise ValueError(f"{where}: {fmt!r} is not a public format ({' | '.join(PUBLIC_FORMATS)})")
    _check_architecture(config, fmt, where)
    layout = make_layout(tokenizer, fmt, separator, good_token, bad_token, where)  # before loading weights
    cls = AutoModelForCausalLM if fmt == "step-tag" else AutoModelForTokenClassification
    model, info = cls.from_pretrained(rm_dir, dtype=dtype, output_loading_info=True)
    if info.get("missing_keys"):
        raise ValueError(f"{where}: weights missing from the checkpoint for {cls.__name__}: "
                         f"{sorted(info['missing_keys'])[:5]} (a randomly initialised head would score)")
    if fmt != "step-tag" and model.config.num_labels != 2:
        raise ValueError(f"{where}: a {fmt} PRM needs 2 labels (bad, good), this one has {model.config.num_labels}")
    return PublicPRMScorer(model.to(device), tokenizer, layout, batch_size=batch_size, progress=progress)
