"""The demo's pipeline: the stage list, a cached runner, and the headline figures of a run.

    run(cfg) -> results dict (results.json)          STAGES: the stages in order, with what each reads

A stage's folder is `OUT/stages/<stage>-<hash>/`, the hash taken over its settings (its recipe entries,
plus the domain's settings where it draws built-in problems) and the folders of the stages it reads; it
is done once its `DONE` file exists (written last, with the stage's figures, wall time and peak memory).
A rerun reuses finished stages and redoes only what changed or what an interrupted run left unfinished.
"""

from __future__ import annotations

import logging
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from hiero.cache import StageCache
from hiero.demo import stages as S
from hiero.demo.records import Bon, POEval, Policy, RMBase, Run, SelfTrain

log = logging.getLogger("hiero.demo")


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline: `run(folder, settings, context) -> figures`."""

    name: str
    run: Callable[[Path, dict, S.Context], dict]
    recipe: tuple[str, ...] = ()  # the recipe entries in its cache key, merged in order; the last is its own
    after: tuple[str, ...] = ()  # the stages whose folders it reads
    draws: bool = False  # draws built-in problems: the domain's settings are part of its key
    when: Callable[[S.Context], bool] | None = None  # runs only where this holds
    key_of: Callable[[S.Context], dict] | None = None  # its cache key, where not its recipe entries

    def settings(self, recipe: dict[str, dict]) -> dict:
        return recipe[self.recipe[-1]] if self.recipe else {}

    def key(self, c: S.Context) -> dict:
        if self.key_of is not None:
            return self.key_of(c)
        merged: dict = {}
        for entry in self.recipe:
            merged.update(c.recipe[entry])
        return {**merged, **asdict(c.domain)} if self.draws else merged


STAGES: list[Stage] = [
    Stage("domain", S.domain, ("domain_sample",), draws=True),
    Stage("real_data", S.real_data, when=lambda c: c.shared.is_dir(),
          key_of=lambda c: {"folder": str(c.shared.resolve())}),
    Stage("policy", S.policy, ("policy",), draws=True),
    Stage("annotate", S.annotate, ("annotate",), ("policy",), draws=True),
    Stage("hnc", S.hnc, (), ("annotate",)),
    Stage("rm_data", S.rm_data, ("rows",), ("annotate",)),
    Stage("rm_base", S.rm_base, ("policy", "rm_base"), ("policy",), draws=True),
    Stage("rm_train", S.rm_train, ("rm",), ("rm_base", "rm_data")),
    Stage("processbench", S.processbench, ("processbench",), ("rm_train",), draws=True),
    Stage("bon", S.bon, ("bon",), ("policy", "rm_train"), draws=True),
    Stage("selftrain", S.selftrain, ("selftrain",), ("policy", "annotate", "rm_train"), draws=True),
    Stage("pairs", S.pairs, ("pairs",), ("policy", "annotate", "rm_train"), draws=True),
    Stage("po", S.po, ("po",), ("policy", "pairs")),
    Stage("po_eval", S.po_eval, ("po_eval",), ("policy", "po"), draws=True),
]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Runner:
    """Runs stages once each, cached under a hash of (settings, upstream stages)."""

    def __init__(self, out: Path, c: S.Context):
        self.cache = StageCache(Path(out) / "stages")
        self.c = c
        self.results: dict[str, dict] = {}

    def run(self, stage: Stage) -> dict:
        c = self.c
        key = {"stage": stage.name, "seed": c.seed, "settings": stage.key(c),
               "after": {a: c.dirs[a].name for a in stage.after}}
        d = self.cache.dir(stage.name, key)
        c.dirs[stage.name] = d
        if self.cache.is_done(d):
            info = self.cache.info(d)
            self.results[stage.name] = {**info["result"], "_time_s": info["time_s"],
                                        "_peak_rss_mb": info["peak_rss_mb"], "_cached": True}
            log.info("demo: %s cached (%s)", stage.name, d.name)
            return self.results[stage.name]
        log.info("demo: running %s -> %s", stage.name, d)
        t0 = time.time()
        result = stage.run(d, stage.settings(c.recipe), c)
        info = {"result": result, "time_s": round(time.time() - t0, 2), "peak_rss_mb": peak_rss_mb()}
        self.cache.mark_done(d, info)
        self.results[stage.name] = {**result, "_time_s": info["time_s"], "_peak_rss_mb": info["peak_rss_mb"],
                                    "_cached": False}
        return self.results[stage.name]


def run_stages(out: Path, c: S.Context, stages: list[Stage] = STAGES) -> dict[str, dict]:
    """Every stage in order (a stage whose `when` fails is left out); stage name -> its result."""
    runner = Runner(out, c)
    for stage in stages:
        if stage.when is None or stage.when(c):
            runner.run(stage)
    return runner.results


def headline(run: Run, seed: int) -> dict:
    """The figures the report and the checks read, as fractions in [0, 1] (None where a stage did
    not run): policy accuracy; accuracy vs N per method (`prm` / `hrm` = the min aggregation);
    step metrics against the domain's truth; base / DPO / HiPO; self-training before / after."""
    policy, base = run.get("policy", Policy), run.get("rm_base", RMBase)
    bon, ev, sft = run.get("bon", Bon), run.get("po_eval", POEval), run.get("selftrain", SelfTrain)
    out: dict = {"seed": seed, "timings_s": {k: v.time_s_stage for k, v in run.records.items()}}
    out["policy"] = {"accuracy": policy.test_accuracy if policy else None}
    out["rm_base"] = {"accuracy": base.test_accuracy if base else None}
    names = {"orm": "orm", "prm": "prm:min", "hrm": "hrm:min", "majority": "majority", "oracle": "oracle",
             "pass": "pass@N"}
    curves = bon.curves if bon else {}
    out["bon"] = {k: {str(n): a for n, a in zip(bon.n, curves[c]["acc"], strict=True)}
                  for k, c in names.items() if c in curves}
    out["search"] = {k: {str(n): a for n, a in zip(v["n"], v["acc"], strict=True)}
                     for k, v in (bon.search if bon else {}).items()}
    out["step_eval"] = {
        k: {
            m: v[m]
            for m in (
                "f1",
                "auroc",
                "auroc_within",
                "acc_error",
                "acc_correct",
                "auroc_same_position",
                "auroc_within_same_position",
                "auroc_first_error",
                "solution_auroc_within",
                "n_recovered",
                "auroc_recovered_vs_wrong",
                "auroc_recovered_vs_clean",
            )
        }
        for k, v in (bon.step_eval if bon else {}).items()
    }
    acc, seg, ci, vs = (ev.accuracy, ev.segments, ev.ci95, ev.vs_first) if ev else ({}, {}, {}, {})
    out["preference"] = {
        k: {
            "accuracy": acc.get(k),
            **({"segments": seg[k]} if k in seg else {}),
            **({"ci95": ci[k]} if k in ci else {}),
            **({"minus_base": vs[k]} if k in vs else {}),
        }
        for k in ("base", "dpo", "hipo")
    }
    out["selftrain"] = {"before": sft.before["accuracy"] if sft else None,
                        "after": sft.after["accuracy"] if sft else None}
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

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "platform": platform.platform(),
    }
