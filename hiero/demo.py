"""`hiero demo`: the whole pipeline, end to end, on the embedded default -> report.md + results.json.

    hiero demo [--out runs/demo] [--seed 0] [--size quick|full|micro] [--shared-data ../shared/data]
    python: main(DemoConfig(out="runs/demo")) -> results dict        (`make demo` runs this)

Stages, in pipeline order (each one's figures go in the report; a stage that did not run is not
shown): the built-in domain (problems, checked solutions with injected errors) and the real-data
summaries -> tiny policy (tokenizer + SFT) and the reward models' backbone (its SFT continued) ->
reasoning trees with MC labels (bsearch) -> HNC ->
ORM / PRM / HRM rows -> three reward models -> ProcessBench-style step evaluation against the
domain's ground truth -> best-of-N curves (+ step-level greedy search) -> self-training ->
preference pairs -> DPO and HiPO -> accuracy of base vs DPO vs HiPO with one prompt.

Caching: every stage writes into `OUT/stages/<stage>-<hash>/`, the hash taken over its settings and
the hashes of the stages it reads, and is done once its `DONE` file exists (written last, with the
stage's figures, wall time and peak memory). A rerun reuses finished stages and redoes only what
changed or what an interrupted run left unfinished (long stages resume inside their folder).
`report.md`, `report.html` (self-contained: plots as data URIs, hiero.report_html) and `results.json`
are rewritten atomically at the end of every run.

Sizes: `quick` (the default, ~10 minutes on 2 CPU cores), `full` (the same recipe on ten times the
held-out problems, so the N = 64 intervals separate methods ~5 points apart; 34 minutes measured) and
`micro` (seconds: a smoke run for tests; its figures mean nothing). Model quality at these sizes is
that of a 1M-parameter model trained for two minutes: the report shows what each stage measured,
not the papers' numbers.

Choices where the papers' settings do not fit a CPU: trees are sampled at temperature 0.7 (the
official 0.1 gives a 1M-parameter model near-identical siblings) with 4 children per node (the
official 5; HNC's minimum of 4 children still applies) on a few dozen problems.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from hiero.cache import StageCache
from hiero.config import add_config_args, config_from_args
from hiero.data.io import atomic_write, read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)

KINDS = ("orm", "prm", "hrm")
SHARED_DATA_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class DemoConfig:
    """`hiero demo`."""

    out: str = field(default="runs/demo", metadata={"help": "output folder (report.md, results.json, stages/)"})
    seed: int = field(default=0, metadata={"help": "seed of every stage"})
    size: Literal["quick", "full", "micro"] = field(default="quick", metadata={
        "help": "quick: ~10 minutes on 2 CPU cores; full: quick's recipe on 10x the held-out problems (~35 "
                "minutes); micro: a seconds-long smoke run (figures meaningless)"})
    shared_data: str = field(default="", metadata={
        "help": "folder of the real data for the summaries ('' = ../shared/data beside the checkout, if there)"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: leave as is)"})
    variant: Literal["plain", "self_correct", "segments"] = field(default="plain", metadata={
        "help": "plain: the size's recipe; self_correct: the policy's SFT data corrects most of its "
                "wrong steps, so the policy makes errors and later fixes them (the case HRM is built for); "
                "segments: solutions restate the givens, reason, then state the answer in a sentence, each "
                "segment with its own error rate, and the preference pairs differ in one known segment "
                "(the case HiPO is built for)"})


# Settings per size: each entry overrides the named stage config's defaults (`check_sizes` builds
# every config with them before a stage runs, so a misspelt key fails at start, not after minutes).
# "domain" is the one DomainSettings every stage draws built-in problems from (policy SFT, trees,
# ProcessBench items, best-of-N, self-training, preference pairs and their evaluation).
RM_LM_FEATURES = {"read": "step-end", "backbone_lr": 1e-5, "template": "policy"}
SIZES: dict[str, dict] = {
    "quick": {
        # values in [1, 30]: a 2-layer policy's arithmetic slips fell from 32.7% to 7.0% of its samples
        # (docs/embedded-default.md)
        "domain": {"max_value": 30},
        "domain_sample": {"n": 200, "p_error": 0.3, "p_correction": 0.3},
        "policy": {"preset": "quick", "n_layers": 2, "max_steps": 600},
        # the reward models' backbone: the policy's SFT run on for 720 more steps on the clean reference
        # solutions (no injected slips, so the LM does not learn to expect them): a verifier that knows the
        # domain better than the policy it judges, as a math-specialised model judges a general policy
        # (docs/embedded-default.md, points 8-9); with the policy's noisy targets (0.1 slips) the backbone
        # reached 83 / 97.5 / 79% greedy on seeds 0 / 1 / 2 and PRM AUROC 0.942 / 0.960 / 0.887
        "rm_base": {"max_steps": 720, "p_error": 0.0, "p_correction": 0.0},
        # OmegaPRM-style binary search: 8 sampled solutions per problem, each wrong one's first error
        # located with 4 completions per check; far more labelled problems than a bfs tree per CPU second
        "annotate": {"problems": 600, "mode": "bsearch", "samples": 8, "rollouts": 4, "depth": 6,
                     "temperature": 0.7, "step_tokens": 32, "batch_problems": 64},
        # one row per sampled solution; a step is good when some completion through it is right
        "rows": {"nodes": "solutions", "hard_label": "any-correct"},
        # the same number of optimizer steps for every kind (HRM had 3.7x the rows of PRM on 1000 trees)
        # generative features only: the score is a learned linear function of the LM's log-probs of each
        # step's tokens (sum, min, mean, min so far) on the plain solution text (no marker token, the
        # policy's prompt); the backbone barely moves (lr 1e-5) so the LM's knowledge survives the MC
        # labels, and the 5-weight head learns at 1e-2 (at 1e-3 it barely left its start). The
        # hidden-state head is off: on seed 2 it lowered step AUROC from 0.918 to 0.891, and its eval
        # CE (0.88) was above log 2 (docs/embedded-default.md, point 9)
        "rm": {"max_steps": 150, "batch_size": 32, "lr": 1e-2, "loss": "hard_ce", "label_type": "hard",
               **RM_LM_FEATURES, "head": "likelihood"},
        "processbench": {"synth_n": 200},
        # search_n: the HRM paper's step-search curve (N = 2 .. 24 there), candidates shared across N
        "bon": {"synth_n": 100, "n": [1, 2, 4, 8, 16, 32, 64], "search_n": [2, 4, 8, 16], "max_new_tokens": 96,
                "step_tokens": 32, "bootstrap": 1000},
        # lr 5e-5: on 1000 held-out problems 2e-4 gave +3.4 / -5.6 / +1.6 points (seeds 0 / 1 / 2),
        # 5e-5 +2.9 / -2.6 / +1.5 (docs/embedded-default.md, self-training)
        # rm_threshold: keep a node only where the PRM calls every step so far right (min >= 0.5, the
        # classifier's decision point; its ProcessBench thresholds tuned on another split are 0.49-0.56).
        # MC alone kept prefixes 42% all-right by ground truth on seed 1 (docs/embedded-default.md,
        # self-training)
        "selftrain": {"eval_n": 200, "epochs": 1.0, "lr": 5e-5, "batch_size": 16, "rm_threshold": 0.5},
        # rm_threshold: chosen solutions the PRM scores >= 0.5 at every step (as self-training);
        # tree_response "step": Step-DPO pairs from the trees, one step that the text continues after
        "pairs": {"problems": 800, "n": 4, "rm_threshold": 0.5, "tree_response": "step"},
        # DPOP (λ = 50, Smaug's value) keeps the chosen side's likelihood from falling below the
        # reference's; without it 5 epochs at 2e-5 cost DPO 11.5 points on seed 1 (arithmetic unlearnt),
        # with it 3 epochs at 2e-5 gave, on 1000 held-out problems (mean of 4 training runs), DPO
        # +0.1 / +0.6 / +0.8 points on seeds 0 / 1 / 2 where one epoch at 5e-6 (the preset until
        # then) gave -0.95 / 0.0 / +0.3 (docs/embedded-default.md, preference)
        "po": {"epochs": 3.0, "batch_size": 16, "lr": 2e-5, "dpop_lambda": 50.0},
        "po_eval": {"problems": 200},
    },
    "micro": {
        "domain": {"max_ops": 2},
        "domain_sample": {"n": 20, "p_error": 0.3, "p_correction": 0.3},
        # trained just enough to write finished (sometimes right) solutions, so every stage has data
        "policy": {"preset": "micro", "n_train": 1500, "max_steps": 80, "hidden": 64, "n_layers": 2, "heads": 2,
                   "lr": 3e-3, "batch_size": 32, "n_test": 20},
        "annotate": {"problems": 4, "mode": "bfs", "children": 4, "depth": 5, "temperature": 1.0, "step_tokens": 16,
                     "batch_problems": 4},
        "rows": {},
        "rm_base": {"max_steps": 10, "p_error": 0.0, "p_correction": 0.0},
        "rm": {"epochs": 1.0, "batch_size": 16, "lr": 1e-3, **RM_LM_FEATURES, "head": "both"},
        "processbench": {"synth_n": 12},
        "bon": {"synth_n": 4, "n": [1, 2, 4], "search_n": [2, 4], "max_new_tokens": 24, "step_tokens": 8,
                "bootstrap": 50},
        # rm_threshold -inf: the micro PRM (MSE, raw scores) ranks nothing; the filter runs but keeps all
        "selftrain": {"eval_n": 4, "epochs": 1.0, "lr": 2e-4, "batch_size": 8, "rm_threshold": float("-inf")},
        "pairs": {"problems": 6, "n": 4, "rm_threshold": float("-inf"), "tree_response": "step"},
        "po": {"max_steps": 2, "batch_size": 4, "lr": 5e-5, "dpop_lambda": 50.0},
        "po_eval": {"problems": 4},
    },
}

# quick's recipe on ten times the held-out problems (95% intervals of ~±2.5-3 points at N = 64),
# 3.3x the annotated problems and 3x the reward-model steps; step search: step_greedy only
_Q = SIZES["quick"]
SIZES["full"] = {**_Q, "domain_sample": {**_Q["domain_sample"], "n": 1000},
                 "annotate": {**_Q["annotate"], "problems": 2000}, "rm": {**_Q["rm"], "max_steps": 600},
                 "processbench": {"synth_n": 1000}, "bon": {**_Q["bon"], "synth_n": 1000, "search": ["step_greedy"]},
                 "selftrain": {**_Q["selftrain"], "eval_n": 1000}, "pairs": {**_Q["pairs"], "problems": 2400},
                 "po_eval": {"problems": 1000}}

# Variants of the domain, as overrides of a size's stage settings (applied by `demo_settings`).
# self_correct: more wrong steps in the policy's SFT targets (0.2 per computing step, not 0.1) and
# 90% of them followed by "Check: <right step>, not X." (not 50%), so the sampled solutions reach
# right answers through wrong steps: the case where HRM's merged pairs should help (REFERENCE.md 1).
# The reward models' backbone is the plain recipe's (the clean reference solutions), so the verifier
# is not taught the variant's slips; this variant changes the policy only.
# segments: the restate style (hiero.domains.builtin: the givens line, equations that follow it, an answer
# sentence), SFT targets with an error rate per segment (givens misread 0.15, a wrong equation 0.1
# per step, never corrected, answer sentence wrong 0.1) so that the policy's own samples go wrong in
# each segment, and preference pairs whose sides differ in exactly one segment, named by the
# domain's checker (`hiero po pairs --by-segment`): the case HiPO's per-segment terms are built for
# (docs/embedded-default.md, "Three segments that can each go wrong").
VARIANTS: dict[str, dict[str, dict]] = {
    "plain": {},
    "self_correct": {"policy": {"p_error": 0.2, "p_correction": 0.9}},
    "segments": {"domain": {"style": "restate"},
                 "policy": {"p_restate": 0.15, "p_answer": 0.1, "p_correction": 0.0},
                 "pairs": {"by_segment": True, "n": 8, "max_per_problem": 3}},
}


def demo_settings(size: str, variant: str = "plain", sizes: dict | None = None) -> dict[str, dict]:
    """The stage settings of one size with a variant's overrides merged in, stage by stage."""
    sizes = SIZES if sizes is None else sizes
    if size not in sizes:
        raise ValueError(f"unknown size {size!r}; choose from {sorted(sizes)}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {sorted(VARIANTS)}")
    over = VARIANTS[variant]
    unknown = sorted(set(over) - set(sizes[size]))
    if unknown:
        raise ValueError(f"demo variant {variant!r} overrides stage(s) {unknown} that size {size!r} has not")
    return {stage: {**settings, **over.get(stage, {})} for stage, settings in sizes[size].items()}


