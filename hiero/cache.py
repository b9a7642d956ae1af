"""Content hashes for caching expensive artefacts (trees, models, reference log-probs).

    fingerprint(obj)      stable short hash of JSON-able data (dataclasses included)
    path_hash(path)       hash of a file's bytes, or of every file under a folder (names + bytes)
    derive_seed(*parts)   a stable 31-bit seed from any printable parts (every stage's sub-seeds)
    StageCache(root)      `cache.dir("annotate", key)` -> root/annotate-<hash>/, with a DONE marker

A stage is done when its folder holds `DONE`, written last; an interrupted stage leaves no marker
and is redone (its own resume logic may pick up partial work inside the folder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from hiero.data.io import atomic_write


def derive_seed(*parts) -> int:
    """A stable 31-bit seed from any printable parts (Python's hash() is salted per process)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _default(o: Any):
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"cannot fingerprint {type(o).__name__}")


def fingerprint(obj: Any, length: int = 16) -> str:
    text = json.dumps(obj, sort_keys=True, default=_default, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def path_hash(path: str | os.PathLike, length: int = 16) -> str:
    """Hash of a file's content, or of a folder's files (relative names and bytes, sorted)."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        if path.is_dir():
            h.update(str(p.relative_to(path)).encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:length]


class StageCache:
    """Folders named after a stage and the hash of its inputs, under one root."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def dir(self, stage: str, key: Any) -> Path:
        d = self.root / f"{stage}-{fingerprint(key)}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    @staticmethod
    def is_done(d: Path) -> bool:
        return (d / "DONE").exists()

    @staticmethod
    def mark_done(d: Path, info: dict | None = None) -> None:
        with atomic_write(d / "DONE") as f:
            json.dump({"finished_at": time.time(), **(info or {})}, f, indent=2)

    @staticmethod
    def info(d: Path) -> dict:
        return json.loads((d / "DONE").read_text())
