"""`hiero rm ...`: reward-model data, training and scoring.

    hiero rm data --kind orm|prm|hrm --from trees|prm800k|math-shepherd IN [IN ...] -o OUT_DIR   (rows.py)
    hiero rm train --kind orm|prm|hrm --data DIR --base MODEL -o RM_DIR [--read marker|step-end|per-step] \\
        [--head hidden|likelihood|both]
    hiero rm score --rm SPEC --input SOLUTIONS.jsonl|PROCESSBENCH.json -o SCORES.jsonl
        [--dtype bf16] [--device-map auto] [--max-tokens 16384]
        SPEC: DIR | FORMAT:DIR[#sep=..,good=..,bad=..] (hiero/reward/spec.py; formats: hiero/reward/public.py)

Each command parses its flags into the stage's config dataclass and calls the stage's `main(cfg)`;
the summary is printed as JSON.
"""

from __future__ import annotations

import argparse
import json

from hiero.config import add_config_args, config_from_args


def _rm_data(args: argparse.Namespace) -> int:
    from hiero.reward.rows import RowsConfig, main

    stats = main(config_from_args(RowsConfig, args))
    print(json.dumps({k: v for k, v in stats.items() if k != "config"}, indent=2))
    return 0


def _train(args: argparse.Namespace) -> int:
    from hiero.reward.train import RMTrainConfig, main

    summary = main(config_from_args(RMTrainConfig, args))
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2, default=str))
    return 0


def _score(args: argparse.Namespace) -> int:
    from hiero.reward.scorer import ScoreConfig, main

    print(json.dumps(main(config_from_args(ScoreConfig, args)), indent=2))
    return 0


def register(subparsers) -> None:
    from hiero.reward.scorer import ScoreConfig
    from hiero.reward.train import RMTrainConfig

    rm = subparsers.add_parser("rm", help="reward models: data rows, training, scoring")
    sub = rm.add_subparsers(dest="rm_command", metavar="RM_COMMAND", required=True)
    add_rm_data_parser(sub)

    p = sub.add_parser(
        "train",
        help="train an ORM / PRM / HRM reward model",
        description="Train an ORM / PRM / HRM on `hiero rm data` rows: --read says where a step is read, "
                    "--head what scores it.",
    )
    add_config_args(p, RMTrainConfig, skip=("out",))
    p.add_argument("-o", "--out", dest="out", required=True, help="output folder of the reward model")
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "score",
        help="score solutions with a reward model",
        description="Per-step scores and aggregates for a Solution JSONL or ProcessBench .json file, "
        "with hiero's own reward models or public PRMs (--rm FORMAT:DIR).",
    )
    add_config_args(p, ScoreConfig, skip=("out",))
    p.add_argument("-o", "--out", dest="out", required=True, help="output JSONL of scored solutions")
    p.set_defaults(func=_score)


def add_rm_data_parser(rm_subparsers) -> argparse.ArgumentParser:
    """Add `data` to the `hiero rm` sub-commands; returns the parser."""
    from hiero.reward.rows import RowsConfig

    p = rm_subparsers.add_parser(
        "data",
        help="ORM / PRM / HRM training rows from trees, PRM800K or Math-Shepherd",
        description="Training rows in TRL stepwise-supervision format plus soft labels and merge marks.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        help="trees JSONL (--from trees), PRM800K files incl. `data convert --emit rows` "
        "output (--from prm800k), Math-Shepherd files (--from math-shepherd)",
    )
    p.add_argument("-o", "--out", dest="out_dir", default=argparse.SUPPRESS, required=True,
                   help="output folder (train.jsonl, eval.jsonl, stats.json)")
    p.add_argument(
        "--from",
        dest="source",
        choices=("trees", "prm800k", "math-shepherd"),
        default=argparse.SUPPRESS,
        help="input kind (default: trees)",
    )
    add_config_args(p, RowsConfig, skip=("inputs", "out_dir", "source"))
    p.set_defaults(func=_rm_data)
    return p
