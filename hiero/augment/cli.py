"""`hiero augment hnc` and the `rm data` sub-command (which hiero.reward.cli mounts under `hiero rm`).

    hiero augment hnc TREES.jsonl -o TREES_HNC.jsonl [--p 0.5 --min-children 4 --min-depth 2 --seed 0]
    hiero rm data --kind orm|prm|hrm --from trees|prm800k|math-shepherd IN [IN ...] -o OUT_DIR [...]

Both parse into their stage config (hnc.HNCConfig, rows.RowsConfig; every field is a flag, and
`--config FILE.yaml` can hold any of them) and print the summary of the stage's `main(cfg)` as JSON.
"""

from __future__ import annotations

import argparse
import json

from hiero.config import add_config_args, config_from_args


def _hnc(args: argparse.Namespace) -> int:
    from hiero.augment.hnc import HNCConfig, main

    print(json.dumps(main(config_from_args(HNCConfig, args)), indent=2))
    return 0


def _rm_data(args: argparse.Namespace) -> int:
    from hiero.augment.rows import RowsConfig, main

    stats = main(config_from_args(RowsConfig, args))
    print(json.dumps({k: v for k, v in stats.items() if k != "config"}, indent=2))
    return 0


def register(subparsers) -> None:
    from hiero.augment.hnc import HNCConfig

    aug = subparsers.add_parser("augment", help="tree augmentation (HNC)")
    sub = aug.add_subparsers(dest="augment_command", metavar="AUGMENT_COMMAND", required=True)
    p = sub.add_parser("hnc", help="hierarchical node compression of reasoning trees",
                       description="Merge one child per wide node into its parent (HRM's HNC); the (n_correct, n_total) counts are recomputed exactly.")
    p.add_argument("input", help="trees JSONL (e.g. from `hiero annotate`)")
    p.add_argument("-o", "--output", dest="output", default=argparse.SUPPRESS, required=True,
                   help="compressed trees JSONL")
    add_config_args(p, HNCConfig, skip=("input", "output"))
    p.set_defaults(func=_hnc)


def add_rm_data_parser(rm_subparsers) -> argparse.ArgumentParser:
    """Add `data` to the `hiero rm` sub-commands (called by hiero.reward.cli); returns the parser."""
    from hiero.augment.rows import RowsConfig

    p = rm_subparsers.add_parser("data", help="ORM / PRM / HRM training rows from trees, PRM800K or Math-Shepherd",
                                 description="Training rows in TRL stepwise-supervision format plus soft labels "
                                             "and merge marks.")
    p.add_argument("inputs", nargs="+", help="trees JSONL (--from trees), PRM800K files incl. `data convert --emit rows` "
                                             "output (--from prm800k), Math-Shepherd files (--from math-shepherd)")
    p.add_argument("-o", "--out", dest="out_dir", default=argparse.SUPPRESS, required=True,
                   help="output folder (train.jsonl, eval.jsonl, stats.json)")
    p.add_argument("--from", dest="source", choices=("trees", "prm800k", "math-shepherd"), default=argparse.SUPPRESS,
                   help="input kind (default: trees)")
    add_config_args(p, RowsConfig, skip=("inputs", "out_dir", "source"))
    p.set_defaults(func=_rm_data)
    return p
