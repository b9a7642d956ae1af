"""Random subsets of a JSONL file, whole groups at a time (`hiero data sample`).

    hiero data sample rows/train.jsonl -o small/train.jsonl --groups 100 --by question_id --seed 0
    hiero data sample rows/eval.jsonl -o small/eval.jsonl --rows 500 --seed 0
    Python: main(SubsetConfig(src=..., out=..., groups=100)) -> summary dict

`--groups K` keeps every row of K groups drawn at random, a group being the rows that share the
`--by` field (default question_id: a reward-model split by question stays a split by question);
`--rows K` keeps K rows drawn at random. The draw depends only on the seed and the sorted group
keys (or the row count), so two files whose rows cover the same questions (PRM and HRM rows of one
split) keep the same questions with the same seed. Kept rows stay in file order; a K at or above
the total keeps everything. A row without the `--by` field is a DataError naming the line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from hiero.data.io import DataError, read_jsonl, write_jsonl


@dataclass
class SubsetConfig:
    """Settings of `hiero data sample`."""

    src: str = field(default="", metadata={"help": "input JSONL"})
    out: str = field(default="", metadata={"help": "output JSONL (atomic write)"})
    groups: int = field(default=0, metadata={"help": "keep every row of K random groups (see --by)"})
    rows: int = field(default=0, metadata={"help": "keep K random rows"})
    by: str = field(
        default="question_id", metadata={"help": "field that names a row's group (with --groups)"}
    )
    seed: int = field(default=0, metadata={"help": "random seed of the draw"})


def sample_rows(rows: list[dict], *, groups: int = 0, n_rows: int = 0, by: str = "question_id", seed: int = 0,
                src: str = "<rows>") -> list[dict]:
    """The kept rows, in input order (see the module docstring).

    >>> rows = [{"q": "a", "i": 0}, {"q": "b", "i": 1}, {"q": "a", "i": 2}]
    >>> [r["i"] for r in sample_rows(rows, groups=5, by="q")]
    [0, 1, 2]
    >>> sorted({r["q"] for r in sample_rows(rows, groups=1, by="q", seed=3)}) in (["a"], ["b"])
    True
    """
    if (groups > 0) == (n_rows > 0):
        raise ValueError("give exactly one of --groups K and --rows K (K > 0)")
    rng = random.Random(seed)
    if n_rows:
        if n_rows >= len(rows):
            return list(rows)
        keep = set(rng.sample(range(len(rows)), n_rows))
        return [r for i, r in enumerate(rows) if i in keep]
    keys = []
    for i, r in enumerate(rows, start=1):
        if by not in r:
            raise DataError(src, i, f"field '{by}': is missing (--by names the group field)")
        keys.append(str(r[by]))
    distinct = sorted(set(keys))
    chosen = set(distinct) if groups >= len(distinct) else set(rng.sample(distinct, groups))
    return [r for r, k in zip(rows, keys, strict=True) if k in chosen]


def main(cfg: SubsetConfig) -> dict:
    if not cfg.src or not cfg.out:
        raise ValueError("hiero data sample needs SRC and -o OUT")
    rows = list(read_jsonl(cfg.src))
    kept = sample_rows(rows, groups=cfg.groups, n_rows=cfg.rows, by=cfg.by, seed=cfg.seed, src=cfg.src)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(cfg.out, kept)
    summary = {"src": cfg.src, "out": cfg.out, "rows_in": len(rows), "rows_out": len(kept), "seed": cfg.seed}
    if cfg.groups:
        summary.update({"by": cfg.by, "groups_in": len({str(r[cfg.by]) for r in rows}),
                        "groups_out": len({str(r[cfg.by]) for r in kept})})
    return summary