# Seeds of the problem sets each stage draws, as offsets from --seed (disjoint sets of problems;
# train/test programs never overlap in any case, see hiero.domains.builtin), and the fixed sampling
# settings of the demo.
SEED_OFFSETS = {"annotate": 101, "pairs": 202, "po_eval": 303, "bon": 7, "processbench_tune": 11,
                "processbench_eval": 12}
PAIRS_TEMPERATURE = 0.8  # sampling temperature of the preference-pair candidates
# extra keys of a stage's settings that are not fields of its config (problem counts of the demo)
_DEMO_KEYS = {"annotate": {"problems"}, "pairs": {"problems", "n", "rm_threshold", "tree_response", "by_segment",
                                                  "max_per_problem"},
              "po_eval": {"problems"}, "policy": {"preset"}}


def _stage_configs() -> dict:
    """Stage name -> the config class its settings override (imported here: they pull in torch)."""
    from hiero.domains.builtin import DomainSettings
    from hiero.domains.builtin.sets import SynthConfig
    from hiero.evaluation.bon import BonConfig
    from hiero.evaluation.processbench import ProcessBenchConfig
    from hiero.policy.sample import SampleConfig
    from hiero.policy.sft import PolicyTrainConfig
    from hiero.preference.evaluate import POEvalConfig
    from hiero.preference.train import POTrainConfig
    from hiero.reward.rows import RowsConfig
    from hiero.reward.train import RMTrainConfig
    from hiero.selftrain.train import SelfTrainConfig
    from hiero.trees.annotate import AnnotateConfig

    return {"domain": DomainSettings, "domain_sample": SynthConfig, "policy": PolicyTrainConfig,
            "rm_base": PolicyTrainConfig,
            "annotate": AnnotateConfig, "rows": RowsConfig, "rm": RMTrainConfig, "processbench": ProcessBenchConfig,
            "bon": BonConfig, "selftrain": SelfTrainConfig, "pairs": SampleConfig, "po": POTrainConfig,
            "po_eval": POEvalConfig}


