"""Pool scripts/hipo_segments.sh's runs: base vs DPO vs each HiPO preset over policy seeds and training runs.

    python scripts/hipo_segments_summary.py runs/hipo_segments 0 1 2

For each seed, each method's per-problem accuracy is averaged over its training runs; the differences
(method - base, HiPO preset - DPO; also for "right in every segment and correct", the
answer reached faithfully) are averaged over every (seed, problem) and given a 95% percentile
bootstrap interval that resamples problems within each seed (the training runs are held fixed, so the
interval is about the problems; the run-to-run spread is the min..max column). Per segment: the share of
greedy solutions whose givens (clarification), equations (reasoning) and answer sentence are right,
checked by the built-in domain (hiero.evaluation.domain_checks.segment_quality).
"""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from hiero.data.io import read_jsonl
from hiero.domains.builtin import SEGMENTS, segment_checks
from hiero.evaluation.domain_checks import segment_quality
from hiero.types import Problem

METHODS = ("dpo", "dpolr", "rq-bias", "mt-bias", "ra-bias", "full-bias")  # dpolr: DPO at 0.6x the lr


def load(out: Path) -> tuple[dict, dict, dict]:
    """method -> run -> [correct per problem], the same for "right in every segment and correct", and
    method -> run -> segment_quality, for one seed's folder."""
    problems = list(read_jsonl(out / "problems.jsonl", Problem))
    index = {p.id: i for i, p in enumerate(problems)}
    correct: dict = defaultdict(dict)
    faithful: dict = defaultdict(dict)
    texts: dict = defaultdict(dict)
    rows = [row for f in sorted(out.glob("eval*_solutions.jsonl")) for row in read_jsonl(f)]
    for row in rows:  # every eval file of the folder (the base model, evaluated in each, is the same)
        name = row["model"]
        method, run = ("base", "") if name == "base" else tuple(name.rsplit("-", 1))
        i = index[row["id"]]
        checks = segment_checks(problems[i], row["solution"].split("\n"))
        correct[method].setdefault(run, [0] * len(problems))[i] = int(row["correct"])
        faithful[method].setdefault(run, [0] * len(problems))[i] = int(row["correct"] and all(
            checks[k] for k in SEGMENTS))
        texts[method].setdefault(run, [""] * len(problems))[i] = row["solution"]
    quality = {m: {r: segment_quality(problems, t) for r, t in runs.items()} for m, runs in texts.items()}
    return correct, faithful, quality


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


def main(root: Path, seeds: list[str]) -> dict:
    per_seed = {s: load(root / s) for s in seeds}
    out: dict = {"seeds": seeds, "base": {}, "methods": {}}
    for s, (correct, faithful, _) in per_seed.items():
        out["base"][s] = sum(correct["base"][""]) / len(correct["base"][""])
        out["base_faithful"] = out.get("base_faithful", {}) | {s: sum(faithful["base"][""]) / len(faithful["base"][""])}
    for m in [m for m in METHODS if all(m in per_seed[s][0] for s in seeds)]:
        row: dict = {}
        for key, j in (("vs_base", 0), ("faithful_vs_base", 1)):
            row[key] = bootstrap([[a - b for a, b in zip(mean_of_runs(per_seed[s][j][m]), per_seed[s][j]["base"][""],
                                                         strict=True)] for s in seeds])
        runs = [sum(c) / len(c) - out["base"][s] for s in seeds for c in per_seed[s][0][m].values()]
        row["runs"] = len(runs)
        row["run_range"] = (min(runs), max(runs))
        if m != "dpo":  # HiPO presets (and DPO at a lower lr) against DPO
            for key, j in (("vs_dpo", 0), ("faithful_vs_dpo", 1)):
                row[key] = bootstrap([[a - b for a, b in zip(mean_of_runs(per_seed[s][j][m]),
                                                             mean_of_runs(per_seed[s][j]["dpo"]), strict=True)]
                                      for s in seeds])
        if m not in ("dpo", "dpolr") and all("dpolr" in per_seed[s][0] for s in seeds):
            for key, j in (("vs_dpolr", 0), ("faithful_vs_dpolr", 1)):
                row[key] = bootstrap([[a - b for a, b in zip(mean_of_runs(per_seed[s][j][m]),
                                                             mean_of_runs(per_seed[s][j]["dpolr"]), strict=True)]
                                      for s in seeds])
        row["segments"] = segment_means(per_seed, m)
        out["methods"][m] = row
    out["base_segments"] = segment_means(per_seed, "base")
    return out


def segment_means(per_seed: dict, method: str) -> dict:
    """Mean over seeds and runs of each segment's share right, and of the equations' accuracy."""
    vals: dict = defaultdict(list)
    for _, _, quality in per_seed.values():
        for q in quality[method].values():
            for k, v in q["by_segment"].items():
                vals[k].append(v)
            vals["equations"].append(q["equation_accuracy"])
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
    print("| method | runs | − base [95%] | run range | − DPO [95%] | all right − base [95%] | all right − DPO |"
          " givens | reasoning | equations | answer |")
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
