"""The demo's stages: each one runs a hiero command's `main` in its own folder and returns its figures.

Every stage is `fn(d, s, c) -> dict`: `d` its (cached) folder, `s` its settings from the recipe, `c`
the `Context` (seed, threads, the domain's settings, the whole recipe, and the folders of the stages
already run). `hiero.demo.pipeline.STAGES` lists them in order, with what each reads.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from hiero.data.io import read_jsonl, write_json, write_jsonl
from hiero.domains.builtin import DomainSettings

KINDS = ("orm", "prm", "hrm")
# Seeds of the problem sets each stage draws, as offsets from --seed (disjoint sets of problems; train/test
# programs never overlap in any case, see hiero.domains.builtin)
SEED_OFFSETS = {"annotate": 101, "pairs": 202, "po_eval": 303, "bon": 7, "processbench_tune": 11,
                "processbench_eval": 12}
SELFTRAIN_EVAL_SEED = 1  # self-training's held-out problems: the same set for every --seed
PAIRS_TEMPERATURE = 0.8  # sampling temperature of the preference-pair candidates


@dataclass
class Context:
    """What every stage may read besides its own settings."""

    seed: int
    threads: int
    domain: DomainSettings  # every stage that draws built-in problems uses it
    recipe: dict[str, dict]
    shared: Path  # the real data folder (the real_data stage runs only where it exists)
    dirs: dict[str, Path] = field(default_factory=dict)  # stage -> its folder, for the stages run so far

    @property
    def policy(self) -> Path:
        return self.dirs["policy"] / "model"

    @property
    def trees(self) -> Path:
        return self.dirs["annotate"] / "trees.jsonl"

    @property
    def rms(self) -> Path:
        return self.dirs["rm_train"]

    @property
    def prm(self) -> Path | None:
        """The demo's PRM, which filters self-training and the preference pairs (None where not trained)."""
        return self.rms / "prm" if trained(self.rms, ("prm",)) else None


def _slim(d: dict, drop=("config", "markdown", "items", "texts")) -> dict:
    return {k: v for k, v in d.items() if k not in drop}


def _synth(c: Context, s: dict, seed: int) -> str:
    """The problem-source spec of a stage that draws s["problems"] held-out built-in problems."""
    from hiero.data.problems import synth_spec

    return synth_spec(c.domain, s["problems"], seed, "test")


def _own(s: dict) -> dict:
    """A stage's settings less the demo's own keys (how many problems it draws)."""
    return {k: v for k, v in s.items() if k != "problems"}


def trained(rms: Path, kinds=KINDS) -> list[str]:
    """The reward models the rm_train stage produced (a kind without rows is skipped there)."""
    return [k for k in kinds if (rms / k / "config.json").exists()]


def domain(d: Path, s: dict, c: Context) -> dict:
    """A sample of built-in problems and noisy solutions; checks the checker against the injected truth."""
    from hiero.domains import builtin as synth

    problems = c.domain.problems(s["n"], c.seed, "test")
    rng = random.Random(f"demo-domain|{c.seed}")
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


def real_data(d: Path, s: dict, c: Context) -> dict:
    from hiero.data.sources import summarize_real_data

    summary = summarize_real_data(c.shared)
    write_json(d / "real_data.json", summary)
    return {"folder": str(c.shared), "summary": summary}


def _sft(d: Path, policy_settings: dict, c: Context, **over) -> dict:
    """The policy's SFT: the preset, then the recipe's settings; its training problems drawn from the domain
    (`problems`: how many, else the preset's number)."""
    from hiero.data.problems import synth_spec
    from hiero.policy.sft import main, preset_config, train_spec

    preset = policy_settings["preset"]
    n = policy_settings.get("problems") or train_spec(preset_config(preset)).n
    overrides = {**{k: v for k, v in policy_settings.items() if k not in ("preset", "problems")}, **over}
    cfg = preset_config(preset, output=str(d / "model"), seed=c.seed, threads=c.threads,
                        problems=synth_spec(c.domain, n, c.seed, "train"), **overrides)
    return _slim(main(cfg))


def policy(d: Path, s: dict, c: Context) -> dict:
    return _sft(d, s, c)


def rm_base(d: Path, s: dict, c: Context) -> dict:
    """The reward models' backbone: the policy's SFT (its data and settings, but for `s`) continued from
    its weights."""
    return _sft(d, c.recipe["policy"], c, init=str(c.policy), **s)


def annotate(d: Path, s: dict, c: Context) -> dict:
    from hiero.trees.annotate import AnnotateConfig, main

    problems = d / "problems.jsonl"
    if not problems.exists():
        write_jsonl(problems, c.domain.problems(s["problems"], c.seed + SEED_OFFSETS["annotate"], "train"))
    cfg = AnnotateConfig(
        policy=str(c.policy),
        problems=str(problems),
        out=str(d / "trees.jsonl"),
        seed=c.seed,
        **{k: v for k, v in s.items() if k != "problems"},
    )
    return _slim(main(cfg))


