"""The one training loop every stage uses (policy SFT, reward models, DPO/HiPO, self-training).

Built on Accelerate, so `accelerate launch --config_file recipes/accelerate/deepspeed_zero2.yaml
-m hiero.cli ...` scales any stage out unchanged. The loop owns only the mechanics; a stage gives it
a pure `step_fn(model, batch) -> (loss, metrics)` and, optionally, `eval_fn(model) -> {"loss": …}`.

Features: fp32 / bf16 / fp16 mixed precision, gradient accumulation, gradient clipping, linear
warm-up + decay, `max_steps` or epochs, metrics JSONL (one line per optimizer step), progress bar,
periodic `save_state` into OUT/checkpoint and resume from it after a crash, best checkpoint by eval
loss. Stage configs subclass `TrainConfig` to inherit these flat, documented fields.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from hiero.data.io import append_jsonl, atomic_write

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Optimisation settings shared by every trainer (flat; a stage config subclasses it)."""

    lr: float = field(default=1e-3, metadata={"help": "peak learning rate (AdamW)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the training data (fractions allowed)"})
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps; > 0 overrides epochs"})
    batch_size: int = field(default=16, metadata={"help": "examples per micro-batch per device"})
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimizer step"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "fraction of steps with linear warm-up"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm (<= 0: off)"})
    mixed_precision: Literal["no", "bf16", "fp16"] = field(default="no", metadata={"help": "autocast precision"})
    seed: int = field(default=0, metadata={"help": "random seed (data order, init, dropout)"})
    eval_every: int = field(default=0, metadata={"help": "evaluate every N optimizer steps (0: at the end only)"})
    save_every: int = field(default=0, metadata={"help": "save a resumable checkpoint every N steps (0: never)"})
    log_every: int = field(default=10, metadata={"help": "progress-bar refresh interval in steps"})


def total_steps(cfg: TrainConfig, batches_per_epoch: int) -> int:
    if cfg.max_steps > 0:
        return cfg.max_steps
    return max(1, math.ceil(cfg.epochs * batches_per_epoch / cfg.grad_accum))


def linear_schedule(optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def make_accelerator(cfg: TrainConfig) -> Accelerator:
    return Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum)


