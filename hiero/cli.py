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

from hiero.data.io import DataError

# pipeline order: what `hiero --help` lists
STAGES = [
    "hiero.data.cli",  # data convert | stats | synth
    "hiero.policy.cli",  # policy train | sample | serve
    "hiero.trees.cli",  # annotate, trees show | html
    "hiero.augment.cli",  # augment hnc
    "hiero.reward.cli",  # rm data | train | score
    "hiero.evaluation.cli",  # eval bon | processbench
    "hiero.selftrain.cli",  # selftrain
    "hiero.preference.cli",  # po pairs | train | eval | judge
    "hiero.demo",  # demo
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hiero", description="Hierarchical supervision of LLM reasoning: HRM reward models and HiPO.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in STAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a stage not built yet is simply not listed
            if e.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
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
