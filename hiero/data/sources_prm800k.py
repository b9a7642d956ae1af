"""PRM800K converters: the raw phase-1/phase-2 label files, the stepwise-critic denormalisation
(rebuilt into solutions), and LateBench's phase-2 list; plus the step-row view HRM builds rows from.

Labelled trajectory of one raw line (the exact rule), step by step through `label.steps`:
    chosen_completion = j        -> step = completions[j].text, rating = completions[j].rating
    else human_completion        -> step = human_completion.text, rating None ("human"), label 1:
                                    labelers write it to replace rejected completions, so it is good
    else (the line's last step)  -> finish_reason "found_error" (phase 2): step = the first
                                    completion rated -1, label 0, and the trajectory ends there;
                                    otherwise (give_up, or an unrated tail) the trajectory ends
                                    before this step, whose candidates stay in meta only
                                    (a line given up at its first step keeps steps = []).
Ratings -> hard labels: +1 -> 1, -1 -> 0, human -> 1, 0 -> the `neutral` policy:
    positive -> 1 (the Qwen PRM800K baseline), negative -> 0,
    drop     -> 1 in `labels` (neutral is "not an error") *and* the step index listed in
                `meta["ignore_steps"]`, so a row builder can leave it out as HRM's code does; a
                trajectory always keeps its neutral steps as context.
first_error = first trajectory step rated -1 (or -1). answer = extract_answer of the last step
(its "# Answer" part) or None; correct = answer graded against ground_truth_answer (False when the
trajectory states no answer).

Alternatives: `meta["alternatives"]` lists every candidate the labelers saw as
{"step": i, "text", "rating", "chosen", "human"}: a candidate for position i given the chosen steps
0..i-1 (i may equal len(steps) for the candidates of a give-up step). `step_rows(solution)` turns
them into rows (question, prev_steps = chosen steps[:i], step = candidate, label): the "chosen
previous step ⊕ rated candidate" pairs of HRM's PRM800K builder. Unrated non-human candidates
(rating null) give no row.

Stepwise-critic files (one row per candidate: instruction, responses = chosen steps so far,
next_response, answer, rating, is_preferred_response, is_human_response): rows are grouped by
(instruction, responses); each group is the candidate set for one position, its preferred row the
chosen step; a trajectory is a chain of groups, read from every group no longer prefix of another.
The "# Answer" tail the converter split into `answer` is re-attached as "\\n\\n# Answer\\n\\n{answer}"
so step texts equal the raw ones. Trajectories labelled twice (same generation, two labelers) share
every prefix and cannot be told apart: they rebuild as one solution whose alternatives hold both
labelers' candidates (phase1_test: 106 raw lines -> 101 solutions, same 5,449 candidate rows).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from hiero.data.sources_common import Converted, Pos, histogram, iter_records, need, need_str_list
from hiero.grading import extract_answer, is_equiv
from hiero.types import FieldError, Solution

NEUTRAL_POLICIES = ("drop", "positive", "negative")


def problem_id(problem: str) -> str:
    """PRM800K has no problem ids: a stable hash of the problem text groups solutions by problem."""
    return "prm800k-" + hashlib.sha1(problem.encode("utf-8")).hexdigest()[:12]


def rating_label(rating: int | None, human: bool, neutral: str) -> int | None:
    """Hard label of one rated step; None = no label (dropped neutral, unrated candidate)."""
    if rating is None:
        return 1 if human else None
    if rating == 0:
        return {"positive": 1, "negative": 0, "drop": None}[neutral]
    return 1 if rating > 0 else 0


def _check_rating(value, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():  # the parquet stores 1.0 / 0.0 / -1.0
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in (-1, 0, 1):
        raise FieldError(where, f"expected -1, 0, 1 or null, got {value!r}")
    return value


def _build_solution(pid, question, truth, steps, ratings, sources, alternatives, neutral, meta) -> Solution:
    """Common tail of both PRM800K converters: labels, first error, answer, grading, meta."""
    labels, ignore = [], []
    for i, (r, src) in enumerate(zip(ratings, sources, strict=True)):
        lab = rating_label(r, src == "human", neutral)
        if lab is None:  # dropped neutral: "not an error" in the trajectory, excluded from rows
            ignore.append(i)
            lab = 1
        labels.append(lab)
    first = next((i for i, r in enumerate(ratings) if r == -1), -1)
    answer = extract_answer(steps[-1]) if steps and "# Answer" in steps[-1] else None
    correct = bool(answer is not None and truth is not None and is_equiv(answer, truth))
    meta = {**meta, "ground_truth_answer": truth, "ratings": ratings, "step_sources": sources,
            "ignore_steps": ignore, "neutral": neutral, "alternatives": alternatives, "source": "prm800k"}
    return Solution(problem_id=pid, steps=steps, answer=answer, correct=correct, question=question,
                    labels=labels, first_error=first, meta=meta)


def _raw_line(pos: Pos, rec: dict, neutral: str, counts: dict) -> Solution:
    question = need(rec, "question.problem", str)
    truth = need(rec, "question.ground_truth_answer", (str, int, float), required=False)
    finish = need(rec, "label.finish_reason", str)
    raw_steps = need(rec, "label.steps", list)
    steps, ratings, sources, alts = [], [], [], []
    for i, st in enumerate(raw_steps):
        key = f"label.steps[{i}]"
        if not isinstance(st, dict):
            raise FieldError(key, f"expected an object, got {type(st).__name__}")
        comps = st.get("completions") or []
        if not isinstance(comps, list):
            raise FieldError(f"{key}.completions", "expected a list")
        for j, c in enumerate(comps):
            text = need(c, "text", str) if isinstance(c, dict) else None
            if text is None:
                raise FieldError(f"{key}.completions[{j}]", "expected an object with 'text'")
            rating = _check_rating(c.get("rating"), f"{key}.completions[{j}].rating")
            counts["ratings"].append(rating)
            alts.append({"step": len(steps), "text": text, "rating": rating,
                         "chosen": j == st.get("chosen_completion"), "human": False})
        human = st.get("human_completion")
        if human is not None:
            htext = need(human, "text", str) if isinstance(human, dict) else None
            if htext is None:
                raise FieldError(f"{key}.human_completion", "expected an object with 'text'")
            counts["human"] += 1
            alts.append({"step": len(steps), "text": htext, "rating": None, "chosen": False, "human": True})
        chosen = st.get("chosen_completion")
        if chosen is not None:
            if isinstance(chosen, bool) or not isinstance(chosen, int) or not 0 <= chosen < len(comps):
                raise FieldError(
                    f"{key}.chosen_completion", f"{chosen!r} is not an index into {len(comps)} completions"
                )
            steps.append(comps[chosen]["text"])
            ratings.append(_check_rating(comps[chosen].get("rating"), f"{key}.completions[{chosen}].rating"))
            sources.append("chosen")
        elif human is not None:
            steps.append(human["text"])
            ratings.append(None)
            sources.append("human")
        else:
            if i != len(raw_steps) - 1:
                raise FieldError(f"{key}.chosen_completion", "is null before the last step")
            bad = next((c for c in comps if c.get("rating") == -1), None)
            if finish == "found_error" and bad is not None:
                steps.append(bad["text"])
                ratings.append(-1)
                sources.append("found_error")
    meta = {"finish_reason": finish, "labeler": rec.get("labeler"), "timestamp": rec.get("timestamp"),
            "generation": rec.get("generation"), "phase": 1 if rec.get("generation") is None else 2}
    for extra in ("pre_generated_answer", "pre_generated_verifier_score"):
        if isinstance(rec.get("question"), dict) and extra in rec["question"]:
            meta[extra] = rec["question"][extra]
    return _build_solution(problem_id(question), question, None if truth is None else str(truth),
                           steps, ratings, sources, alts, neutral, meta)


def convert_prm800k(path, *, neutral: str = "drop", emit: str = "solutions", **_) -> Converted:
    """Raw PRM800K phase-1 / phase-2 label lines -> Solution (or step rows, `emit="rows"`)."""
    if neutral not in NEUTRAL_POLICIES:
        raise ValueError(f"neutral must be one of {NEUTRAL_POLICIES}, got {neutral!r}")
    path = Path(path)
    counts = {"ratings": [], "human": 0}
    out, raw_steps = [], 0
    for pos, rec in iter_records(path):
        with pos.check():
            out.append(_raw_line(pos, rec, neutral, counts))
            raw_steps += len(rec["label"]["steps"])
    info = {"solutions": len(out), "problems": len({s.problem_id for s in out}), "steps": raw_steps,
            "trajectory_steps": sum(len(s.steps) for s in out), "completions": len(counts["ratings"]),
            "completion_ratings": histogram(counts["ratings"]), "human_completions": counts["human"],
            "finish_reason": histogram(s.meta["finish_reason"] for s in out),
            "correct": sum(bool(s.correct) for s in out)}
    if emit == "rows":
        rows = [row for s in out for row in step_rows(s, neutral)]
        info["rows"] = len(rows)
        return Converted(rows, "step_row", info)
    return Converted(out, "solution", info)


def step_rows(sol: Solution, neutral: str | None = None) -> list[dict]:
    """One row per rated candidate of a PRM800K solution: (question, prev_steps, step, label).

    `prev_steps` are the chosen trajectory's steps before the candidate's position; `label` follows
    `neutral` (default: the policy the solution was converted with); rows without a label are left
    out (dropped neutral ratings, unrated candidates).
    """
    neutral = neutral or sol.meta.get("neutral", "drop")
    rows = []
    for alt in sol.meta.get("alternatives", []):
        label = rating_label(alt["rating"], alt["human"], neutral)
        if label is None:
            continue
        rows.append(
            {
                "problem_id": sol.problem_id,
                "question": sol.question,
                "prev_steps": sol.steps[: alt["step"]],
                "step": alt["text"],
                "rating": alt["rating"],
                "label": label,
                "is_human": alt["human"],
                "is_preferred": alt["chosen"]
                or (alt["human"] and alt["step"] < len(sol.steps) and sol.steps[alt["step"]] == alt["text"]),
                **({"error_reason": alt["error_reason"]} if alt.get("error_reason") else {}),
                # lets `solutions_from_step_rows` tell a given-up line from a found_error one
                **({"finish_reason": sol.meta["finish_reason"]} if sol.meta.get("finish_reason") else {}),
            }
        )
    return rows


def solutions_from_step_rows(rows: list[dict], neutral: str = "drop") -> list[Solution]:
    """Step rows (`--emit rows` output) -> rebuilt PRM800K Solutions, as from the stepwise mirror.

    A step row is a stepwise-critic row under other names (question = instruction, prev_steps =
    responses, step = next_response with its "# Answer" tail, is_preferred), so the same rebuild
    applies. What the rows lost stays lost: candidates the emitting policy dropped (neutral under
    `drop`, unrated) give no alternatives, and a chosen step rated neutral then reads as unrated
    (label 1, like a human step). `finish_reason`, when the rows carry it (raw-file rows do),
    overrides the rebuild's guess, so found_error lines are not taken for given-up ones.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    finish: dict[tuple, str] = {}
    for r in rows:
        key = (r["question"], tuple(r["prev_steps"]))
        groups[key].append({"next_response": r["step"], "answer": None, "rating": r.get("rating"),
                            "is_human": bool(r.get("is_human")), "is_preferred": bool(r.get("is_preferred")),
                            "is_solution": False, "error_reason": r.get("error_reason")})
        if r.get("finish_reason"):
            finish[key] = r["finish_reason"]
    sols = _rebuild(groups, neutral)
    for s in sols:
        # the trajectory's leaf group is keyed by its steps, less a final chosen step if it has one
        reason = finish.get((s.question, tuple(s.steps))) or finish.get((s.question, tuple(s.steps[:-1])))
        if reason:
            s.meta["finish_reason"] = reason
        s.correct = None  # step rows keep no reference answer
    return sols


