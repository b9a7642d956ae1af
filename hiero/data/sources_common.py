"""What every real-data converter shares: record iteration with positions, checked field access,
and the `Converted` result. The converters themselves are in `sources_text.py` (GSM8K, MATH,
ProcessBench, Math-Shepherd, preference pairs) and `sources_prm800k.py`; `sources.py` lists them.

A converter is `fn(path, **options) -> Converted`. It reads the whole file (the real files are at
most ~10 MB), checks every field it uses, and raises `DataError("FILE:LINE: field 'x': ...")` on the
first malformed record, so a conversion either succeeds completely or writes nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiero.data.io import DataError, read_json
from hiero.types import FieldError

CALC_ANNOTATION = re.compile(r"<<[^<>]*>>")  # GSM8K calculator annotations "<<48/2=24>>"


@dataclass
class Converted:
    """The output of one converter: typed records plus the counts measured while reading."""

    records: list  # Problem | Solution | PreferencePair objects, or plain dicts for step rows
    kind: str  # "problem" | "solution" | "pair" | "step_row"
    info: dict = field(default_factory=dict)  # source-specific counts (ratings, skipped rows, …)


@dataclass(frozen=True)
class Pos:
    """Where a record sits in its file: a 1-based line (JSONL) or a 0-based item/row index."""

    path: Path
    line: int | None = None
    item: int | None = None
    unit: str = "item"

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        """Turn a FieldError raised inside the block into a DataError naming file, line, field."""
        try:
            yield
        except FieldError as e:
            raise self.error(str(e)) from None

    def error(self, message: str) -> DataError:
        if self.line is not None:
            return DataError(self.path, self.line, message)
        return DataError(self.path, None, f"{self.unit} {self.item}: {message}")


def iter_records(path: str | Path) -> Iterator[tuple[Pos, Any]]:
    """Yield (position, record) for .jsonl / .jsonl.gz (one object per line), .json (an array of
    objects) and .parquet (rows as dicts) files."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, None, "file not found")
    name = path.name
    if name.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq  # optional: only the parquet mirrors need it
        except ImportError:
            raise DataError(path, None, "reading .parquet needs pyarrow (pip install pyarrow); "
                                        "the .jsonl.gz export holds the same rows") from None

        for i, row in enumerate(pq.read_table(path).to_pylist()):
            yield Pos(path, item=i, unit="row"), row
    elif name.endswith(".json"):
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(path, 1, f"expected a JSON array of records, got {type(data).__name__}")
        for i, rec in enumerate(data):
            yield Pos(path, item=i), rec
    else:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(path, lineno, f"invalid JSON ({e.msg} at column {e.colno})") from None
                yield Pos(path, line=lineno), rec


_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "object"}


def need(rec: Any, key: str, types, *, required: bool = True, default=None):
    """`rec[key]` (dotted keys reach into nested objects), type-checked; FieldError names the key.

    >>> need({"question": {"problem": "1+1?"}}, "question.problem", str)
    '1+1?'
    >>> need({"label": "x"}, "label", int)
    Traceback (most recent call last):
    ...
    hiero.types.FieldError: field 'label': expected int, got str
    """
    if type(rec) is dict and "." not in key:  # fast path: a present top-level value of the right type
        value = rec.get(key)
        if value is not None and (type(value) is types or (type(types) is tuple and type(value) in types)):
            return value
    cur = rec
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(cur, dict):
            where = ".".join(parts[:depth]) or "<record>"
            raise FieldError(where, f"expected an object, got {type(cur).__name__}")
        if part not in cur or cur[part] is None:
            if required:
                raise FieldError(key, "is missing")
            return default
        cur = cur[part]
    types_t = types if isinstance(types, tuple) else (types,)
    if (isinstance(cur, bool) and bool not in types_t) or not isinstance(cur, types_t):
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types_t)
        raise FieldError(key, f"expected {names}, got {type(cur).__name__}")
    return cur


def need_str_list(rec: Any, key: str) -> list[str]:
    values = need(rec, key, list)
    if all(type(v) is str for v in values):
        return values
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise FieldError(f"{key}[{i}]", f"expected str, got {type(v).__name__}")
    return values


def strip_calc(text: str) -> str:
    """Remove GSM8K calculator annotations: '48/2 = <<48/2=24>>24' -> '48/2 = 24'."""
    return CALC_ANNOTATION.sub("", text)


def text_lines(text: str) -> list[str]:
    """One step per non-empty line, stripped (the house step boundary is '\\n')."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def histogram(values) -> dict[str, int]:
    """Counts keyed by str(value) (JSON keys), sorted for stable output; None -> 'null'."""
    counts: dict[str, int] = {}
    for v in values:
        k = "null" if v is None else str(v)
        counts[k] = counts.get(k, 0) + 1
    return dict(sorted(counts.items()))