def check_sizes(sizes: dict[str, dict] | None = None) -> None:
    """Every setting of every size, under every variant, names a field of its stage's config
    (ValueError otherwise)."""
    sizes = SIZES if sizes is None else sizes
    configs = _stage_configs()
    for size, variant in ((z, v) for z in sizes for v in VARIANTS):
        stages = demo_settings(size, variant, sizes)
        size = size if variant == "plain" else f"{size}/{variant}"  # the name errors give
        missing = sorted(set(configs) - set(stages))
        if missing:
            raise ValueError(f"demo size {size!r}: no settings for stage(s) {missing}")
        for stage, settings in stages.items():
            if stage not in configs:
                raise ValueError(f"demo size {size!r}: unknown stage {stage!r}")
            known = {f for f in configs[stage].__dataclass_fields__} | _DEMO_KEYS.get(stage, set())
            bad = sorted(set(settings) - known)
            if bad:
                raise ValueError(f"demo size {size!r}, stage {stage!r}: unknown setting(s) {bad}; "
                                 f"fields of {configs[stage].__name__} are {sorted(known)}")


def _domain(S: dict):
    from hiero.domains.builtin import DomainSettings

    return DomainSettings(**S["domain"])


# ----------------------------------------------------------------------------- stage runner
class Runner:
    """Runs named stages once each, cached under a hash of (settings, upstream stages)."""

    def __init__(self, cfg: DemoConfig):
        self.cfg = cfg
        self.cache = StageCache(Path(cfg.out) / "stages")
        self.results: dict[str, dict] = {}
        self.dirs: dict[str, Path] = {}

    def run(self, name: str, settings: dict, after: tuple[str, ...], fn) -> dict:
        key = {"stage": name, "seed": self.cfg.seed, "settings": settings,
               "after": {a: self.dirs[a].name for a in after}}
        d = self.cache.dir(name, key)
        self.dirs[name] = d
        if self.cache.is_done(d):
            info = self.cache.info(d)
            self.results[name] = {**info["result"], "_time_s": info["time_s"], "_peak_rss_mb": info["peak_rss_mb"],
                                  "_cached": True}
            log.info("demo: %s cached (%s)", name, d.name)
            return self.results[name]
        log.info("demo: running %s -> %s", name, d)
        t0 = time.time()
        result = fn(d)
        info = {"result": result, "time_s": round(time.time() - t0, 2), "peak_rss_mb": peak_rss_mb()}
        self.cache.mark_done(d, info)
        self.results[name] = {**result, "_time_s": info["time_s"], "_peak_rss_mb": info["peak_rss_mb"],
                              "_cached": False}
        return self.results[name]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _slim(d: dict, drop=("config", "markdown", "items", "texts")) -> dict:
    return {k: v for k, v in d.items() if k not in drop}


# ----------------------------------------------------------------------------- stages
def stage_domain(d: Path, s: dict, seed: int, domain) -> dict:
    """A sample of built-in problems and noisy solutions; checks the checker against the injected truth."""
    from hiero.domains import builtin as synth

    problems = domain.problems(s["n"], seed, "test")
    rng = random.Random(f"demo-domain|{seed}")
    sols = [synth.render_noisy_solution(p, rng, s["p_error"], s["p_correction"]) for p in problems]
    agree = sum(synth.first_error(p, x.steps) == x.first_error for p, x in zip(problems, sols, strict=True))
    write_jsonl(d / "problems.jsonl", problems)
    write_jsonl(d / "noisy_solutions.jsonl", sols)
    n_steps = [len(p.steps or []) for p in problems]
    ex = next((x for x in sols if x.first_error is not None and x.first_error >= 0), sols[0])
    return {"problems": len(problems), "steps_min": min(n_steps), "steps_max": max(n_steps),
            "steps_mean": round(sum(n_steps) / len(n_steps), 2),
            "solutions_with_error": sum(x.first_error is not None and x.first_error >= 0 for x in sols),
            "solutions_correct": sum(bool(x.correct) for x in sols),
            "first_error_agreement": round(agree / len(sols), 4),
            "example": {"question": problems[sols.index(ex)].question, "steps": ex.steps,
                        "first_error": ex.first_error}}


def stage_real_data(d: Path, shared: Path) -> dict:
    from hiero.data.sources import summarize_real_data

    summary = summarize_real_data(shared)
    write_json(d / "real_data.json", summary)
    return {"folder": str(shared), "summary": summary}


