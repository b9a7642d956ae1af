"""Precomputed per-step scores (`--scores FILE`): read them, check them, join them to items by id.

    table = read_scores("scores.jsonl")                  # every row checked; DataError names file:line
    table.lookup(ids, n_steps, data="gsm8k.json")        # scores in the items' order, lengths checked
    hiero eval processbench --scores scores.jsonl --data ../shared/data/processbench/gsm8k.json -o pb.json
    hiero eval bon --candidates cands.jsonl --scores prm=scores.jsonl -o OUT

File: JSONL, one row per scored solution, `{"id": ID, "scores": [s_1, ..., s_n]}`, optionally
`"kind": "orm" | "prm" | "hrm"` (default prm; one kind per file). Other fields are ignored, so the
output of `hiero rm score` (which writes `id` and `kind` on every row) is a scores file as it is.

Ids (what `hiero rm score` writes, and what the evaluations look up):
    ProcessBench .json data   the item's `id` ("gsm8k-0")
    Solution JSONL data       `meta.id` when the row has one, else f"{problem_id}#{k}", k the 0-based
                              index of the row among the file's rows with that problem_id, in file
                              order (`solution_ids`); the same in `hiero eval bon --candidates`.

Checks, each a DataError naming the file, the line, the id and the field (the CLI prints it and
exits with status 2; the evaluations write nothing): invalid JSON, a row that is not an object, a
missing or non-str/int `id`, a duplicate id, `scores` not a list, an entry that is not a finite
number, an unknown or mixed `kind`; at lookup, an item id with no row, and a row whose length is not
the item's number of steps (an ORM file: not 1). Rows whose id is not in the data are ignored (one
file for all four ProcessBench splits, or a --limit run).
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hiero.data.io import DataError

KINDS = ("orm", "prm", "hrm")


def solution_ids(solutions: Sequence) -> list[str]:
    """The id of each Solution row: `meta.id`, else problem_id#k (k-th row of that problem, from 0).

    >>> from hiero.types import Solution
    >>> solution_ids([Solution("p1", ["a"]), Solution("p1", ["b"]), Solution("p2", ["c"], meta={"id": "x"})])
    ['p1#0', 'p1#1', 'x']
    """
    seen: dict[str, int] = {}
    out = []
    for s in solutions:
        k = seen.get(s.problem_id, 0)
        seen[s.problem_id] = k + 1
        mid = s.meta.get("id")
        out.append(
            str(mid) if isinstance(mid, (str, int)) and not isinstance(mid, bool) else f"{s.problem_id}#{k}"
        )
    return out


def _lines(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON) of every non-blank line; numbers are the file's own."""
    if not path.exists():
        raise DataError(path, None, "file not found")
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(path, lineno, f"invalid JSON ({e.msg} at column {e.colno})") from None


def check_row(row: object) -> tuple[str, list[float] | None, str | None]:
    """(id, scores, kind) of one row; ValueError with the field's name when a field is wrong.

    >>> check_row({"id": 3, "scores": [0.5, 1]})
    ('3', [0.5, 1.0], None)
    >>> check_row({"id": "a", "scores": [0.5, "x"]})
    Traceback (most recent call last):
    ...
    ValueError: id 'a': field 'scores[1]': expected a finite number, got str
    """
    if not isinstance(row, dict):
        raise ValueError(f"expected an object, got {type(row).__name__}")
    rid = row.get("id")
    if rid is None:
        raise ValueError("field 'id': is missing")
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        raise ValueError(f"field 'id': expected str or int, got {type(rid).__name__}")
    rid = str(rid)
    scores = row.get("scores")
    if scores is None and isinstance(row.get("skipped"), str):  # `hiero rm score` could not score it
        kind = row.get("kind")
        return rid, None, kind if kind in KINDS else None
    if not isinstance(scores, list):
        got = "nothing" if scores is None else type(scores).__name__
        raise ValueError(f"id {rid!r}: field 'scores': expected a list of numbers, got {got}")
    for i, x in enumerate(scores):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            got = repr(x) if isinstance(x, float) else type(x).__name__
            raise ValueError(f"id {rid!r}: field 'scores[{i}]': expected a finite number, got {got}")
    kind = row.get("kind")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"id {rid!r}: field 'kind': expected one of {list(KINDS)}, got {kind!r}")
    return rid, [float(x) for x in scores], kind


@dataclass
class ScoreTable:
    """Per-step scores by id, read from one file; `kind` as a Scorer's (orm | prm | hrm)."""

    path: str
    rows: dict[str, tuple[int, list[float] | None]] = field(default_factory=dict)  # id -> (line, scores)
    kind: str = "prm"

    def lookup(
        self, ids: Sequence[str], n_steps: Sequence[int], data: str = "the data"
    ) -> list[list[float] | None]:
        """Scores of the items named by `ids` (in that order); lengths checked against n_steps; None for a
        row marked skipped (an item `hiero rm score` could not score)."""
        if len(set(ids)) != len(ids):
            dup = next(x for i, x in enumerate(ids) if x in ids[:i])
            raise ValueError(f"{data}: id {dup!r} names two items; precomputed scores need unique ids")
        out = []
        for rid, n in zip(ids, n_steps, strict=True):
            if rid not in self.rows:
                raise DataError(self.path, None, f"field 'id': no row for id {rid!r} of {data} "
                                                 f"({len(self.rows)} rows read)")
            line, scores = self.rows[rid]
            if scores is None:
                out.append(None)
                continue
            want = 1 if self.kind == "orm" else n
            if len(scores) != want:
                what = (
                    "an ORM file has 1 score per solution"
                    if self.kind == "orm"
                    else f"the item has {n} steps"
                )
                raise DataError(
                    self.path, line, f"id {rid!r}: field 'scores': has {len(scores)} entries but {what}"
                )
            out.append(list(scores))
        return out


def read_scores(path: str | Path) -> ScoreTable:
    """Read and check a scores file (see the module docstring); DataError on the first bad row."""
    path = Path(path)
    table = ScoreTable(str(path))
    kinds: dict[str, int] = {}
    for lineno, row in _lines(path):
        try:
            rid, scores, kind = check_row(row)
        except ValueError as e:
            raise DataError(path, lineno, str(e)) from None
        if rid in table.rows:
            raise DataError(path, lineno, f"field 'id': {rid!r} repeats the row on line {table.rows[rid][0]}")
        table.rows[rid] = (lineno, scores)
        kinds.setdefault(kind or "prm", lineno)
    if len(kinds) > 1:
        (k1, l1), (k2, l2) = sorted(kinds.items(), key=lambda kv: kv[1])[:2]
        raise DataError(path, l2, f"field 'kind': {k2!r} but line {l1} is {k1!r}; one kind per file")
    if kinds:
        table.kind = next(iter(kinds))
    return table