# ----------------------------------------------------------------------------- stepwise-critic
def _stepwise_text(rec: dict) -> str:
    text, answer = rec["next_response"], rec.get("answer")
    return f"{text}\n\n# Answer\n\n{answer}" if answer else text


def convert_prm800k_stepwise(path, *, neutral: str = "drop", emit: str = "solutions", **_) -> Converted:
    """Stepwise-critic rows (.jsonl.gz or .parquet) -> rebuilt Solutions, or one row per rated step."""
    if neutral not in NEUTRAL_POLICIES:
        raise ValueError(f"neutral must be one of {NEUTRAL_POLICIES}, got {neutral!r}")
    path = Path(path)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    ratings = []
    for pos, rec in iter_records(path):
        with pos.check():
            instr = need(rec, "instruction", str)
            prev = need_str_list(rec, "responses")
            row = {"next_response": need(rec, "next_response", str),
                   "answer": need(rec, "answer", str, required=False),
                   "rating": _check_rating(rec.get("rating"), "rating"),
                   "is_human": need(rec, "is_human_response", bool),
                   "is_preferred": need(rec, "is_preferred_response", bool),
                   "is_solution": need(rec, "is_solution", bool, required=False, default=False),
                   "error_reason": need(rec, "error_reason", str, required=False)}
        ratings.append(row["rating"])
        groups[(instr, tuple(prev))].append(row)
    info = {"rows": len(ratings), "ratings": histogram(ratings),
            "problems": len({k[0] for k in groups}), "positions": len(groups),
            "is_solution": sum(r["is_solution"] for g in groups.values() for r in g)}
    if emit == "rows":
        rows = []
        for (instr, prev), cands in groups.items():
            for r in cands:
                label = rating_label(r["rating"], r["is_human"], neutral)
                if label is None:
                    continue
                rows.append({"problem_id": problem_id(instr), "question": instr, "prev_steps": list(prev),
                             "step": _stepwise_text(r), "rating": r["rating"], "label": label,
                             "is_human": r["is_human"], "is_preferred": r["is_preferred"],
                             **({"error_reason": r["error_reason"]} if r["error_reason"] else {})})
        info["emitted_rows"] = len(rows)
        return Converted(rows, "step_row", info)
    sols = _rebuild(groups, neutral)
    info.update(solutions=len(sols), trajectory_steps=sum(len(s.steps) for s in sols),
                correct=sum(bool(s.correct) for s in sols))
    return Converted(sols, "solution", info)


