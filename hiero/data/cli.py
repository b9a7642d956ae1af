"""CLI of the data stage: `hiero data convert | stats | sample | synth`. It parses, dispatches and writes.

    hiero data convert --format processbench ../shared/data/processbench/math.json -o pb_math.jsonl
    hiero data convert --format prm800k ../shared/data/prm800k/phase1_test.jsonl -o prm.jsonl --neutral \\
        positive
    hiero data stats pb_math.jsonl [--json]
    hiero data stats --format gsm8k ../shared/data/gsm8k/test.jsonl        (a raw file: convert in memory)
    hiero data sample rows/train.jsonl -o small/train.jsonl --groups 100 [--by question_id] [--seed 0]
    hiero data synth --n 200 --seed 0 -o problems.jsonl [--solutions-out noisy.jsonl]

Python: `hiero.data.sources.convert(fmt, src, out, **opts)`, `stats(path)`,
`summarize_real_data(dir)`; `hiero.data.sample.main(SubsetConfig(...))`; `write_synth(SynthConfig(...))`.
"""

from __future__ import annotations

import argparse
import json

from hiero.config import add_config_args, config_from_args
from hiero.data import sources
from hiero.data.io import write_jsonl


def register(sub) -> None:
    data = sub.add_parser("data", help="convert real data, print data stats, make the built-in domain",
                          description=__doc__.splitlines()[0])
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    c = dsub.add_parser("convert", help="convert a real-data file into hiero JSONL (atomic write)")
    c.add_argument("--format", "-f", required=True, choices=list(sources.FORMATS), help="input format")
    c.add_argument("src", help="input file")
    c.add_argument("-o", "--out", required=True, help="output JSONL")
    _add_options(c)
    c.add_argument("--json", action="store_true", help="print the summary as JSON")
    c.set_defaults(func=_convert)

    s = dsub.add_parser("stats", help="counts of a hiero JSONL file (or of a raw file with --format)")
    s.add_argument("path", help="JSONL file")
    s.add_argument("--format", "-f", default=None, choices=list(sources.FORMATS),
                   help="read PATH as this raw format instead of hiero JSONL")
    _add_options(s)
    s.add_argument("--json", action="store_true", help="print JSON instead of text")
    s.set_defaults(func=_stats)

    from hiero.data.sample import SubsetConfig

    m = dsub.add_parser("sample", help="random subset of a JSONL file: K whole groups (--by) or K rows",
                        description=SubsetConfig.__doc__)
    m.add_argument("src", help="input JSONL")
    add_config_args(m, SubsetConfig, skip=("src", "out"))
    m.add_argument("-o", "--out", required=True, help="output JSONL")
    m.set_defaults(func=_sample)

    from hiero.domains.builtin.sets import SynthConfig

    y = dsub.add_parser("synth", help="generate built-in multi-step arithmetic word problems")
    add_config_args(y, SynthConfig)
    y.add_argument("-o", dest="out", default=argparse.SUPPRESS, help="same as --out")
    y.set_defaults(func=_synth)


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-calc", action="store_true", default=None, help=sources.OPTIONS["keep_calc"])
    p.add_argument("--socratic", choices=("keep", "drop"), default=None, help=sources.OPTIONS["socratic"])
    p.add_argument("--neutral", choices=("drop", "positive", "negative"), default=None,
                   help=sources.OPTIONS["neutral"] + " (default: drop)")
    p.add_argument("--emit", choices=("solutions", "rows"), default=None, help=sources.OPTIONS["emit"])
    p.add_argument(
        "--prefs-text", choices=("original", "decomposed"), default=None, help=sources.OPTIONS["prefs_text"]
    )


def _options(args) -> dict:
    return {k: getattr(args, k) for k in sources.OPTIONS if getattr(args, k, None) is not None}


def _convert(args) -> int:
    summary = sources.convert(args.format, args.src, args.out, **_options(args))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {summary['records']} {summary['kind']} records to {summary['output']} "
              f"({summary['seconds']} s)")
        _print_counts(summary["source_counts"], indent="  ")
    return 0


def _stats(args) -> int:
    result = sources.stats(args.path, args.format, **_options(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_counts(result)
    return 0


def _print_counts(d: dict, indent: str = "") -> None:
    for key, value in d.items():
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            print(f"{indent}{key}:")
            _print_counts(value, indent + "  ")
        elif isinstance(value, dict):
            print(f"{indent}{key}: " + ", ".join(f"{k}={v}" for k, v in value.items()))
        elif isinstance(value, list):
            print(f"{indent}{key}: {len(value)} items")
        else:
            print(f"{indent}{key}: {value}")


def _sample(args) -> int:
    from hiero.data.sample import SubsetConfig, main

    print(json.dumps(main(config_from_args(SubsetConfig, args)), indent=2))
    return 0


def write_synth(cfg) -> dict:
    """`hiero data synth`: the built-in domain's problems (and noisy solutions) as JSONL, each file
    written atomically after everything is built; returns the figures."""
    from hiero.domains.builtin.sets import make_set

    problems, solutions, summary = make_set(cfg)
    write_jsonl(cfg.out, problems)
    if cfg.solutions_out:
        write_jsonl(cfg.solutions_out, solutions)
    return summary


def _synth(args) -> int:
    from hiero.domains.builtin.sets import SynthConfig

    print(json.dumps(write_synth(config_from_args(SynthConfig, args)), indent=2))
    return 0
