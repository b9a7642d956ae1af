"""Public process reward models, loaded without their remote code and scored as their authors do.

    scorer = load_scorer("qwen-prm:/models/Qwen2.5-Math-PRM-7B", dtype="bf16", device_map="auto")
    scorer.score(["What is 2+3?"], [["2 + 3 = 5", "The answer is 5"]])   # -> [[0.98, 0.99]]
    hiero eval processbench --rm /models/Qwen2.5-Math-PRM-7B --data ../shared/data/processbench/ -o pb.json

A format says what hiero reads from a folder, how a solution becomes token ids, where each step's
score is read and how it becomes P(the step is right). `docs/reward-formats.md` has the table with
the reference code each one matches; in short:

    qwen-prm              Qwen2.5-Math-PRM-7B / -72B, Qwen2.5-Math-7B-PRM800K. Backbone `model.*` plus the
                          head `score = Sequential(Linear(H, H), ReLU, Linear(H, 2))` (weights score.0.*,
                          score.2.*; vLLM qwen2_rm.py), built here, so no remote code runs. Input: the
                          chat template over [system "Please reason step by step, and put your final
                          answer within \\boxed{}.", user question, assistant "<extra_0>".join(steps) +
                          "<extra_0>"]; score = softmax(head)[1] at every <extra_0> (the model card's
                          make_step_rewards).
    token-classification  the same layout on a *ForTokenClassification folder (one Linear `score`).
    trl                   folders TRL's PRMTrainer wrote: [bos] prompt · step_1 sep · step_2 sep …, read at
                          the last id of each step + separator, softmax[1].
    math-shepherd         peiyi9979/math-shepherd-mistral-7b-prm (alias step-tag): causal LM, input
                          f"{question} {step_1} ки\\n{step_2} ки…" with BOS; at each "ки" the softmax of
                          the logits of "+" and "-" (the card's `encode("+ -")[1:]`), P("+").
    rlhflow               RLHFlow/Llama3.1-8B-PRM-Deepseek-Data / -Mistral-Data: causal LM over the chat
                          [user q + " " + step_1, assistant "+", user step_2, assistant "+", …] (steps
                          stripped); P("+") from the [+, -] logits at the token before each assistant
                          "+" — the authors' logits[:, -3] of each prefix, all steps in one pass.
    skywork               Skywork-o1-Open-PRM-Qwen-2.5-1.5B / 7B: backbone plus value head v_head.summary
                          (Linear(H, 1)); ids = encode(bos + question + "\\n") then encode(piece) + ["\\n"]
                          for every line of every step; sigmoid(value) at each step's last "\\n".
    hiero                 a folder `hiero rm train` wrote (hiero.reward.scorer.RMScorer).

`detect_format(folder)` reads the folder, not the vocabulary: hiero_rm.json → hiero; head weights
score.0/score.2 (safetensors header, index or .bin) or a *ForProcessRewardModel architecture →
qwen-prm; v_head.summary → skywork; *ForTokenClassification → token-classification when its tokenizer
defines the Qwen PRM's step token <extra_0>, else trl; a *ForCausalLM without a chat template →
math-shepherd. A chat causal LM is refused: an RLHFlow PRM's folder is that of any Llama-3.1 chat
model, so `rlhflow:DIR` must say it. A forced format is checked against the folder (architecture and
head weights), so a random head never scores.

Every step must be readable: a separator or tag must encode to one id that stands alone after any
text (`check_tag_stands_alone`), and each encoded solution must hold exactly one read position per
step. A solution that breaks this, or that is longer than the model's context, raises ValueError
(`score`) or is skipped and reported by its id (`score_items`, what the evaluations use).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from hiero.reward.base import EncodedScorer, Encoding

PUBLIC_FORMATS = ("qwen-prm", "token-classification", "trl", "math-shepherd", "rlhflow", "skywork")
ALIASES = {"step-tag": "math-shepherd"}
RM_FORMATS = ("auto", "hiero", *PUBLIC_FORMATS)
DEFAULT_SEPARATOR = {"qwen-prm": "<extra_0>", "token-classification": "<extra_0>", "trl": "\n",
                     "math-shepherd": "ки", "rlhflow": "+", "skywork": "\n"}
QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
# step endings the tag must survive: digit, Latin letter (the "kи" trap), punctuation, Cyrillic, a space
PROBE_STEPS = ("2 + 3 = 5", "so the answer is k", "x = 3.", "ответ так", "ends in a space ")
WEIGHT_FILES = (
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
    "model.safetensors",
    "pytorch_model.bin",
)


def canonical(fmt: str) -> str:
    return ALIASES.get(fmt, fmt)


@dataclass(frozen=True)
class Layout:
    """How a public PRM reads a solution: format, separator (or tag) and the token ids it needs."""

    fmt: str
    separator: str
    sep_ids: tuple[int, ...]  # one id, except trl, which (like TRL) appends however many the separator has
    good_id: int | None = None  # causal-LM formats: the tokens whose 2-way softmax gives P(good)
    bad_id: int | None = None
    system: str = QWEN_SYSTEM  # qwen-prm / token-classification
    join: str = " "  # rlhflow: between the question and the first step

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


def rlhflow_messages(question: str, steps: list[str], join: str = " ") -> list[dict]:
    """RLHFlow's conversation (math-rm/prm_evaluate.py): one user turn per (stripped) step, each answered "+".

    >>> [m["content"] for m in rlhflow_messages("Q?", [" a ", "b"])]
    ['Q? a', '+', 'b', '+']
    """
    out = []
    for k, s in enumerate(steps):
        out += [{"role": "user", "content": question + join + s.strip() if k == 0 else s.strip()},
                {"role": "assistant", "content": "+"}]
    return out


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


def _chat_ids(tokenizer, messages: list[dict]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]  # the template carries its specials


def encode_qwen(tokenizer, layout: Layout, question: str, steps: list[str]) -> Encoding:
    """Qwen2.5-Math-PRM layout (qwen-prm, token-classification) -> (input_ids, separator positions)."""
    _check_text(question, steps, layout.separator)
    if getattr(tokenizer, "chat_template", None):
        ids = _chat_ids(tokenizer, qwen_messages(question, steps, layout.separator, layout.system))
    else:
        ids = tokenizer(plain_text(question, steps, layout.separator), add_special_tokens=True)["input_ids"]
    return ids, tag_positions(ids, layout.sep_id, len(steps))


def encode_trl(tokenizer, layout: Layout, question: str, steps: list[str]) -> Encoding:
    """TRL PRMTrainer layout -> (input_ids, label positions)."""
    prompt = tokenizer(question, add_special_tokens=False)["input_ids"]
    pieces = [tokenizer(s, add_special_tokens=False)["input_ids"] for s in steps]
    return trl_layout(prompt, pieces, list(layout.sep_ids), tokenizer.bos_token_id)


def encode_step_tag(tokenizer, layout: Layout, question: str, steps: list[str]) -> Encoding:
    """Math-Shepherd layout -> (input_ids, tag positions)."""
    _check_text(question, steps, layout.separator)
    ids = tokenizer(step_tag_text(question, steps, layout.separator), add_special_tokens=True)["input_ids"]
    return ids, tag_positions(ids, layout.sep_id, len(steps))


def encode_rlhflow(tokenizer, layout: Layout, question: str, steps: list[str]) -> Encoding:
    """RLHFlow layout -> (input_ids, the position before each assistant "+").

    The authors run one pass per prefix conversation and read logits[:, -3]; the model is causal and
    every earlier assistant turn is "+", so the full conversation's pass gives the same logits at the
    end of each prefix. Each prefix is rendered by the template and must be a token prefix of the
    whole (turns end in special tokens, which BPE never merges across): checked, never assumed.
    """
    messages = rlhflow_messages(question, steps, layout.join)
    ids = _chat_ids(tokenizer, messages)
    positions = []
    for k in range(len(steps)):
        prefix = ids if k == len(steps) - 1 else _chat_ids(tokenizer, messages[:2 * k + 2])
        last = max((i for i, t in enumerate(prefix) if t == layout.good_id), default=-1)
        if ids[:len(prefix)] != prefix or last < 1:
            raise ValueError(f"step {k}: the chat template does not render the conversation up to it as a "
                             "token prefix ending in the assistant's '+'")
        positions.append(last - 1)
    return ids, positions


def encode_skywork(tokenizer, layout: Layout, question: str, steps: list[str]) -> Encoding:
    """Skywork-o1-Open-PRM layout (io_utils.prepare_input with step_token "\\n") -> (ids, flag positions).

    The authors split the response at "\\n" and flag every piece; hiero's steps may hold newlines, so
    each step's lines are encoded exactly as there and the step is read at its last flag.
    """
    bos = tokenizer.bos_token or ""
    ids = list(tokenizer.encode(bos + question + "\n"))
    positions = []
    for s in steps:
        for piece in s.split("\n"):
            ids += (list(tokenizer.encode(piece)) if piece else []) + [layout.sep_id]
        positions.append(len(ids) - 1)
    return ids, positions


ENCODERS: dict[str, Callable] = {
    "qwen-prm": encode_qwen,
    "token-classification": encode_qwen,
    "trl": encode_trl,
    "math-shepherd": encode_step_tag,
    "rlhflow": encode_rlhflow,
    "skywork": encode_skywork,
}
JOINER = {"qwen-prm": "", "token-classification": "", "math-shepherd": " "}  # text between a step and its tag


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
                f"{step + joiner + tag!r} tokenizes as {pieces}. The tokenizer merges it with the text "
                "before it, "
                "so that step's score could not be read; use a separator the tokenizer keeps whole "
                "(e.g. an added special token) with FORMAT:DIR#sep=..."
            )


def last_id(tokenizer, text: str) -> int:
    """`tokenizer.encode(text)[-1]`, as the model cards take their candidate and tag ids."""
    ids = tokenizer.encode(text)
    if not ids:
        raise ValueError(f"{text!r} encodes to no token")
    return ids[-1]


def make_layout(tokenizer, fmt: str, separator: str = "", good_token: str = "+", bad_token: str = "-",
                where: str = "reward model", system: str = QWEN_SYSTEM, join: str = " ") -> Layout:
    """Resolve and check the separator (and good / bad tokens) of a public format on its tokenizer."""
    fmt = canonical(fmt)
    if fmt not in PUBLIC_FORMATS:
        raise ValueError(
            f"unknown public reward-model format {fmt!r}; expected one of {list(PUBLIC_FORMATS)}"
        )
    sep = separator or DEFAULT_SEPARATOR[fmt]
    if fmt == "trl":  # ids are concatenated, never searched for: any non-empty id sequence works
        ids = tuple(tokenizer(sep, add_special_tokens=False)["input_ids"])
        if not ids:
            raise ValueError(f"{where}: the separator {sep!r} encodes to no token")
        return Layout(fmt, sep, ids)
    if fmt == "skywork":  # the authors' `tokenizer.encode("\n")[-1]`, appended as an id
        return Layout(fmt, sep, (last_id(tokenizer, sep),))
    if fmt == "rlhflow":
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                f"{where}: an rlhflow PRM scores chat turns, but its tokenizer has no chat template"
            )
        good, bad = (
            last_id(tokenizer, good_token),
            last_id(tokenizer, bad_token),
        )  # prm_evaluate.py: encode('+')[-1]
        if good == bad:
            raise ValueError(
                f"{where}: the good and bad tokens {good_token!r}, {bad_token!r} are the same id {good}"
            )
        return Layout(fmt, good_token, (good,), good, bad, join=join)
    sep_id = separator_id(tokenizer, sep, "separator", where)
    check_tag_stands_alone(tokenizer, sep, sep_id, JOINER[fmt], where)
    if fmt != "math-shepherd":
        return Layout(fmt, sep, (sep_id,), system=system)
    # the card: candidate_tokens = tokenizer.encode(f"{good_token} {bad_token}")[1:] (after the BOS)
    pair = tokenizer(f"{good_token} {bad_token}", add_special_tokens=False)["input_ids"]
    if len(pair) != 2:
        pieces = tokenizer.convert_ids_to_tokens(pair)
        raise ValueError(
            f"{where}: the good / bad tokens {f'{good_token} {bad_token}'!r} encode to {pieces}; the model "
            "card reads exactly two ids, encode(f'{good} {bad}')[1:] (set good=, bad= in the spec)"
        )
    good, bad = pair
    if good == bad:
        raise ValueError(
            f"{where}: the good and bad tokens {good_token!r}, {bad_token!r} are the same id {good}"
        )
    return Layout(fmt, sep, (sep_id,), good, bad)


# ----------------------------------------------------------------------------- reading a folder
def read_config(rm_dir: str | Path) -> dict:
    path = Path(rm_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{rm_dir}: not a reward-model folder (no hiero_rm.json, no config.json)")
    return json.loads(path.read_text(encoding="utf-8"))


def safetensors_names(path: Path) -> set[str]:
    """Tensor names from a .safetensors header (8-byte length, then JSON), without reading the weights."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {k for k in header if k != "__metadata__"}


