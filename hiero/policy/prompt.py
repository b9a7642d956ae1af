"""How a policy is prompted and how its text splits into steps (one definition for every stage).

    fmt = prompt_format(tokenizer, folder)    # what the policy folder asks for (rules below)
    fmt.prompt(question, steps)               # the text the policy continues: the next step comes next
    fmt.split(text)                           # a generated solution -> its steps
    fmt.step_sep                              # the stop string of step-by-step generation
    format_of(generator)                      # the format of a loaded generator (RAW when it has none)

Two styles:
  * raw (the embedded policy, and any model without a chat template): the template in
    `hiero/templates/policy_prompt.txt` ("Question: …\\nAnswer:\\n"), then one step per line; a
    step boundary is "\\n" and a partial solution is the prompt plus the finished steps, each
    followed by "\\n".
  * chat (a model whose tokenizer has a chat template, e.g. an instruct model): the question (plus an
    instruction saying how to lay out and end the solution) is the user turn, rendered by the
    tokenizer's own template with the generation prompt; the assistant's reply is the solution.
    Real models write paragraphs, and ProcessBench and PRM800K count a paragraph as a step, so a
    step boundary is a blank line ("\\n\\n"): one step may hold several lines (a numbered list stays
    one step), and a partial solution is the rendered prompt plus the finished steps, each followed
    by "\\n\\n".

Which one: a `hiero_prompt.json` in the policy folder decides (keys `style` "raw" | "chat",
`step_sep`, `instruction`, `system`; written by `hiero model import`, editable by hand); without it,
a tokenizer with a chat template gets chat, any other raw. `build_prompt` and `split_steps` are the
raw style (the embedded default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

STEP_SEP = "\n"
PARAGRAPH_SEP = "\n\n"
PROMPT_FILE = "hiero_prompt.json"
DEFAULT_INSTRUCTION = (
    'Solve it step by step, one step per paragraph, and end with "The answer is" followed '
    "by the final answer."
)


@cache
def _template() -> str:
    return resources.files("hiero").joinpath("templates/policy_prompt.txt").read_text(encoding="utf-8")


def build_prompt(question: str, steps: list[str] | None = None) -> str:
    """Prompt for the next step in the raw style: question in the template, then the steps so far.

    >>> build_prompt("What is 2+3?", ["2 + 3 = 5"])
    'Question: What is 2+3?\\nAnswer:\\n2 + 3 = 5\\n'
    """
    prefix = _template().format(question=question.strip())
    return prefix + "".join(s + STEP_SEP for s in (steps or []))


def split_steps(text: str, sep: str = STEP_SEP) -> list[str]:
    """Split a generated solution into steps: the non-empty pieces between separators, stripped.

    >>> split_steps("2 + 3 = 5\\n\\nThe answer is 5\\n")
    ['2 + 3 = 5', 'The answer is 5']
    >>> split_steps("1. 3 + 4 = 7\\n2. 7 * 2 = 14\\n\\n\\nThe answer is 14", sep="\\n\\n")
    ['1. 3 + 4 = 7\\n2. 7 * 2 = 14', 'The answer is 14']
    """
    return [piece.strip() for piece in text.split(sep) if piece.strip()]


@dataclass(frozen=True)
class PromptFormat:
    """A policy's prompt layout and step boundary (see the module docstring)."""

    style: Literal["raw", "chat"] = "raw"
    step_sep: str = STEP_SEP
    instruction: str = ""
    system: str | None = None
    tokenizer: object = field(default=None, compare=False, repr=False)  # chat: renders the template

    def __post_init__(self):
        if self.style not in ("raw", "chat"):
            raise ValueError(f"prompt style {self.style!r}: choose raw or chat")
        if "\n" not in self.step_sep or self.step_sep.strip():
            raise ValueError(
                f"step separator {self.step_sep!r}: give whitespace with a line break, e.g. '\\n\\n'"
            )
        if self.style == "chat" and getattr(self.tokenizer, "chat_template", None) is None:
            raise ValueError("the chat prompt style needs a tokenizer with a chat template")

    def head(self, question: str) -> str:
        """The prompt before any step."""
        if self.style == "raw":
            return _template().format(question=question.strip())
        content = question.strip() + (f"\n\n{self.instruction}" if self.instruction else "")
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
            [{"role": "user", "content": content}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def prompt(self, question: str, steps: list[str] | None = None) -> str:
        """The text the policy continues: the head, then each finished step followed by the separator."""
        return self.head(question) + "".join(s + self.step_sep for s in (steps or []))

    def split(self, text: str) -> list[str]:
        return split_steps(text, self.step_sep)

    def join(self, steps: list[str]) -> str:
        return self.step_sep.join(steps)

    def end_ids(self, tokenizer=None) -> list[int]:
        """Token ids that end a solution in training data: EOS in the raw style; in the chat style what
        the template writes after an assistant turn, up to its line break (SmolLM2 and Qwen
        "<|im_end|>", Llama 3 "<|eot_id|>"), so a fine-tuned model stops where generation stops."""
        tok = tokenizer or self.tokenizer
        if self.style == "raw":
            if tok.eos_token_id is None:
                raise ValueError("the tokenizer has no EOS token (needed to end a solution)")
            return [tok.eos_token_id]
        mark = "\x1fHIERO_END\x1f"
        text = tok.apply_chat_template(
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": mark}], tokenize=False
        )
        tail = text.split(mark, 1)[1].split("\n", 1)[0] if mark in text else ""
        ids = tok(tail, add_special_tokens=False)["input_ids"] if tail else []
        if not ids:
            if tok.eos_token_id is None:
                raise ValueError(
                    "the chat template ends an assistant turn with nothing and there is no EOS token"
                )
            ids = [tok.eos_token_id]
        return ids

    def describe(self) -> dict:
        return {
            "style": self.style,
            "step_sep": self.step_sep,
            "instruction": self.instruction,
            "system": self.system,
        }


RAW = PromptFormat()


def prompt_format(tokenizer, folder: str | Path | None = None) -> PromptFormat:
    """The format of a policy: its folder's hiero_prompt.json, else chat when the tokenizer has a template."""
    path = Path(folder) / PROMPT_FILE if folder is not None else None
    if path is not None and path.exists():
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
            unknown = set(spec) - {"style", "step_sep", "instruction", "system"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            return PromptFormat(tokenizer=tokenizer, **spec)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: {e}") from None
    if getattr(tokenizer, "chat_template", None):
        return PromptFormat(style="chat", step_sep=PARAGRAPH_SEP, instruction=DEFAULT_INSTRUCTION,
                            tokenizer=tokenizer)
    return RAW


PROBE = "x"


def encode_prompts(tokenizer, prompts: list[str], special: bool | None = None) -> list[list[int]]:
    """Token ids of prompts as the model meets them inside a longer text (`special=False`: a piece of
    text in the middle, e.g. a step and its separator, gets no special tokens at all).

    Two rules, both about real tokenizers:
      * a prompt that already starts with the BOS text (a rendered chat template) gets no special tokens
        added, so the BOS is never doubled; other prompts get the tokenizer's usual ones;
      * a prompt that ends in whitespace (a step separator such as "\n\n") is tokenized as it is when
        text follows it: byte-level BPE merges "\n\n" at the end of a string into one token but splits
        it before a word, so a prompt ending in a separator would otherwise differ from every solution
        the model was trained on. The prompt is encoded with a probe letter after it and the probe's
        token removed (only when the probe is its own last token; otherwise as is).
    """
    bos = getattr(tokenizer, "bos_token", None)
    out: list[list[int]] = [[] for _ in prompts]
    for rendered in (False, True):
        idx = [i for i, p in enumerate(prompts) if bool(bos and p.startswith(bos)) == rendered]
        if not idx:
            continue
        add = (not rendered) if special is None else special
        plain = tokenizer([prompts[i] for i in idx], add_special_tokens=add)["input_ids"]
        tail = [k for k, i in enumerate(idx) if prompts[i][-1:].isspace()]
        probed = (
            tokenizer([prompts[idx[k]] + PROBE for k in tail], add_special_tokens=add)["input_ids"]
            if tail
            else []
        )
        for k, ids in zip(tail, probed):
            # the probe must be its own last token, and the rest must spell the same text as the plain ids
            if len(ids) > 1 and tokenizer.decode(ids[-1:]) == PROBE and tokenizer.decode(ids[:-1]) == \
                    tokenizer.decode(plain[k]):
                plain[k] = ids[:-1]
        for k, i in enumerate(idx):
            out[i] = plain[k]
    return out


def save_prompt_file(source: str | Path, folder: str | Path) -> None:
    """Carry a policy's hiero_prompt.json over to a model trained from it (a fine-tuned policy is
    prompted as its parent was)."""
    src = Path(source) / PROMPT_FILE
    if src.exists():
        (Path(folder) / PROMPT_FILE).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")


def format_of(generator) -> PromptFormat:
    """The prompt format of a generator (a backend without one, e.g. an OpenAI endpoint, gets RAW)."""
    return getattr(generator, "prompt_format", None) or RAW