def hnc(d: Path, s: dict, c: Context) -> dict:
    from hiero.augment.hnc import HNCConfig, main
    from hiero.types import Tree

    res = main(HNCConfig(input=str(c.trees), output=str(d / "trees_hnc.jsonl"), seed=c.seed))
    before = list(read_jsonl(c.trees, Tree))
    after = list(read_jsonl(d / "trees_hnc.jsonl", Tree))
    # HNC's invariants, measured on these trees: the root sees the same leaves before and after
    same = sum((a.root.n_correct, a.root.n_total) == (b.root.n_correct, b.root.n_total)
               for a, b in zip(before, after, strict=True))
    return {**_slim(res), "root_counts_unchanged": f"{same}/{len(after)}"}


def rm_data(d: Path, s: dict, c: Context) -> dict:
    from hiero.reward.rows import RowsConfig, main

    out = {}
    for kind in KINDS:
        stats = main(RowsConfig(inputs=[str(c.trees)], out_dir=str(d / kind), kind=kind, source="trees",
                                seed=c.seed, **s))
        out[kind] = {"train_rows": stats["train"], "eval_rows": stats["eval"], "time_s": stats["time_s"]}
    return out


def rm_train(d: Path, s: dict, c: Context) -> dict:
    from hiero.reward.train import RMTrainConfig, main

    rows, base = c.dirs["rm_data"], c.dirs["rm_base"] / "model"
    out = {}
    for kind in KINDS:
        if not (rows / kind / "train.jsonl").stat().st_size:
            out[kind] = {"skipped": "no training rows (the trees hold no finished solution)"}
            continue
        # ORM rows label one step per solution: regression on the outcome, as the paper's ORM
        extra = {"loss": "mse", "label_type": "soft"} if kind == "orm" else {}
        res = main(
            RMTrainConfig(
                kind=kind,
                data=str(rows / kind),
                base=str(base),
                out=str(d / kind),
                seed=c.seed,
                **{**s, **extra},
            )
        )
        out[kind] = _slim(res)
    return out


def processbench(d: Path, s: dict, c: Context) -> dict:
    from hiero.evaluation.processbench import ProcessBenchConfig, main
    from hiero.reward.model import SPEC_FILE, RMSpec

    out = {}
    tune_seed, eval_seed = (
        c.seed + SEED_OFFSETS["processbench_tune"],
        c.seed + SEED_OFFSETS["processbench_eval"],
    )
    for kind in trained(c.rms, ("prm", "hrm")):
        rm = c.rms / kind
        # the tuning split is scored once; F1 at 0.5 is kept only where 0.5 means something (a CE head's
        # probabilities; an MSE head's raw scores get -inf there, the threshold then tuned on the scores)
        prob = RMSpec.from_dict(json.loads((rm / SPEC_FILE).read_text())).probability
        tune = main(
            ProcessBenchConfig(
                rm=str(rm),
                data=_synth(c, s, tune_seed),
                threshold=0.5 if prob else float("-inf"),
                out=str(d / f"{kind}_tune.json"),
                **_own(s),
            )
        )
        # threshold tuned on one synthetic split, applied to another (ProcessBench protocol)
        threshold, tune_f1 = _tuned_threshold(d / f"{kind}_tune.json")
        res = main(ProcessBenchConfig(rm=str(rm), data=_synth(c, s, eval_seed), threshold=threshold,
                                      out=str(d / f"{kind}.json"), **_own(s)))
        out[kind] = {**_slim(res), "threshold_source": f"tuned on another synthetic split (seed {tune_seed})",
                     "tune_f1": tune_f1, "tune_f1_at_0.5": tune.get("f1") if prob else None}
    return out


def _tuned_threshold(path: Path) -> tuple[float, float]:
    """(threshold, F1 there) maximising F1 on the tuning split's stored per-step scores."""
    from hiero.evaluation.metrics import tune_threshold

    data = json.loads(path.read_text())
    return tune_threshold([it["scores"] for it in data["items"]], [it["label"] for it in data["items"]])


def bon(d: Path, s: dict, c: Context) -> dict:
    from hiero.evaluation.bon import BonConfig, main

    s = {"search": ["step_greedy", "beam"], **s}
    cfg = BonConfig(policy=str(c.policy), rm=[f"{k}={c.rms / k}" for k in trained(c.rms)],
                    problems=_synth(c, s, c.seed + SEED_OFFSETS["bon"]), out=str(d), seed=c.seed, **_own(s))
    res = main(cfg)
    return {
        k: res[k]
        for k in (
            "n",
            "n_problems",
            "pool_size",
            "curves",
            "search",
            "sample_accuracy",
            "markdown",
            "step_eval",
            "wrong_picks",
            "files",
            "time_s",
        )
    }


