"""Pool scripts/hipo_segments.sh's runs: base vs DPO vs each HiPO preset over policy seeds and training runs.

    python scripts/hipo_segments_summary.py runs/hipo_segments 0 1 2

For each seed, each method's per-problem accuracy is averaged over its training runs; the differences
(method - base, HiPO preset - DPO; also for "right in every segment and correct", the
answer reached faithfully) are averaged over every (seed, problem) and given a 95% percentile
bootstrap interval that resamples problems within each seed (the training runs are held fixed, so the
interval is about the problems; the run-to-run spread is the min..max column). Per segment: the share of
greedy solutions whose givens (clarification), equations (reasoning) and answer sentence are right,
checked by the built-in domain (`segment_checks`, once per solution).
"""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from hiero.data.io import read_jsonl
from hiero.domains.builtin import SEGMENTS, segment_checks
from hiero.policy.prompt import split_steps
from hiero.types import Problem

METHODS = ("dpo", "dpolr", "rq-bias", "mt-bias", "ra-bias", "full-bias")  # dpolr: DPO at 0.6x the lr


def load(out: Path) -> tuple[dict, dict, dict]:
    """method -> run -> per problem: correct (0/1), "right in every segment and correct" (0/1) and the
    domain's segment checks, for one seed's folder."""
    problems = list(read_jsonl(out / "problems.jsonl", Problem))
    index = {p.id: i for i, p in enumerate(problems)}
    correct: dict = defaultdict(dict)
    faithful: dict = defaultdict(dict)
    checked: dict = defaultdict(dict)
    rows = [row for f in sorted(out.glob("eval*_solutions.jsonl")) for row in read_jsonl(f)]
    for row in rows:  # every eval file of the folder (the base model, evaluated in each, is the same)
        name = row["model"]
        method, run = ("base", "") if name == "base" else tuple(name.rsplit("-", 1))
        i = index[row["id"]]
        checks = segment_checks(
            problems[i], split_steps(row["solution"])
        )  # as po eval's segment_quality reads it
        correct[method].setdefault(run, [0] * len(problems))[i] = int(row["correct"])
        faithful[method].setdefault(run, [0] * len(problems))[i] = int(row["correct"] and all(
            checks[k] for k in SEGMENTS))
        checked[method].setdefault(run, [None] * len(problems))[i] = checks
    return correct, faithful, checked


def mean_of_runs(runs: dict) -> list[float]:
    cols = list(runs.values())
    return [sum(c[i] for c in cols) / len(cols) for i in range(len(cols[0]))]


