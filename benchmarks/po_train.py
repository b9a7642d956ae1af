"""Preference-training time per step: hiero DPO, hiero HiPO and TRL's DPOTrainer, same model and pairs.

    python benchmarks/po_train.py [--pairs 128] [--batch-size 16] [--steps 20] [--threads 1] [--out FILE]

Same tiny Qwen2 (the size of the embedded policy: 4 layers, d=128), same pairs (built-in problems:
reference solution vs a noisy wrong one, segmented by the heuristic splitter), same batch size,
fp32 on CPU (TRL with bf16=False), the policy as its own reference. Time per step = (time at the end
of the last step - time at the end of the first) / (steps - 1), read from each loop's own clock, so
start-up, the first step's warm-up and hiero's one-off reference pass are left out on both sides;
hiero's reference pass (cached, done once per data set) is reported separately.
TRL runs twice: with its default (reference model run in every step) and with
`precompute_ref_log_probs=True` (the nearest to hiero's cached reference); gradient checkpointing is
off in both (TRL 1.x enables it by default; hiero does not use it). The ratio is against the faster.
Goals: HiPO <= 1.05x hiero DPO (segments cost nothing extra), hiero DPO <= 0.7x TRL.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import torch

from hiero.data.io import read_jsonl, write_json, write_jsonl
from hiero.domains import builtin as synth
from hiero.policy.model import build_model
from hiero.policy.prompt import build_prompt
from hiero.policy.tokenizer import train_tokenizer
from hiero.types import PreferencePair


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/bench/po_train.json"))
    return ap


def make_pairs(n: int, seed: int) -> list[PreferencePair]:
    rng = random.Random(seed)
    out = []
    for p in synth.generate_problems(3 * n, seed, "train", min_ops=2, max_ops=4):
        bad = synth.render_noisy_solution(p, rng, p_error=0.9, p_correction=0.0)
        if not bad.correct:
            out.append(PreferencePair(prompt=build_prompt(p.question), chosen="\n".join(synth.solve(p)),
                                      rejected=bad.text, id=p.id))
        if len(out) == n:
            break
    return out


def _per_step(times: list[float]) -> float:
    return (times[-1] - times[0]) / max(1, len(times) - 1)


def run_hiero(model_dir: Path, pairs_file: Path, out: Path, args, **loss) -> dict:
    from hiero.preference.train import POTrainConfig, main

    cfg = POTrainConfig(
        model=str(model_dir),
        pairs=str(pairs_file),
        out=str(out),
        max_steps=args.steps,
        batch_size=args.batch_size,
        lr=1e-5,
        warmup_ratio=0.0,
        seed=args.seed,
        segmenter="heuristic",
        ref_cache_dir=str(out / "ref_cache"),
        **loss,
    )
    res = main(cfg)
    times = [r["time_s"] for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
    return {"step_s": round(_per_step(times), 5), "steps": len(times), "ref_pass_s": res.get("ref_time_s"),
            "pairs_used": res.get("pairs_used")}


def run_trl(model_dir: Path, pairs: list[PreferencePair], out: Path, args, precompute: bool) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    class Clock(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_end(self, *a, **k):
            self.times.append(time.perf_counter())

    clock = Clock()
    cfg = DPOConfig(output_dir=str(out), beta=0.2, bf16=False, fp16=False, report_to="none", use_cpu=True,
                    per_device_train_batch_size=args.batch_size, max_steps=args.steps, learning_rate=1e-5,
                    warmup_steps=0, max_length=None, save_strategy="no", logging_strategy="no",
                    dataset_num_proc=None, seed=args.seed, disable_tqdm=True, dataloader_num_workers=0,
                    gradient_checkpointing=False,  # TRL 1.x turns it on by default; hiero does not use it
                    precompute_ref_log_probs=precompute)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir),
                         ref_model=AutoModelForCausalLM.from_pretrained(model_dir), args=cfg,
                         processing_class=AutoTokenizer.from_pretrained(model_dir), callbacks=[clock],
                         train_dataset=Dataset.from_list([{"prompt": p.prompt, "chosen": p.chosen,
                                                           "rejected": p.rejected} for p in pairs]))
    trainer.train()
    return {"step_s": round(_per_step(clock.times), 5), "steps": len(clock.times)}


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    pairs = make_pairs(args.pairs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tok = train_tokenizer(
            [p.prompt + p.chosen for p in pairs] + [p.rejected for p in pairs], vocab_size=512
        )
        model = build_model(
            len(tok),
            n_layers=args.layers,
            hidden=args.hidden,
            heads=4,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            seed=args.seed,
        )
        model.save_pretrained(tmp / "model")
        tok.save_pretrained(tmp / "model")
        write_jsonl(tmp / "pairs.jsonl", pairs)
        trl_default = run_trl(tmp / "model", pairs, tmp / "trl", args, precompute=False)
        trl_pre = run_trl(tmp / "model", pairs, tmp / "trl_pre", args, precompute=True)
        trl = min(
            trl_default, trl_pre, key=lambda r: r["step_s"]
        )  # the ratio is against TRL's faster setting
        dpo = run_hiero(tmp / "model", tmp / "pairs.jsonl", tmp / "dpo", args, loss="dpo")
        hipo = run_hiero(
            tmp / "model", tmp / "pairs.jsonl", tmp / "hipo", args, loss="hipo", weight_preset=["mt-bias"]
        )
    r_hipo, r_trl = hipo["step_s"] / dpo["step_s"], dpo["step_s"] / trl["step_s"]
    result = {
        "benchmark": "po_train",
        "metric": f"{1000 * dpo['step_s']:.1f} / {1000 * hipo['step_s']:.1f} / {1000 * trl['step_s']:.1f} ms "
        f"per step (hiero DPO / HiPO / TRL DPO); HiPO/DPO {r_hipo:.2f}",
        "ratio": round(r_trl, 3),
        "goal": "hiero DPO <= 0.7x TRL; HiPO <= 1.05x DPO",
        "hipo_over_dpo": round(r_hipo, 3),
        "dpo_over_trl": round(r_trl, 3),
        "met": r_trl <= 0.7 and r_hipo <= 1.05,
        "hiero_dpo": dpo,
        "hiero_hipo": hipo,
        "trl_dpo": trl_default,
        "trl_dpo_precomputed_ref": trl_pre,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    write_json(args.out, result)
    print(result["metric"], f"| hiero DPO / TRL = {r_trl:.2f}")
    return result


if __name__ == "__main__":
    res = run(build_parser().parse_args())
    print(json.dumps({k: res[k] for k in ("ratio", "metric", "hipo_over_dpo")}))
