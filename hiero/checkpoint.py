"""Resumable training checkpoints: atomic, verified, and free of pickle.

    OUT/checkpoints/step-00000050/        the newest complete checkpoint (older ones are deleted)
        model.safetensors                 the bare model's state_dict
        optimizer.safetensors + .json     optimizer tensors / the rest of its state_dict (param groups)
        rng-<rank>.safetensors + .json    torch (CPU, CUDA) / Python and NumPy RNG states of each process
        trainer.json                      loop state (step, micro-batches, best eval), scheduler, grad scaler
        manifest.json                     written last: step, and the size and sha256 of every file above

    save(...)    writes everything into OUT/checkpoints/.tmp-step-N/, re-reads and verifies it against its
                 manifest, then renames it to step-N (one rename: a kill leaves either no step-N or a whole
                 one)
    latest(...)  the newest checkpoint that verifies; a torn or tampered one is moved to
                 OUT/checkpoints/torn/ with a one-line warning, a left-over .tmp-* folder is removed

Why not `Accelerator.save_state`: it writes in place (a kill mid-save tears the only checkpoint) and
stores the scheduler, the RNG states and the sampler with pickle, which `load_state` unpickles
(`weights_only=False`): a file planted in an output folder would run code on resume. Here every
tensor goes through safetensors and everything else through JSON, and a folder whose files differ
from its manifest (a planted `custom_checkpoint_0.pkl` included) is never read.

Scope: the model and optimizer of one process, or replicated ones (single device, DDP: written once,
by the main process); under FSDP (version 1), whose processes each hold a shard of the parameters and
of the optimizer state, every process writes its own shard the same way (model-<rank>.safetensors,
optimizer-<rank>.safetensors + .json); under DeepSpeed every process writes its ZeRO optimizer's
state_dict (fp32 partitions, optimizer state, loss scaler) through `structure_files`, which stores
tensors as safetensors and the rest as JSON, rebuilding only the classes in SAFE_CLASSES
(engine-<rank>.*), and the main process the whole model under ZeRO-1/2. A resume under FSDP or
DeepSpeed needs the same number of processes (hiero.training checks it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)

ROOT = "checkpoints"
MANIFEST = "manifest.json"
FORMAT = "hiero-checkpoint/1"
LEGACY = "checkpoint"  # hiero before checkpoints/ : Accelerate's save_state (pickles), never resumed


def step_dir(root: Path, step: int) -> Path:
    return root / f"step-{step:08d}"


def _step_of(path: Path) -> int | None:
    try:
        return int(path.name.removeprefix("step-")) if path.name.startswith("step-") else None
    except ValueError:
        return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    # copies: tied weights share storage, which safetensors refuses; the copies are exact
    save_file({k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}, str(path))
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


# ----------------------------------------------------------------------------- state <-> files
def optimizer_files(sd: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer state_dict as (tensors, JSON): tensors under "<param index>.<name>".

    >>> t, j = optimizer_files({"state": {0: {"step": torch.tensor(1.0), "n": 3}},
    ...                         "param_groups": [{"lr": 0.1}]})
    >>> sorted(t), j
    (['0.step'], {'state': {'0': {'n': 3}}, 'param_groups': [{'lr': 0.1}]})
    """
    tensors, plain = {}, {}
    for idx, entries in sd["state"].items():
        plain[str(idx)] = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{idx}.{name}"] = value
            else:
                plain[str(idx)][name] = value
    return tensors, {"state": plain, "param_groups": sd["param_groups"]}