def bootstrap(diffs: list[list[float]], n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over every (seed, problem) of `diffs` (one list per seed) and its 95% interval, problems
    resampled within each seed."""
    rng = random.Random(seed)
    n = sum(len(d) for d in diffs)
    mean = sum(sum(d) for d in diffs) / n
    stats = sorted(sum(sum(rng.choice(d) for _ in d) for d in diffs) / n for _ in range(n_boot))
    return mean, stats[int(0.025 * n_boot)], stats[int(0.975 * n_boot) - 1]


def paired(per_seed: dict, seeds: list[str], m: str, other: str) -> dict:
    """m - other (a method, "base" included) on accuracy and on "all right", each averaged over runs."""
    return {key: bootstrap([[a - b for a, b in zip(mean_of_runs(per_seed[s][j][m]),
                                                   mean_of_runs(per_seed[s][j][other]), strict=True)]
                            for s in seeds])
            for key, j in (("", 0), ("faithful_", 1))}


def main(root: Path, seeds: list[str]) -> dict:
    per_seed = {s: load(root / s) for s in seeds}
    out: dict = {"seeds": seeds, "base": {}, "base_faithful": {}, "methods": {}}
    for s, (correct, faithful, _) in per_seed.items():
        out["base"][s] = sum(correct["base"][""]) / len(correct["base"][""])
        out["base_faithful"][s] = sum(faithful["base"][""]) / len(faithful["base"][""])
    present = [m for m in METHODS if all(m in per_seed[s][0] for s in seeds)]
    for m in present:
        # against base; HiPO presets (and DPO at a lower lr) against DPO; HiPO presets against DPO at 0.6x lr
        others = ["base"] + (["dpo"] if m != "dpo" else []) + (
            ["dpolr"] if "dpolr" in present and m not in ("dpo", "dpolr") else [])
        row: dict = {
            f"{prefix}vs_{o}": v for o in others for prefix, v in paired(per_seed, seeds, m, o).items()
        }
        runs = [sum(c) / len(c) - out["base"][s] for s in seeds for c in per_seed[s][0][m].values()]
        row["runs"] = len(runs)
        row["run_range"] = (min(runs), max(runs))
        row["segments"] = segment_means(per_seed, m)
        out["methods"][m] = row
    out["base_segments"] = segment_means(per_seed, "base")
    return out


def segment_means(per_seed: dict, method: str) -> dict:
    """Mean over seeds and runs of each segment's share right, and of the equations' accuracy."""
    vals: dict = defaultdict(list)
    for _, _, checked in per_seed.values():
        for checks in checked[method].values():
            for k in SEGMENTS:
                vals[k].append(sum(c[k] for c in checks) / len(checks))
            n_eq = sum(c["equations"] for c in checks)
            vals["equations"].append(sum(c["equations_right"] for c in checks) / max(n_eq, 1))
    return {k: sum(v) / len(v) for k, v in vals.items()}


def pct(x: float) -> str:
    return f"{100 * x:+.1f}"


if __name__ == "__main__":
    root, seeds = Path(sys.argv[1]), sys.argv[2:] or ["0", "1", "2"]
    res = main(root, seeds)
    (root / "summary.json").write_text(json.dumps(res, indent=2))
    print("base accuracy per seed: " + ", ".join(f"{s}: {100 * v:.1f}%" for s, v in res["base"].items()))
    b = res["base_segments"]
    print(f"base segments: givens {100 * b['clarification']:.1f}  reasoning {100 * b['reasoning']:.1f}  "
          f"equations {100 * b['equations']:.1f}  answer sentence {100 * b['answer']:.1f}")
    print("all segments right and correct, base: " + ", ".join(f"{s}: {100 * v:.1f}%"
                                                               for s, v in res["base_faithful"].items()))
    print(
        "| method | runs | − base [95%] | run range | − DPO [95%] | all right − base [95%] | all right − DPO "
        "|"
        " givens | reasoning | equations | answer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m, r in res["methods"].items():
        mean, lo, hi = r["vs_base"]
        vs = r.get("vs_dpo")
        vs_text = f"{pct(vs[0])} [{pct(vs[1])}, {pct(vs[2])}]" if vs else "–"
        s = r["segments"]
        f = r["faithful_vs_base"]
        fd = r.get("faithful_vs_dpo")
        fd_text = f"{pct(fd[0])} [{pct(fd[1])}, {pct(fd[2])}]" if fd else "–"
        print(f"| {m} | {r['runs']} | {pct(mean)} [{pct(lo)}, {pct(hi)}] | {pct(r['run_range'][0])} .. "
              f"{pct(r['run_range'][1])} | {vs_text} | {pct(f[0])} [{pct(f[1])}, {pct(f[2])}] | {fd_text} | "
              f"{100 * s['clarification']:.1f} | {100 * s['reasoning']:.1f} | "
              f"{100 * s['equations']:.1f} | {100 * s['answer']:.1f} |")
    rows = {m: r for m, r in res["methods"].items() if "vs_dpolr" in r}
    if rows:
        print("\nHiPO against DPO at 0.6x the lr (accuracy; all right), 95% intervals:")
        for m, r in rows.items():
            a, f = r["vs_dpolr"], r["faithful_vs_dpolr"]
            print(f"  {m}: {pct(a[0])} [{pct(a[1])}, {pct(a[2])}]; {pct(f[0])} [{pct(f[1])}, {pct(f[2])}]")
