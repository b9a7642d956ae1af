"""LLM judge for HiPO evaluation: the paper's 11-criterion rubric and a pairwise judge with order swap.

    client = make_chat_client("http://127.0.0.1:8000/v1", "gpt-4.1")        # hiero.preference.chat
    RubricJudge(client, "gpt-4.1", cache_dir="runs/cache/po/judge").score(questions, responses, references)
        -> one dict per response: 11 criteria (0–10), Coherence / Accuracy / Goal Completion group
           means, overall mean, verbosity (short|adequate|long), comment; or {"error": …}
    PairwiseJudge(client, "gpt-4.1").compare(questions, responses_x, responses_y)
        -> per item "x" | "y" | "tie", each asked twice with the order swapped

A chat client is anything with ``chat(messages_batch, temperature=, max_tokens=, response_format=)
-> list[str]``: `hiero.preference.chat.make_chat_client` gives one. Prompts live in
hiero/templates/judge_rubric.txt and judge_pairwise.txt. Every reply is cached on disk under a hash
of (kind, model, temperature, prompt) by `chat.CachedChat`, so re-running an evaluation costs no
requests. Replies are schema-checked; a malformed one is reported as an error
and left out of the means (counted), never guessed.

Groups (paper): Coherence = Logical Flow, Structural Organization, Consistency; Accuracy = Factual
Correctness, Domain Knowledge Application, Reasoning Validity, Final Answer Correctness; Goal
Completion = Strategy Usefulness, Progress Toward Solution, Partial Success Recognition, Error
Robustness. Judge scores are always reported apart from rule-based accuracy (evaluate.py).

Departures from the authors' code: their judge prompt also let GPT-4.1 override the rule-based
correctness flag; here the judge never changes accuracy. The pairwise judge (asked for in the
paper's HiPO-vs-DPO comparison) asks twice with the order swapped and counts a win only when both
orders agree, else a tie (position bias is reported as `inconsistent`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from hiero.cache import fingerprint
from hiero.preference.chat import CachedChat
from hiero.preference.segment import fill

CRITERIA = (
    "Logical Flow", "Structural Organization", "Consistency",
    "Factual Correctness", "Domain Knowledge Application", "Reasoning Validity", "Final Answer Correctness",
    "Strategy Usefulness", "Progress Toward Solution", "Partial Success Recognition", "Error Robustness",
)
GROUPS = {"Coherence": CRITERIA[0:3], "Accuracy": CRITERIA[3:7], "Goal Completion": CRITERIA[7:11]}
VERBOSITY = ("short", "adequate", "long")


class JudgeError(ValueError):
    """A judge reply that does not follow the schema."""


def template(name: str) -> str:
    return resources.files("hiero").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def _json_object(reply: str) -> dict:
    text = reply.strip()
    if not text.startswith("{"):  # tolerate prose or a code fence around the object
        text = text[text.find("{"):text.rfind("}") + 1]
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise JudgeError(f"not JSON ({e.msg}): {reply[:80]!r}") from None
    if not isinstance(obj, dict):
        raise JudgeError("expected a JSON object")
    return obj


def parse_rubric(reply: str) -> dict:
    """Check a rubric reply and add group means and the overall mean.

    >>> r = parse_rubric(json.dumps({**{c: 6 for c in CRITERIA}, "Consistency": 9, "verbosity": "long",
    ...                              "final_comment": "ok"}))
    >>> r["Coherence"], r["Accuracy"], r["overall"], r["verbosity"], r["comment"]
    (7.0, 6.0, 6.2727, 'long', 'ok')
    """
    obj = _json_object(reply)
    out = {}
    for c in CRITERIA:
        v = obj.get(c)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise JudgeError(f"criterion '{c}' missing or not a number: {v!r}")
        if not 0 <= v <= 10:
            raise JudgeError(f"criterion '{c}' = {v} outside 0–10")
        out[c] = float(v)
    verbosity = str(obj.get("verbosity", "")).strip().lower()
    if verbosity not in VERBOSITY:
        raise JudgeError(f"verbosity must be one of {VERBOSITY}, got {obj.get('verbosity')!r}")
    out["verbosity"] = verbosity
    out["comment"] = str(obj.get("final_comment", obj.get("comment", "")))
    for g, members in GROUPS.items():
        out[g] = round(sum(out[c] for c in members) / len(members), 4)
    out["overall"] = round(sum(out[c] for c in CRITERIA) / len(CRITERIA), 4)
    return out


@dataclass
class RubricJudge:
    """Pointwise rubric scores (paper: GPT-4.1, temperature 0.2, JSON, 0–10 per criterion)."""

    client: object
    model: str = "gpt-4.1"
    cache_dir: str | Path | None = None
    temperature: float = 0.2
    chat: CachedChat = field(init=False)

    def __post_init__(self):
        self.chat = CachedChat(self.client, self.model, self.cache_dir, self.temperature)

    def score(
        self, questions: list[str], responses: list[str], references: list[str] | None = None
    ) -> list[dict]:
        tpl = template("judge_rubric.txt")
        refs = references or [""] * len(questions)
        prompts = [fill(tpl, question=q, reference=r or "(not given)", response=s)
                   for q, s, r in zip(questions, responses, refs, strict=True)]
        out = []
        for reply in self.chat.ask("rubric:" + fingerprint(tpl), prompts):
            try:
                out.append(parse_rubric(reply))
            except JudgeError as e:
                out.append({"error": str(e)})
        return out


def parse_winner(reply: str) -> str:
    """'A', 'B' or 'tie' from a pairwise reply.

    >>> parse_winner('{"winner": "b", "reason": "clearer"}')
    'B'
    """
    w = str(_json_object(reply).get("winner", "")).strip()
    w = w.upper() if w.lower() in ("a", "b") else w.lower()
    if w not in ("A", "B", "tie"):
        raise JudgeError(f"winner must be 'A', 'B' or 'tie', got {w!r}")
    return w


@dataclass
class PairwiseJudge:
    """Which of two responses is better, asked in both orders; a win needs both orders to agree."""

    client: object
    model: str = "gpt-4.1"
    cache_dir: str | Path | None = None
    temperature: float = 0.2
    chat: CachedChat = field(init=False)

    def __post_init__(self):
        self.chat = CachedChat(self.client, self.model, self.cache_dir, self.temperature)

    def compare(self, questions: list[str], xs: list[str], ys: list[str]) -> list[str]:
        tpl = template("judge_pairwise.txt")
        fwd = [
            fill(tpl, question=q, response_a=x, response_b=y)
            for q, x, y in zip(questions, xs, ys, strict=True)
        ]
        rev = [
            fill(tpl, question=q, response_a=y, response_b=x)
            for q, x, y in zip(questions, xs, ys, strict=True)
        ]
        replies = self.chat.ask("pairwise:" + fingerprint(tpl), fwd + rev)
        n = len(questions)
        out = []
        for a, b in zip(replies[:n], replies[n:]):
            try:
                first = {"A": "x", "B": "y", "tie": "tie"}[parse_winner(a)]
                second = {"A": "y", "B": "x", "tie": "tie"}[parse_winner(b)]  # swapped order
            except JudgeError:
                out.append("error")
                continue
            out.append(first if first == second else ("tie" if "tie" in (first, second) else "inconsistent"))
        return out


def summarise_pairwise(verdicts: list[str]) -> dict:
    """Win / tie / loss rates of x against y; `inconsistent` = the two orders picked different winners."""
    n = len(verdicts)
    counts = {k: verdicts.count(k) for k in ("x", "y", "tie", "inconsistent", "error")}
    judged = n - counts["error"]
    return {"n": n, **counts, "x_win_rate": round(counts["x"] / judged, 4) if judged else None,
            "y_win_rate": round(counts["y"] / judged, 4) if judged else None}


def summarise_rubric(scores: list[dict]) -> dict:
    """Mean of each criterion, group and overall over the valid replies, verbosity counts, errors."""
    ok = [s for s in scores if "error" not in s]
    out: dict = {"n": len(scores), "errors": len(scores) - len(ok)}
    for key in (*CRITERIA, *GROUPS, "overall"):
        out[key] = round(sum(s[key] for s in ok) / len(ok), 4) if ok else None
    out["verbosity"] = {v: sum(s["verbosity"] == v for s in ok) for v in VERBOSITY}
    return out
