"""Segments of a response (HiPO's Rq / Mt / Ra) and the per-token segment ids built from them.

A *segmenter* maps (prompt, response) to named ``[start, end)`` character spans of the response:

    TagSegmenter        explicit tags / headers in the text (``<answer>…``, ``## Reasoning``, ``Answer:``)
    HeuristicSegmenter  natural math text: a restatement / context paragraph, step lines, and a final
                        answer line ("The answer is …", "#### …", "A: …", a line with ``\\boxed{}``)
    ChainSegmenter      the first segmenter that finds anything (``auto`` = tags, then heuristic)
    LLMSegmenter        an LLM over the OpenAI-compatible backend (hiero/preference/judge.py has the
                        client protocol): JSON checked against a schema, cached on disk, temperature 0.2

Segment names default to ``clarification`` (Rq), ``reasoning`` (Mt), ``answer`` (Ra); any K names
work. ``encode`` then tokenizes prompt+response **once** with character offsets and labels each
token with the index of the segment it falls in, never tokenizing segments separately (so BOS,
merges across boundaries and joiners cannot shift the labels).

Token labels (``segment_ids``, one per input id):
    IGNORE_INDEX (-100)  prompt token (and padding, in a batch)
    -1                   completion token in no named segment: counted in the whole-response sum only
    k >= 0               completion token of segment ``names[k]``
A token belongs to the segment holding its first non-whitespace character (BPE tokens carry the
preceding space, which should not pull a word into the previous segment). Tokens after the response
text (the EOS, a chat template's end-of-turn) belong to the segment holding the last response
character: stopping is part of the answer, and segments that tile the response then add up to the
whole-response log-prob.

Tokenization follows TRL's DPOTrainer so losses are comparable: plain text is ``prompt + response +
eos_token`` tokenized with the tokenizer's special tokens (BOS where it adds one); the completion
starts where the tokenized prompt and the tokenized prompt+response diverge (TRL's
``common_prefix_length``; for a pair, the smaller of the two sides). With ``chat_template=True`` the
prompt is a user turn and the response the assistant turn, rendered by the template and tokenized
without adding special tokens again (no duplicate BOS).

Example, a character-level tokenizer built inline, WITH a BOS token (Llama-style):

>>> from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
>>> from transformers import PreTrainedTokenizerFast
>>> def char_tokenizer(bos):
...     chars = sorted(set("QA:2+3?\\n5 The answer is"))
...     vocab = {c: i + 3 for i, c in enumerate(chars)} | {"<s>": 0, "</s>": 1, "<unk>": 2}
...     tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
...     tok.pre_tokenizer = pre_tokenizers.Split(Regex("[\\\\s\\\\S]"), behavior="isolated")
...     if bos:
...         tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
...     return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>" if bos else None,
...                                    eos_token="</s>", unk_token="<unk>")
>>> prompt, response = "Q:2+3?\\nA:", "5\\nThe answer is 5"
>>> spans = {"reasoning": (0, 2), "answer": (2, 17)}
>>> enc = encode(char_tokenizer(bos=True), prompt, response, spans, ["reasoning", "answer"])
>>> enc.prompt_len, len(enc.input_ids)   # BOS + 9 prompt chars, then 17 response chars + EOS
(10, 28)
>>> enc.segment_ids[:12], enc.segment_ids[-3:]
([-100, -100, -100, -100, -100, -100, -100, -100, -100, -100, 0, 0], [1, 1, 1])

The same text with a tokenizer WITHOUT a BOS token (Qwen-style): one prompt token fewer, same labels.

>>> enc = encode(char_tokenizer(bos=False), prompt, response, spans, ["reasoning", "answer"])
>>> enc.prompt_len, len(enc.input_ids), enc.segment_ids[9:12]
(9, 27, [0, 0, 1])

Departures from the HiPO paper (arXiv 2604.20140) / the authors' code:
- The authors had GPT-4.1 *rewrite* each answer into Rq/Mt/Ra. The default here splits the answer
  in place (segments are located verbatim, the trained text is the real response); ``rewrite`` mode
  is offered and assembles the rewritten parts in Rq→Mt→Ra order (the authors assembled the
  response answer-first while computing spans Rq→Mt→Ra).
- The authors tokenized each segment separately to get token spans; here one tokenization with
  offsets labels every token.
- The LLM returns the first words of each segment (quotes located verbatim) instead of the
  authors' whitespace-word indices, which LLMs count unreliably. A reply that fails the schema or
  cannot be located raises ``SegmentError``; the pairs stage falls back to the heuristic and counts it.
- Both decomposer modes live in one template file, in sections ``### split`` and ``### rewrite``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Protocol

from hiero.preference.chat import CachedChat
from hiero.types import IGNORE_INDEX, Span

DEFAULT_NAMES = ("clarification", "reasoning", "answer")
# the HiPO paper's segment names -> ours: spans a file names Rq / Mt / Ra are read as these
NAME_ALIASES = {"Rq": "clarification", "Mt": "reasoning", "Ra": "answer"}


def canonical_spans(spans: dict | None) -> dict | None:
    """Segment spans with the paper's names (Rq / Mt / Ra) renamed to ours.

    >>> canonical_spans({"Rq": (0, 5), "Mt": (6, 9), "answer": (9, 12)})
    {'clarification': (0, 5), 'reasoning': (6, 9), 'answer': (9, 12)}
    """
    return None if spans is None else {NAME_ALIASES.get(k, k): v for k, v in spans.items()}
OTHER = -1  # completion token outside every named segment


class SegmentError(ValueError):
    """A segmenter could not produce valid spans (bad LLM reply, quote not found…)."""


class Segmenter(Protocol):
    """What every segmenter offers (tags, heuristic, chain, LLM split mode)."""

    names: tuple[str, ...]

    def segment(self, prompt: str, response: str) -> dict[str, Span]: ...


# ----------------------------------------------------------------------------- tags / headers
TAG_ALIASES = {
    "clarification": ("clarification", "rq", "restatement", "context", "understanding", "query"),
    "reasoning": ("reasoning", "mt", "steps", "solution", "meta-thinking", "thinking", "work"),
    "answer": ("answer", "ra", "final answer", "result"),
}


@dataclass
class TagSegmenter:
    """Spans from explicit markers: ``<name>`` tags or header lines (``## Name``, ``**Name:**``, ``Name:``).

    A segment runs from its marker to the next marker (closing tags and the marker itself included,
    so the segments tile the marked part of the text); text before the first marker is unassigned.

    >>> TagSegmenter().segment("", "<reasoning>2+3=5</reasoning>\\n<answer>5</answer>")
    {'reasoning': (0, 29), 'answer': (29, 47)}
    >>> TagSegmenter().segment("", "## Reasoning\\n2+3=5\\n**Answer:** 5")
    {'reasoning': (0, 19), 'answer': (19, 32)}
    """

    names: tuple[str, ...] = DEFAULT_NAMES
    aliases: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(TAG_ALIASES))

    def _pattern(self) -> re.Pattern:
        def body(j: int) -> str:  # group n{k}_{j}: segment k, occurrence j (group names must be unique)
            alts = []
            for k, name in enumerate(self.names):
                words = sorted({name, *self.aliases.get(name, ())}, key=len, reverse=True)
                alts.append(f"(?P<n{k}_{j}>" + "|".join(re.escape(w) for w in words) + ")")
            return "|".join(alts)

        # an opening tag anywhere, or a header at a line start that ends in ':' or is a markdown header
        return re.compile(
            rf"<(?:{body(0)})>|^[ \t]*(?:#{{1,6}}[ \t]*(?:{body(1)})\b|\*\*(?:{body(2)})[ "
            rf"\t]*:?\*\*|(?:{body(3)})[ \t]*:)",
            re.IGNORECASE | re.MULTILINE,
        )

    def segment(self, prompt: str, response: str) -> dict[str, Span]:
        hits = []
        for m in self._pattern().finditer(response):
            groups = [k for k, v in m.groupdict().items() if v is not None]
            k = int(groups[0][1:].split("_")[0])
            hits.append((m.start(), self.names[k]))
        spans: dict[str, Span] = {}
        for i, (start, name) in enumerate(hits):
            end = hits[i + 1][0] if i + 1 < len(hits) else len(response)
            if name in spans:  # a repeated marker extends its segment (kept contiguous by design)
                continue
            spans[name] = (start, end)
        return spans


# ----------------------------------------------------------------------------- heuristic
# a line stating the final answer: "The answer is", "Final answer", "Answer:", GSM8K's "#### 18", the
# model solutions' "A: 18", PRM800K's "# Answer" header (its value follows on a later line), \boxed{}
ANSWER_LINE = re.compile(r"^\s*(?:final\s+answer|answer\s*:|####|#{1,3}\s*(?:final\s+)?answer\b|a\s*:)"
                         r"|\bthe\s+(?:final\s+)?answer\s+is\b|\\boxed\{", re.IGNORECASE)
# a sentence end inside a line ("… = 13520. The answer is: 13520"): the answer starts at the sentence
# holding the cue, keeping the line's computation in the reasoning ("3.5" has no space after its dot)
SENTENCE_END = re.compile(r"[.!?]\s+")
COMPUTATION = re.compile(r"=|\d\s*[-+*/×÷x]\s*\d|\\frac|\\times|\\cdot|<<")
# where a lead-in clause ends before the first computation of a line: a sentence end, a colon /
# semicolon / comma, or a connective ("…muffins so 3 + 4 = 7")
CLAUSE_END = re.compile(
    r"[.!?;:,]\s+|\s+(?:so|then|thus|hence|and\s+so|which\s+means|that\s+means)\s+", re.IGNORECASE
)
ANSWER_LOOKBACK = 3  # content lines searched from the end for the answer line ("# Answer", "", "29")
MIN_LEAD_WORDS = 3  # a lead-in clause shorter than this is not a restatement ("Janet sells")


@dataclass
class HeuristicSegmenter:
    """Natural math text: clarification = a leading restatement / context part with no computation;
    answer = from the line (or sentence) stating the final answer to the end; reasoning = between.

    Answer: the last of the final ANSWER_LOOKBACK content lines that states an answer (so a "# Answer"
    header keeps the value line below it), from the start of the sentence holding the cue.
    Clarification: the first paragraph (up to a blank line), else the first line, when it computes
    nothing and something follows; otherwise the first line's lead-in before its first computation
    ("Janet eats 3 eggs and bakes 4 so | 3 + 4 = 7 …"; `_lead_in`), when it has >= MIN_LEAD_WORDS words.
    Boundaries fall at line starts except these two in-line cuts; the three spans tile the response.
    A missing part is an empty span (masked out of its loss term; `missing_segments` counts them).

    >>> HeuristicSegmenter().segment("", "We start with 7.\\n7 + 5 = 12\\nThe answer is 12")
    {'clarification': (0, 17), 'reasoning': (17, 28), 'answer': (28, 44)}
    >>> HeuristicSegmenter().segment("", "3 * 4 = 12, so we get $\\\\boxed{12}$")
    {'clarification': (0, 0), 'reasoning': (0, 0), 'answer': (0, 34)}
    >>> HeuristicSegmenter().segment("", "She eats 3 and bakes 4 so 3 + 4 = 7 are used. The answer is: 7")
    {'clarification': (0, 26), 'reasoning': (26, 46), 'answer': (46, 62)}
    """

    names: tuple[str, ...] = DEFAULT_NAMES

    def __post_init__(self):
        if len(self.names) != 3:
            raise ValueError(
                "the heuristic splitter makes 3 segments (clarification, reasoning, answer), got "
                f"{self.names}"
            )

    def segment(self, prompt: str, response: str) -> dict[str, Span]:
        lines = response.splitlines(keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))
        content = [i for i, line in enumerate(lines) if line.strip()]
        answer_start = len(response)
        hit = next((i for i in reversed(content[-ANSWER_LOOKBACK:]) if ANSWER_LINE.search(lines[i])), None)
        if hit is not None:
            cue = ANSWER_LINE.search(lines[hit]).start()
            answer_start = starts[hit] + max(
                (m.end() for m in SENTENCE_END.finditer(lines[hit], 0, cue)), default=0
            )
        clar_end = 0
        body = [i for i in content if starts[i] < answer_start]
        if len(body) >= 2:
            first = body[0]
            para_end = first
            while (
                para_end + 1 < len(lines)
                and lines[para_end + 1].strip()
                and starts[para_end + 1] < answer_start
            ):
                para_end += 1
            blank_after = para_end + 1 < len(lines) and not lines[para_end + 1].strip()
            last = para_end if blank_after and para_end < body[-1] else first
            text = "".join(lines[first:last + 1])
            if not COMPUTATION.search(text):
                clar_end = starts[last + 1]
                while (
                    clar_end < answer_start
                    and not response[clar_end : starts[_line_of(starts, clar_end) + 1]].strip()
                ):
                    clar_end = starts[
                        _line_of(starts, clar_end) + 1
                    ]  # blank lines stay with the clarification
        if clar_end == 0 and body:
            clar_end = _lead_in(response, starts[body[0]], min(starts[body[0] + 1], answer_start))
        c, r, a = self.names
        return {c: (0, clar_end), r: (clar_end, answer_start), a: (answer_start, len(response))}


def _lead_in(text: str, start: int, end: int) -> int:
    """End of the lead-in of text[start:end] before its first computation (0: none): after the last
    clause end before it, else before the first number ("The total number of wheels is | 57 cars x 4 =
    228"); either only when the lead-in has >= MIN_LEAD_WORDS words."""
    comp = COMPUTATION.search(text, start, end)
    if comp is None:
        return 0
    operand = text.rfind(" ", start, comp.start()) + 1 or start  # the token the computation starts in
    clause = max((m.end() for m in CLAUSE_END.finditer(text, start, operand)), default=0)
    number = re.compile(r"[\d$\\]").search(text, start, operand)
    digit = text.rfind(" ", start, number.start()) + 1 if number else operand
    for cut in (clause, digit):
        if cut > start and len(text[start:cut].split()) >= MIN_LEAD_WORDS:
            return cut
    return 0


def _line_of(starts: list[int], pos: int) -> int:
    for i in range(len(starts) - 1):
        if starts[i] <= pos < starts[i + 1]:
            return i
    return len(starts) - 2


@dataclass
class ChainSegmenter:
    """The segmenter that finds the most non-empty segments, the first one on ties ({} if none finds any).

    Not simply the first that finds anything: PRM800K's "# Answer" header is a tag for the answer
    alone, and tags alone would leave its reasoning unassigned where the heuristic finds all three.
    """

    segmenters: list[Segmenter]
    names: tuple[str, ...] = DEFAULT_NAMES

    def segment(self, prompt: str, response: str) -> dict[str, Span]:
        best, n_best = {}, 0
        for seg in self.segmenters:
            spans = seg.segment(prompt, response)
            n = sum(e > s for s, e in spans.values())
            if n > n_best:
                best, n_best = spans, n
            if n_best == len(self.names):
                break
        return best


def has_segment(spans: dict | None, name: str) -> bool:
    """Whether `spans` give segment `name` a non-empty span."""
    return bool(spans) and name in spans and spans[name][1] > spans[name][0]


def missing_segments(spans: list[tuple[dict | None, dict | None]], names) -> dict[str, int]:
    """For each name, how many pairs (chosen spans, rejected spans) have it empty on either side: the
    pairs whose HiPO term for that segment is masked to zero (losses.py).

    >>> missing_segments([({"a": (0, 3), "b": (3, 3)}, {"a": (0, 2), "b": (2, 5)}), (None, None)], ("a", "b"))
    {'a': 1, 'b': 2}
    """
    return {n: sum(not (has_segment(c, n) and has_segment(r, n)) for c, r in spans) for n in names}


def warn_missing(missing: dict[str, int], total: int, log, what: str = "pairs") -> None:
    """One warning per segment missing somewhere, with counts (HiPO otherwise trains as plain DPO
    silently)."""
    short = {"clarification": "Rq", "reasoning": "Mt", "answer": "Ra"}
    for name, n in missing.items():
        if n:
            label = f"{name} ({short[name]})" if name in short else name
            log.warning("segment %s missing in %d of %d %s; HiPO's %s term is zero for them", label, n, total,
                        what, name)


# ----------------------------------------------------------------------------- LLM decomposer
def _template_sections() -> dict[str, str]:
    text = resources.files("hiero").joinpath("templates/decompose_prompt.txt").read_text(encoding="utf-8")
    parts = re.split(r"^### (split|rewrite)\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].strip() + "\n" for i in range(1, len(parts) - 1, 2)}


def fill(template: str, **values: str) -> str:
    """Replace {name} placeholders (str.format would trip over the JSON braces in templates)."""
    for k, v in values.items():
        template = template.replace("{" + k + "}", v)
    return template


def check_reply(reply: str, names: tuple[str, ...]) -> dict[str, str]:
    """Parse and schema-check a decomposer reply: a JSON object with exactly `names`, string values."""
    text = reply.strip()
    if text.startswith("```"):  # some servers wrap JSON in a code fence despite response_format
        text = text.strip("`").removeprefix("json").strip()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise SegmentError(f"decomposer reply is not JSON ({e.msg}): {reply[:80]!r}") from None
    if not isinstance(obj, dict) or set(obj) != set(names):
        raise SegmentError(f"decomposer reply must have exactly the keys {list(names)}, got {obj!r:.120}")
    for k, v in obj.items():
        if not isinstance(v, str):
            raise SegmentError(f"decomposer reply field '{k}' must be a string, got {type(v).__name__}")
    return obj


def locate_quotes(response: str, quotes: dict[str, str], names: tuple[str, ...]) -> dict[str, Span]:
    """Spans from each segment's opening words, found in order in `response` (whitespace-tolerant).

    The first present segment starts at 0 and each runs to the next one's start, so they tile.

    >>> locate_quotes("We have 7.\\n7+5=12\\nSo 12.", {"a": "We have", "b": "7+5", "c": "So  12"},
    ...               ("a", "b", "c"))
    {'a': (0, 11), 'b': (11, 18), 'c': (18, 24)}
    """
    starts: list[tuple[str, int]] = []
    pos = 0
    for name in names:
        quote = quotes[name].strip()
        if not quote:
            continue
        pattern = r"\s+".join(re.escape(w) for w in quote.split())
        m = re.compile(pattern).search(response, pos)
        if m is None:
            raise SegmentError(f"segment '{name}' quote {quote[:40]!r} not found after character {pos}")
        starts.append((name, m.start()))
        pos = m.end()
    present: dict[str, Span] = {}
    for i, (name, s) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(response)
        present[name] = (0 if i == 0 else s, end)
    spans, last_end = {}, 0
    for name in names:  # an absent segment is an empty span where it would have been
        spans[name] = present.get(name, (last_end, last_end))
        last_end = spans[name][1]
    return spans


@dataclass
class LLMSegmenter:
    """Decompose responses with an LLM (OpenAI-compatible ``client.chat``), cached on disk.

    mode "split" (default): the LLM quotes the opening words of each segment; spans are located
    verbatim. mode "rewrite" (the paper's): the LLM rewrites each part; `rewrite()` returns the new
    response text (parts joined by newlines, Rq→Mt→Ra) with its spans.
    """

    client: object
    model: str = ""
    cache_dir: str | Path | None = None
    mode: str = "split"
    temperature: float = 0.2
    max_tokens: int = 1024
    names: tuple[str, ...] = DEFAULT_NAMES
    calls: int = 0  # requests actually sent (cache misses), for reports and tests

    def replies(self, items: list[tuple[str, str]]) -> list[dict[str, str] | SegmentError]:
        """Checked replies for (prompt, response) items; one batched request for the cache misses."""
        template = _template_sections()[self.mode]
        chat = CachedChat(self.client, self.model, self.cache_dir, self.temperature, self.max_tokens)
        prompts = [
            fill(
                template,
                names=", ".join(self.names),
                keys=json.dumps({n: "..." for n in self.names}),
                question=q,
                response=r,
            )
            for q, r in items
        ]
        out = chat.ask(f"decompose-{self.mode}", prompts)
        self.calls += chat.calls
        checked = []
        for reply in out:
            try:
                checked.append(check_reply(reply, self.names))
            except SegmentError as e:
                checked.append(e)
        return checked

    def segment(self, prompt: str, response: str) -> dict[str, Span]:
        return self.segment_many([(prompt, response)])[0]

    def segment_many(self, items: list[tuple[str, str]]) -> list[dict[str, Span]]:
        """Split-mode spans for many items (raises SegmentError on the first bad reply)."""
        if self.mode != "split":
            raise ValueError("segment() needs mode='split'; use rewrite() in rewrite mode")
        out = []
        for (_, response), reply in zip(items, self.replies(items), strict=True):
            if isinstance(reply, SegmentError):
                raise reply
            out.append(locate_quotes(response, reply, self.names))
        return out

    def rewrite(self, prompt: str, response: str) -> tuple[str, dict[str, Span]]:
        """Rewrite-mode: the new response (parts in name order, joined by "\\n") and its spans."""
        reply = self.replies([(prompt, response)])[0]
        if isinstance(reply, SegmentError):
            raise reply
        return assemble(reply, self.names)


def assemble(
    parts: dict[str, str], names: tuple[str, ...] = DEFAULT_NAMES, sep: str = "\n"
) -> tuple[str, dict[str, Span]]:
    """Join rewritten parts in `names` order (Rq→Mt→Ra) and return the text with its spans.

    Each non-empty part keeps the separator that follows it, so the spans tile the text.

    >>> assemble({"clarification": "Find x.", "reasoning": "x=2", "answer": "2"})
    ('Find x.\\nx=2\\n2', {'clarification': (0, 8), 'reasoning': (8, 12), 'answer': (12, 13)})
    """
    present = [n for n in names if parts.get(n, "").strip()]
    text, spans = "", {}
    for n in names:
        s = len(text)
        if n in present:
            text += parts[n].strip() + (sep if n != present[-1] else "")
        spans[n] = (s, len(text))
    return text, spans


# ----------------------------------------------------------------------------- per-token ids
@dataclass
class Encoded:
    """One tokenized prompt+response: ids, per-token segment labels, and where the completion starts."""

    input_ids: list[int]
    segment_ids: list[int]
    prompt_len: int
    offsets: list[tuple[int, int]]
    response_start: int  # character offset of the response in the tokenized text


def render(tokenizer, prompt: str, response: str, *, chat_template: bool = False,
           add_eos: bool = True) -> tuple[str, str, int, bool]:
    """(prompt text, full text, response character offset, add_special_tokens) as they are tokenized."""
    if chat_template:
        user = [{"role": "user", "content": prompt}]
        prompt_text = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(
            user + [{"role": "assistant", "content": response}], tokenize=False
        )
        at = full.find(response, len(prompt_text) if full.startswith(prompt_text) else 0)
        if at < 0:
            raise ValueError("the chat template changed the response text; cannot place segments")
        return prompt_text, full, at, False
    eos = tokenizer.eos_token or ""
    full = prompt + response + (eos if add_eos and not response.endswith(eos) else "")
    return prompt, full, len(prompt), True


def common_prefix_length(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def encode(tokenizer, prompt: str, response: str, spans: dict[str, Span] | None, names, *,
           chat_template: bool = False, add_eos: bool = True, prompt_len: int | None = None) -> Encoded:
    """Tokenize prompt+response once and label each token with its segment index (see module doc)."""
    prompt_text, full, at, special = render(
        tokenizer, prompt, response, chat_template=chat_template, add_eos=add_eos
    )
    enc = tokenizer(full, add_special_tokens=special, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    if prompt_len is None:
        prompt_ids = tokenizer(prompt_text, add_special_tokens=special)["input_ids"]
        prompt_len = common_prefix_length(prompt_ids, ids)
    # character -> segment index over the response (OTHER where no segment covers it)
    char_seg = [OTHER] * len(response)
    for k, name in enumerate(names):
        s, e = (spans or {}).get(name, (0, 0))
        for c in range(s, e):
            char_seg[c] = k
    tail_seg = char_seg[-1] if char_seg else OTHER
    seg_ids = []
    for t, (s, e) in enumerate(offsets):
        if t < prompt_len:
            seg_ids.append(IGNORE_INDEX)
            continue
        piece = full[s:e]
        first = s + (len(piece) - len(piece.lstrip())) if piece.strip() else s
        c = first - at
        if c >= len(response) or (s == e and s >= at + len(response)):
            seg_ids.append(tail_seg)  # EOS / end-of-turn after the response
        elif c < 0:
            seg_ids.append(char_seg[0] if char_seg and s == e else OTHER)
        else:
            seg_ids.append(char_seg[c])
    return Encoded(ids, seg_ids, prompt_len, offsets, at)


def encode_pair(
    tokenizer,
    prompt: str,
    chosen: str,
    rejected: str,
    chosen_spans,
    rejected_spans,
    names,
    *,
    chat_template: bool = False,
    add_eos: bool | tuple[bool, bool] = True,
) -> tuple[Encoded, Encoded]:
    """Both sides of a pair; the completion starts at the same token for both (TRL's rule: the
    smaller common-prefix length of prompt vs prompt+chosen and prompt vs prompt+rejected).
    add_eos: one flag for both sides, or (chosen, rejected)."""
    eos_c, eos_r = (add_eos, add_eos) if isinstance(add_eos, bool) else add_eos

    def both(n: int | None = None) -> tuple[Encoded, Encoded]:
        return (
            encode(
                tokenizer,
                prompt,
                chosen,
                chosen_spans,
                names,
                chat_template=chat_template,
                add_eos=eos_c,
                prompt_len=n,
            ),
            encode(
                tokenizer,
                prompt,
                rejected,
                rejected_spans,
                names,
                chat_template=chat_template,
                add_eos=eos_r,
                prompt_len=n,
            ),
        )

    c, r = both()
    n = min(c.prompt_len, r.prompt_len)
    return both(n) if n != c.prompt_len or n != r.prompt_len else (c, r)


SEGMENTERS: dict[str, Callable[[tuple[str, ...]], Segmenter]] = {
    "tags": lambda names: TagSegmenter(names=names),
    "heuristic": lambda names: HeuristicSegmenter(names=names),
    "auto": lambda names: ChainSegmenter(
        [TagSegmenter(names=names), HeuristicSegmenter(names=names)], names=names
    ),
}
