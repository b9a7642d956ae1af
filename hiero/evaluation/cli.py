"""CLI of the evaluation stage: `hiero eval bon | processbench | steps | prmbench`.

    hiero eval bon --policy runs/policy --rm orm=runs/rm_orm --rm prm=runs/rm_prm hrm=runs/rm_hrm \\
        --n 1,2,4,8,16,24,32,64 -o runs/eval_bon
    hiero eval bon --candidates gsm8k_model_solutions.jsonl --problems gsm8k_test.jsonl --rm prm=DIR -o OUT
    hiero eval bon --candidates cands.jsonl --scores prm=SCORES.jsonl -o OUT      # precomputed scores
    hiero eval processbench --rm runs/rm_hrm --data ../shared/data/processbench/math.json \\
        --tune-on ../shared/data/processbench/gsm8k.json -o pb_math.json
    # table -> pb.json, pb.md
    hiero eval processbench --rm DIR --data ../shared/data/processbench/ -o pb.json
    hiero eval processbench --scores SCORES.jsonl --data ../shared/data/processbench/ -o pb.json
    hiero eval steps --rm DIR --rows test_rows/train.jsonl -o steps.json     # step AUROC on labelled rows
    hiero eval prmbench --rm qwen-prm:DIR --data ../shared/data/prmbench/ -o prmbench.json   # PRMScore table

`--rm SPEC` is the same everywhere (hiero.reward.spec): DIR, FORMAT:DIR[#k=v,...], scores:FILE or
oracle, with --dtype, --device-map and --max-tokens for loading big models.

Each command builds its config (defaults < --config YAML < flags) and calls the stage's `main(cfg)`;
the summary is printed as JSON (the full results go to the output files).
"""

from __future__ import annotations

import argparse
import json

from hiero.config import add_config_args, config_from_args


def register(sub) -> None:
    from hiero.evaluation.bon import BonConfig
    from hiero.evaluation.processbench import ProcessBenchConfig

    ev = sub.add_parser("eval", help="evaluate reward models: best-of-N curves, ProcessBench F1")
    esub = ev.add_subparsers(dest="eval_command", metavar="ACTION", required=True)

    b = esub.add_parser("bon", help="accuracy vs N for every reward model (JSON + PNG + markdown)",
                        description=__doc__.splitlines()[0])
    add_config_args(b, BonConfig, skip=("out", "rm", "scores"))
    b.add_argument("-o", "--out", dest="out", default=argparse.SUPPRESS, help="output folder")
    b.add_argument(
        "--rm",
        dest="rm",
        action="extend",
        nargs="+",
        default=argparse.SUPPRESS,
        metavar="NAME=SPEC",
        help="reward model(s) to compare, NAME=SPEC (repeatable; SPEC: DIR, FORMAT:DIR[#k=v], "
        "scores:FILE; docs/reward-formats.md)",
    )
    b.add_argument(
        "--scores",
        dest="scores",
        action="extend",
        nargs="+",
        default=argparse.SUPPRESS,
        metavar="NAME=FILE",
        help="precomputed scores JSONL as a reward model, NAME=FILE or FILE "
        "(repeatable; with --candidates; ids as `hiero rm score` writes them)",
    )
    b.set_defaults(func=_bon)

    p = esub.add_parser(
        "processbench",
        help="first-error F1 of a PRM/HRM (ProcessBench protocol; a folder: the table)",
        description=__doc__.splitlines()[0],
    )
    add_config_args(p, ProcessBenchConfig, skip=("out",))
    p.add_argument("-o", "--out", dest="out", default=argparse.SUPPRESS, help="output JSON file")
    p.set_defaults(func=_processbench)

    from hiero.evaluation.labelled_rows import StepEvalConfig

    s = esub.add_parser(
        "steps",
        help="step-level AUROC against labelled steps of `hiero rm data` rows (e.g. PRM800K test)",
        description=__doc__.splitlines()[0],
    )
    add_config_args(s, StepEvalConfig, skip=("out",))
    s.add_argument("-o", "--out", dest="out", default=argparse.SUPPRESS, help="output JSON file")
    s.set_defaults(func=_steps)

    from hiero.evaluation.prmbench import PRMBenchConfig

    m = esub.add_parser("prmbench", help="PRMScore overall and per error class (PRMBench protocol)",
                        description=__doc__.splitlines()[0])
    add_config_args(m, PRMBenchConfig, skip=("out",))
    m.add_argument("-o", "--out", dest="out", default=argparse.SUPPRESS, help="output JSON file")
    m.set_defaults(func=_prmbench)


def _bon(args) -> int:
    from hiero.evaluation.bon import BonConfig, main

    summary = main(config_from_args(BonConfig, args))
    print(summary["markdown"])
    print(
        json.dumps(
            {k: summary[k] for k in ("n", "n_problems", "pool_size", "rms", "files", "time_s")}, indent=2
        )
    )
    return 0


def _processbench(args) -> int:
    from hiero.evaluation.processbench import ProcessBenchConfig, main

    summary = main(config_from_args(ProcessBenchConfig, args))
    if "markdown" in summary:  # the whole table: print it, then the rest
        print(summary.pop("markdown"))
    print(json.dumps(summary, indent=2))
    return 0


def _steps(args) -> int:
    from hiero.evaluation.labelled_rows import StepEvalConfig, main

    print(json.dumps(main(config_from_args(StepEvalConfig, args)), indent=2))
    return 0


def _prmbench(args) -> int:
    from hiero.evaluation.prmbench import PRMBenchConfig, main

    summary = main(config_from_args(PRMBenchConfig, args))
    print(summary.pop("markdown"))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("classes",)}, indent=2))
    return 0