def weight_names(rm_dir: str | Path) -> set[str] | None:
    """The checkpoint's tensor names: from an index, a safetensors header, or a .bin read with
    weights_only=True on the meta device (no pickle code runs); None if the folder has no weights."""
    d = Path(rm_dir)
    for name in WEIGHT_FILES:
        p = d / name
        if not p.exists():
            continue
        if name.endswith(".json"):
            return set(json.loads(p.read_text(encoding="utf-8")).get("weight_map", {}))
        if name.endswith(".safetensors"):
            return safetensors_names(p)
        return set(torch.load(p, map_location="meta", weights_only=True, mmap=True))
    return None


@dataclass
class Folder:
    """What a model folder says about itself: config, architectures, tensor names, chat template."""

    path: Path
    config: dict
    names: set[str] | None
    chat_template: bool = False

    @property
    def archs(self) -> list[str]:
        return list(self.config.get("architectures") or [])

    def arch_ends(self, suffix: str) -> bool:
        return any(a.endswith(suffix) for a in self.archs)

    def has(self, *prefixes: str) -> bool:
        return self.names is not None and all(any(n.startswith(p) for n in self.names) for p in prefixes)


def inspect_folder(rm_dir: str | Path, tokenizer=None) -> Folder:
    d = Path(rm_dir)
    config = read_config(d)
    chat = bool(getattr(tokenizer, "chat_template", None)) if tokenizer is not None else _has_chat_template(d)
    return Folder(d, config, weight_names(d), chat)


