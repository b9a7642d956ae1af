"""JSONL in and out: streaming reads that name file, line and field on bad input; atomic writes.

    read_jsonl(path, Solution)     -> iterator of Solution (or of dicts when no type is given)
    write_jsonl(path, rows)        -> writes to a temp file in the same folder, then renames
    append_jsonl(path, row)        -> one complete line per call, flushed and fsync'ed (resumable jobs)
    read_appended(path)            -> rows of an append-only file, dropping a torn last line

Errors raise `DataError`, whose message is `FILE:LINE: field 'x': what is wrong`; the CLI prints it
and exits with status 2. `.gz` files are read transparently.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from hiero.types import FieldError

T = TypeVar("T")


class DataError(ValueError):
    """Bad input data; the message names the file, the line (1-based) and the field."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path, self.line = str(path), line


def _open_bytes(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def _decode(path: Path, lineno: int, data: bytes) -> str:
    """UTF-8 text of one line (or a whole document), or a DataError naming the line and the column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = lineno + data.count(b"\n", 0, e.start)
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(path, line, f"not UTF-8 text (byte 0x{data[e.start]:02x} at column {col}); "
                                    "save the file as UTF-8") from None


def read_jsonl(
    path: str | os.PathLike, cls: type[T] | None = None, *, skip_blank: bool = True
) -> Iterator[T]:
    """Stream records from a JSONL file; with `cls`, each line goes through `cls.from_dict`."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, None, "file not found")
    if path.is_dir():
        raise DataError(path, None, "is a folder; expected a JSONL file")
    with _open_bytes(path) as f:
        for lineno, raw in enumerate(f, start=1):
            line = _decode(path, lineno, raw)
            if not line.strip():
                if skip_blank:
                    continue
                raise DataError(path, lineno, "blank line")
            yield _parse_line(path, lineno, line, cls)


def _parse_line(path: Path, lineno: int, line: str, cls):
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(path, lineno, f"invalid JSON ({e.msg} at column {e.colno})") from None
    if cls is None:
        return obj
    try:
        return cls.from_dict(obj)
    except FieldError as e:
        raise DataError(path, lineno, str(e)) from None


def read_json(path: str | os.PathLike) -> Any:
    """Read a whole JSON document (e.g. ProcessBench's arrays), naming the line of a syntax error."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, None, "file not found")
    if path.is_dir():
        raise DataError(path, None, "is a folder; expected a JSON file")
    with _open_bytes(path) as f:
        text = _decode(path, 1, f.read())
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(path, e.lineno, f"invalid JSON ({e.msg} at column {e.colno})") from None


def _to_jsonable(row: Any) -> Any:
    return row.to_dict() if hasattr(row, "to_dict") else row


def dumps(row: Any) -> str:
    return json.dumps(_to_jsonable(row), ensure_ascii=False)


_UMASK_LOCK = threading.Lock()


def _new_file_mode() -> int:
    """The mode `open()` would give a new file: 0o666 less the process umask (0o644 under umask 022)."""
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Write to a temp file beside `path` and rename it over `path` only if the block succeeds.

    The file gets the mode a plain `open()` would give it (mkstemp's 0600 would hide outputs from
    the group and others): an existing file's mode is kept, a new one follows the umask."""
    path = Path(path)
    if path.is_dir():
        raise DataError(path, None, "is a folder; give a file path for this output")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            os.fchmod(fd, _new_file_mode())
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> int:
    """Atomically write rows (dicts or objects with `to_dict`) as JSONL; returns the row count."""
    n = 0
    with atomic_write(path) as f:
        for row in rows:
            f.write(dumps(row) + "\n")
            n += 1
    return n


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    with atomic_write(path) as f:
        json.dump(_to_jsonable(obj), f, indent=indent, ensure_ascii=False)
        f.write("\n")


def append_jsonl(path: str | os.PathLike, row: Any) -> None:
    """Append one record as a single write of one complete line, flushed to disk.

    A crash can at worst leave a torn last line, which `read_appended` drops and `repair_appended`
    truncates, so a resumed job neither loses nor duplicates a finished record.
    """
    data = (dumps(row) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_appended(path: str | os.PathLike) -> int:
    """Truncate a torn (unterminated) last line left by a crash; returns the bytes removed."""
    path = Path(path)
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with open(path, "r+b") as f:
        f.truncate(keep)
    return len(data) - keep


def read_appended(path: str | os.PathLike, cls: type[T] | None = None) -> list[T]:
    """Complete records of an append-only file (a torn last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    data = data[:data.rfind(b"\n") + 1]  # a line without its newline was torn by a crash mid-write
    lines = _decode(path, 1, data).split("\n")[:-1]
    return [_parse_line(path, i, line, cls) for i, line in enumerate(lines, start=1) if line.strip()]