def stage_policy(d: Path, s: dict, seed: int, threads: int, domain) -> dict:
    from hiero.policy.sft import main, preset_config

    overrides = {**asdict(domain), **{k: v for k, v in s.items() if k != "preset"}}
    cfg = preset_config(s["preset"], output=str(d / "model"), seed=seed, threads=threads, **overrides)
    return _slim(main(cfg))


def stage_rm_base(d: Path, s: dict, seed: int, threads: int, domain, policy: Path, policy_settings: dict) -> dict:
    """The reward models' backbone: the policy's SFT (same data and settings) continued from its weights."""
    from hiero.policy.sft import main, preset_config

    overrides = {**asdict(domain), **{k: v for k, v in policy_settings.items() if k != "preset"}, **s}
    cfg = preset_config(policy_settings["preset"], output=str(d / "model"), seed=seed, threads=threads,
                        init=str(policy), **overrides)
    return _slim(main(cfg))


def stage_annotate(d: Path, s: dict, seed: int, policy: Path, domain) -> dict:
    from hiero.trees.annotate import AnnotateConfig, main

    problems = d / "problems.jsonl"
    if not problems.exists():
        write_jsonl(problems, domain.problems(s["problems"], seed + SEED_OFFSETS["annotate"], "train"))
    cfg = AnnotateConfig(policy=str(policy), problems=str(problems), out=str(d / "trees.jsonl"), seed=seed,
                         **{k: v for k, v in s.items() if k != "problems"})
    return _slim(main(cfg))


def stage_hnc(d: Path, seed: int, trees: Path) -> dict:
    from hiero.augment.hnc import HNCConfig, main
    from hiero.types import Tree

    res = main(HNCConfig(input=str(trees), output=str(d / "trees_hnc.jsonl"), seed=seed))
    before = list(read_jsonl(trees, Tree))
    after = list(read_jsonl(d / "trees_hnc.jsonl", Tree))
    # HNC's invariants, measured on these trees: the root sees the same leaves before and after
    same = sum((a.root.n_correct, a.root.n_total) == (b.root.n_correct, b.root.n_total)
               for a, b in zip(before, after, strict=True))
    return {**_slim(res), "root_counts_unchanged": f"{same}/{len(after)}"}


def stage_rm_data(d: Path, s: dict, seed: int, trees: Path) -> dict:
    from hiero.reward.rows import RowsConfig, main

    out = {}
    for kind in KINDS:
        stats = main(RowsConfig(inputs=[str(trees)], out_dir=str(d / kind), kind=kind, source="trees", seed=seed, **s))
        out[kind] = {"train_rows": stats["train"], "eval_rows": stats["eval"], "time_s": stats["time_s"]}
    return out


def stage_rm_train(d: Path, s: dict, seed: int, policy: Path, rows: Path) -> dict:
    from hiero.reward.train import RMTrainConfig, main

    out = {}
    for kind in KINDS:
        if not (rows / kind / "train.jsonl").stat().st_size:
            out[kind] = {"skipped": "no training rows (the trees hold no finished solution)"}
            continue
        # ORM rows label one step per solution: regression on the outcome, as the paper's ORM
        extra = {"loss": "mse", "label_type": "soft"} if kind == "orm" else {}
        res = main(RMTrainConfig(kind=kind, data=str(rows / kind), base=str(policy), out=str(d / kind), seed=seed,
                                 **{**s, **extra}))
        out[kind] = _slim(res)
    return out


def trained(rms: Path, kinds=KINDS) -> list[str]:
    """The reward models the rm_train stage produced (a kind without rows is skipped there)."""
    return [k for k in kinds if (rms / k / "config.json").exists()]


def stage_processbench(d: Path, s: dict, seed: int, rms: Path, domain) -> dict:
    from hiero.evaluation.processbench import ProcessBenchConfig, main
    from hiero.reward.model import SPEC_FILE, RMSpec

    out = {}
    tune_seed, eval_seed = seed + SEED_OFFSETS["processbench_tune"], seed + SEED_OFFSETS["processbench_eval"]
    for kind in trained(rms, ("prm", "hrm")):
        # the tuning split is scored once; F1 at 0.5 is kept only where 0.5 means something (a CE head's
        # probabilities; an MSE head's raw scores get -inf there, the threshold then tuned on the scores)
        prob = RMSpec.from_dict(json.loads((rms / kind / SPEC_FILE).read_text())).probability
        tune = main(ProcessBenchConfig(rm=str(rms / kind), data="synth", synth_seed=tune_seed,
                                       threshold=0.5 if prob else float("-inf"),
                                       out=str(d / f"{kind}_tune.json"), **asdict(domain), **s))
        # threshold tuned on one synthetic split, applied to another (ProcessBench protocol)
        threshold, tune_f1 = _tuned_threshold(d / f"{kind}_tune.json")
        res = main(ProcessBenchConfig(rm=str(rms / kind), data="synth", synth_seed=eval_seed,
                                      threshold=threshold, out=str(d / f"{kind}.json"), **asdict(domain), **s))
        out[kind] = {**_slim(res), "threshold_source": f"tuned on another synthetic split (seed {tune_seed})",
                     "tune_f1": tune_f1, "tune_f1_at_0.5": tune.get("f1") if prob else None}
    return out


def _tuned_threshold(path: Path) -> tuple[float, float]:
    """(threshold, F1 there) maximising F1 on the tuning split's stored per-step scores."""
    from hiero.evaluation.metrics import tune_threshold

    data = json.loads(path.read_text())
    return tune_threshold([it["scores"] for it in data["items"]], [it["label"] for it in data["items"]])


def stage_bon(d: Path, s: dict, seed: int, policy: Path, rms: Path, domain) -> dict:
    from hiero.evaluation.bon import BonConfig, main

    s = {"search": ["step_greedy", "beam"], **s}
    cfg = BonConfig(policy=str(policy), rm=[f"{k}={rms / k}" for k in trained(rms)],
                    synth_seed=seed + SEED_OFFSETS["bon"], out=str(d), seed=seed, **asdict(domain), **s)
    res = main(cfg)
    return {k: res[k] for k in ("n", "n_problems", "pool_size", "curves", "search", "sample_accuracy", "markdown",
                                "step_eval", "wrong_picks", "files", "time_s")}