def _has_chat_template(d: Path) -> bool:
    if (d / "chat_template.jinja").exists() or (d / "chat_template.json").exists():
        return True
    tc = d / "tokenizer_config.json"
    return tc.exists() and bool(json.loads(tc.read_text(encoding="utf-8")).get("chat_template"))


def _defines_token(d: Path, token: str) -> bool:
    """Whether the folder's tokenizer files name `token` (an added token such as <extra_0>)."""
    return any(p.exists() and token in p.read_text(encoding="utf-8", errors="replace")
               for p in (d / "tokenizer_config.json", d / "added_tokens.json", d / "tokenizer.json",
                         d / "special_tokens_map.json"))


FORMAT_LIST = "hiero | " + " | ".join(PUBLIC_FORMATS)


def detect_format(rm_dir: str | Path, tokenizer=None, folder: Folder | None = None) -> str:
    """The format of a model folder (see the module docstring); ValueError listing the formats if none fits.
    `folder`: the folder already inspected (its tensor names are not read again)."""
    from hiero.reward.model import SPEC_FILE

    rm_dir = Path(rm_dir)
    if (rm_dir / SPEC_FILE).exists():
        return "hiero"
    f = folder or inspect_folder(rm_dir, tokenizer)
    if f.has("score.0.weight", "score.2.weight") or f.arch_ends("ForProcessRewardModel"):
        return "qwen-prm"
    if f.has("v_head.summary.weight") or f.arch_ends("ForPrmModel"):
        return "skywork"
    if f.arch_ends("ForTokenClassification"):
        return "token-classification" if _defines_token(rm_dir, DEFAULT_SEPARATOR["qwen-prm"]) else "trl"
    if f.arch_ends("ForCausalLM"):
        if f.chat_template:
            raise ValueError(
                f"{rm_dir}: a chat causal LM ({f.archs[0]}): an RLHFlow PRM cannot be told from any "
                f"chat model by its folder; if it is one, give rlhflow:{rm_dir} (formats: {FORMAT_LIST})"
            )
        return "math-shepherd"
    raise ValueError(f"{rm_dir}: no known reward-model format fits this folder (architectures {f.archs}); "
                     f"give FORMAT:DIR with FORMAT one of {FORMAT_LIST}")


