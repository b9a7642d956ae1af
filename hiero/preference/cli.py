"""CLI of the preference stage: `hiero po pairs | train | eval | judge`.

    hiero po pairs --solutions sols.jsonl [--trees trees.jsonl] [--prefs prefs.jsonl] [--prm800k prm.jsonl] \\
        -o pairs.jsonl
    hiero po train --loss hipo --weight-preset mt-bias --model runs/policy --pairs pairs.jsonl \\
        -o runs/hipo --max-steps 100
    hiero po eval --models base=runs/policy,hipo=runs/hipo --problems test.jsonl -o eval.json
    hiero po judge responses.jsonl --base-url http://127.0.0.1:8000/v1 -o judged.jsonl
"""

from __future__ import annotations

import argparse
import json

from hiero.config import add_config_args, config_from_args


def register(sub) -> None:
    po = sub.add_parser(
        "po", help="preference optimisation: DPO / IPO / hinge / HiPO (pairs | train | eval | judge)"
    )
    psub = po.add_subparsers(dest="po_command", metavar="ACTION", required=True)
    from hiero.preference.evaluate import POEvalConfig
    from hiero.preference.pairs import PairsConfig
    from hiero.preference.train import POTrainConfig

    for name, cls, help_text, func in (
        (
            "pairs",
            PairsConfig,
            "build preference pairs (solutions | trees | prefs | PRM800K files) with segments",
            _pairs,
        ),
        ("train", POTrainConfig, "train with DPO / IPO / hinge / HiPO", _train),
        ("eval", POEvalConfig, "accuracy (and judge scores) of several models, same prompt for all", _eval),
    ):
        p = psub.add_parser(name, help=help_text, description=help_text)
        add_config_args(p, cls, skip=("out",))
        p.add_argument("-o", "--out", dest="out", default=argparse.SUPPRESS, help="output path")
        p.set_defaults(func=func)
    j = psub.add_parser("judge", help="rubric-score a JSONL of {question, response[, reference]}")
    j.add_argument("responses", help="JSONL with question, response (and optionally reference)")
    j.add_argument("-o", "--out", required=True, help="output JSONL (rows + judge scores)")
    j.add_argument("--base-url", required=True, help="OpenAI-compatible server")
    j.add_argument("--model", default="gpt-4.1", help="judge model name")
    j.add_argument("--cache-dir", default="runs/cache/po", help="reply cache root")
    j.set_defaults(func=_judge)


def _run(main, cls, args) -> int:
    print(json.dumps(main(config_from_args(cls, args)), indent=2))
    return 0


def _pairs(args) -> int:
    from hiero.preference.pairs import PairsConfig, main

    return _run(main, PairsConfig, args)


def _train(args) -> int:
    from hiero.preference.train import POTrainConfig, main

    return _run(main, POTrainConfig, args)


def _eval(args) -> int:
    from hiero.preference.evaluate import POEvalConfig, main

    return _run(main, POEvalConfig, args)


def _judge(args) -> int:
    from hiero.preference.evaluate import judge_file

    judge_file(args.responses, args.out, args.base_url, args.model, args.cache_dir)
    return 0