def _rebuild(groups: dict[tuple, list[dict]], neutral: str) -> list[Solution]:
    """Chains of (instruction, prefix) groups -> one Solution per maximal trajectory."""
    # every proper prefix of a group's trajectory has a child: a position whose candidates were all
    # dropped (`--emit rows` with neutral drop) has no group of its own but is not a leaf either
    has_child = {(instr, prev[:j]) for instr, prev in groups for j in range(len(prev))}
    out = []
    for (instr, prev), leaf in groups.items():
        if (instr, prev) in has_child:
            continue
        steps, ratings, sources, alts = list(prev), [], [], []
        for i in range(len(prev) + 1):
            cands = groups.get((instr, prev[:i]), [])
            for r in cands:
                alts.append({"step": i, "text": _stepwise_text(r), "rating": r["rating"],
                             "chosen": r["is_preferred"] and not r["is_human"], "human": r["is_human"],
                             **({"error_reason": r["error_reason"]} if r["error_reason"] else {})})
            if i < len(prev):  # the chosen step at position i is prev[i]: find its row for the rating
                match = next((r for r in cands if r["is_preferred"] and r["next_response"] == prev[i]), None)
                if match is None:
                    match = next((r for r in cands if r["next_response"] == prev[i]), None)
                ratings.append(match["rating"] if match else None)
                sources.append("human" if match is None or match["is_human"] else "chosen")
        final = next((r for r in leaf if r["is_preferred"]), None)
        if final is not None:  # the leaf's preferred candidate ends the solution (usually "# Answer")
            steps.append(_stepwise_text(final))
            ratings.append(final["rating"])
            sources.append("human" if final["is_human"] else "chosen")
        meta = {"finish_reason": "solution" if final is not None and "# Answer" in steps[-1] else "give_up"}
        truth = None  # the stepwise files carry no reference answer; correctness comes from is_solution
        sol = _build_solution(problem_id(instr), instr, truth, steps, ratings, sources, alts, neutral, meta)
        sol.correct = bool(final is not None and final["is_solution"])
        out.append(sol)
    return out