def optimizer_state(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    """Inverse of `optimizer_files` (betas come back as tuples, as torch writes them)."""
    state: dict[int, dict] = {int(i): dict(v) for i, v in meta["state"].items()}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


# The only classes a structured state (`structure_files`) may hold, rebuilt field by field: DeepSpeed's
# ZeRO optimizer state_dict holds its loss scaler, fragment addresses and stage enum besides tensors.
SAFE_CLASSES = frozenset({
    "deepspeed.runtime.fp16.loss_scaler.LossScaler",
    "deepspeed.runtime.fp16.loss_scaler.DynamicLossScaler",
    "deepspeed.utils.tensor_fragment.fragment_address",
    "deepspeed.runtime.zero.config.ZeroStageEnum",
})


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def structure_files(obj: Any) -> tuple[dict[str, torch.Tensor], Any]:
    """Any state built of dicts, lists, tuples, numbers, strings, tensors and the SAFE_CLASSES as
    (tensors, JSON): what pickle would store, without the power to run code on reading. Anything else
    is a TypeError naming where it sits.

    >>> t, j = structure_files({"a": (1, torch.ones(2)), 3: None})
    >>> list(t), j
    (['0'], {'$dict': [['a', {'$tuple': [1, {'$tensor': '0'}]}], [3, None]]})
    >>> structure_from_files(t, j)
    {'a': (1, tensor([1., 1.])), 3: None}
    """
    import dataclasses
    import enum

    tensors: dict[str, torch.Tensor] = {}

    def enc(x: Any, where: str) -> Any:
        if x is None or type(x) in (bool, str, int, float):  # exact types: a str enum is not a str here
            return x
        if isinstance(x, torch.dtype):  # e.g. DeepSpeed's fp16 loss scaler keeps its dtype
            return {"$dtype": str(x).removeprefix("torch.")}
        if isinstance(x, torch.Tensor):
            key = str(len(tensors))
            tensors[key] = x
            return {"$tensor": key}
        name = _qualname(x)
        if isinstance(x, enum.Enum) and name in SAFE_CLASSES:
            return {"$enum": name, "value": x.value}
        if isinstance(x, dict):
            return {"$dict": [[enc(k, where), enc(v, f"{where}[{k!r}]")] for k, v in x.items()]}
        if isinstance(x, (list, tuple)) and type(x) in (list, tuple, torch.Size):
            items = [enc(v, f"{where}[{i}]") for i, v in enumerate(x)]
            return items if isinstance(x, list) else {"$tuple": items}
        if name in SAFE_CLASSES:
            fields = (vars(x) if not dataclasses.is_dataclass(x)
                      else {f.name: getattr(x, f.name) for f in dataclasses.fields(x)})
            return {"$object": name, "fields": {k: enc(v, f"{where}.{k}") for k, v in fields.items()}}
        raise TypeError(f"{where}: a {name} cannot be stored without pickle (hiero.checkpoint.SAFE_CLASSES)")

    return tensors, enc(obj, "state")


def structure_from_files(tensors: dict[str, torch.Tensor], meta: Any, where: str = "state") -> Any:
    """Inverse of `structure_files`; a class outside SAFE_CLASSES is refused, not imported."""
    import dataclasses
    import importlib

    def cls_of(name: str):
        if name not in SAFE_CLASSES:
            raise ValueError(f"{where}: names the class {name!r}, which hiero does not rebuild (not in "
                             "hiero.checkpoint.SAFE_CLASSES)")
        module, _, qual = name.rpartition(".")
        return getattr(importlib.import_module(module), qual)

    def dec(x: Any) -> Any:
        if isinstance(x, list):
            return [dec(v) for v in x]
        if not isinstance(x, dict):
            return x
        if "$tensor" in x:
            return tensors[x["$tensor"]]
        if "$tuple" in x:
            return tuple(dec(v) for v in x["$tuple"])
        if "$dict" in x:
            return {dec(k): dec(v) for k, v in x["$dict"]}
        if "$dtype" in x:
            dtype = getattr(torch, str(x["$dtype"]), None)
            if not isinstance(dtype, torch.dtype):
                raise ValueError(f"{where}: {x['$dtype']!r} is not a torch dtype")
            return dtype
        if "$enum" in x:
            return cls_of(x["$enum"])(x["value"])
        if "$object" in x:
            cls, fields = cls_of(x["$object"]), {k: dec(v) for k, v in x["fields"].items()}
            if dataclasses.is_dataclass(cls):
                return cls(**fields)
            obj = cls.__new__(cls)
            obj.__dict__.update(fields)
            return obj
        raise ValueError(f"{where}: an entry {sorted(x)[:3]} that structure_files does not write")

    return dec(meta)


def write_structure(folder: Path, name: str, obj: Any) -> None:
    """`obj` as folder/name.safetensors + folder/name.json (structure_files)."""
    t, j = structure_files(obj)
    folder.mkdir(parents=True, exist_ok=True)
    _save_tensors(folder / f"{name}.safetensors", t)
    _write_json(folder / f"{name}.json", j)


def read_structure(folder: Path, name: str) -> Any:
    where = str(folder / f"{name}.json")
    return structure_from_files(load_file(str(folder / f"{name}.safetensors")),
                                json.loads((folder / f"{name}.json").read_text(encoding="utf-8")), where)


def rng_files() -> tuple[dict[str, torch.Tensor], dict]:
    """This process's RNG states: torch CPU / CUDA as tensors, Python and NumPy as JSON."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda_{i}"] = s
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return tensors, {"python": [version, list(internal), gauss],
                     "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [
        tensors[k] for k in sorted((k for k in tensors if k.startswith("cuda_")), key=lambda k: int(k[5:]))
    ]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[:torch.cuda.device_count()])
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


# ----------------------------------------------------------------------------- write, verify, find
def tmp_dir(root: Path, step: int) -> Path:
    return root / f".tmp-step-{step:08d}"


def _suffix(rank: int, shard: bool) -> str:
    return f"-{rank}" if shard else ""


def write_process_files(folder: Path, rank: int, model_sd: dict | None, optim_sd: dict | None,
                        trainer: dict | None, *, shard: bool = False) -> None:
    """What one process contributes to a checkpoint: its RNG states, and (main process) the rest. With
    `shard` (FSDP) every process writes its own part of the model and optimizer, as model-<rank>.*."""
    folder.mkdir(parents=True, exist_ok=True)
    t, j = rng_files()
    _save_tensors(folder / f"rng-{rank}.safetensors", t)
    _write_json(folder / f"rng-{rank}.json", j)
    sfx = _suffix(rank, shard)
    if model_sd is not None:
        _save_tensors(folder / f"model{sfx}.safetensors", model_sd)
    if optim_sd is not None:
        t, j = optimizer_files(optim_sd)
        _save_tensors(folder / f"optimizer{sfx}.safetensors", t)
        _write_json(folder / f"optimizer{sfx}.json", j)
    if trainer is not None:
        _write_json(folder / "trainer.json", trainer)


def seal(root: Path, step: int, keep: int = 1) -> Path:
    """Main process, after every process wrote into tmp_dir: manifest, verify, rename into place."""
    tmp = tmp_dir(root, step)
    files = sorted(n for n in _files(tmp) if n != MANIFEST)
    manifest = {"format": FORMAT, "step": step,
                "files": {n: {"bytes": (tmp / n).stat().st_size, "sha256": _sha256(tmp / n)} for n in files}}
    _write_json(tmp / MANIFEST, manifest)
    problem = verify(tmp)
    if problem:
        raise OSError(f"{tmp}: checkpoint failed verification after writing: {problem}")
    final = step_dir(root, step)
    if final.exists():  # a checkpoint of this step from before a resume: replace it
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    for old in sorted((p for p in root.iterdir() if _step_of(p) is not None), key=_step_of)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _files(folder: Path) -> list[str]:
    """Relative paths of every file under `folder` (DeepSpeed / FSDP engines write sub-folders)."""
    return [p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()]


def verify(folder: Path) -> str | None:
    """None if `folder` is a complete checkpoint whose files match its manifest, else what is wrong."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no manifest.json (the save did not finish)"
    except (OSError, ValueError) as e:
        return f"unreadable manifest.json ({e})"
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("files"), dict)
    ):
        return f"manifest.json is not a {FORMAT} manifest"
    present = set(_files(folder)) - {MANIFEST}
    expected = set(manifest["files"])
    if present != expected:
        extra, missing = sorted(present - expected), sorted(expected - present)
        return f"files differ from the manifest (unexpected {extra}, missing {missing})"
    for name, want in manifest["files"].items():
        p = folder / name
        if p.stat().st_size != want.get("bytes") or _sha256(p) != want.get("sha256"):
            return f"{name} does not match its manifest (torn or modified)"
    return None