def stage_selftrain(d: Path, s: dict, seed: int, policy: Path, trees: Path, domain, prm: Path | None) -> dict:
    """The official code's rows (one node with MC >= 0.95 each), kept only where the demo's PRM also
    scores every step so far >= s["rm_threshold"] (MC alone keeps prefixes with earlier wrong steps)."""
    from hiero.selftrain.train import SelfTrainConfig, main, select_examples
    from hiero.types import Tree

    threshold, select = SelfTrainConfig.threshold, "node"
    if not select_examples(list(read_jsonl(trees, Tree)), threshold, select):
        return {"skipped": f"no tree node has MC >= {threshold}"}
    res = main(SelfTrainConfig(policy=str(policy), trees=str(trees), out=str(d / "model"), select=select, seed=seed,
                               rm=str(prm) if prm else "", **asdict(domain), **s))
    return {k: res[k] for k in ("trees", "mc_selected", "examples", "select", "threshold", "rm_threshold", "lam",
                                "kl_form", "before", "after", "delta_accuracy", "time_s")}


def stage_pairs(d: Path, s: dict, seed: int, policy: Path, trees: Path, domain, prm: Path | None) -> dict:
    """Solution pairs picked by the demo's PRM (chosen: right answer, every step >= s["rm_threshold"];
    rejected: the policy's greedy solution where it is wrong, else the wrong sample the PRM scores
    lowest), plus Step-DPO pairs from the annotated trees."""
    from hiero.policy.sample import SampleConfig
    from hiero.policy.sample import main as sample_main
    from hiero.preference.pairs import PairsConfig
    from hiero.preference.pairs import main as pairs_main

    problems = d / "problems.jsonl"
    write_jsonl(problems, domain.problems(s["problems"], seed + SEED_OFFSETS["pairs"], "train"))
    sampled = sample_main(SampleConfig(policy=str(policy), problems=str(problems), out=str(d / "solutions.jsonl"),
                                       n=s["n"], temperature=PAIRS_TEMPERATURE, max_new_tokens=96, seed=seed))
    if s.get("by_segment"):  # the segments variant: pairs that differ in one segment, nothing else
        res = pairs_main(PairsConfig(out=str(d / "pairs.jsonl"), solutions=str(d / "solutions.jsonl"),
                                     problems=str(problems), by_segment=True, max_per_problem=s["max_per_problem"],
                                     seed=seed, cache_dir=str(d / "cache")))
        return {"sampled": sampled, "greedy": None, "rm_threshold": None, **_slim(res)}
    greedy = sample_main(SampleConfig(policy=str(policy), problems=str(problems), out=str(d / "greedy.jsonl"),
                                      temperature=0.0, max_new_tokens=96, seed=seed)) if prm else None
    res = pairs_main(PairsConfig(out=str(d / "pairs.jsonl"), solutions=str(d / "solutions.jsonl"), trees=str(trees),
                                 problems=str(problems), segmenter="heuristic", seed=seed, cache_dir=str(d / "cache"),
                                 rm=str(prm) if prm else None, rm_threshold=s["rm_threshold"], tree_response=s["tree_response"],
                                 greedy=str(d / "greedy.jsonl") if prm else None))
    return {"sampled": sampled, "greedy": greedy, "rm_threshold": s["rm_threshold"] if prm else None, **_slim(res)}


def stage_po(d: Path, s: dict, seed: int, policy: Path, pairs: Path) -> dict:
    from hiero.preference.train import POTrainConfig, main

    out = {}
    for name, extra in (("dpo", {"loss": "dpo"}), ("hipo", {"loss": "hipo", "weight_preset": ["mt-bias"]})):
        res = main(POTrainConfig(model=str(policy), pairs=str(pairs), out=str(d / name), seed=seed,
                                 ref_cache_dir=str(d / "ref_cache"), segmenter="heuristic", **s, **extra))
        row = res["rows"][-1]
        out[name] = {"model_dir": res["model_dir"], "steps": row["steps"], "time_per_step_s": row["time_per_step_s"],
                     "last": row["last"], "pairs": res.get("pairs"), "ref_cache": res.get("ref_cache"),
                     "dpop_lambda": res["dpop_lambda"]}
    return out


def stage_po_eval(d: Path, s: dict, seed: int, policy: Path, po: Path, domain) -> dict:
    from hiero.preference.evaluate import POEvalConfig, main

    problems = d / "problems.jsonl"
    write_jsonl(problems, domain.problems(s["problems"], seed + SEED_OFFSETS["po_eval"], "test"))
    res = main(POEvalConfig(models=[f"base={policy}", f"dpo={po / 'dpo'}", f"hipo={po / 'hipo'}"],
                            problems=str(problems), out=str(d / "po_eval.json"), cache_dir=str(d / "cache"),
                            device="cpu"))
    return _slim(res)


# ----------------------------------------------------------------------------- pipeline
def main(cfg: DemoConfig) -> dict:
    if cfg.variant == "segments" and cfg.size == "micro":
        raise ValueError("--variant segments needs a policy that writes whole solutions right in every segment "
                         "(its pairs come from those): use --size quick or full, not micro")
    S = demo_settings(cfg.size, cfg.variant)
    if cfg.threads > 0:
        import torch

        torch.set_num_threads(cfg.threads)
    check_sizes()
    domain = _domain(S)
    dom = asdict(domain)  # part of every stage's cache key that draws problems
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    r = Runner(cfg)
    seed = cfg.seed
    shared = Path(cfg.shared_data) if cfg.shared_data else SHARED_DATA_DEFAULT

    r.run("domain", {**S["domain_sample"], **dom}, (), lambda d: stage_domain(d, S["domain_sample"], seed, domain))
    if shared.is_dir():
        r.run("real_data", {"folder": str(shared.resolve())}, (), lambda d: stage_real_data(d, shared))
    r.run("policy", {**S["policy"], **dom}, (), lambda d: stage_policy(d, S["policy"], seed, cfg.threads, domain))
    policy = r.dirs["policy"] / "model"
    r.run("annotate", {**S["annotate"], **dom}, ("policy",),
          lambda d: stage_annotate(d, S["annotate"], seed, policy, domain))
    trees = r.dirs["annotate"] / "trees.jsonl"
    r.run("hnc", {}, ("annotate",), lambda d: stage_hnc(d, seed, trees))
    r.run("rm_data", S["rows"], ("annotate",), lambda d: stage_rm_data(d, S["rows"], seed, trees))
    r.run("rm_base", {**S["policy"], **S["rm_base"], **dom}, ("policy",),
          lambda d: stage_rm_base(d, S["rm_base"], seed, cfg.threads, domain, policy, S["policy"]))
    r.run("rm_train", S["rm"], ("rm_base", "rm_data"),
          lambda d: stage_rm_train(d, S["rm"], seed, r.dirs["rm_base"] / "model", r.dirs["rm_data"]))
    rms = r.dirs["rm_train"]
    r.run("processbench", {**S["processbench"], **dom}, ("rm_train",),
          lambda d: stage_processbench(d, S["processbench"], seed, rms, domain))
    r.run("bon", {**S["bon"], **dom}, ("policy", "rm_train"),
          lambda d: stage_bon(d, S["bon"], seed, policy, rms, domain))
    prm = rms / "prm" if "prm" in trained(rms, ("prm",)) else None  # filters self-training and pairs
    r.run("selftrain", {**S["selftrain"], **dom}, ("policy", "annotate", "rm_train"),
          lambda d: stage_selftrain(d, S["selftrain"], seed, policy, trees, domain, prm))
    r.run("pairs", {**S["pairs"], **dom}, ("policy", "annotate", "rm_train"),
          lambda d: stage_pairs(d, S["pairs"], seed, policy, trees, domain, prm))
    pairs = r.dirs["pairs"] / "pairs.jsonl"
    r.run("po", S["po"], ("policy", "pairs"), lambda d: stage_po(d, S["po"], seed, policy, pairs))
    r.run("po_eval", {**S["po_eval"], **dom}, ("policy", "po"),
          lambda d: stage_po_eval(d, S["po_eval"], seed, policy, r.dirs["po"], domain))

    results = {
        **headline(r.results, seed), "variant": cfg.variant,
        "config": asdict(cfg), "settings": S, "wall_time_s": round(time.time() - t0, 2),
        "peak_rss_mb": peak_rss_mb(), "machine": machine_info(), "versions": versions(),
        "stages": r.results, "stage_dirs": {k: str(v) for k, v in r.dirs.items()},
    }
    write_json(out / "results.json", results)
    with atomic_write(out / "report.md") as f:
        f.write(render_report(results))
    from hiero.report_html import render_html

    with atomic_write(out / "report.html") as f:
        f.write(render_html(results))
    return results


