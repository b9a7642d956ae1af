"""CLI of the policy stage: `hiero policy train | sample | serve`. It only parses and dispatches.

    hiero policy train --preset quick -o runs/policy                 (tokenizer + tiny LM, ~2 min on CPU)
    hiero policy sample --policy runs/policy --problems test.jsonl --n 8 -o solutions.jsonl
    hiero policy serve --policy runs/policy --port 8000              (OpenAI-compatible endpoint)

Presets: `--preset NAME` picks `hiero.policy.sft.PRESETS[NAME]`; a `--config` YAML and explicit
flags override it (preset < YAML < flags).
"""

from __future__ import annotations

import argparse
import json

from hiero.config import add_config_args, config_from_args, config_from_dict, given_values


def _train(args: argparse.Namespace) -> int:
    from hiero.policy.sft import PolicyTrainConfig, main, preset_config

    given = given_values(PolicyTrainConfig, args)
    config_from_dict(PolicyTrainConfig, given, source=str(args.config or "command line"))  # type checks
    preset = given.pop("preset", "quick")
    summary = main(preset_config(preset, **given))  # preset < YAML < flags
    print(json.dumps(summary, indent=2))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from hiero.policy.sample import SampleConfig, main

    print(json.dumps(main(config_from_args(SampleConfig, args)), indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from hiero.policy.server import ServeConfig, main

    return main(config_from_args(ServeConfig, args))


def register(sub) -> None:
    from hiero.policy.sample import SampleConfig
    from hiero.policy.server import ServeConfig
    from hiero.policy.sft import PRESETS, PolicyTrainConfig

    policy = sub.add_parser("policy", help="train, sample from and serve a policy model",
                            description=__doc__.splitlines()[0])
    psub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)

    presets = "\n  ".join(
        f"{name}: " + (", ".join(f"{k}={v}" for k, v in over.items()) or "the defaults below")
        for name, over in PRESETS.items()
    )
    t = psub.add_parser(
        "train",
        help="train the embedded tokenizer + tiny causal LM by noisy SFT",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Noisy SFT of the embedded tokenizer + tiny causal LM on the built-in domain. "
        "Output: a Hugging Face model folder.\n\nPresets (--preset; flags and YAML "
        f"override them):\n  {presets}",
    )
    add_config_args(t, PolicyTrainConfig, skip=("output",))
    t.add_argument("-o", "--output", dest="output", default=argparse.SUPPRESS, help="output model folder")
    t.set_defaults(func=_train)

    s = psub.add_parser(
        "sample",
        help="N graded solutions per problem from a policy (Solution JSONL)",
        description="Sample N solutions per problem from a policy and grade them (answers and, where the "
                    "domain checks steps, each step).",
    )
    add_config_args(s, SampleConfig, skip=("out",))
    s.add_argument("-o", "--out", dest="out", default=argparse.SUPPRESS, help="output Solution JSONL")
    s.set_defaults(func=_sample)

    v = psub.add_parser(
        "serve",
        help="serve a model folder over an OpenAI-compatible HTTP API",
        description="An OpenAI-compatible server (/v1/completions, /v1/chat/completions) over a policy "
                    "folder, with request batching and per-request token limits.",
    )
    add_config_args(v, ServeConfig)
    v.set_defaults(func=_serve)
