"""Summarise recipes/real_smollm2_cpu.sh: every figure its parts have produced so far -> OUT/summary.md +
.json.

    python recipes/real_smollm2_summary.py runs/real_smollm2_cpu

Reads only the files the hiero commands wrote (and OUT/logs/*.seconds); a part not yet run is left out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")


def _load(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _secs(out: Path, name: str):
    f = out / "logs" / f"{name}.seconds"
    return int(f.read_text()) if f.exists() else None


def pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def interval(ci, signed: bool = False) -> str:
    """[lo, hi] of fractions as percentages, like the figure beside it ("—" when absent)."""
    if not ci or ci[0] is None:
        return "—"
    f = "{:+.1f}" if signed else "{:.1f}"
    return "[" + ", ".join(f.format(100 * x) for x in ci) + "]"


def policy_part(out: Path, md: list[str], js: dict) -> None:
    greedy, sampled = _rows(out / "policy" / "greedy.jsonl"), _rows(out / "policy" / "sampled.jsonl")
    if not greedy:
        return
    by_problem: dict[str, list[bool]] = {}
    for r in sampled:
        by_problem.setdefault(r["problem_id"], []).append(bool(r["correct"]))
    js["gsm8k"] = {
        "problems": len(greedy),
        "greedy_accuracy": sum(r["correct"] for r in greedy) / len(greedy),
        "greedy_hit_token_limit": sum(r["meta"].get("finish_reason") == "length" for r in greedy)
        / len(greedy),
        "greedy_mean_steps": sum(len(r["steps"]) for r in greedy) / len(greedy),
        "sampled_accuracy": (
            sum(map(sum, by_problem.values())) / sum(map(len, by_problem.values())) if by_problem else None
        ),
        "pass_at_n": sum(any(v) for v in by_problem.values()) / len(by_problem) if by_problem else None,
        "samples_per_problem": max(map(len, by_problem.values())) if by_problem else None,
        "seconds": {"greedy": _secs(out, "greedy"), "sampled": _secs(out, "sampled")},
    }
    g = js["gsm8k"]
    md += [
        "## GSM8K test, chat template, answers from free-form text",
        "",
        "| problems | greedy | sampled (T=0.7) | pass@n | n | greedy: mean steps | greedy: token limit hit |",
        "|---|---|---|---|---|---|---|",
        f"| {g['problems']} | {pct(g['greedy_accuracy'])} | {pct(g['sampled_accuracy'])} | "
        f"{pct(g['pass_at_n'])} | "
        f"{g['samples_per_problem']} | {g['greedy_mean_steps']:.2f} | {pct(g['greedy_hit_token_limit'])} |",
        "",
    ]
    trees = _rows(out / "policy" / "trees.jsonl")
    if trees:
        nodes = [n for t in trees for n in t["nodes"] if n.get("parent") is not None]
        labelled = [n for n in nodes if n.get("n_total")]
        solved = sum(any(n.get("correct") is True for n in t["nodes"]) for t in trees)
        js["trees"] = {"problems": len(trees), "nodes": len(nodes), "mc_labelled_steps": len(labelled),
                       "problems_with_a_correct_leaf": solved, "seconds": _secs(out, "trees")}
        md += [
            f"Trees (`hiero annotate --mode bsearch`, GSM8K train): {len(trees)} problems, {len(nodes)} step "
            f"nodes, {len(labelled)} with an MC label, {solved} problems with a correct leaf.",
            "",
        ]


def rm_part(out: Path, md: list[str], js: dict) -> None:
    names = (
        sorted(p.name[len("eval_") :] for p in (out / "rm").glob("eval_*")) if (out / "rm").exists() else []
    )
    if not names:
        return
    md += [
        "## Reward models (ProcessBench F1 per split, PRMBench PRMScore, PRM800K phase-1 test step AUROC)",
        "",
        "| RM | items / split | GSM8K | MATH | OlympiadBench | Omni-MATH | Avg. F1 | PRMBench | "
        "PRM800K AUROC [95% CI] | train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    js["rm"] = {}
    for name in names:
        ev = out / "rm" / f"eval_{name}"
        pb, st, bench = (
            _load(ev / "processbench.json"),
            _load(ev / "prm800k_test.json"),
            _load(ev / "prmbench.json"),
        )
        train = _load(out / "rm" / name / "train_summary.json") or {}
        f1 = {s: pb["splits"][s]["f1"] for s in pb["splits"]} if pb else {}
        items = sorted({pb["splits"][s]["n_items"] for s in pb["splits"]}) if pb else []
        auc = st["auroc"] if st else None
        ci = st.get("auroc_ci95") if st else None
        prmscore = bench["prm_score"] if bench else None
        js["rm"][name] = {
            "processbench_f1": f1,
            "processbench_average_f1": pb["average_f1"] if pb else None,
            "processbench_items_per_split": items,
            "prmbench": prmscore,
            "prm800k_test_auroc": auc,
            "prm800k_test_auroc_ci95": ci,
            "prm800k_test_steps": st["steps"] if st else None,
            "train_examples": (train.get("train") or {}).get("examples"),
            "train_layers": train.get("train_layers"),
            "seconds_train": _secs(out, f"train_{name}"),
        }
        ci_txt = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and ci[0] is not None else ""
        md.append(
            f"| {name} | {'/'.join(map(str, items))} | "
            + " | ".join(pct(f1.get(s)) for s in SPLITS)
            + f" | {pct(pb['average_f1'] if pb else None)} | {pct(prmscore)} | "
            + (f"{auc:.3f}{ci_txt}" if auc is not None else "—")
            + f" | {_secs(out, f'train_{name}')} |"
        )
    md.append("")


def search_part(out: Path, md: list[str], js: dict) -> None:
    res = _load(out / "search" / "results.json")
    if not res:
        return
    js["search"] = {"n": res["n"], "problems": res["n_problems"], "sample_accuracy": res["sample_accuracy"],
                    "curves": {k: v["acc"] for k, v in res["curves"].items()}, "search": res.get("search")}
    md += ["## Best-of-N and step-level search on GSM8K (the real policy)", "", res["markdown"], ""]


def po_part(out: Path, md: list[str], js: dict) -> None:
    for name in ("gsm8k_test", "math500_test"):
        res = _load(out / "po" / f"eval_{name}.json")
        if res:
            seg = res.get("segments") or {}
            js.setdefault("po", {})[name] = {"accuracy": res["accuracy"], "ci95": res.get("ci95"),
                                            "vs_first": res.get("vs_first"), "n": res["n"], "segments": seg}
            md += [
                f"## Base vs DPO vs HiPO on {name} ({res['n']} problems, greedy)",
                "",
                "Segments: the share of solutions in which the heuristic segmenter finds a restated question "
                "(clarification), reasoning and a stated answer (judge-free; `segment_presence`).",
                "",
                "| model | accuracy | 95% CI | minus base [95% CI] | clarification | reasoning | answer | "
                "all three |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for m, acc in res["accuracy"].items():
                ci = (res.get("ci95") or {}).get(m)
                vs = (res.get("vs_first") or {}).get(m)
                sp = seg.get(m) or {}
                md.append(
                    f"| {m} | {pct(acc)} | {interval(ci)} | "
                    + (f"{100 * vs['delta']:+.1f} {interval(vs['ci95'], signed=True)}" if vs else "—")
                    + " | "
                    + " | ".join(pct(sp.get(k)) for k in ("clarification", "reasoning", "answer", "all"))
                    + " |"
                )
            md.append("")
    st = _load(out / "selftrain" / "selftrain_summary.json")
    if st:
        js["selftrain"] = {k: st.get(k) for k in ("examples", "trees", "before", "after", "threshold", "lam")}
        md += [
            "## One round of self-training (high-MC trajectories of the trees, CE + λ·log(1+KL))",
            "",
            f"{st.get('examples')} examples from {st.get('trees')} trees; greedy accuracy before "
            f"{pct((st.get('before') or {}).get('accuracy'))}, after "
            f"{pct((st.get('after') or {}).get('accuracy'))} "
            f"({(st.get('after') or {}).get('n')} problems).",
            "",
        ]


SESSIONS = ("setup", "eval", "trees", "rm_prm", "rm_hrm", "rm_trees", "search", "po_dpo", "selftrain")


def session_of(step: str) -> str:
    """The recipe session (`bash recipes/real_smollm2_cpu.sh SESSION`) that runs a step, by its name."""
    if step in ("greedy", "sampled"):
        return "eval"
    if step in ("short_train", "trees"):
        return "trees"
    if step == "bon":
        return "search"
    if step == "selftrain":
        return "selftrain"
    if step.startswith(("po_", "convert_prefs")):
        return "po_dpo"
    if "trees" in step or step.endswith("_orm"):  # solved_trees, rows_trees_hnc, train_smollm2_orm, ...
        return "rm_trees"
    if step.endswith("_prm") or step == "rows_test":  # rows_test: whichever of rm_prm / rm_hrm runs first
        return "rm_prm"
    if step.endswith("_hrm"):
        return "rm_hrm"
    return "setup"  # data conversion, the model import


def sessions_part(out: Path, md: list[str], js: dict) -> None:
    """Wall seconds per session: the sum of its steps' OUT/logs/NAME.seconds (each one's last full run)."""
    total: dict[str, int] = {}
    steps: dict[str, int] = {}
    for f in sorted((out / "logs").glob("*.seconds")):
        name = session_of(f.name.removesuffix(".seconds"))
        total[name] = total.get(name, 0) + int(f.read_text())
        steps[name] = steps.get(name, 0) + 1
    if not total:
        return
    js["sessions"] = {k: {"seconds": total[k], "steps": steps[k]} for k in SESSIONS if k in total}
    md += ["## Wall time per session (sum of its steps' last finished runs)", "",
           "| session | steps | seconds | minutes |", "|---|---|---|---|"]
    md += [f"| {k} | {steps[k]} | {total[k]:,} | {total[k] / 60:.0f} |" for k in SESSIONS if k in total]
    md.append("")


def main(out: Path) -> int:
    md, js = ["# SmolLM2-135M-Instruct through every stage (recipes/real_smollm2_cpu.sh)", ""], {}
    for part in (policy_part, rm_part, search_part, po_part, sessions_part):
        part(out, md, js)
    (out / "summary.md").write_text("\n".join(md) + "\n")
    (out / "summary.json").write_text(json.dumps(js, indent=2) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
