"""Training output folders: what made them, whether they are finished, and one writer at a time.

    with training_run(out, "rm train", settings, inputs, overwrite=cfg.overwrite) as run:
        ... train into run.dir (resumes when run.resuming) ...
        run.finish()                  # completion marker; an --overwrite run replaces `out` here
    check_finished(folder)            # readers: refuse a folder a hiero training run is still writing

Every trainer (policy train, rm train, po train, selftrain) records in OUT/hiero_run.json the stage,
its settings (the config fields that shape the result) and the content hashes of its inputs (data
files, base / initial / reference models), with `"complete": false`; the same file is rewritten with
`"complete": true` as the run's very last write. On start:
- a folder holding an interrupted run (complete false) is resumed only when stage, settings and
  inputs all match; otherwise the run refuses, naming each differing setting (`--overwrite`
  discards the interrupted run instead);
- a finished folder (complete true, or an older hiero's output: config.json, train_summary.json,
  summary.json ... without a marker) is refused unless `--overwrite`; with it the new run trains in
  a sibling folder `.NAME.overwrite` and, once finished, takes `out`'s place by two renames (`out`
  to `.NAME.old`, the new folder to `out`), so a kill leaves the old model or the new one whole,
  never a mix (a kill between the two renames leaves `out` missing and both folders beside it);
- an older hiero's `checkpoint/` (Accelerate's pickled state) is refused: it is never unpickled;
- a lock (fcntl.flock on OUT/.hiero.lock, removed on exit, released by the kernel if the process
  dies) makes a second run on the same folder refuse at once instead of mixing its writes with the first's.
A run that fails before any checkpoint was written removes the folder it created (no empty or
partial output folder is left behind); one with a checkpoint keeps it for the rerun to resume.

Readers (`check_finished`): the completion marker is required only of folders a hiero training
run wrote (they hold hiero_run.json or a checkpoint folder). Plain Hugging Face folders and folders
of older hiero versions carry neither and load as before.

Under `accelerate launch` only the main process locks and writes; the others use the same folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from hiero.cache import path_hash
from hiero.data.io import atomic_write

log = logging.getLogger(__name__)

RUN_FILE = "hiero_run.json"
LOCK_FILE = ".hiero.lock"
# files by which an older hiero's finished training folder is recognised (it has no RUN_FILE)
FINISHED_FILES = (
    "config.json",
    "train_summary.json",
    "summary.json",
    "selftrain_summary.json",
    "hiero_rm.json",
)
# config fields that do not change what a run produces (a resume may change them)
NOT_SETTINGS = frozenset({"out", "output", "threads", "log_every", "save_every", "save_minutes", "overwrite",
                          "metrics_out", "ref_cache_dir", "ref_batch_size", "eval_batch_size"})
_OWN: set[Path] = set()  # folders this process is writing and may read back before they are finished


def settings_of(cfg: Any, inputs: dict | None = None) -> dict:
    """The config fields that shape a run's result, as JSON values (for comparison on resume); the
    fields naming `inputs` are left out (their content hashes are compared instead of their paths)."""
    d = asdict(cfg) if is_dataclass(cfg) else dict(cfg)
    skip = NOT_SETTINGS | {k for k, v in (inputs or {}).items() if v}
    return json.loads(json.dumps({k: v for k, v in d.items() if k not in skip}, default=str))


def input_hashes(inputs: dict[str, str | os.PathLike | None]) -> dict[str, str]:
    """Content hash of each input file or folder (an empty or non-path value is recorded as given)."""
    out = {}
    for name, p in inputs.items():
        if p and Path(p).exists():
            out[name] = path_hash(p)
        elif p:
            out[name] = f"missing:{p}"
    return out


def _read_record(folder: Path) -> dict | None:
    try:
        rec = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ValueError(
            f"{folder / RUN_FILE}: unreadable run record ({e}); pass --overwrite to start afresh"
        ) from None
    return rec if isinstance(rec, dict) else {}


def _has_checkpoint(folder: Path) -> bool:
    from hiero.checkpoint import LEGACY, ROOT

    return any(folder.rglob(ROOT)) or (folder / LEGACY).is_dir() if folder.is_dir() else False


def is_finished(folder: Path) -> bool:
    """A completed hiero run, or an older hiero's output folder (no record, no checkpoint)."""
    rec = _read_record(folder)
    if rec is not None:
        return bool(rec.get("complete"))
    return (
        folder.is_dir() and not _has_checkpoint(folder) and any((folder / f).exists() for f in FINISHED_FILES)
    )


def check_finished(folder: str | os.PathLike) -> None:
    """Refuse to read a folder a hiero training run has not finished (see the module docstring)."""
    folder = Path(folder)
    if not folder.is_dir() or folder.resolve() in _OWN:
        return
    rec = _read_record(folder)
    if rec is not None and not rec.get("complete"):
        raise ValueError(
            f"{folder}: an unfinished hiero {rec.get('stage', 'training')} run (no completion in "
            f"{RUN_FILE}); rerun its command to finish it, or use a finished folder"
        )
    if rec is None and _has_checkpoint(folder):
        raise ValueError(
            f"{folder}: holds the checkpoint of an interrupted training run; rerun its command to "
            "finish it, or use a finished folder"
        )


@contextlib.contextmanager
def reading_model(folder: str | os.PathLike) -> Iterator[None]:
    """Turn a failure to read a model folder's files (a truncated model.safetensors, a cut JSON) into
    one ValueError naming the folder and the fix, instead of a library traceback."""
    try:
        yield
    except (ValueError, FileNotFoundError) as e:
        if str(e).startswith(str(folder)):  # already ours
            raise
        raise _unreadable(folder, e) from e
    except Exception as e:  # noqa: BLE001 - safetensors, tokenizers and transformers raise their own types
        raise _unreadable(folder, e) from e