def check_folder(f: Folder, fmt: str) -> None:
    """A forced format must match what the folder holds (else a random head, or the wrong one, would
    score)."""
    where, archs = str(f.path), f.archs
    if fmt == "qwen-prm":
        if f.names is not None and not f.has("score.0.weight", "score.2.weight"):
            raise ValueError(f"{where}: qwen-prm needs the MLP head score.0.* / score.2.* in the weights; "
                             f"this checkpoint has none ({archs})")
    elif fmt == "skywork":
        if f.names is not None and not f.has("v_head.summary.weight"):
            raise ValueError(f"{where}: skywork needs the value head v_head.summary.* in the weights; "
                             f"this checkpoint has none ({archs})")
    elif fmt in ("token-classification", "trl"):
        if archs and not f.arch_ends("ForTokenClassification"):
            raise ValueError(
                f"{where}: {fmt} needs a *ForTokenClassification checkpoint, this one is {archs}"
            )
    elif archs and not f.arch_ends("ForCausalLM"):  # math-shepherd, rlhflow
        raise ValueError(f"{where}: {fmt} needs a *ForCausalLM checkpoint, this one is {archs}")


# ----------------------------------------------------------------------------- models without remote code
def headed_model_class(config, head: str):
    """A PreTrainedModel of the folder's backbone (`model.*`) plus the published head, loadable with
    from_pretrained (dtype, device_map, shards): head "mlp" = Qwen's score.0 / ReLU / score.2, "value" =
    Skywork's v_head.summary. Returns logits (B, L, 2) or values (B, L, 1)."""
    from transformers import AutoModel

    backbone_cls = AutoModel._model_mapping[type(config)]
    base = next(c for c in backbone_cls.__mro__[1:] if c.__name__.endswith("PreTrainedModel"))

    class ValueHead(torch.nn.Module):
        def __init__(self, hidden: int):
            super().__init__()
            self.summary = torch.nn.Linear(hidden, 1)

        def forward(self, h):
            return self.summary(h.to(self.summary.weight.dtype))

    class HeadedRewardModel(base):
        _keys_to_ignore_on_load_unexpected = [r"^lm_head\."]

        def __init__(self, config):
            super().__init__(config)
            self.model = backbone_cls(config)
            h = config.hidden_size
            if head == "mlp":
                self.score = torch.nn.Sequential(
                    torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, 2)
                )
            else:
                self.v_head = ValueHead(h)
            self.post_init()

        def forward(self, input_ids=None, attention_mask=None, **kw):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return (self.score if head == "mlp" else self.v_head)(hidden)

    HeadedRewardModel.__name__ = f"{backbone_cls.__name__}With{'MLP' if head == 'mlp' else 'Value'}Head"
    return HeadedRewardModel


