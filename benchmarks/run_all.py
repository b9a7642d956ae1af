"""`make bench`: every side-by-side benchmark in one run, results in runs/bench/*.json + summary.md.

Each benchmark module exposes `run(args) -> dict` with the two measurements, their ratio and the goal;
this script runs them in turn (one failing does not stop the others) and writes a summary table.
Usage: python benchmarks/run_all.py [--only NAME ...] [--out runs/bench]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "hnc",
    "annotate",
    "scoring",
    "public_prm",
    "real_sampling",
    "prm_train",
    "po_train",
    "efficiency",
    "po_memory",
]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, choices=BENCHMARKS)
    ap.add_argument("--out", type=Path, default=Path("runs/bench"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], 0
    for name in args.only or BENCHMARKS:
        module = load(name)
        sub = module.build_parser().parse_args(["--out", str(args.out / f"{name}.json")])
        t0 = time.time()
        try:
            result = module.run(sub)
        except Exception:  # report and go on: one broken benchmark should not hide the others
            traceback.print_exc()
            failed += 1
            rows.append(f"| {name} | failed | | | |")
            continue
        rows.append(f"| {name} | {result.get('metric', '')} | {result.get('ratio', float('nan')):.2f} | "
                    f"{result.get('goal', '')} | {time.time() - t0:.0f} s |")
    table = "| benchmark | measured | ratio | goal | wall |\n|---|---|---|---|---|\n" + "\n".join(rows)
    (args.out / "summary.md").write_text(table + "\n")
    print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
