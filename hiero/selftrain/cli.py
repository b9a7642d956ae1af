"""CLI of the self-training stage: `hiero selftrain`.

    hiero selftrain --policy runs/policy --trees runs/trees.jsonl -o runs/selftrain \\
        [--threshold 0.95 --lam 0.1 --kl-form log1p --select path --lr 2e-6 --epochs 1]

Builds `SelfTrainConfig` (defaults < --config YAML < flags), calls `hiero.selftrain.train.main`, and
prints its summary (accuracy before/after on held-out problems) as JSON.
"""

from __future__ import annotations

import argparse
import json

from hiero.config import add_config_args, config_from_args


def register(sub) -> None:
    from hiero.selftrain.train import SelfTrainConfig

    p = sub.add_parser(
        "selftrain",
        help="fine-tune the policy on its high-MC trajectories (CE + λ·log(1+KL))",
        description=__doc__.splitlines()[0],
    )
    add_config_args(p, SelfTrainConfig, skip=("out",))
    p.add_argument(
        "-o", "--out", dest="out", default=argparse.SUPPRESS, help="output folder (fine-tuned policy)"
    )
    p.set_defaults(func=_selftrain)


def _selftrain(args) -> int:
    from hiero.selftrain.train import SelfTrainConfig, main

    print(json.dumps(main(config_from_args(SelfTrainConfig, args)), indent=2, default=str))
    return 0