# ----------------------------------------------------------------------------- the scorer
class PublicPRMScorer(EncodedScorer):
    """A public PRM as a `Scorer`: score(questions, solutions) -> per-step P(good step)."""

    kind = "prm"

    def __init__(self, model, tokenizer, layout: Layout, *, batch_size: int = 32, max_tokens: int = 0,
                 max_length: int | None = None, progress: bool = False):
        self.model, self.tokenizer, self.layout = model.eval(), tokenizer, layout
        self.format = layout.fmt
        self.batch_size, self.max_tokens, self.progress = batch_size, max_tokens, progress
        self.max_length = max_length or getattr(model.config, "max_position_embeddings", None)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = pad if pad is not None else 0  # right padding under the mask: the id is never read
        self.causal = is_causal_decoder(model)

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device

    def mask(self, batch: dict):
        """The attention mask, or None for a causal decoder: with right padding a real token attends only
        to the real tokens before it, so the mask changes nothing it reads, and without one attention
        runs its causal kernel (benchmarks/RESULTS.md, public PRM: the masked kernel made scoring slower
        than the model card's one-item loop)."""
        return None if self.causal else batch["attention_mask"]

    def encode(self, question: str, steps: list[str]) -> Encoding:
        """One solution -> (input_ids, one position per step where its score is read)."""
        return ENCODERS[self.layout.fmt](self.tokenizer, self.layout, question, steps)

    def examples(self, question: str, steps: list[str], only: list[int] | None = None) -> list[dict]:
        ids, positions = self.encode(question, steps)  # one pass reads every step; `only` is picked after
        return [{"input_ids": ids, "positions": positions}]

    def encode_many(self, questions: list[str], solutions: list[list[str]]) -> list | None:
        """The text layouts (qwen-prm, token-classification, math-shepherd): render every text, then one
        batched tokenizer call; the same ids as `encode` one at a time."""
        fmt, layout, tok = self.layout.fmt, self.layout, self.tokenizer
        if fmt not in ("qwen-prm", "token-classification", "math-shepherd"):
            return None
        chat = fmt != "math-shepherd" and bool(getattr(tok, "chat_template", None))
        texts: list[str | Exception] = []
        for q, steps in zip(questions, solutions):
            try:
                _check_text(q, steps, layout.separator)
                if fmt == "math-shepherd":
                    texts.append(step_tag_text(q, steps, layout.separator))
                elif chat:
                    texts.append(
                        tok.apply_chat_template(
                            qwen_messages(q, steps, layout.separator, layout.system),
                            tokenize=False,
                            add_generation_prompt=False,
                        )
                    )
                else:
                    texts.append(plain_text(q, steps, layout.separator))
            except ValueError as e:
                texts.append(e)
        ok = [t for t in texts if isinstance(t, str)]
        ids = iter(tok(ok, add_special_tokens=not chat)["input_ids"]) if ok else iter([])
        out = []
        for t, steps in zip(texts, solutions):
            if isinstance(t, Exception):
                out.append(t)
                continue
            x = next(ids)
            try:
                out.append((x, tag_positions(x, layout.sep_id, len(steps))))
            except ValueError as e:
                out.append(e)
        return out

    def read(self, batch: dict) -> torch.Tensor:
        """Collated batch -> (M,) P(good) at the M read positions."""
        ids, mask, b, p = batch["input_ids"], self.mask(batch), batch["batch_idx"], batch["pos_idx"]
        fmt = self.layout.fmt
        if fmt in ("qwen-prm", "skywork"):
            out = self.model(input_ids=ids, attention_mask=mask)[b, p].float()
            return out[:, 0].sigmoid() if fmt == "skywork" else out.softmax(-1)[:, 1]
        if fmt in ("token-classification", "trl"):
            return self.model(input_ids=ids, attention_mask=mask).logits[b, p].float().softmax(-1)[:, 1]
        cols = [self.layout.good_id, self.layout.bad_id]  # causal LMs: P(good) over the two tokens
        head = self.model.get_output_embeddings()
        cfg = self.model.config
        if head is None or getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None):
            logits = self.model(input_ids=ids, attention_mask=mask).logits[b, p][:, cols]
        else:  # only the two rows of the output embedding: no (B, L, vocab) logit tensor
            h = self.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state[b, p]
            logits = h @ head.weight[cols].T.to(h.dtype)
            if getattr(head, "bias", None) is not None:
                logits = logits + head.bias[cols]
        return logits.float().softmax(-1)[:, 0]