def _unreadable(folder, e: Exception) -> ValueError:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    return ValueError(
        f"{folder}: cannot read the model files ({type(e).__name__}: {first}); they may be truncated "
        "or incomplete: rerun the command that wrote them, or copy the folder again"
    )


def _differences(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k, '(unset)')!r} there, {new.get(k, '(unset)')!r} here" for k in keys
            if old.get(k) != new.get(k)]


@contextlib.contextmanager
def output_lock(lock_path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path` (created, and removed on release); refuse at once if another
    process holds it. The kernel drops the lock when its holder dies, so a kill -9 never leaves a
    stale lock; a lock file left by one is simply locked again."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise ValueError(
                f"{what}: another hiero run (pid {holder}) is writing it (lock {lock_path}); wait for it "
                "to finish or choose another output"
            ) from None
        try:  # the holder we waited for may have removed the file: lock the one now at the path
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)  # while still locked: a process that opened it sees the path changed
        os.close(fd)


class Run:
    """One training run's output folder (see the module docstring); `dir` is where to write."""

    def __init__(self, out: Path, stage: str, record: dict, *, main: bool, overwrite: bool):
        self.out, self.stage, self.record, self.main, self.overwrite = out, stage, record, main, overwrite
        self.staging = overwrite and is_finished(out)
        self.dir = out.parent / f".{out.name}.overwrite" if self.staging else out
        self.created = not self.dir.exists()
        self.resuming = False
        self.finished = False

    def begin(self) -> None:
        """Check the folder against this run's record (main process), refusing what must not be mixed."""
        d = self.dir
        if d.exists() and not d.is_dir():
            raise ValueError(f"-o {d}: is a file; give a folder for the {self.stage} output")
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"-o {self.out}: is a file; give a folder for the {self.stage} output")
        if not self.staging and is_finished(d):
            raise ValueError(f"{d}: holds a finished {self.stage} run; pass --overwrite to replace it "
                             "(atomically, once the new run finishes) or choose another -o")
        from hiero.checkpoint import LEGACY

        if (d / LEGACY).is_dir() and _read_record(d) is None and not self.overwrite:
            raise ValueError(
                f"{d / LEGACY}: the checkpoint of an older hiero (Accelerate's pickled state), which "
                "is never loaded; pass --overwrite to discard it or choose another -o"
            )
        old = _read_record(d)
        if old is not None:
            diffs = (
                [f"stage: {old.get('stage')!r} there, {self.stage!r} here"]
                if old.get("stage") != self.stage
                else []
            )
            diffs += _differences(old.get("settings", {}), self.record["settings"])
            diffs += [f"input {x}" for x in _differences(old.get("inputs", {}), self.record["inputs"])]
            if diffs and not self.overwrite:
                raise ValueError(
                    f"{d}: holds an interrupted run made with other settings ({'; '.join(diffs)}); rerun "
                    "with the same settings to resume it, or pass --overwrite to discard it"
                )
            self.resuming = not diffs
        if d.is_dir() and not self.resuming and any(p.name != LOCK_FILE for p in d.iterdir()) and (
                old is not None or (d / LEGACY).is_dir() or self.staging):
            log.warning("%s: discarding an interrupted run (--overwrite)", d)
            for p in d.iterdir():
                if p.name != LOCK_FILE:
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        if not self.resuming:
            self._write(complete=False)

    def _write(self, complete: bool) -> None:
        rec = {"stage": self.stage, "complete": complete, **self.record,
               "started_at": self.record.get("started_at", time.time())}
        if complete:
            rec["finished_at"] = time.time()
        self.record["started_at"] = rec["started_at"]
        with atomic_write(self.dir / RUN_FILE) as f:
            json.dump(rec, f, indent=2)
            f.write("\n")

    def finish(self) -> None:
        """The run's last act: drop its checkpoints, write the completion marker, replace `out` if staged."""
        if self.main:
            from hiero.checkpoint import ROOT

            for ck in sorted(self.dir.rglob(ROOT)):
                shutil.rmtree(ck, ignore_errors=True)
            self._write(complete=True)
            if self.staging:
                old = self.out.parent / f".{self.out.name}.old"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(self.out, old)
                os.replace(self.dir, self.out)
                shutil.rmtree(old, ignore_errors=True)
        self.finished = True


@contextlib.contextmanager
def training_run(out: str | os.PathLike, stage: str, settings: dict, inputs: dict, *, overwrite: bool = False,
                 main: bool | None = None) -> Iterator[Run]:
    """The output folder of a training run (module docstring). `main`: this is the process that writes
    (default: the main process of the `accelerate launch` group, RANK 0, or the only one)."""
    out = Path(out)
    if main is None:
        main = int(os.environ.get("RANK", "0")) == 0
    run = Run(
        out, stage, {"settings": settings, "inputs": input_hashes(inputs)}, main=main, overwrite=overwrite
    )
    if not main:  # the main process checks and writes; this one only uses the same folder
        run.dir.mkdir(parents=True, exist_ok=True)
        yield run
        return
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {out}: is a file; give a folder for the {stage} output")
    run.dir.mkdir(parents=True, exist_ok=True)
    try:
        with output_lock(run.dir / LOCK_FILE, str(out)):
            run.begin()
            _OWN.add(run.dir.resolve())
            try:
                yield run
            finally:
                _OWN.discard(run.dir.resolve())
    except BaseException:
        if not run.finished and run.created and not _has_checkpoint(run.dir):
            shutil.rmtree(run.dir, ignore_errors=True)  # nothing to resume: leave no partial output behind
        raise
