"""Step-level evaluation of a reward model with the ProcessBench protocol (arXiv 2412.06559).

    hiero eval processbench --rm DIR --data ../shared/data/processbench/ -o pb.json      # the whole table
    hiero eval processbench --rm DIR --data ../shared/data/processbench/math.json \\
        --tune-on ../shared/data/processbench/gsm8k.json -o pb_math.json
    hiero eval processbench --scores SCORES.jsonl --data ../shared/data/processbench/ -o pb.json
    hiero eval processbench --rm DIR --data synth:n=200,seed=2,p_error=0.4 -o pb_synth.json  # built-in domain
    Python: main(ProcessBenchConfig(rm=DIR, data=FILE_OR_FOLDER, out=OUT)) -> summary dict

Protocol: the reward model scores every step; the predicted first error is the first step whose
score is below a threshold (-1 if none). Accuracy on erroneous items counts an exact index match,
accuracy on correct items counts a -1 prediction, and F1 is their harmonic mean (ProcessBench, arXiv
2412.06559).
A scalar PRM needs that threshold: `--tune-on FILE` picks the F1-maximising value on another split
(ProcessBench's gsm8k split, conventionally) over a grid (see `metrics.tune_threshold`); otherwise
`--threshold` (default 0.5, for scores that are probabilities; a scorer whose scores are not needs
`--threshold` in its units or `--tune-on`) is used. Both the threshold and where it came from are reported.

The table (`--data FOLDER` holding gsm8k.json, math.json, olympiadbench.json, omnimath.json): all
four splits are scored, one threshold is tuned on the gsm8k split (so gsm8k's own F1 is in-sample;
`--threshold` fixes it, `--tune-on FILE` tunes elsewhere), and each split reports acc_error,
acc_correct and F1; `average_f1` is ProcessBench's "Avg. F1", the unweighted mean of the four
splits' F1 (not pooled over items, not weighted by split size). OUT.json has `splits`,
`average_f1`, `threshold`; OUT.md (beside it) the Markdown table. A single file keeps the flat
summary (`f1`, `acc_error`, `acc_correct`, `threshold`, …) and gets a one-row OUT.md.
`--limit K` keeps K items per file: the first K, or with `--limit-mode spread` K spread evenly over
the file (ProcessBench files list the erroneous items first, so the first K hold no correct item).

Scores come from `--rm SPEC` (hiero.reward.spec: a folder of any format `hiero rm score` loads,
FORMAT:DIR, scores:FILE, oracle) or from `--scores FILE` (the same as --rm scores:FILE; JSONL rows {"id",
"scores"}; ids are ProcessBench item ids, or hiero.reward.precomputed.solution_ids for a Solution
JSONL; `hiero rm score` output works as it is; `--scores DIR` reads DIR/SPLIT.jsonl). A scores row
of the wrong length, a missing id, a duplicate id or a non-number is a DataError naming file,
line, id and field: exit status 2 and no output written. An item the model cannot score (longer than
its context, a separator lost) is left out of every metric and counted and named in `n_skipped` /
`skipped`. `--limit K` spreads the K items over each file by default (both labels).

Also reported: step-level AUROC of the scores against ground-truth step labels, where known:
ProcessBench items give "good" for steps before the labelled first error and "bad" at it (later
steps are unlabelled and left out); Solution files give their `labels` (else the same rule from
`first_error`; steps past `meta.n_labelled` are unlabelled, as in the ProcessBench converter's
output); the built-in domain gives every step's truth from `synth.check_steps`.

Inputs: a ProcessBench JSON array (id, problem, steps, label, final_answer_correct), a folder of the
four, a Solution JSONL whose rows have `question` and `first_error` (e.g. helper converters'
output), or `synth` (noisy built-in-domain solutions). `--rm oracle` scores with the built-in
domain's ground truth (synth data only): a sanity check that F1 = 1.
OUT.json holds the summary plus, per item, its label, prediction, step scores and step labels.
Tests: `.venv/bin/pytest -q tests/evaluation/test_processbench.py
tests/evaluation/test_processbench_table.py`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hiero.data.io import DataError, atomic_write, read_json, read_jsonl, write_json
from hiero.data.problems import is_synth, parse_synth
from hiero.domains import builtin as synth
from hiero.evaluation.metrics import auroc, first_error_prediction, processbench_scores, tune_threshold
from hiero.reward.base import score_items, skip_summary
from hiero.reward.precomputed import solution_ids
from hiero.reward.spec import SPEC_HELP, ScorerFlags, load_scorer
from hiero.types import FieldError, Solution

log = logging.getLogger(__name__)
SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")  # the ProcessBench table, in the paper's order
# the keys a `synth:` --data spec adds to the built-in domain's: the noise of the solutions, with defaults
SYNTH_NOISE = {"p_error": 0.4, "p_correction": 0.2}


@dataclass
class ProcessBenchConfig(ScorerFlags):
    """Settings of `hiero eval processbench`."""

    rm: str = field(default="", metadata={"help": SPEC_HELP})
    data: str = field(
        default="synth",
        metadata={
            "help": "ProcessBench .json, a folder of the 4 splits, Solution .jsonl, or the built-in domain's "
                    "noisy "
            "solutions: synth[:n=200,seed=2,p_error=0.4,p_correction=0.2,max_value=30,...] "
            "(hiero.data.problems)"
        },
    )
    scores: str = field(
        default="", metadata={"help": "precomputed scores JSONL or folder (same as --rm scores:FILE)"}
    )
    tune_on: str = field(
        default="", metadata={"help": "split to tune the threshold on (folder --data: gsm8k by default)"}
    )
    threshold: float | None = field(
        default=None, metadata={"help": "fixed step-error threshold (None: 0.5, or tuned for a folder)"}
    )
    limit: int = field(default=0, metadata={"help": "use only K items of each file (0: all)"})
    limit_mode: Literal["first", "spread"] = field(default="spread", metadata={
        "help": "--limit picks K items spread evenly over the file (both classes), or the first K"})
    batch: int = field(default=32, metadata={"help": "solutions per scorer call"})
    out: str = field(
        default="runs/processbench.json", metadata={"help": "output JSON file (+ the .md table beside it)"}
    )


@dataclass
class Item:
    """One evaluation item: steps, labelled first error, per-step truth (None: unknown)."""

    id: str
    question: str
    steps: list[str]
    label: int
    step_labels: list[int | None]


def _labels_from_first_error(n_steps: int, first: int) -> list[int | None]:
    """Steps before the first error are good (1), it is bad (0), later ones unknown (None)."""
    if first < 0:
        return [1] * n_steps
    return [1] * first + [0] + [None] * (n_steps - first - 1)


def read_processbench(path: str) -> list[Item]:
    """Items of a ProcessBench JSON array, checked field by field (errors name the item)."""
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(path, None, "expected a JSON array of ProcessBench items")
    items = []
    for i, d in enumerate(data):
        where = f"item {i}"
        if not isinstance(d, dict):
            raise DataError(path, None, f"{where}: expected an object")
        steps, label, problem = d.get("steps"), d.get("label"), d.get("problem")
        if not isinstance(problem, str):
            raise DataError(path, None, f"{where}: field 'problem': expected str")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise DataError(path, None, f"{where}: field 'steps': expected a non-empty list of str")
        if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps):
            raise DataError(
                path,
                None,
                f"{where}: field 'label': expected an int in [-1, {len(steps) - 1}], got {label!r}",
            )
        items.append(
            Item(str(d.get("id", i)), problem, steps, label, _labels_from_first_error(len(steps), label))
        )
    return items


def read_solutions(path: str) -> list[Item]:
    """Items from a Solution JSONL whose rows carry `question` and `first_error`.

    Item ids follow `precomputed.solution_ids` (meta.id, else problem_id#k), as `hiero rm score` writes them.
    """
    solutions = []
    for lineno, s in enumerate(read_jsonl(path, Solution), start=1):
        try:
            if s.question is None:
                raise FieldError("question", "is missing (needed to score the steps)")
            if s.first_error is None:
                raise FieldError("first_error", "is missing (the ground truth of this evaluation)")
            if not -1 <= s.first_error < len(s.steps):
                raise FieldError("first_error", f"{s.first_error} outside [-1, {len(s.steps) - 1}]")
        except FieldError as e:
            raise DataError(path, lineno, str(e)) from None
        solutions.append(s)
    items = []
    for sid, s in zip(solution_ids(solutions), solutions):
        if s.labels is not None:
            labels: list[int | None] = list(s.labels)
            n_labelled = s.meta.get("n_labelled")  # converters mark steps after the first error unlabelled
            if isinstance(n_labelled, int):
                labels[n_labelled:] = [None] * (len(labels) - n_labelled)
        else:
            labels = _labels_from_first_error(len(s.steps), s.first_error)
        items.append(Item(sid, s.question, s.steps, s.first_error, labels))
    return items


def synth_items(n: int, seed: int, p_error: float, p_correction: float,
                domain: synth.DomainSettings | None = None) -> tuple[list[Item], list]:
    """Noisy built-in-domain solutions with their exact first errors and step truths."""
    problems = (domain or synth.DomainSettings()).problems(n, seed, "test")
    rng = random.Random(seed)
    items = []
    for p in problems:
        sol = synth.render_noisy_solution(p, rng, p_error, p_correction)
        truth = synth.check_steps(p, sol.steps)
        items.append(
            Item(p.id, p.question, sol.steps, synth.first_error(p, sol.steps), [int(t) for t in truth])
        )
    return items, problems


def take(items: list, limit: int, mode: str = "first") -> list:
    """K items: the first K, or K spread evenly over the list (both kinds of a sorted ProcessBench file).

    >>> take(list(range(10)), 4, "first"), take(list(range(10)), 4, "spread"), take([1, 2], 0)
    ([0, 1, 2, 3], [0, 2, 5, 7], [1, 2])
    """
    if limit <= 0 or limit >= len(items):
        return items
    if mode == "spread":
        return [items[i * len(items) // limit] for i in range(limit)]
    return items[:limit]


def load_items(data: str, cfg: ProcessBenchConfig) -> tuple[list[Item], list]:
    if is_synth(data):
        spec = parse_synth(data, n=200, seed=2, extra=SYNTH_NOISE, where="--data")
        items, problems = synth_items(
            spec.n, spec.seed, spec.extra["p_error"], spec.extra["p_correction"], spec.domain
        )
    elif not Path(data).exists():
        raise DataError(data, None, "file not found")
    elif data.endswith(".json") or data.endswith(".json.gz"):
        items, problems = read_processbench(data), []
    else:
        items, problems = read_solutions(data), []
    return take(items, cfg.limit, cfg.limit_mode), problems


def split_files(folder: str) -> dict[str, str]:
    """The four ProcessBench split files of a folder; DataError naming the missing ones."""
    paths = {s: Path(folder) / f"{s}.json" for s in SPLITS}
    missing = [p.name for p in paths.values() if not p.exists()]
    if missing:
        raise DataError(folder, None, f"not a ProcessBench folder: missing {', '.join(missing)} "
                                      f"(expected {', '.join(s + '.json' for s in SPLITS)})")
    return {s: str(p) for s, p in paths.items()}


def load_rm(cfg: ProcessBenchConfig, problems: list):
    """--rm SPEC (or --scores FILE, the same as --rm scores:FILE) -> a per-step Scorer."""
    if cfg.rm and cfg.scores:
        raise ValueError("give --rm SPEC or --scores FILE, not both")
    spec = f"scores:{cfg.scores}" if cfg.scores else cfg.rm
    if not spec:
        raise ValueError(
            "give --rm SPEC (a PRM/HRM folder, FORMAT:DIR, scores:FILE, oracle) or --scores FILE"
        )
    scorer = load_scorer(spec, batch_size=cfg.batch, dtype=cfg.dtype, device_map=cfg.device_map,
                         max_tokens=cfg.max_tokens, problems=problems)
    if scorer.kind == "orm":
        raise ValueError(f"{spec} is an outcome reward model; ProcessBench needs per-step scores (PRM/HRM)")
    return scorer


def step_scorer(
    cfg: ProcessBenchConfig, problems: list
) -> tuple[object, Callable[[list[Item], str], tuple[list, dict]]]:
    """(the scorer, score): score(items, name of their file) -> (per-step scores, None for an item that could
    not be scored; {item id: reason} of those)."""
    scorer = load_rm(cfg, problems)

    def score(items: list[Item], data: str) -> tuple[list, dict]:
        res = score_items(
            scorer,
            [it.question for it in items],
            [it.steps for it in items],
            [it.id for it in items],
            cfg.batch,
            desc=f"score {data}",
        )
        if res.skipped:
            log.warning("%s: %d of %d items could not be scored and are left out (first: %s)", data,
                        len(res.skipped), len(items), next(iter(res.skipped.items())))
        return res.scores, res.skipped
    return scorer, score


def check_threshold(cfg: ProcessBenchConfig, scorer, tuned: bool) -> None:
    """Before any scoring: a fixed --threshold must mean something for the scorer's scores (within [0, 1]
    for probabilities), and the 0.5 default applies to probabilities only (hiero.reward.base)."""
    from hiero.reward.base import threshold_for

    if cfg.threshold is not None or not tuned:
        try:
            threshold_for(scorer, cfg.threshold, "--threshold", name=cfg.rm or cfg.scores or "the scorer")
        except ValueError as e:
            raise ValueError(
                f"{e}; or tune one with --tune-on FILE" if cfg.threshold is None else str(e)
            ) from None


def evaluate(items: list[Item], step_scores: list[list[float]], threshold: float) -> dict:
    """ProcessBench metrics and step AUROC for scored items at one threshold (pure)."""
    preds = [first_error_prediction(s, threshold) for s in step_scores]
    metrics = processbench_scores(preds, [it.label for it in items])
    pairs = [
        (sc, lab)
        for it, ss in zip(items, step_scores)
        for sc, lab in zip(ss, it.step_labels)
        if lab is not None
    ]
    metrics["auroc_step"] = auroc([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
    metrics["n_labelled_steps"] = len(pairs)
    return {**metrics, "preds": preds}


def average_f1(f1s: list[float | None]) -> float | None:
    """ProcessBench's average: the unweighted mean of the splits' F1 (None if any split has none).

    >>> average_f1([1.0, 2 / 3, 2 / 3, 0.0])
    0.5833333333333333
    >>> average_f1([0.5, None]) is None
    True
    """
    return None if not f1s or any(f is None for f in f1s) else sum(f1s) / len(f1s)


def markdown_table(rows: dict[str, dict], average: float | None, threshold: float, source: str) -> str:
    """Splits as rows: items, accuracy on erroneous / correct items and F1, in % as the paper prints them.

    >>> print(markdown_table({"gsm8k": {"n_items": 2, "acc_error": 1.0, "acc_correct": 0.5, "f1": 2 / 3}},
    ...                      None, 0.5, "fixed"))
    | split | items | acc. erroneous | acc. correct | F1 |
    |---|---|---|---|---|
    | gsm8k | 2 | 100.0 | 50.0 | 66.7 |
    <BLANKLINE>
    threshold 0.5 (fixed)
    """
    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}"

    lines = ["| split | items | acc. erroneous | acc. correct | F1 |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['n_items']} | {pct(r['acc_error'])} | {pct(r['acc_correct'])} | {pct(r['f1'])} |"
        )
    if len(rows) > 1:
        lines.append(f"| **average F1** | {sum(r['n_items'] for r in rows.values())} | | | {pct(average)} |")
    return "\n".join(lines) + f"\n\nthreshold {threshold:g} ({source})"


def choose_threshold(fixed: float | None, tune_scores: list[list[float]] | None, tune_labels: list[int],
                     tune_name: str) -> tuple[float, str, float | None]:
    """(threshold, where it came from, F1 on the tuning split): --threshold, else tuned, else 0.5."""
    if fixed is not None:
        return fixed, "fixed (--threshold)", None
    if tune_scores is None:
        return 0.5, "default (no --threshold, no --tune-on)", None
    threshold, f1 = tune_threshold(tune_scores, tune_labels)
    return threshold, f"tuned on {tune_name}", f1


def write_with_table(out: str, result: dict, table: str) -> str:
    """OUT.json and the Markdown table beside it (OUT.md), each written atomically; returns OUT.md."""
    write_json(out, result)
    md = Path(out).with_suffix(".md")
    if md == Path(out):
        md = Path(out + ".md")
    with atomic_write(md) as f:
        f.write(table + "\n")
    return str(md)


def _run_summary(cfg: ProcessBenchConfig, threshold, source: str, tune_f1) -> dict:
    """What every summary starts with: the data, the scorer and the threshold with where it came from."""
    return {"data": cfg.data, "rm": cfg.rm, "scores": cfg.scores, "threshold": threshold,
            "threshold_source": source, "tune_f1": tune_f1}


def main(cfg: ProcessBenchConfig) -> dict:
    """Read -> score every step (or look the scores up) -> (tune threshold) -> metrics -> OUT.json, OUT.md.

    A folder --data runs the whole table (`main_table`).
    """
    t0 = time.time()
    if cfg.tune_on and cfg.threshold is not None:
        raise ValueError("give --tune-on FILE or --threshold T, not both")
    if not is_synth(cfg.data) and Path(cfg.data).is_dir():
        return main_table(cfg, t0)
    items, problems = load_items(cfg.data, cfg)
    if not items:
        raise ValueError(f"{cfg.data}: no items")
    tune_items, tune_problems = load_items(cfg.tune_on, cfg) if cfg.tune_on else ([], [])
    scorer, score = step_scorer(cfg, problems + tune_problems)
    check_threshold(cfg, scorer, tuned=bool(tune_items))
    tune_items, tune_scores, _ = (
        kept(tune_items, *score(tune_items, cfg.tune_on)) if tune_items else ([], None, {})
    )
    threshold, source, tune_f1 = choose_threshold(cfg.threshold, tune_scores, [it.label for it in tune_items],
                                                  cfg.tune_on)
    items, scores, skipped = kept(items, *score(items, cfg.data))
    res = evaluate(items, scores, threshold)
    preds = res.pop("preds")
    summary = {
        **_run_summary(cfg, threshold, source, tune_f1),
        "n_items": len(items),
        **res,
        **skip_summary(skipped),
        "time_s": round(time.time() - t0, 2),
    }
    per_item = [{"id": it.id, "label": it.label, "pred": p, "scores": s, "step_labels": it.step_labels}
                for it, p, s in zip(items, preds, scores)]
    name = "synth" if is_synth(cfg.data) else Path(cfg.data).name.split(".")[0]
    table = markdown_table({name: summary}, None, threshold, source)
    summary["markdown_file"] = write_with_table(
        cfg.out, {**summary, "config": vars(cfg), "items": per_item}, table
    )
    return summary


def kept(items: list[Item], scores: list, skipped: dict) -> tuple[list[Item], list[list[float]], dict]:
    """The rule for items that could not be scored: they are left out of every metric, and counted
    and named by id in the output (`n_skipped`, `skipped`)."""
    keep = [i for i, s in enumerate(scores) if s is not None]
    return [items[i] for i in keep], [scores[i] for i in keep], skipped


def main_table(cfg: ProcessBenchConfig, t0: float) -> dict:
    """The ProcessBench table: all four splits, one threshold (tuned on gsm8k unless given), average F1."""
    paths = split_files(cfg.data)
    splits = {s: load_items(path, cfg)[0] for s, path in paths.items()}
    for s, items in splits.items():
        if not items:
            raise ValueError(f"{paths[s]}: no items")
    scorer, score = step_scorer(cfg, [])
    check_threshold(cfg, scorer, tuned=True)  # the table tunes on a split unless --threshold is given
    scores, skipped = {}, {}
    for s in SPLITS:
        splits[s], scores[s], sk = kept(splits[s], *score(splits[s], paths[s]))
        skipped.update(sk)
    tune_items, tune_scores, tune_name = [], None, ""
    if cfg.threshold is None and cfg.tune_on:
        tune_items, tune_name = load_items(cfg.tune_on, cfg)[0], cfg.tune_on
        tune_items, tune_scores, _ = kept(tune_items, *score(tune_items, cfg.tune_on))
    elif cfg.threshold is None:  # ProcessBench's convention: the gsm8k split (its F1 is then in-sample)
        tune_items, tune_scores, tune_name = splits["gsm8k"], scores["gsm8k"], "the gsm8k split"
    threshold, source, tune_f1 = choose_threshold(cfg.threshold, tune_scores, [it.label for it in tune_items],
                                                  tune_name)
    rows, per_item = {}, {}
    for s, items in splits.items():
        res = evaluate(items, scores[s], threshold)
        preds = res.pop("preds")
        rows[s] = {"n_items": len(items), **res}
        per_item[s] = [
            {"id": it.id, "label": it.label, "pred": p, "scores": sc, "step_labels": it.step_labels}
            for it, p, sc in zip(items, preds, scores[s])
        ]
    avg = average_f1([r["f1"] for r in rows.values()])
    table = markdown_table(rows, avg, threshold, source)
    if skipped:
        table += (
            f"\n{len(skipped)} item(s) could not be scored and are left out (ids in the JSON's `skipped`)"
        )
    summary = {
        **_run_summary(cfg, threshold, source, tune_f1),
        "average_f1": avg,
        "splits": rows,
        "n_items": sum(r["n_items"] for r in rows.values()),
        **skip_summary(skipped),
        "markdown": table,
        "time_s": round(time.time() - t0, 2),
    }
    summary["markdown_file"] = write_with_table(
        cfg.out, {**summary, "config": vars(cfg), "items": per_item}, table
    )
    return summary