def train_loop(
    model: torch.nn.Module,
    step_fn: Callable[[torch.nn.Module, Any], tuple[torch.Tensor, dict]],
    loader: torch.utils.data.DataLoader,
    cfg: TrainConfig,
    out_dir: str | Path,
    *,
    eval_fn: Callable[[torch.nn.Module], dict] | None = None,
    save_fn: Callable[[torch.nn.Module, Path], None] | None = None,
    accelerator: Accelerator | None = None,
    params: list | None = None,
    desc: str = "train",
    extra_prepare: tuple = (),
) -> dict:
    """Run the optimisation; returns a summary (steps, time, last/best metrics).

    step_fn    (model, batch) -> (scalar loss, dict of floats); the loss is already averaged
    eval_fn    (unwrapped model) -> dict with "loss"; used for the best checkpoint
    save_fn    (unwrapped model, folder) -> writes a Hugging Face model folder
    params     parameters to optimise (default: all that require grad)
    extra_prepare  more objects to `accelerator.prepare` (e.g. a frozen reference model)
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    acc = accelerator or make_accelerator(cfg)
    params = params if params is not None else [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_total = total_steps(cfg, len(loader))
    scheduler = linear_schedule(optimizer, int(cfg.warmup_ratio * n_total), n_total)
    model, optimizer, loader, scheduler, *_ = acc.prepare(model, optimizer, loader, scheduler, *extra_prepare)

    ckpt, state_file = out_dir / "checkpoint", out_dir / "checkpoint" / "loop_state.json"
    metrics_file = out_dir / "metrics.jsonl"
    state = {"step": 0, "micro": 0, "best_eval": None, "elapsed": 0.0}
    if state_file.exists():  # resume after a crash: same data order (seeded), skip what was done
        acc.load_state(str(ckpt))
        state = json.loads(state_file.read_text())
        log.info("resuming %s from step %d", desc, state["step"])
    elif metrics_file.exists():
        metrics_file.unlink()  # a fresh run: do not mix in an old run's metrics

    def save_checkpoint():
        acc.save_state(str(ckpt))
        if acc.is_main_process:
            with atomic_write(state_file) as f:
                json.dump(state, f)

    def evaluate_and_keep_best():
        if eval_fn is None:
            return None
        model.eval()
        with torch.no_grad():
            ev = eval_fn(acc.unwrap_model(model))
        model.train()
        if save_fn and (state["best_eval"] is None or ev["loss"] < state["best_eval"]):
            state["best_eval"] = ev["loss"]
            if acc.is_main_process:
                save_fn(acc.unwrap_model(model), out_dir)
        return ev

    model.train()
    bar = tqdm(total=n_total, initial=state["step"], desc=desc, disable=not acc.is_local_main_process,
               dynamic_ncols=True)
    t0, last, sums, count = time.time() - state["elapsed"], {}, {}, 0
    epoch = state["micro"] // max(1, len(loader))
    while state["step"] < n_total:
        skip = state["micro"] - epoch * len(loader)
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        batches = acc.skip_first_batches(loader, skip) if skip > 0 else loader
        for batch in batches:
            with acc.accumulate(model):
                loss, metrics = step_fn(model, batch)
                acc.backward(loss)
                if acc.sync_gradients and cfg.max_grad_norm > 0:
                    acc.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            state["micro"] += 1
            for k, v in {"loss": float(loss.detach()), **metrics}.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            count += 1
            if not acc.sync_gradients:
                continue
            state["step"] += 1
            state["elapsed"] = time.time() - t0
            last = {k: v / count for k, v in sums.items()}
            sums, count = {}, 0
            row = {"step": state["step"], "epoch": epoch, "lr": scheduler.get_last_lr()[0],
                   "time_s": round(state["elapsed"], 3), **last}
            if cfg.eval_every and state["step"] % cfg.eval_every == 0 and state["step"] < n_total:
                row.update({f"eval_{k}": v for k, v in (evaluate_and_keep_best() or {}).items()})
            if acc.is_main_process:
                append_jsonl(metrics_file, row)
            bar.update(1)
            if state["step"] % max(1, cfg.log_every) == 0:
                bar.set_postfix(loss=f"{last['loss']:.4f}")
            if cfg.save_every and state["step"] % cfg.save_every == 0:
                save_checkpoint()
            if state["step"] >= n_total:
                break
        epoch += 1
    bar.close()
    final_eval = evaluate_and_keep_best()
    if final_eval is not None and acc.is_main_process:
        append_jsonl(metrics_file, {"step": state["step"], **{f"eval_{k}": v for k, v in final_eval.items()}})
    if save_fn and eval_fn is None and acc.is_main_process:
        save_fn(acc.unwrap_model(model), out_dir)
    if ckpt.exists() and acc.is_main_process:
        shutil.rmtree(ckpt)  # finished: the resumable state is no longer needed
    return {"steps": state["step"], "train_time_s": round(time.time() - t0, 2), "last": last,
            "final_eval": final_eval, "best_eval_loss": state["best_eval"]}


class LengthGroupedBatches:
    """Batch sampler: shuffled batches of similar-length examples (less padding, same data each epoch).

    Each epoch: shuffle indices (seed, epoch), sort windows of `window` batches by length, cut into
    batches, shuffle the batches. Deterministic per (seed, epoch), so a resumed run (train_loop
    skips the batches already done) sees the same order; Accelerate's data loader calls `set_epoch`.

    >>> batches = list(LengthGroupedBatches([5, 1, 9, 3, 7], batch_size=2, seed=0))
    >>> sorted(i for b in batches for i in b), sorted(len(b) for b in batches)   # every index once
    ([0, 1, 2, 3, 4], [1, 2, 2])
    >>> batches == list(LengthGroupedBatches([5, 1, 9, 3, 7], batch_size=2, seed=0))   # deterministic
    True
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, window: int = 50):
        self.lengths, self.batch_size, self.seed, self.window, self.epoch = lengths, batch_size, seed, window, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        rng = random.Random(f"buckets|{self.seed}|{self.epoch}")
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        span = self.batch_size * self.window
        batches = []
        for k in range(0, len(order), span):
            window = sorted(order[k:k + span], key=lambda i: self.lengths[i])
            batches += [window[j:j + self.batch_size] for j in range(0, len(window), self.batch_size)]
        rng.shuffle(batches)
        return iter(batches)