def headline(st: dict, seed: int) -> dict:
    """The figures the report and the checks read, as fractions in [0, 1] (None where a stage did
    not run): policy accuracy; accuracy vs N per method (`prm` / `hrm` = the min aggregation);
    step metrics against the domain's truth; base / DPO / HiPO; self-training before / after."""
    out: dict = {"seed": seed, "timings_s": {k: v.get("_time_s") for k, v in st.items()}}
    out["policy"] = {"accuracy": st.get("policy", {}).get("test_accuracy")}
    out["rm_base"] = {"accuracy": st.get("rm_base", {}).get("test_accuracy")}
    bon = st.get("bon", {})
    names = {"orm": "orm", "prm": "prm:min", "hrm": "hrm:min", "majority": "majority", "oracle": "oracle",
             "pass": "pass@N"}
    curves = bon.get("curves", {})
    out["bon"] = {k: {str(n): a for n, a in zip(bon["n"], curves[c]["acc"], strict=True)}
                  for k, c in names.items() if c in curves}
    out["search"] = {k: {str(n): a for n, a in zip(v["n"], v["acc"], strict=True)}
                     for k, v in bon.get("search", {}).items()}
    out["step_eval"] = {k: {m: v.get(m) for m in ("f1", "auroc", "auroc_within", "acc_error", "acc_correct",
                                                  "auroc_same_position", "auroc_within_same_position", "auroc_first_error",
                                                  "solution_auroc_within", "n_recovered",
                                                  "auroc_recovered_vs_wrong", "auroc_recovered_vs_clean")}
                        for k, v in bon.get("step_eval", {}).items()}
    acc = st.get("po_eval", {}).get("accuracy", {})
    seg = st.get("po_eval", {}).get("segments", {})
    ci, vs = st.get("po_eval", {}).get("ci95", {}), st.get("po_eval", {}).get("vs_first", {})
    out["preference"] = {k: {"accuracy": acc.get(k), **({"segments": seg[k]} if k in seg else {}),
                             **({"ci95": ci[k]} if k in ci else {}), **({"minus_base": vs[k]} if k in vs else {})}
                         for k in ("base", "dpo", "hipo")}
    sft = st.get("selftrain", {})
    out["selftrain"] = {"before": (sft.get("before") or {}).get("accuracy"),
                        "after": (sft.get("after") or {}).get("accuracy")}
    return out


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("hiero", "torch", "transformers", "accelerate", "tokenizers"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def machine_info() -> dict:
    import os

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(), "platform": platform.platform()}


# ----------------------------------------------------------------------------- report
def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _f(x, nd=3) -> str:
    return "n/a" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def _stage_line(res: dict) -> str:
    state = "reused from cache" if res.get("_cached") else "ran"
    return f"*{state}; {res['_time_s']:.1f} s; peak memory {res['_peak_rss_mb']:.0f} MB*"


def _md_table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table (cells already formatted), then a blank line."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows] + [""])


def _md_header(results: dict, st: dict) -> list[str]:
    cfg = results["config"]
    variant = cfg.get("variant", "plain")
    lines = [f"# hiero demo report ({cfg['size']}{'' if variant == 'plain' else ', ' + variant})", "",
             f"Command: `hiero demo --out {cfg['out']} --seed {cfg['seed']} --size {cfg['size']}"
             f"{'' if variant == 'plain' else ' --variant ' + variant}`  ",
             f"Wall time {results['wall_time_s']:.1f} s (this run; cached stages cost ~0), peak memory "
             f"{results['peak_rss_mb']:.0f} MB; {results['machine']['cpus']} CPUs, torch "
             f"{results['machine']['torch']}, CUDA {results['machine']['cuda']}.", ""]
    status = {name: "skipped" if isinstance(res.get("skipped"), str) else ("cached" if res["_cached"] else "ran")
              for name, res in st.items()}
    return lines + _md_table(["stage", "status", "time (s)", "peak memory so far (MB)"],
                             [[k, status[k], f"{v['_time_s']:.1f}", f"{v['_peak_rss_mb']:.0f}"] for k, v in st.items()])


def _md_domain(x: dict) -> list[str]:
    lines = ["## 1. Built-in domain", _stage_line(x), "",
              f"{x['problems']} test problems, {x['steps_min']}–{x['steps_max']} reference steps "
              f"(mean {x['steps_mean']}). Noisy solutions: {x['solutions_with_error']} with an injected wrong "
              f"step, {x['solutions_correct']} with a right final answer. The domain's checker finds the "
              f"injected first error in {_pct(x['first_error_agreement'])} of solutions.", "",
              "Example (first error at step " + str(x["example"]["first_error"]) + "):", "", "```",
              x["example"]["question"], *x["example"]["steps"], "```", ""]
    return lines