def _set_aside(root: Path, folder: Path) -> Path:
    dest_root = root / "torn"
    dest_root.mkdir(exist_ok=True)
    dest, k = dest_root / folder.name, 1
    while dest.exists():
        dest, k = dest_root / f"{folder.name}.{k}", k + 1
    os.replace(folder, dest)
    return dest


def latest(root: Path, *, tidy: bool = True) -> Path | None:
    """The newest checkpoint under `root` that verifies. With `tidy` (main process) torn ones are
    set aside under root/torn/ with a one-line warning and left-over temporary folders removed."""
    if not root.is_dir():
        return None
    if tidy:
        for tmp in root.glob(".tmp-step-*"):
            log.warning("%s: removed an unfinished checkpoint save (interrupted while writing)", tmp)
            shutil.rmtree(tmp, ignore_errors=True)
    for folder in sorted((p for p in root.iterdir() if _step_of(p) is not None), key=_step_of, reverse=True):
        problem = verify(folder)
        if problem is None:
            return folder
        if tidy:
            dest = _set_aside(root, folder)
            log.warning(
                "%s: torn checkpoint (%s); set aside as %s, resuming from an earlier one",
                folder,
                problem,
                dest,
            )
    return None


def read_model(folder: Path) -> dict[str, torch.Tensor]:
    """The whole model's state_dict that the main process wrote (single device, DDP, ZeRO-1/2)."""
    return load_file(str(folder / "model.safetensors"))


def read_weights(folder: Path, rank: int, *, shard: bool = False) -> tuple[dict, dict]:
    """The model and optimizer state_dicts of a verified checkpoint (`shard`: this rank's own part of them,
    see write_process_files)."""
    sfx = _suffix(rank, shard)
    if not (folder / f"model{sfx}.safetensors").exists():
        raise ValueError(f"{folder}: no model{sfx}.safetensors: the checkpoint was not written by a run "
                         "like this one (another number of processes, or with / without FSDP); resume "
                         "with the settings it was written with, or train into a new folder")
    optimizer = optimizer_state(
        load_file(str(folder / f"optimizer{sfx}.safetensors")),
        json.loads((folder / f"optimizer{sfx}.json").read_text(encoding="utf-8")),
    )
    return load_file(str(folder / f"model{sfx}.safetensors")), optimizer


def read(folder: Path, rank: int) -> dict:
    """The trainer JSON of a verified checkpoint and this rank's RNG states (read_weights: the rest)."""
    out = {"trainer": json.loads((folder / "trainer.json").read_text(encoding="utf-8"))}
    rng = folder / f"rng-{rank}.safetensors"
    if rng.exists():  # a run resumed on a different number of processes reseeds the extra ones
        out["rng"] = (
            load_file(str(rng)),
            json.loads((folder / f"rng-{rank}.json").read_text(encoding="utf-8")),
        )
    return out
