"""`hiero demo`: the whole pipeline, end to end, on the embedded default -> report.md + results.json.

    hiero demo [--out runs/demo] [--seed 0] [--size quick|full|micro] [--variant ...] [--recipe FILE]
    python: main(DemoConfig(out="runs/demo")) -> results dict        (`make demo` runs this)

Stages, in pipeline order (`hiero.demo.pipeline.STAGES`; each one's figures go in the report, a stage
that did not run is not shown): the built-in domain (problems, checked solutions with injected errors)
and the real-data summaries -> tiny policy (tokenizer + SFT) and the reward models' backbone (its SFT
continued) -> reasoning trees with MC labels (bsearch) -> HNC -> ORM / PRM / HRM rows -> three reward
models -> ProcessBench-style step evaluation against the domain's ground truth -> best-of-N curves
(+ step-level search) -> self-training -> preference pairs -> DPO and HiPO -> accuracy of base vs DPO
vs HiPO with one prompt.

The recipe: `recipes/embedded/SIZE.yaml` (`hiero.demo.recipe`), each stage's settings with the reason
for each default and a pointer into docs/embedded-default.md; `--variant` merges the overrides of
`recipes/embedded/variants.yaml`; `--recipe FILE` runs a recipe of your own (checked before any stage
runs). Sizes: `quick` (the default, ~10 minutes on 2 CPU cores), `full` (quick's recipe on ten times
the held-out problems, so the N = 64 intervals separate methods ~5 points apart; 34 minutes measured)
and `micro` (seconds: a smoke run for tests; its figures mean nothing). Model quality at these sizes
is that of a 1M-parameter model trained for two minutes: the report shows what each stage measured,
not the papers' numbers.

Caching: every stage writes into `OUT/stages/<stage>-<hash>/` (`hiero.demo.pipeline`); a rerun reuses
finished stages and redoes only what changed. `report.md`, `report.html` (self-contained) and
`results.json` are rewritten atomically at the end of every run; each stage's section comes from its
typed record (`hiero.demo.records`), so a figure missing from a result fails the report loudly.

Choices where the papers' settings do not fit a CPU: trees are sampled at temperature 0.7 (the
official 0.1 gives a 1M-parameter model near-identical siblings) with 4 children per node (the
official 5; HNC's minimum of 4 children still applies) on a few dozen problems.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from hiero.config import add_config_args, config_from_args
from hiero.data.io import atomic_write, write_json

SHARED_DATA_DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class DemoConfig:
    """`hiero demo`."""

    out: str = field(
        default="runs/demo", metadata={"help": "output folder (report.md, results.json, stages/)"}
    )
    seed: int = field(default=0, metadata={"help": "seed of every stage"})
    size: Literal["quick", "full", "micro"] = field(default="quick", metadata={
        "help": "quick: ~10 minutes on 2 CPU cores; full: quick's recipe on 10x the held-out problems (~35 "
                "minutes); micro: a seconds-long smoke run (figures meaningless). The recipe is "
                "recipes/embedded/SIZE.yaml"})
    recipe: str = field(default="", metadata={
        "help": "a recipe YAML to run instead of the size's (a copy of recipes/embedded/quick.yaml, changed; "
                "'inherit: quick.yaml' starts from one)"})
    shared_data: str = field(
        default="",
        metadata={
            "help": "folder of the real data for the summaries ('' = ../shared/data beside the checkout, if "
                    "there)"
        },
    )
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: leave as is)"})
    variant: Literal["plain", "self_correct", "segments"] = field(default="plain", metadata={
        "help": "plain: the size's recipe; self_correct: the policy's SFT data corrects most of its "
                "wrong steps, so the policy makes errors and later fixes them (the case HRM is built for); "
                "segments: solutions restate the givens, reason, then state the answer in a sentence, each "
                "segment with its own error rate, and the preference pairs differ in one known segment "
                "(the case HiPO is built for). Overrides from recipes/embedded/variants.yaml"})


def main(cfg: DemoConfig) -> dict:
    from hiero.demo import pipeline
    from hiero.demo.recipe import load_recipe
    from hiero.demo.records import Run
    from hiero.demo.report import render_html, render_report
    from hiero.demo.stages import Context
    from hiero.domains.builtin import DomainSettings

    if cfg.variant == "segments" and cfg.size == "micro" and not cfg.recipe:
        raise ValueError(
            "--variant segments needs a policy that writes whole solutions right in every segment "
            "(its pairs come from those): use --size quick or full, not micro"
        )
    recipe = load_recipe(cfg.recipe or cfg.size, cfg.variant)
    if cfg.threads > 0:
        import torch

        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    shared = Path(cfg.shared_data) if cfg.shared_data else SHARED_DATA_DEFAULT
    c = Context(seed=cfg.seed, threads=cfg.threads, domain=DomainSettings(**recipe["domain"]), recipe=recipe,
                shared=shared)
    stages = pipeline.run_stages(out, c)
    run = Run.of({"stages": stages})
    results = {
        **pipeline.headline(run, cfg.seed),
        "variant": cfg.variant,
        "config": asdict(cfg),
        "settings": recipe,
        "wall_time_s": round(time.time() - t0, 2),
        "peak_rss_mb": pipeline.peak_rss_mb(),
        "machine": pipeline.machine_info(),
        "versions": pipeline.versions(),
        "stages": stages,
        "stage_dirs": {k: str(v) for k, v in c.dirs.items()},
    }
    write_json(out / "results.json", results)
    with atomic_write(out / "report.md") as f:
        f.write(render_report(results))
    with atomic_write(out / "report.html") as f:
        f.write(render_html(results))
    return results


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded default -> report.md",
                       description=__doc__.splitlines()[0])
    add_config_args(p, DemoConfig)
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    res = main(config_from_args(DemoConfig, args))
    print(f"wrote {Path(res['config']['out']) / 'report.md'} ({res['wall_time_s']:.0f} s)", file=sys.stderr)
    return 0