CAUSAL_TYPES = {
    "qwen2",
    "qwen3",
    "qwen2_moe",
    "qwen3_moe",
    "llama",
    "mistral",
    "mixtral",
    "gemma",
    "gemma2",
    "gemma3_text",
    "phi",
    "phi3",
    "olmo",
    "olmo2",
    "granite",
    "smollm3",
    "deepseek_v3",
    "internlm2",
}


def is_causal_decoder(model) -> bool:
    """Whether every token attends only to earlier ones (a decoder-only transformer of a known type)."""
    return getattr(model.config, "model_type", "") in CAUSAL_TYPES and not getattr(
        model.config, "is_encoder_decoder", False
    )


DTYPES = {"auto": "auto", "fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def load_tokenizer(rm_dir: str | Path):
    """AutoTokenizer, with the real cause when it cannot be built (a SentencePiece model without the
    package)."""
    from transformers import AutoTokenizer

    d = Path(rm_dir)
    try:
        return AutoTokenizer.from_pretrained(d)
    except Exception as e:  # transformers names whichever backend it tried last (often tiktoken)
        if (d / "tokenizer.model").exists() and not (d / "tokenizer.json").exists():
            try:
                import sentencepiece  # noqa: F401
            except ImportError:
                raise ValueError(
                    f"{d}: its tokenizer is a SentencePiece model (tokenizer.model, no tokenizer.json) "
                    "and reading it needs the sentencepiece package: pip install 'hiero[prm]'"
                ) from None
        raise ValueError(f"{d}: the tokenizer cannot be loaded: {type(e).__name__}: {e}") from None


def load_public_scorer(rm_dir: str | Path, fmt: str = "auto", *, separator: str = "", good_token: str = "+",
                       bad_token: str = "-", system: str = QWEN_SYSTEM, join: str = " ", batch_size: int = 32,
                       max_tokens: int = 0, device: str = "cpu", dtype: str | torch.dtype = "fp32",
                       device_map: str | None = None, progress: bool = False) -> PublicPRMScorer:
    """Load a public PRM folder through from_pretrained, its layout checked before the weights load."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForTokenClassification

    where = str(rm_dir)
    folder = inspect_folder(rm_dir)  # config, tensor names, chat template: read once, from the files
    fmt = detect_format(rm_dir, folder=folder) if fmt == "auto" else canonical(fmt)
    if fmt not in PUBLIC_FORMATS:
        raise ValueError(f"{where}: {fmt!r} is not a public format ({' | '.join(PUBLIC_FORMATS)})")
    check_folder(folder, fmt)
    tokenizer = load_tokenizer(rm_dir)
    layout = make_layout(
        tokenizer, fmt, separator, good_token, bad_token, where, system, join
    )  # before weights
    torch_dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
    kw = {"dtype": torch_dtype, "output_loading_info": True}
    if device_map:
        kw["device_map"] = device_map
    if fmt in ("qwen-prm", "skywork"):
        config = AutoConfig.from_pretrained(rm_dir, trust_remote_code=False)
        config.num_labels = 2
        if getattr(config, "pad_token_id", None) is None:  # Qwen2RMConfig never sets it
            config.pad_token_id = config.eos_token_id if isinstance(config.eos_token_id, int) else 0
        cls = headed_model_class(config, "mlp" if fmt == "qwen-prm" else "value")
        model, info = cls.from_pretrained(rm_dir, config=config, **kw)
    else:
        cls = AutoModelForCausalLM if fmt in ("math-shepherd", "rlhflow") else AutoModelForTokenClassification
        model, info = cls.from_pretrained(rm_dir, trust_remote_code=False, **kw)
    if info.get("missing_keys"):
        raise ValueError(f"{where}: weights missing from the checkpoint for the {fmt} format: "
                         f"{sorted(info['missing_keys'])[:5]} (a randomly initialised head would score)")
    if fmt in ("token-classification", "trl") and model.config.num_labels != 2:
        raise ValueError(
            f"{where}: a {fmt} PRM needs 2 labels (bad, good), this one has {model.config.num_labels}"
        )
    if not device_map:
        model = model.to(device)
    return PublicPRMScorer(
        model, tokenizer, layout, batch_size=batch_size, max_tokens=max_tokens, progress=progress
    )