def stepwise_counts(path) -> dict:
    """Row counts of a stepwise-critic parquet file read column-wise (fast: no rows are built, no
    trajectories rebuilt); what `summarize_real_data` reports. Needs pyarrow."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["instruction", "rating", "is_solution"])
    ratings = {("null" if v["values"] is None else str(int(v["values"]))): v["counts"]
               for v in pc.value_counts(table["rating"]).to_pylist()}
    return {
        "rows": table.num_rows,
        "ratings": dict(sorted(ratings.items())),
        "problems": len(pc.unique(table["instruction"])),
        "is_solution": pc.sum(table["is_solution"]).as_py(),
    }


# ----------------------------------------------------------------------------- LateBench phase-2 list
def convert_latebench(path, **_) -> Converted:
    """LateBench's 100 PRM800K phase-2 items -> Solution; `is_error` marks the first error step.
    Steps after the first error are labelled 0 (as for ProcessBench); `meta["n_labelled"]` says how
    many labels come from the source."""
    path = Path(path)
    out = []
    for pos, rec in iter_records(path):
        with pos.check():
            question = need(rec, "problem.statement", str)
            raw = need(rec, "solution.steps", list)
            steps, errors = [], []
            for i, st in enumerate(raw):
                if not isinstance(st, dict):
                    raise FieldError(f"solution.steps[{i}]", f"expected an object, got {type(st).__name__}")
                try:
                    steps.append(need(st, "content", str))
                except FieldError as e:
                    raise FieldError(f"solution.steps[{i}].{e.field}", e.message) from None
                errors.append(bool(st.get("is_error")))
            if not steps:
                raise FieldError("solution.steps", "is empty")
            first = errors.index(True) if True in errors else -1
            labels = [1] * len(steps) if first < 0 else [1] * first + [0] * (len(steps) - first)
            finish = need(rec, "source.metadata.finish_reason", str, required=False, default="")
            answer = extract_answer(steps[-1]) if "# Answer" in steps[-1] else None
            out.append(Solution(
                problem_id=problem_id(question), steps=steps, question=question, answer=answer,
                correct=None, labels=labels, first_error=first,
                meta={"id": need(rec, "id", str, required=False, default=""), "finish_reason": finish,
                      "n_labelled": len(steps) if first < 0 else first + 1, "source": "latebench-prm800k"}))
    info = {"rows": len(out), "with_error": sum(s.first_error >= 0 for s in out),
            "finish_reason": histogram(s.meta["finish_reason"] for s in out),
            "steps": sum(len(s.steps) for s in out)}
    return Converted(out, "solution", info)
