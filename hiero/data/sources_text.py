"""Converters for the line-per-step real data: GSM8K, GSM8K model solutions, MATH500, ProcessBench,
Math-Shepherd and the Math StackExchange preference pairs. Registered in `hiero/data/sources.py`;
run them with `hiero data convert --format F IN -o OUT`.

Rules worth knowing (each is also a choice the paper data leaves open):
- GSM8K: steps are the reference lines before "#### X"; `<<a*b=c>>` calculator annotations are
  removed unless `keep_calc=True`; the answer is X without thousands separators. test_socratic lines
  "sub-question ** step" keep the sub-question unless `socratic="drop"`. Problem ids are
  `gsm8k-<split>-<row>` (0-based row), so model solutions (same order as test.jsonl) share them.
- GSM8K model solutions: one Solution per (question, model) in the order 6b_finetuning,
  6b_verification, 175b_finetuning, 175b_verification; `correct` is the file's `is_correct`.
- ProcessBench: `label` is the first wrong step (or -1). ProcessBench leaves the steps after the
  first error unlabelled; we set them to 0 (a trajectory that has gone wrong stays wrong, the
  Math-Shepherd reading) and record `meta["n_labelled"]` = number of steps whose label comes from
  the benchmark (first_error + 1, or all steps) so a consumer can ignore the filled-in ones.
- Math-Shepherd: each ` ки` tag in `input` ends a step; the character at the same place in `label`
  is "+" (1) or "-" (0). The "Step k: " prefix is removed from the step text. Problem ids hash the
  question text (the dataset has many solutions per question and no ids), like PRM800K's.
- Preference pairs: `question|prompt, chosen, rejected` rows map directly. The MetaCognition
  (HiPO authors') file maps query -> prompt, output_a -> chosen, output_b -> rejected; its
  GPT-written Rq/Mt/Ra decomposition never occurs verbatim in the answers, so by default it goes to
  `meta["decomposed"]`; `prefs_text="decomposed"` instead builds each response as Rq + "\\n\\n" + Mt +
  "\\n\\n" + Ra with exact character spans as segments (what HiPO trains on). Both name the segments as
  HiPO reads them: Rq -> clarification, Mt -> reasoning, Ra -> answer.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from hiero.data.sources_common import (
    Converted,
    histogram,
    iter_records,
    need,
    need_str_list,
    strip_calc,
    text_lines,
)
from hiero.grading import extract_answer
from hiero.types import FieldError, PreferencePair, Problem, Solution

GSM8K_MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def _gsm8k_split(path: Path) -> str:
    return path.name.split(".")[0]  # train | test | test_socratic | …


def _gsm8k_answer(text: str) -> tuple[list[str], str]:
    """Reference text -> (step lines, final answer); FieldError when '####' is missing."""
    if "####" not in text:
        raise FieldError("answer", "has no '#### <answer>' line")
    body, final = text.rsplit("####", 1)
    final = final.strip().replace(",", "")
    if not final:
        raise FieldError("answer", "the '####' line is empty")
    return text_lines(body), final


def convert_gsm8k(path, *, keep_calc: bool = False, socratic: str = "keep", **_) -> Converted:
    """GSM8K train/test/test_socratic -> Problem (see the module docstring)."""
    path = Path(path)
    split = _gsm8k_split(path)
    out = []
    for i, (pos, rec) in enumerate(iter_records(path)):
        with pos.check():
            question = need(rec, "question", str)
            steps, final = _gsm8k_answer(need(rec, "answer", str))
        if not keep_calc:
            steps = [strip_calc(s) for s in steps]
        if socratic == "drop":
            steps = [s.split(" ** ", 1)[1].strip() if " ** " in s else s for s in steps]
        out.append(Problem(id=f"gsm8k-{split}-{i}", question=question, answer=final, steps=steps,
                           source="gsm8k", meta={"split": split}))
    n_steps = [len(p.steps) for p in out]
    return Converted(
        out, "problem", {"rows": len(out), "steps": sum(n_steps), "max_steps": max(n_steps, default=0)}
    )


def convert_gsm8k_model_solutions(path, *, keep_calc: bool = False, **_) -> Converted:
    """example_model_solutions.jsonl -> 4 Solutions per test question, `correct` = is_correct."""
    path = Path(path)
    out, n_correct = [], dict.fromkeys(GSM8K_MODELS, 0)
    rows = 0
    for i, (pos, rec) in enumerate(iter_records(path)):
        rows += 1
        with pos.check():
            question = need(rec, "question", str)
            truth = need(rec, "ground_truth", str)
            for model in GSM8K_MODELS:
                text = need(rec, f"{model}.solution", str)
                correct = need(rec, f"{model}.is_correct", bool)
                steps = text_lines(text if keep_calc else strip_calc(text))
                if not steps:
                    raise FieldError(f"{model}.solution", "is empty")
                n_correct[model] += correct
                out.append(Solution(
                    problem_id=f"gsm8k-test-{i}", steps=steps, answer=extract_answer(text), correct=correct,
                    question=question,
                    meta={"model": model, "source": "gsm8k-model-solutions",
                          "reference_answer": extract_answer(truth)}))
    return Converted(out, "solution", {"rows": rows, "solutions": len(out), "is_correct": n_correct})


def convert_math(path, **_) -> Converted:
    """MATH500 test.jsonl (or the 12k train reconstruction) -> Problem; rows without an answer are
    skipped and counted (two rows of the 12k file have no \\boxed)."""
    path = Path(path)
    out, skipped = [], []
    for pos, rec in iter_records(path):
        with pos.check():
            question = need(rec, "problem", str)
            solution = need(rec, "solution", str)
            uid = need(rec, "unique_id", str)
            answer = need(rec, "answer", str, required=False)
            subject = need(rec, "subject", str, required=False, default="")
            level = need(rec, "level", (int, str), required=False)
        if answer is None:
            skipped.append(uid)
            continue
        out.append(Problem(id=uid, question=question, answer=answer, steps=text_lines(solution),
                           source="math", meta={"subject": subject, "level": level, "solution": solution}))
    info = {"rows": len(out) + len(skipped), "problems": len(out), "skipped_no_answer": skipped,
            "subjects": histogram(p.meta["subject"] for p in out),
            "levels": histogram(p.meta["level"] for p in out)}
    return Converted(out, "problem", info)


def convert_processbench(path, **_) -> Converted:
    """ProcessBench JSON array -> Solution with first_error and hard labels (see the docstring)."""
    path = Path(path)
    split = path.name.split(".")[0]
    out = []
    for pos, rec in iter_records(path):
        with pos.check():
            pid = need(rec, "id", str)
            steps = need_str_list(rec, "steps")
            if not steps:
                raise FieldError("steps", "is empty")
            label = need(rec, "label", int)
            if not -1 <= label < len(steps):
                raise FieldError("label", f"{label} is not -1 or a step index below {len(steps)}")
            correct = need(rec, "final_answer_correct", bool)
            sol = Solution(
                problem_id=pid, steps=steps, question=need(rec, "problem", str),
                answer=extract_answer("\n".join(steps[-2:])), correct=correct, first_error=label,
                labels=[1] * len(steps) if label < 0 else [1] * label + [0] * (len(steps) - label),
                meta={"generator": need(rec, "generator", str, required=False, default=""), "split": split,
                      "n_labelled": len(steps) if label < 0 else label + 1, "source": "processbench"})
        out.append(sol)
    info = {"rows": len(out), "no_error": sum(s.first_error == -1 for s in out),
            "final_answer_correct": sum(bool(s.correct) for s in out),
            "steps": sum(len(s.steps) for s in out), "max_steps": max((len(s.steps) for s in out), default=0)}
    return Converted(out, "solution", info)


_STEP_TAG = "ки"
_STEP_PREFIX = re.compile(r"^Step \d+:\s*")


def _shepherd_steps(text: str, labelled: str) -> tuple[str, list[str], list[int]]:
    """Split a Math-Shepherd `input` at its ` ки` tags and read +/- at the same places in `label`."""
    pieces = text.split(_STEP_TAG)
    if len(pieces) < 2 or pieces[-1].strip():
        raise FieldError("input", f"expected steps each ending with ' {_STEP_TAG}'")
    start = text.find("Step 1:")
    if start < 0 or start > len(pieces[0]):
        raise FieldError("input", "has no 'Step 1:' before the first step tag")
    question = text[:start].strip()
    pieces[0] = pieces[0][start:]
    steps, labels, at = [], [], start
    for k, piece in enumerate(pieces[:-1]):
        if labelled[at:at + len(piece)] != piece:
            raise FieldError("label", f"does not repeat the text of step {k + 1}")
        at += len(piece)
        tag = labelled[at:at + 1]
        if tag not in ("+", "-"):
            raise FieldError("label", f"step {k + 1} tag is {tag!r}, expected '+' or '-'")
        at += 1
        steps.append(_STEP_PREFIX.sub("", piece.strip()))
        labels.append(1 if tag == "+" else 0)
    return question, steps, labels


def shepherd_problem_id(question: str) -> str:
    """Math-Shepherd has several solutions per question and no ids: a hash of the question groups them."""
    return "math-shepherd-" + hashlib.sha1(question.encode("utf-8")).hexdigest()[:12]


def convert_math_shepherd(path, **_) -> Converted:
    """Math-Shepherd rows -> Solution with hard per-step labels."""
    path = Path(path)
    out = []
    for pos, rec in iter_records(path):
        with pos.check():
            question, steps, labels = _shepherd_steps(need(rec, "input", str), need(rec, "label", str))
            answer = extract_answer(steps[-1]) if "answer is" in steps[-1] else None
            first = labels.index(0) if 0 in labels else -1
            out.append(Solution(
                problem_id=shepherd_problem_id(question), steps=steps, question=question, answer=answer,
                # a finished solution's last MC label is its own outcome: "+" = reaches the gold answer
                correct=bool(labels[-1]) if answer is not None else None,
                labels=labels, first_error=first,
                meta={"task": need(rec, "task", str, required=False, default=""), "source": "math-shepherd"}))
    labels = [x for s in out for x in s.labels]
    return Converted(out, "solution", {"rows": len(out), "steps": len(labels), "labels": histogram(labels)})


# the decomposed file's columns (the HiPO paper's names) -> the segment names hiero writes and HiPO reads
# (hiero.preference.segment.DEFAULT_NAMES); a file with the paper's names trained as none (all masked)
_SEGMENTS = {"Rq": "clarification", "Mt": "reasoning", "Ra": "answer"}


def _decomposed_response(rec: dict, side: str) -> tuple[str, dict]:
    parts, spans, at = [], {}, 0
    for column, name in _SEGMENTS.items():
        seg = need(rec, f"{column}_{side}", str).strip()
        if parts:
            at += 2  # the "\n\n" joiner
        spans[name] = (at, at + len(seg))
        parts.append(seg)
        at += len(seg)
    return "\n\n".join(parts), spans


def convert_prefs(path, *, prefs_text: str = "original", **_) -> Converted:
    """Preference pairs (prompt|question, chosen, rejected) or the MetaCognition decomposed file."""
    path = Path(path)
    out, n_spans, n_meta = [], 0, 0
    for i, (pos, rec) in enumerate(iter_records(path)):
        with pos.check():
            if "query" in rec and "output_a" in rec:  # the HiPO authors' decomposed file
                prompt, a, b = need(rec, "query", str), need(rec, "output_a", str), need(rec, "output_b", str)
                if prefs_text == "decomposed":
                    a_text, a_spans = _decomposed_response(rec, "a")
                    b_text, b_spans = _decomposed_response(rec, "b")
                    pair = PreferencePair(prompt=prompt, chosen=a_text, rejected=b_text, id=f"prefs-{i}",
                                          chosen_segments=a_spans, rejected_segments=b_spans,
                                          meta={"original_chosen": a, "original_rejected": b})
                    n_spans += 1
                else:
                    segs = {side: {n: need(rec, f"{c}_{s}", str) for c, n in _SEGMENTS.items()}
                            for side, s in (("chosen", "a"), ("rejected", "b"))}
                    spans = {
                        side: _verbatim_spans(text, segs[side])
                        for side, text in (("chosen", a), ("rejected", b))
                    }
                    found = all(v is not None for v in spans.values())
                    n_spans += found
                    n_meta += not found
                    pair = PreferencePair(prompt=prompt, chosen=a, rejected=b, id=f"prefs-{i}",
                                          chosen_segments=spans["chosen"] if found else None,
                                          rejected_segments=spans["rejected"] if found else None,
                                          meta={} if found else {"decomposed": segs})
            else:
                pair = PreferencePair.from_dict(rec)
                if not pair.id:
                    pair.id = f"prefs-{i}"
        out.append(pair)
    return Converted(out, "pair", {"rows": len(out), "with_spans": n_spans, "segments_in_meta": n_meta})


def _verbatim_spans(text: str, segs: dict[str, str]) -> dict | None:
    """Spans of each segment in `text` when all occur verbatim, in order; else None."""
    spans, at = {}, 0
    for name, seg in segs.items():
        idx = text.find(seg.strip(), at) if seg.strip() else -1
        if idx < 0:
            return None
        spans[name] = (idx, idx + len(seg.strip()))
        at = idx + len(seg.strip())
    return spans