def _md_real_data(x: dict) -> list[str]:
    files = {k: f for k, f in (x["summary"].get("files") or {}).items() if isinstance(f, dict)}
    return (["## 2. Real data found", _stage_line(x), "", f"Folder `{x['folder']}`, read by the converters:", ""]
            + _md_table(["file", "format", "kind", "records", "problems", "steps"],
                        [[k] + [f.get(c, "") for c in ("format", "kind", "records", "problems", "steps")]
                         for k, f in files.items()]))


def _md_rm_base(x: dict) -> list[str]:
    return ["## 3b. Reward-model backbone (the policy's SFT continued)", _stage_line(x), "",
            f"{x['steps']} more steps from the policy's weights on the same data in {x['train_time_s']:.0f} s; "
            f"greedy accuracy on {x['test_problems']} held-out problems: **{_pct(x['test_accuracy'])}**. "
            "The reward models start from this model and read its log-probabilities of every step "
            "(`--head likelihood`).", ""]


def _md_policy(x: dict) -> list[str]:
    lines = ["## 3. Policy (tokenizer + tiny causal LM, noisy SFT)", _stage_line(x), "",
              f"{x['params']:,} parameters, vocabulary {x['vocab_size']}, {x['steps']} steps on "
              f"{x['train_examples']} examples in {x['train_time_s']:.0f} s ({x['tokens_per_s']:.0f} tokens/s); "
              f"final loss {_f(x['final_loss'])}, eval loss {_f(x['eval_loss'])}. Greedy accuracy on "
              f"{x['test_problems']} held-out problems: **{_pct(x['test_accuracy'])}**.", ""]
    return lines


def _md_annotate(x: dict) -> list[str]:
    keys = [k for k in ("trees", "nodes", "leaves", "generated_tokens", "tokens_per_s", "trees_per_s",
                        "true_steps", "false_steps", "mean_mc_true_steps", "mean_mc_false_steps",
                        "mean_root_mc", "time_s") if k in x]
    lines = [f"## 4. Reasoning trees ({x.get('mode', 'tree search')}, MC labels)", _stage_line(x), "",
              "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
              "| " + " | ".join(_f(x[k]) for k in keys) + " |", ""]
    return lines


def _md_hnc(x: dict) -> list[str]:
    lines = ["## 5. HNC", _stage_line(x), "",
              f"{x['trees']} trees, {x['merges']} merges ({x['trees_with_merges']} trees changed) in "
              f"{x['time_s']:.3f} s; root (n_correct, n_total) unchanged in {x['root_counts_unchanged']} trees.",
              ""]
    return lines


def _md_rm_data(x: dict) -> list[str]:
    return (["## 6. Reward-model rows", _stage_line(x), ""]
            + _md_table(["kind", "train", "eval"], [[k, _summ(v["train_rows"]), _summ(v["eval_rows"])]
                                                    for k, v in x.items() if isinstance(v, dict)]))


def _md_rm_train(x: dict) -> list[str]:
    rows = [[k, f"not trained: {v['skipped']}", "", "", ""] if "skipped" in v else
            [k, v["train"]["examples"], v.get("steps", "n/a"), _f(v.get("best_eval_loss")), _f(v.get("train_time_s"), 1)]
            for k, v in x.items() if isinstance(v, dict)]
    return (["## 7. Reward models (marker scoring, one forward pass per solution)", _stage_line(x), ""]
            + _md_table(["kind", "train rows", "steps", "best eval loss", "time (s)"], rows))


def _md_processbench(x: dict) -> list[str]:
    rows = [[k] + [_f(v.get(m)) for m in ("threshold", "acc_error", "acc_correct", "f1", "auroc_step")]
            for k, v in x.items() if isinstance(v, dict)]
    return (["## 8. Step-level evaluation (ProcessBench protocol, built-in domain ground truth)", _stage_line(x), ""]
            + _md_table(["RM", "threshold", "acc. erroneous", "acc. correct", "F1", "step AUROC"], rows))


def _md_bon(x: dict, note: str = "") -> list[str]:
    lines = ["## 9. Best-of-N and step-level search", _stage_line(x), "",
              f"{x['n_problems']} held-out problems, one pool of {x['pool_size']} samples each (sample accuracy "
              f"{_pct(x['sample_accuracy'])}); 95% bootstrap intervals in results.json. Plot: "
              f"`{x['files']['plot']}`.", "", x["markdown"], ""]
    if note:
        lines += [note, ""]
    lines += _step_eval_lines(x.get("step_eval", {}), x.get("wrong_picks", {}))
    return lines


def _md_selftrain(x: dict) -> list[str]:
    if "skipped" in x:
        return ["## 10. Self-training", _stage_line(x), "", f"Not trained: {x['skipped']}.", ""]
    return ["## 10. Self-training on high-value trajectories", _stage_line(x), "",
            f"{x['examples']} examples (select={x['select']}) with MC ≥ {x['threshold']} from {x['trees']} trees"
            + (f" ({x['mc_selected']} by MC, kept where the PRM scores every step so far ≥ {x['rm_threshold']})"
               if x.get("rm_threshold") is not None else "") + "; "
            f"loss CE + {x['lam']}·{x['kl_form']}(KL). Held-out greedy accuracy {_pct(x['before']['accuracy'])} → "
            f"**{_pct(x['after']['accuracy'])}** (n = {x['after'].get('n', 'n/a')}).", ""]


def _md_pairs(x: dict) -> list[str]:
    lines = ["## 11. Preference pairs", _stage_line(x), "",
              f"Sampled {x['sampled']['solutions']} solutions ({_pct(x['sampled']['accuracy'])} right); "
              f"{x['pairs']} pairs by source {x['by_source']}; segment coverage "
              f"{ {k: round(v, 2) for k, v in x['segment_coverage'].items()} }.", ""]
    if x.get("rm_threshold") is not None:
        lines += [f"Solution pairs picked by the PRM: chosen = a right answer whose every step scores >= "
                  f"{x['rm_threshold']}; rejected = the policy's greedy solution where it is wrong "
                  f"({x['by_source'].get('rejected_greedy', 0)} pairs; greedy accuracy "
                  f"{_pct(x['greedy']['accuracy'])}), else the wrong sample the PRM scores lowest.", ""]
    return lines


