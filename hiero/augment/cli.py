"""`hiero augment hnc`.

    hiero augment hnc TREES.jsonl -o TREES_HNC.jsonl [--p 0.5 --min-children 4 --min-depth 2 --seed 0]

Parses into hnc.HNCConfig (every field is a flag, and `--config FILE.yaml` can hold any of them) and
prints the summary of `hnc.main(cfg)` as JSON.
"""

from __future__ import annotations

import argparse
import json

from hiero.config import add_config_args, config_from_args


def _hnc(args: argparse.Namespace) -> int:
    from hiero.augment.hnc import HNCConfig, main

    print(json.dumps(main(config_from_args(HNCConfig, args)), indent=2))
    return 0


def register(subparsers) -> None:
    from hiero.augment.hnc import HNCConfig

    aug = subparsers.add_parser("augment", help="tree augmentation (HNC)")
    sub = aug.add_subparsers(dest="augment_command", metavar="AUGMENT_COMMAND", required=True)
    p = sub.add_parser(
        "hnc",
        help="hierarchical node compression of reasoning trees",
        description="Merge one child per wide node into its parent (HRM's HNC); the (n_correct, n_total) "
                    "counts are recomputed exactly.",
    )
    p.add_argument("input", help="trees JSONL (e.g. from `hiero annotate`)")
    p.add_argument("-o", "--output", dest="output", default=argparse.SUPPRESS, required=True,
                   help="compressed trees JSONL")
    add_config_args(p, HNCConfig, skip=("input", "output"))
    p.set_defaults(func=_hnc)
