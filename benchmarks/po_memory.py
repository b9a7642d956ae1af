"""Peak memory of preference training: hiero DPO vs TRL's DPOTrainer, same model, pairs and batch.

    python benchmarks/po_memory.py [--pairs 64 --batch-size 16 --steps 5 --hidden 256 --layers 4 --repeats 5]

Each run is its own process (`--child SIDE`), so no side inherits the other's allocations:
  1. import torch / transformers and the side's trainer (TRL: trl + datasets; hiero: hiero),
  2. read RSS (the baseline: interpreter + libraries) and reset the kernel's peak-RSS mark
     (`echo 5 > /proc/self/clear_refs`, Linux),
  3. train --steps steps from the model folder: everything a user's run does after the imports
     (tokenising the pairs, loading policy + reference, the reference pass, the steps),
  4. read the peak RSS (VmHWM).
Reported per side: median over --repeats processes of the peak and of peak - baseline (the
training's own memory, which is what the trainers differ in; the baselines differ by what the
libraries import). Sides: hiero DPO (reference log-probs computed once into a fresh cache, shared
prompt pass), TRL DPOTrainer with its default (reference model run every step) and with
`precompute_ref_log_probs=True`; fp32 on CPU, gradient checkpointing off (as benchmarks/po_train.py).
`ratio` = hiero's training memory / TRL's (the lower of TRL's two settings); lower is better.
Linux only (reads /proc/self/status).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIDES = ("hiero", "trl", "trl_pre")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5, help="processes per side (median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/bench/po_memory.json"))
    ap.add_argument("--child", choices=SIDES, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    return ap


def _status_kb(key: str) -> int:
    m = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    if m is None:
        raise RuntimeError(f"/proc/self/status has no {key} (po_memory needs Linux)")
    return int(m.group(1))


def _po_train():
    spec = importlib.util.spec_from_file_location("bench_po_train", HERE / "po_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child(args) -> dict:
    """One measured run in this process (steps 1-4 of the module doc)."""
    import torch
    import transformers  # noqa: F401

    torch.set_num_threads(args.threads)
    po = _po_train()
    run_dir = Path(tempfile.mkdtemp(dir=args.dir))
    if args.child == "hiero":
        import hiero.preference.train  # noqa: F401
    else:
        import datasets  # noqa: F401
        import trl  # noqa: F401
    baseline = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak mark starts again from here
    if args.child == "hiero":
        r = po.run_hiero(args.dir / "model", args.dir / "pairs.jsonl", run_dir, args, loss="dpo")
    else:
        from hiero.data.io import read_jsonl
        from hiero.types import PreferencePair

        pairs = list(read_jsonl(args.dir / "pairs.jsonl", PreferencePair))
        r = po.run_trl(args.dir / "model", pairs, run_dir, args, precompute=args.child == "trl_pre")
    peak = _status_kb("VmHWM")
    return {"side": args.child, "baseline_mb": baseline / 1024, "peak_mb": peak / 1024,
            "training_mb": (peak - baseline) / 1024, "steps": r["steps"], "step_s": r["step_s"]}


def run(args) -> dict:
    import torch

    from hiero.data.io import write_json, write_jsonl
    from hiero.policy.model import build_model
    from hiero.policy.tokenizer import train_tokenizer

    po = _po_train()
    torch.set_num_threads(args.threads)
    runs: dict[str, list[dict]] = {s: [] for s in SIDES}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pairs = po.make_pairs(args.pairs, args.seed)
        tok = train_tokenizer(
            [p.prompt + p.chosen for p in pairs] + [p.rejected for p in pairs], vocab_size=512
        )
        model = build_model(len(tok), n_layers=args.layers, hidden=args.hidden, heads=4,
                            eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, seed=args.seed)
        n_params = sum(p.numel() for p in model.parameters())
        model.save_pretrained(tmp / "model")
        tok.save_pretrained(tmp / "model")
        write_jsonl(tmp / "pairs.jsonl", pairs)
        flags = ["--pairs", str(args.pairs), "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                 "--threads", str(args.threads), "--seed", str(args.seed), "--dir", str(tmp)]
        for rep in range(args.repeats):
            for side in SIDES:  # interleaved, so a slow phase of a shared machine hits every side
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", side, *flags],
                    capture_output=True,
                    text=True,
                    timeout=1200,
                )
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"po_memory child {side}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
                    )
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                runs[side].append(r)
                print(
                    f"repeat {rep} {side}: peak {r['peak_mb']:.0f} MB, training {r['training_mb']:.0f} MB",
                    flush=True,
                )

    def med(side, key):
        return statistics.median(r[key] for r in runs[side])

    summary = {s: {k: round(med(s, k), 1) for k in ("baseline_mb", "peak_mb", "training_mb")} for s in SIDES}
    for s in SIDES:
        summary[s]["step_s"] = round(med(s, "step_s"), 4)
    trl_best = min(("trl", "trl_pre"), key=lambda s: summary[s]["training_mb"])
    ratio = summary["hiero"]["training_mb"] / summary[trl_best]["training_mb"]
    res = {
        "benchmark": "po_memory",
        "params": n_params,
        "summary": summary,
        "runs": runs,
        "trl_compared": trl_best,
        "metric": f"training memory {summary['hiero']['training_mb']:.0f} / "
                  f"{summary['trl']['training_mb']:.0f} / "
        f"{summary['trl_pre']['training_mb']:.0f} MB (hiero DPO / TRL / TRL precomputed ref), peak RSS "
        f"{summary['hiero']['peak_mb']:.0f} / {summary['trl']['peak_mb']:.0f} / "
        f"{summary['trl_pre']['peak_mb']:.0f} MB",
        "ratio": round(ratio, 3),
        "goal": "measured: hiero training memory / TRL's (lower is better)",
        "settings": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k not in ("child", "dir")
        },
    }
    write_json(args.out, res)
    return res


if __name__ == "__main__":
    a = build_parser().parse_args()
    if a.child:
        print(json.dumps(child(a)))
    else:
        print(json.dumps({k: v for k, v in run(a).items() if k != "runs"}, indent=2))