def _md_po(x: dict) -> list[str]:
    rows = [[k, v["steps"], _f(v["time_per_step_s"], 4), _f(v["last"].get("loss")), _f(v.get("dpop_lambda", 0.0))]
            for k, v in x.items() if isinstance(v, dict)]
    return (["## 12. DPO vs HiPO training (same pairs, same reference)", _stage_line(x), ""]
            + _md_table(["loss", "steps", "time/step (s)", "last loss", "DPOP λ (penalty on a chosen side below "
                         "the reference)"], rows))


def _md_po_eval(x: dict) -> list[str]:
    acc = x.get("accuracy", {})
    lines = ["## 13. Base vs DPO vs HiPO (same prompt for every model)", _stage_line(x), ""]
    ci, vs = x.get("ci95", {}), x.get("vs_first", {})

    def _ci(c) -> str:
        return f"[{100 * c[0]:.1f}, {100 * c[1]:.1f}]" if c else "n/a"

    lines += _md_table(["model", "accuracy", "95% interval", "minus the first model (paired 95% interval)"],
                       [[k, _pct(v), _ci(ci.get(k)),
                         f"{100 * vs[k]['delta']:+.1f} points {_ci(vs[k]['ci95'])}" if k in vs else ""]
                        for k, v in acc.items()])
    segs = x.get("segments", {})
    if segs and all("by_segment" in v for v in segs.values()):
        lines += ["Each segment checked by the domain on its own terms (the judge-free counterpart of the HiPO "
                  "paper's organisation / flow / consistency scores; `hiero.domains.builtin.segment_checks`):", ""]
        lines += _md_table(["model", "givens restated right", "reasoning right (follows the stated givens)",
                            "equations right", "answer sentence right"],
                           [[k, _pct(v["by_segment"]["clarification"]), _pct(v["by_segment"]["reasoning"]),
                             _pct(v["equation_accuracy"]), _pct(v["by_segment"]["answer"])] for k, v in segs.items()])
    lines += ["Judge scores need an OpenAI-compatible judge endpoint (`hiero po eval --judge-base-url`);"
                  " none is configured in the demo, so none are shown.", ""]
    return lines


# the report: the header, then one renderer per stage, in pipeline order (a stage that did not run is not shown)
MD_SECTIONS = {"domain": _md_domain, "real_data": _md_real_data, "policy": _md_policy, "rm_base": _md_rm_base, "annotate": _md_annotate, "hnc": _md_hnc, "rm_data": _md_rm_data, "rm_train": _md_rm_train, "processbench": _md_processbench, "bon": _md_bon, "selftrain": _md_selftrain, "pairs": _md_pairs, "po": _md_po, "po_eval": _md_po_eval}


def render_report(results: dict) -> str:
    st = results["stages"]
    lines = _md_header(results, st)
    from hiero.report_html import coincidence_note

    for name, section in MD_SECTIONS.items():
        if name in st:
            lines += section(st[name], coincidence_note(results)) if name == "bon" else section(st[name])
    return "\n".join(lines) + "\n"


def _step_eval_lines(step_eval: dict, picks: dict) -> list[str]:
    """Each per-step RM on the best-of-N pool against the domain's truth, and its wrong picks."""
    if not step_eval:
        return []
    lines = ["### Step checks on the same fresh samples (ground truth: `synth.check_steps`)", "",
             "ProcessBench F1 with the threshold tuned on the even-numbered problems, reported on the odd ones; "
             "AUROC within a problem averaged over problems; AUROC per error kind = right steps vs steps of that kind.",
             "", "Controls for the depth of a step (wrong steps sit late): AUROC at the same step index (pooled, and "
             "inside each problem), right steps "
             "vs the first wrong step only, and right vs wrong solutions of one problem by their min score.",
             "", "| RM | step AUROC | AUROC within problem | same index | same index within problem | first error | "
                 "solutions within problem | F1 | acc. erroneous | acc. correct | per kind (n, AUROC) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k, v in step_eval.items():
        kinds = ", ".join(f"{kind} ({x['n']}, {_f(x['auroc'], 2)})" for kind, x in v["kinds"].items())
        lines.append(f"| {k} | {_f(v['auroc'])} | {_f(v['auroc_within'])} | {_f(v.get('auroc_same_position'))} | "
                     f"{_f(v.get('auroc_within_same_position'))} | "
                     f"{_f(v.get('auroc_first_error'))} | {_f(v.get('solution_auroc_within'))} | {_f(v.get('f1'))} | "
                     f"{_f(v.get('acc_error'))} | {_f(v.get('acc_correct'))} | {kinds} |")
    rec = {k: v for k, v in step_eval.items() if v.get("n_recovered")}
    if rec:
        lines += ["", "Right answers reached through a wrong step (recovered solutions), by min score: against "
                      "wrong answers (high: a corrected error is not punished like an uncorrected one) and against "
                      "right answers with every step right (0.5: it costs nothing):", "",
                  "| RM | recovered solutions | AUROC vs wrong answers | AUROC vs clean right answers |",
                  "|---|---|---|---|"]
        lines += [f"| {k} | {v['n_recovered']} | {_f(v.get('auroc_recovered_vs_wrong'))} | "
                  f"{_f(v.get('auroc_recovered_vs_clean'))} |" for k, v in rec.items()]
    if picks:
        lines += ["", f"Wrong picks at N = {picks['n']} where the pool held a right answer:", "",
                  "| rule | wrong picks | first-error kind of the pick | no answer | steps picked / right |",
                  "|---|---|---|---|---|"]
        for k, v in picks.items():
            if isinstance(v, dict):
                lines.append(f"| {k} | {v['n_wrong_with_right_available']} / {v['n_problems']} | "
                             f"{v['first_error_kind']} | {v['no_answer']} | "
                             f"{_f(v['mean_steps_picked'], 2)} / {_f(v['mean_steps_right'], 2)} |")
    return lines + [""]


def _summ(v: dict) -> str:
    """One cell for a row-split summary: rows, questions, share of positive labels, merged rows."""
    return (f"{v.get('rows', 0)} rows / {v.get('questions', 0)} questions, positive "
            f"{_f(v.get('positive_fraction'), 2)}, merged-step rows {v.get('rows_with_merged_step', 0)}")


# ----------------------------------------------------------------------------- CLI
def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded default -> report.md",
                       description=__doc__.splitlines()[0])
    add_config_args(p, DemoConfig)
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    res = main(config_from_args(DemoConfig, args))
    print(f"wrote {Path(res['config']['out']) / 'report.md'} ({res['wall_time_s']:.0f} s)", file=sys.stderr)
    return 0


