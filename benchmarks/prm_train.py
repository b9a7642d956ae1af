"""PRM training time per epoch: `hiero rm train` vs the TRL PRMTrainer recipe, same model and rows.

    python benchmarks/prm_train.py [--rows 512] [--batch-size 16] [--threads 1] [--out FILE]

The peer. TRL shipped `PRMTrainer` up to its 0.x releases; TRL 1.x (1.16 here) no longer has it.
What it was is small and documented: a `transformers.Trainer` on `AutoModelForTokenClassification`
(2 labels), rows tokenized by its `tokenize_row` (prompt ids, then each step's ids followed by the
separator "\\n", the label on the separator's last token, -100 elsewhere; BOS first when the
tokenizer has one) and `DataCollatorForTokenClassification` padding. That recipe is rebuilt here
from those facts on the installed transformers `Trainer`, so the peer is the stack people used.

hiero: `hiero.reward.train.main` with `--read marker --loss hard_ce` (a dedicated marker token
after each step, the same 2-class cross-entropy at the markers), length-grouped batches, and
prefix packing (a row that is a token prefix of another is scored inside the longer one's pass;
exact for a causal model, tested in tests/reward/test_reward_packing.py).

Same backbone (a tiny Qwen2 the size of the embedded policy, 4 layers d=128), same rows (what
`hiero rm data` builds from trees: a tree of 8 noisy built-in solutions per problem, the
official bucket sampling, the label on each row's last step), same batch size,
fp32, one epoch, no evaluation. Time per epoch = wall time from the first to the last optimizer
step's end, plus one step (the first step is included via the loop's own clock on both sides).
Figure: ratio hiero / peer (goal <= 0.7).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from itertools import chain
from pathlib import Path

import torch

from hiero.data.io import read_jsonl, write_json, write_jsonl
from hiero.domains import builtin as synth
from hiero.testing import make_tiny_base


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=48, help="problems (one tree of 8 noisy solutions each)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (both sides)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/bench/prm_train.json"))
    return ap


def make_rows(n: int, seed: int) -> list[dict]:
    """PRM rows as `hiero rm data` builds them: per problem a tree of 8 noisy built-in solutions
    (shared prefixes merged, MC by leaf counting), the official (depth, score)-bucket sampling,
    the node's label on the last step only (TRL: train_on_last_step_only=True)."""
    from hiero.reward.rows import RowsConfig, dedup, rows_from_tree
    from hiero.testing import tree_from_solutions

    rng, rows, counts = random.Random(seed), [], {}
    cfg = RowsConfig(kind="prm", out_dir="-", inputs=["-"], seed=seed)
    for p in synth.generate_problems(n, seed, "train", min_ops=2, max_ops=4):
        sols = [synth.render_noisy_solution(p, rng, p_error=0.3, p_correction=0.3) for _ in range(8)]
        rows += rows_from_tree(tree_from_solutions(p, sols), cfg, counts)
    for r in rows:  # hard labels for the 2-class CE both sides train
        r["labels"] = [s >= 0.5 for s in r["soft_labels"]]
    return dedup(rows)


def trl_tokenize_row(row: dict, tokenizer, separator: str = "\n") -> dict:
    """TRL PRMTrainer.tokenize_row with train_on_last_step_only=True, no length limits."""
    prompt_ids = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
    sep = tokenizer.encode(separator, add_special_tokens=False)
    steps = [tokenizer(s, add_special_tokens=False)["input_ids"] + sep for s in row["completions"]]
    last = [-100] * (len(row["labels"]) - 1) + [int(row["labels"][-1])]
    labels = [[-100] * (len(s) - 1) + [lab] for s, lab in zip(steps, last, strict=True)]
    if tokenizer.bos_token_id is not None:
        prompt_ids = [tokenizer.bos_token_id] + prompt_ids
    return {
        "input_ids": prompt_ids + list(chain(*steps)),
        "labels": [-100] * len(prompt_ids) + list(chain(*labels)),
    }


def run_hiero(base: Path, data: Path, out: Path, args, pack: bool = True) -> dict:
    from hiero.reward.train import RMTrainConfig, main

    cfg = RMTrainConfig(
        kind="prm",
        data=str(data),
        base=str(base),
        out=str(out),
        read="marker",
        loss="hard_ce",
        label_type="hard",
        epochs=1.0,
        batch_size=args.batch_size,
        lr=1e-4,
        seed=args.seed,
        warmup_ratio=0.0,
        max_length=4096,
        pack_prefixes=pack,
    )
    res = main(cfg)
    times = [r["time_s"] for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
    return {"epoch_s": round(times[-1], 3), "steps": res["steps"], "examples": res["train"]["examples"],
            "sequences": res["train"].get("packed_sequences", res["train"]["examples"])}


def run_peer(base: Path, rows: list[dict], out: Path, args) -> dict:
    from datasets import Dataset
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForTokenClassification.from_pretrained(base, num_labels=2)
    model.config.pad_token_id = tok.pad_token_id
    ds = Dataset.from_list([trl_tokenize_row(r, tok) for r in rows])

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **k):
            self.last = time.perf_counter() - self.t0

    clock = Clock()
    targs = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=1,
        learning_rate=1e-4,
        warmup_steps=0,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        use_cpu=True,
        bf16=False,
        fp16=False,
        seed=args.seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=targs,
        train_dataset=ds,
        data_collator=DataCollatorForTokenClassification(tok),
        callbacks=[clock],
    )
    state = trainer.train()
    return {"epoch_s": round(clock.last, 3), "steps": state.global_step, "examples": len(ds)}


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    rows = make_rows(args.problems, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        texts = [r["prompt"] for r in rows] + [s for r in rows for s in r["completions"]]
        base = make_tiny_base(
            tmp / "base",
            texts,
            vocab_size=512,
            hidden=args.hidden,
            layers=args.layers,
            heads=4,
            seed=args.seed,
            max_positions=2048,
        )
        write_jsonl(tmp / "data" / "train.jsonl", rows)
        write_jsonl(tmp / "data" / "eval.jsonl", [])
        peer = run_peer(base, rows, tmp / "peer", args)
        ours = run_hiero(base, tmp / "data", tmp / "hiero", args)
        unpacked = run_hiero(base, tmp / "data", tmp / "hiero_unpacked", args, pack=False)
    ratio = ours["epoch_s"] / peer["epoch_s"]
    result = {
        "benchmark": "prm_train",
        "metric": f"{ours['epoch_s']:.2f} s vs {peer['epoch_s']:.2f} s per epoch (hiero vs TRL PRMTrainer "
                  "recipe)",
        "ratio": round(ratio, 3),
        "goal": "<= 0.7",
        "met": ratio <= 0.7,
        "hiero": ours,
        "peer": peer,
        "hiero_without_packing": unpacked,
        "ratio_without_packing": round(unpacked["epoch_s"] / peer["epoch_s"], 3),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    write_json(args.out, result)
    print(f"(without prefix packing: {unpacked['epoch_s']:.2f} s/epoch, {unpacked['steps']} steps)")
    print(
        f"hiero {ours['epoch_s']:.2f} s/epoch ({ours['steps']} steps) vs peer {peer['epoch_s']:.2f} s/epoch "
        f"({peer['steps']} steps): ratio {ratio:.2f} (goal <= 0.7)"
    )
    return result


if __name__ == "__main__":
    res = run(build_parser().parse_args())
    print(json.dumps({k: res[k] for k in ("ratio", "metric")}))