def selftrain(d: Path, s: dict, c: Context) -> dict:
    """The official code's rows (one node with MC >= 0.95 each), kept only where the demo's PRM also
    scores every step so far >= s["rm_threshold"] (MC alone keeps prefixes with earlier wrong steps)."""
    from hiero.selftrain.train import SelfTrainConfig, main, select_examples
    from hiero.types import Tree

    threshold, select = SelfTrainConfig.threshold, "node"
    if not select_examples(list(read_jsonl(c.trees, Tree)), threshold, select):
        return {"skipped": f"no tree node has MC >= {threshold}"}
    res = main(SelfTrainConfig(policy=str(c.policy), trees=str(c.trees), out=str(d / "model"), select=select,
                               seed=c.seed, rm=str(c.prm) if c.prm else "", **_own(s),
                               eval_problems=_synth(c, s, SELFTRAIN_EVAL_SEED)))
    return {
        k: res[k]
        for k in (
            "trees",
            "mc_selected",
            "examples",
            "select",
            "threshold",
            "rm_threshold",
            "lam",
            "kl_form",
            "before",
            "after",
            "delta_accuracy",
            "time_s",
        )
    }


def pairs(d: Path, s: dict, c: Context) -> dict:
    """Solution pairs picked by the demo's PRM (chosen: right answer, every step >= s["rm_threshold"];
    rejected: the policy's greedy solution where it is wrong, else the wrong sample the PRM scores
    lowest), plus Step-DPO pairs from the annotated trees. The segments variant (`by_segment`): pairs
    whose sides differ in one segment, nothing else."""
    from hiero.policy.sample import SampleConfig
    from hiero.policy.sample import main as sample_main
    from hiero.preference.pairs import PairsConfig
    from hiero.preference.pairs import main as pairs_main

    problems, prm = d / "problems.jsonl", c.prm
    write_jsonl(problems, c.domain.problems(s["problems"], c.seed + SEED_OFFSETS["pairs"], "train"))
    sampled = sample_main(
        SampleConfig(
            policy=str(c.policy),
            problems=str(problems),
            out=str(d / "solutions.jsonl"),
            n=s["n"],
            temperature=PAIRS_TEMPERATURE,
            max_new_tokens=96,
            seed=c.seed,
        )
    )
    if s.get("by_segment"):
        res = pairs_main(
            PairsConfig(
                out=str(d / "pairs.jsonl"),
                solutions=str(d / "solutions.jsonl"),
                problems=str(problems),
                by_segment=True,
                max_per_problem=s["max_per_problem"],
                seed=c.seed,
                cache_dir=str(d / "cache"),
            )
        )
        return {"sampled": sampled, "greedy": None, "rm_threshold": None, **_slim(res)}
    greedy = (
        sample_main(
            SampleConfig(
                policy=str(c.policy),
                problems=str(problems),
                out=str(d / "greedy.jsonl"),
                temperature=0.0,
                max_new_tokens=96,
                seed=c.seed,
            )
        )
        if prm
        else None
    )
    res = pairs_main(
        PairsConfig(
            out=str(d / "pairs.jsonl"),
            solutions=str(d / "solutions.jsonl"),
            trees=str(c.trees),
            problems=str(problems),
            segmenter="heuristic",
            seed=c.seed,
            cache_dir=str(d / "cache"),
            rm=str(prm) if prm else None,
            rm_threshold=s["rm_threshold"],
            tree_response=s["tree_response"],
            greedy=str(d / "greedy.jsonl") if prm else None,
        )
    )
    return {
        "sampled": sampled,
        "greedy": greedy,
        "rm_threshold": s["rm_threshold"] if prm else None,
        **_slim(res),
    }


def po(d: Path, s: dict, c: Context) -> dict:
    from hiero.preference.train import POTrainConfig, main

    out = {}
    for name, extra in (("dpo", {"loss": "dpo"}), ("hipo", {"loss": "hipo", "weight_preset": ["mt-bias"]})):
        res = main(
            POTrainConfig(
                model=str(c.policy),
                pairs=str(c.dirs["pairs"] / "pairs.jsonl"),
                out=str(d / name),
                seed=c.seed,
                ref_cache_dir=str(d / "ref_cache"),
                segmenter="heuristic",
                **s,
                **extra,
            )
        )
        row = res["rows"][-1]
        out[name] = {
            "model_dir": res["model_dir"],
            "steps": row["steps"],
            "time_per_step_s": row["time_per_step_s"],
            "last": row["last"],
            "pairs": res.get("pairs"),
            "ref_cache": res.get("ref_cache"),
            "dpop_lambda": res["dpop_lambda"],
        }
    return out


def po_eval(d: Path, s: dict, c: Context) -> dict:
    from hiero.preference.evaluate import POEvalConfig, main

    problems, trained_po = d / "problems.jsonl", c.dirs["po"]
    write_jsonl(problems, c.domain.problems(s["problems"], c.seed + SEED_OFFSETS["po_eval"], "test"))
    res = main(
        POEvalConfig(
            models=[f"base={c.policy}", f"dpo={trained_po / 'dpo'}", f"hipo={trained_po / 'hipo'}"],
            problems=str(problems),
            out=str(d / "po_eval.json"),
            cache_dir=str(d / "cache"),
            device="cpu",
        )
    )
    return _slim(res)
