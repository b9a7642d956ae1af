"""The one training loop every stage uses (policy SFT, reward models, DPO/HiPO, self-training).

Built on Accelerate, so `accelerate launch --config_file recipes/accelerate/deepspeed_zero2.yaml
-m hiero.cli ...` scales any stage out unchanged. The loop owns only the mechanics; a stage gives it
a pure `step_fn(model, batch) -> (loss, metrics)` and, optionally, `eval_fn(model) -> {"loss": …}`.

Features: fp32 / bf16 / fp16 mixed precision, gradient accumulation, gradient clipping, linear
warm-up + decay, `max_steps` or epochs, metrics JSONL (one line per optimizer step), progress bar,
atomic, verified checkpoints in OUT/checkpoints (hiero/checkpoint.py: no pickle; every `save_every`
steps, every `save_minutes`, and on SIGTERM / SIGINT) and an exact resume from the newest complete
one after a crash, best model by eval loss. Stage configs subclass `TrainConfig` to inherit these flat,
documented fields.

Multi-process (DDP, DeepSpeed ZeRO-2/3, FSDP; tests/test_training_distributed.py). W processes x
batch b x accumulation A is the same optimisation as 1 process x batch W·A·b:
- data: `LengthGroupedBatches` cuts the data into optimizer-step batches of W·A·b examples and each
  of those into W·A micro-batches, which Accelerate's sharded loader deals out round-robin, so an
  optimizer step sees the same examples however it is split; a shuffled DataLoader draws its order
  from (seed, epoch) (Accelerate's seedable sampler), the same on every process and on resume.
- gradients: `step_fn` runs inside the forward of the module Accelerate prepares (`_StepModule`),
  so DDP reduces, ZeRO-3 / FSDP gather and autocast covers whatever the stage calls (a reward head,
  the bare decoder + LM head), not only `model.forward`.
- loss reduction: a loss that is a mean over examples is averaged over micro-batches and processes,
  exact when they hold equal numbers of examples (DPO/HiPO: per-pair means). A loss that is a mean
  over a varying number of units (labelled steps of an RM batch, target tokens of SFT) names the
  metric that counts them, `loss_weight="n_steps"`: the step then minimises the mean over every unit
  of all its micro-batches on all processes (each micro-batch's loss is weighted by its count and
  the gradients are divided by the all-reduced total before clipping). Under DeepSpeed, whose
  engine steps inside `backward`, the weighting is exact across processes and averages the
  micro-batches of one accumulation.
- metrics: the logged row of a step is reduced over processes (loss weighted as above, other
  metrics averaged) and written by the main process only; the scheduler counts optimizer steps
  (it is not handed to Accelerate, which would step it W times per step).
- evaluation runs on every process (replicas agree; the eval loss is averaged to be sure), the
  model folder is written by the main process; under ZeRO-3 the shards are gathered first.
- checkpoints: every process writes its RNG state into the temporary checkpoint folder, the main
  process the model, optimizer, scheduler and loop state, then seals it (hiero/checkpoint.py). Under
  FSDP (version 1) every process writes its own shard of the model and optimizer the same way, under
  DeepSpeed its ZeRO partition (the engine's optimizer state_dict, stored without pickle); a resume
  checks it runs under the same engine on as many processes. Accelerate's `save_state` (which writes
  in place and pickles) is never used. tests/test_training_distributed.py runs FSDP and ZeRO-2 / 3
  on CPU under the recipes' settings: the same curves as one process, and a killed run resumes to
  the bytes of an uninterrupted one.
- around the loop, stages build caches inside `acc.main_process_first()` (the others then read
  them: HiPO's reference log-probs, the SFT tokenizer), write files from the main process only,
  and run replicated work once with `on_main_process` (the accuracy figures of SFT / selftrain).
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType, set_seed
from tqdm.auto import tqdm

from hiero import checkpoint
from hiero.data.io import append_jsonl, read_appended, write_jsonl

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
    mixed_precision: Literal["no", "bf16", "fp16"] = field(
        default="no", metadata={"help": "autocast precision"}
    )
    seed: int = field(default=0, metadata={"help": "random seed (data order, init, dropout)"})
    eval_every: int = field(
        default=0, metadata={"help": "evaluate every N optimizer steps (0: at the end only)"}
    )
    save_every: int = field(
        default=0, metadata={"help": "save a resumable checkpoint every N steps (0: by time only)"}
    )
    save_minutes: float = field(default=5.0, metadata={
        "help": "also save a resumable checkpoint when this many minutes passed since the last one (0: off); "
                "SIGTERM / SIGINT always save one before stopping"})
    overwrite: bool = field(default=False, metadata={
        "help": "replace a finished output folder (atomically, once the new run finishes) or discard an "
                "interrupted run made with other settings"})
    log_every: int = field(default=10, metadata={"help": "progress-bar refresh interval in steps"})


def check_train_config(cfg: TrainConfig) -> None:
    """Refuse optimisation settings that cannot train, naming the field (before any work is done)."""
    bad = [
        ("batch_size", cfg.batch_size >= 1, "an integer >= 1"),
        ("grad_accum", cfg.grad_accum >= 1, "an integer >= 1"),
        ("lr", math.isfinite(cfg.lr) and cfg.lr >= 0, "a finite number >= 0"),
        ("epochs", math.isfinite(cfg.epochs) and cfg.epochs > 0, "a finite number > 0"),
        ("warmup_ratio", 0 <= cfg.warmup_ratio <= 1, "in [0, 1]"),
        ("weight_decay", math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0, "a finite number >= 0"),
        ("save_every", cfg.save_every >= 0, ">= 0"),
        ("eval_every", cfg.eval_every >= 0, ">= 0"),
        ("save_minutes", math.isfinite(cfg.save_minutes) and cfg.save_minutes >= 0, "a finite number >= 0"),
    ]
    for name, ok, want in bad:
        if not ok:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(cfg, name)!r}: must be {want}")


def total_steps(cfg: TrainConfig, batches_per_epoch: int) -> int:
    """Optimizer steps of a run; `batches_per_epoch` counts this process's micro-batches."""
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
    """An Accelerator for `cfg`; under DeepSpeed the stage config sets accumulation and clipping."""
    acc = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum,
                      dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True))
    configure_deepspeed(acc, cfg)
    return acc


@contextlib.contextmanager
def whole_model_loading():
    """`from_pretrained` builds the whole model on this process, as without ZeRO-3: for a model that one
    process uses alone (a greedy evaluation, the reference log-probs the main process caches) or that is
    run before training (a probe, an evaluation, a seeded build). Once Accelerate has selected a ZeRO-3
    plugin, transformers builds every model it loads partitioned across the processes (zero.Init),
    which only DeepSpeed's engine can run, with all processes: a load on the main process alone would
    wait for the others for ever."""
    from transformers.integrations import deepspeed as hf_ds

    held = hf_ds._hf_deepspeed_config_weak_ref() if hf_ds._hf_deepspeed_config_weak_ref is not None else None
    hf_ds.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        if held is not None:
            hf_ds.set_hf_deepspeed_config(held)


def configure_deepspeed(acc: Accelerator, cfg: TrainConfig) -> None:
    """Under DeepSpeed, the engine's batch, accumulation and clipping from `cfg` (the engine clips and
    accumulates itself; hiero's loaders cut their own batches, so Accelerate cannot read their size)."""
    ds = acc.state.deepspeed_plugin
    if ds is not None:
        ds.deepspeed_config["gradient_accumulation_steps"] = cfg.grad_accum
        ds.deepspeed_config["gradient_clipping"] = max(0.0, cfg.max_grad_norm)
        ds.deepspeed_config["train_micro_batch_size_per_gpu"] = cfg.batch_size
        ds.deepspeed_config["train_batch_size"] = cfg.batch_size * cfg.grad_accum * acc.num_processes


class _StepModule(torch.nn.Module):
    """`step_fn(model, batch)` as the forward of one module: what Accelerate wraps (DDP, DeepSpeed,
    FSDP, autocast) then covers every call a stage makes, e.g. `RewardModel.outputs` or the bare
    decoder + LM head of the shared-prompt pass, which `model.forward` alone would not."""

    def __init__(self, model: torch.nn.Module, step_fn: Callable):
        super().__init__()
        self.model, self.step_fn = model, step_fn
        self.config = getattr(model, "config", None) or next(
            (m.config for m in model.modules() if hasattr(m, "config")), None)  # DeepSpeed "auto" sizes
        no_split = {c for m in model.modules() for c in (getattr(m, "_no_split_modules", None) or [])}
        self._no_split_modules = sorted(no_split)  # FSDP's transformer auto-wrap policy reads this

    def forward(self, batch: Any = None, call: Callable | None = None):
        return call(self.model) if call is not None else self.step_fn(self.model, batch)


def on_main_process(acc: Accelerator, fn: Callable[[], Any]) -> Any:
    """`fn()` run by the main process only (e.g. a greedy-accuracy evaluation, replicated work
    under DDP); every process returns its result (picklable), broadcast from the main one."""
    box = [fn() if acc.is_main_process else None]
    if acc.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(box, from_process=0)
    return box[0]


def _full_weights(acc: Accelerator, model: torch.nn.Module):
    """A context in which every process holds the whole weights (entered on all processes)."""
    ds = acc.state.deepspeed_plugin
    if ds is not None and ds.zero_stage == 3:
        import deepspeed

        return deepspeed.zero.GatheredParameters(list(model.parameters()), modifier_rank=None)
    if acc.distributed_type == DistributedType.FSDP:  # FSDP1 (fsdp_version 1; checked in train_loop)
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        return FSDP.summon_full_params(model, writeback=False)
    return contextlib.nullcontext()


DEEPSPEED_COUNTERS = ("global_steps", "global_samples", "micro_steps", "skipped_steps")


@contextlib.contextmanager
def _deepspeed_checkpoint_event(engine):
    """What DeepSpeed's own save / load do around the optimizer state (ZeRO-3: release and re-gather
    the persistent parameters, refresh ZeRO++ secondary copies)."""
    opt = engine.optimizer
    if hasattr(opt, "checkpoint_event_prologue"):
        opt.checkpoint_event_prologue()
    try:
        yield
    finally:
        if hasattr(opt, "checkpoint_event_epilogue"):
            opt.checkpoint_event_epilogue()


def load_shard(wrapped: torch.nn.Module, tensors: dict[str, torch.Tensor], found: Path, rank: int) -> None:
    """This process's FSDP parameter shards back into the wrapped module, each checked by name and shape."""
    params = dict(wrapped.named_parameters())
    if set(params) != set(tensors):
        diff = sorted(set(params) ^ set(tensors))
        raise ValueError(f"{found}: process {rank}'s shard names other parameters than this run's model "
                         f"(e.g. {diff[:3]}): the model or its FSDP wrapping differs; train into a new "
                         "folder")
    with torch.no_grad():
        for name, p in params.items():
            t = tensors[name]
            if t.shape != p.shape:
                raise ValueError(f"{found}: process {rank}'s shard of {name} has shape {tuple(t.shape)}, "
                                 f"this run's {tuple(p.shape)}: the model or its FSDP wrapping differs")
            p.copy_(t.to(p.device, p.dtype))


class _StepTally:
    """The micro-batches of one optimizer step: metric sums, and the unit count of `loss_weight`."""

    def __init__(self):
        self.sums, self.micro, self.units, self.weighted_loss = {}, 0, 0.0, 0.0

    def add(self, loss: float, metrics: dict, units: float) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.micro += 1
        self.units += units
        self.weighted_loss += units * loss

    def reduce(self, acc: Accelerator) -> tuple[dict, float]:
        """(row of metrics averaged over micro-batches and processes, total units of the step)."""
        keys = sorted(self.sums)
        local = [float(len(keys)), float(self.micro), self.units, self.weighted_loss] + [
            self.sums[k] for k in keys
        ]
        tot = acc.reduce(
            torch.tensor(local, dtype=torch.float64, device=acc.device), reduction="sum"
        ).tolist()
        if round(tot[0]) != len(keys) * acc.num_processes:
            raise RuntimeError(f"step_fn returned different metric keys on different processes ({keys} here)")
        row = {k: v / tot[1] for k, v in zip(keys, tot[4:])}
        if tot[2] > 0:  # loss_weight: the step's loss is the mean over all its units
            row["loss"] = tot[3] / tot[2]
        return row, tot[2]


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
    loss_weight: str | None = None,
    keep_checkpoint: bool = False,
) -> dict:
    """Run the optimisation; returns a summary (steps, time, last/best metrics).

    step_fn    (model, batch) -> (scalar loss, dict of floats); the loss is already averaged;
               `model` is the bare model (never a DDP/DeepSpeed wrapper), so custom methods work
    eval_fn    (model) -> dict with "loss"; used for the best checkpoint
    save_fn    (model, folder) -> writes a Hugging Face model folder (main process only)
    params     parameters to optimise (default: all that require grad), or AdamW parameter groups
               (dicts with "params" and their own "lr"; the schedule scales every group alike)
    extra_prepare  more objects to `accelerator.prepare` (e.g. a frozen reference model)
    loss_weight    name of a step_fn metric counting the units the loss is a mean over (e.g.
               "n_steps"): the optimizer step then minimises the mean over all units of all its
               micro-batches on all processes instead of the mean of per-micro-batch means
    keep_checkpoint  leave a checkpoint of the last step in OUT/checkpoints (a stage removes it when
               its own work after the loop is done, hiero.runs), instead of deleting checkpoints

    Checkpoints (hiero.checkpoint: atomic, verified, no pickle) are written every `save_every` steps,
    every `save_minutes`, and on SIGTERM / SIGINT, after which the loop raises TrainingInterrupted;
    the newest complete one is resumed from, exactly (model, optimizer, scheduler, RNG, data order).
    """
    run = _Run(
        model,
        step_fn,
        loader,
        cfg,
        Path(out_dir),
        eval_fn=eval_fn,
        save_fn=save_fn,
        accelerator=accelerator,
        params=params,
        extra_prepare=extra_prepare,
        loss_weight=loss_weight,
    )
    run.resume()
    return run.train(desc, keep_checkpoint)


class _Run:
    """train_loop's state and its steps, in the order they run: set up (__init__), resume, then per
    micro-batch `backward`, per optimizer step `optimizer_step` and `end_step` (metrics row, eval,
    checkpoint, signals), and `finish`."""

    def __init__(
        self,
        model,
        step_fn,
        loader,
        cfg: TrainConfig,
        out_dir: Path,
        *,
        eval_fn,
        save_fn,
        accelerator,
        params,
        extra_prepare,
        loss_weight,
    ):
        check_train_config(cfg)
        out_dir.mkdir(parents=True, exist_ok=True)
        set_seed(cfg.seed)
        acc = accelerator or make_accelerator(cfg)
        if getattr(acc, "is_fsdp2", False) and save_fn is not None:
            raise ValueError(
                "hiero writes model folders under FSDP version 1 (recipes/accelerate/fsdp.yaml); "
                "set fsdp_version: 1 in the accelerate config"
            )
        params = params if params is not None else [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.flat_params = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
        self.sampler = loader.batch_sampler  # ours, before Accelerate wraps it in a per-process shard
        self.wrapped, self.opt, self.loader, *_ = acc.prepare(_StepModule(model, step_fn), optimizer, loader,
                                                              *extra_prepare)
        self.n_proc, self.n_accum = acc.num_processes, acc.gradient_accumulation_steps
        if isinstance(self.sampler, LengthGroupedBatches):
            self.sampler.group = (
                self.n_proc * self.n_accum
            )  # one optimizer step = one length-grouped batch of W·A·b
        self.n_total = total_steps(
            cfg, len(self.loader)
        )  # after prepare: this process's share of the batches
        # saved by hiero.checkpoint as JSON, not registered with Accelerate (which pickles it)
        self.scheduler = linear_schedule(optimizer, int(cfg.warmup_ratio * self.n_total), self.n_total)
        # gradients to rescale for loss_weight; DeepSpeed keeps them inside its engine (see module doc)
        self.grads_visible = acc.distributed_type != DistributedType.DEEPSPEED
        # who holds the model and optimizer: None (one copy per process), "fsdp" (a shard each), "deepspeed"
        self.engine = {DistributedType.DEEPSPEED: "deepspeed", DistributedType.FSDP: "fsdp"}.get(
            acc.distributed_type)
        self.zero_stage = self.wrapped.zero_optimization_stage() if self.engine == "deepspeed" else None
        self.model, self.cfg, self.acc, self.out_dir = model, cfg, acc, out_dir
        self.eval_fn, self.save_fn, self.loss_weight = eval_fn, save_fn, loss_weight
        self.ckpt_root, self.metrics_file = out_dir / checkpoint.ROOT, out_dir / "metrics.jsonl"
        self.state = {"step": 0, "micro": 0, "best_eval": None, "elapsed": 0.0, "last": {}}
        self.saved = [time.time(), -1]  # time and step of the last checkpoint

    # ------------------------------------------------------------------ resume
    def resume(self) -> None:
        """Load the newest complete checkpoint, if any (same data order: seeded; what was done is skipped)."""
        acc, out_dir = self.acc, self.out_dir
        if (out_dir / checkpoint.LEGACY / "loop_state.json").exists():
            raise ValueError(
                f"{out_dir / checkpoint.LEGACY}: a checkpoint of an older hiero (Accelerate's pickled "
                "state), which is never loaded; delete that folder or train into a new one"
            )
        found = checkpoint.latest(self.ckpt_root, tidy=True) if acc.is_main_process else None
        acc.wait_for_everyone()  # the main process has set torn checkpoints aside
        if not acc.is_main_process:
            found = checkpoint.latest(self.ckpt_root, tidy=False)
        if found is not None:
            data = checkpoint.read(found, acc.process_index)
            self._check_same_layout(found, data["trainer"])
            if self.engine == "deepspeed":
                self._load_deepspeed(found)
            else:
                model_sd, optim_sd = checkpoint.read_weights(found, acc.process_index,
                                                             shard=self.engine == "fsdp")
                if self.engine == "fsdp":
                    load_shard(self.wrapped, model_sd, found, acc.process_index)
                else:
                    self.model.load_state_dict(model_sd)
                self.opt.load_state_dict(optim_sd)
            self.state.update(data["trainer"]["loop"])
            self.scheduler.load_state_dict(data["trainer"]["scheduler"])
            if acc.scaler is not None and data["trainer"].get("scaler"):
                acc.scaler.load_state_dict(data["trainer"]["scaler"])
            if "rng" in data:
                checkpoint.restore_rng(*data["rng"])
            log.info("resuming from step %d (%s)", self.state["step"], found)
            if acc.is_main_process:  # the rows logged after the checkpoint are logged again
                rows = [
                    r
                    for r in read_appended(self.metrics_file)
                    if "lr" in r and r.get("step", 0) <= self.state["step"]
                ]
                write_jsonl(self.metrics_file, rows)
            self.saved[1] = self.state["step"]
        elif acc.is_main_process:
            self.metrics_file.unlink(missing_ok=True)  # a fresh run: do not mix in an old run's metrics
        acc.wait_for_everyone()
        self.saved[0] = time.time()  # save_minutes counts from here

    def _load_deepspeed(self, found: Path) -> None:
        """The ZeRO optimizer from every process's partition file (its own loader's order: the model's
        weights first, then the fp32 partitions and optimizer state), and the engine's step counters."""
        engine, rank = self.wrapped, self.acc.process_index
        if self.zero_stage < 3:
            self.model.load_state_dict(checkpoint.read_model(found))
        # as DeepSpeed's own loader: every partition only for an elastic checkpoint, else this process's
        every = engine.zero_elastic_checkpoint()
        states = [checkpoint.read_structure(found, f"engine-{r}") if every or r == rank else None
                  for r in range(self.n_proc)]
        with _deepspeed_checkpoint_event(engine):
            engine.optimizer.load_state_dict([st and st["optimizer"] for st in states],
                                             load_optimizer_states=True, load_from_fp32_weights=True)
        for k, v in states[rank]["counters"].items():
            setattr(engine, k, v)

    def _check_same_layout(self, found: Path, trainer: dict) -> None:
        """A checkpoint holding one process's shard (FSDP) or an engine's state is read back only by a
        run laid out the same way: same engine, and under FSDP / DeepSpeed the same number of processes."""
        engine = trainer.get("engine")  # absent in checkpoints of hiero before FSDP shards: no engine
        saved = (engine, trainer.get("processes"), trainer.get("zero_stage"))
        if engine != self.engine or (engine and saved != (self.engine, self.n_proc, self.zero_stage)):
            def say(e, n, z):
                return (f"{e or 'no sharding engine'}{f' ZeRO-{z}' if z is not None else ''}"
                        f"{f' on {n} processes' if e else ''}")

            raise ValueError(
                f"{found}: written under {say(*saved)}, but this run uses "
                f"{say(self.engine, self.n_proc, self.zero_stage)}; resume with the settings it was "
                "written with, or train into a new folder"
            )

    # ------------------------------------------------------------------ saving and evaluation
    def save_checkpoint(self) -> None:
        """Every process writes its part into a temporary folder; the main one seals it (checkpoint.py)."""
        acc, step = self.acc, self.state["step"]
        tmp, main = checkpoint.tmp_dir(self.ckpt_root, step), acc.is_main_process
        if main and tmp.exists():
            shutil.rmtree(tmp)
        acc.wait_for_everyone()
        trainer = {
            "loop": dict(self.state),
            "scheduler": self.scheduler.state_dict(),
            "processes": self.n_proc,
            "scaler": acc.scaler.state_dict() if acc.scaler is not None else None,
            "engine": self.engine,
            "zero_stage": self.zero_stage,
        }
        if self.engine == "deepspeed":  # every process its own ZeRO partition, and (ZeRO-1/2) the model once
            engine = self.wrapped
            with _deepspeed_checkpoint_event(engine):
                state = engine.optimizer.state_dict()
            checkpoint.write_structure(tmp, f"engine-{acc.process_index}", {
                "optimizer": state, "counters": {k: getattr(engine, k) for k in DEEPSPEED_COUNTERS}})
            whole = main and self.zero_stage < 3  # ZeRO-3: the partitions hold the weights
            checkpoint.write_process_files(tmp, acc.process_index, self.model.state_dict() if whole else None,
                                           None, trainer if main else None)
        elif self.engine == "fsdp":  # every process its own shard
            checkpoint.write_process_files(tmp, acc.process_index, dict(self.wrapped.named_parameters()),
                                           self.opt.state_dict(), trainer if main else None, shard=True)
        else:  # one copy per process: written once, by the main process
            checkpoint.write_process_files(
                tmp, acc.process_index, self.model.state_dict() if main else None,
                self.opt.state_dict() if main else None, trainer if main else None)
        acc.wait_for_everyone()
        if main:
            checkpoint.seal(self.ckpt_root, step)
        acc.wait_for_everyone()
        self.saved[:] = [time.time(), step]

    def save_model(self) -> None:
        with _full_weights(self.acc, self.wrapped):
            if self.acc.is_main_process:
                self.save_fn(self.model, self.out_dir)
        self.acc.wait_for_everyone()

    def evaluate_and_keep_best(self) -> dict | None:
        if self.eval_fn is None:
            return None
        self.wrapped.eval()
        with torch.no_grad():
            ev = dict(
                self.wrapped(call=self.eval_fn)
            )  # through the prepared module: gathered shards, autocast
        self.wrapped.train()
        ev["loss"] = float(
            self.acc.reduce(torch.tensor(float(ev["loss"]), device=self.acc.device), reduction="mean")
        )
        if self.save_fn and (self.state["best_eval"] is None or ev["loss"] < self.state["best_eval"]):
            self.state["best_eval"] = ev["loss"]
            self.save_model()
        return ev

    # ------------------------------------------------------------------ one micro-batch, one optimizer step
    def backward(self, loss: torch.Tensor, metrics: dict) -> float:
        """Backward of one micro-batch's loss, weighted by its units under `loss_weight`; returns the
        units."""
        acc = self.acc
        units = float(metrics[self.loss_weight]) if self.loss_weight else 0.0
        if self.loss_weight and self.grads_visible:
            acc.backward(loss * units)  # divided by the step's total units in optimizer_step
        elif self.loss_weight:  # DeepSpeed: weight by this micro-batch's share across processes
            total = float(acc.reduce(torch.tensor(units, device=acc.device), reduction="sum"))
            acc.backward(loss * (units * self.n_proc / max(total, 1e-12)))
        else:
            acc.backward(loss)
        return units

    def rescale_and_clip(self, step_units: float) -> None:
        """At an accumulation boundary: gradients to a mean over the step's units, then clipped."""
        if self.loss_weight and self.grads_visible:
            # DDP averaged over W and accumulate() divided by A: undo both, divide by the units
            scale = self.n_proc * self.n_accum / step_units if step_units > 0 else 0.0
            for p in self.wrapped.parameters():
                if p.grad is not None:
                    p.grad.mul_(scale)
        if self.cfg.max_grad_norm > 0:
            # FSDP clips through its own module (the norm over every process's shard), which Accelerate
            # picks when given exactly the wrapped module's parameters
            params = list(self.wrapped.parameters()) if self.engine == "fsdp" else self.flat_params
            self.acc.clip_grad_norm_(params, self.cfg.max_grad_norm)

    def optimizer_step(self) -> None:
        self.opt.step()
        if self.acc.sync_gradients and not self.opt.step_was_skipped:
            self.scheduler.step()
        self.opt.zero_grad(set_to_none=True)

    def end_step(self, epoch: int, row_metrics: dict, t0: float, bar, stop: _StopSignals) -> None:
        """After an optimizer step: the metrics row (and an eval), the bar, a checkpoint when due; raises
        TrainingInterrupted after checkpointing on SIGTERM / SIGINT."""
        state, cfg, acc = self.state, self.cfg, self.acc
        state["step"] += 1
        state["elapsed"] = time.time() - t0
        state["last"] = row_metrics
        row = {"step": state["step"], "epoch": epoch, "lr": self.scheduler.get_last_lr()[0],
               "time_s": round(state["elapsed"], 3), **row_metrics}
        if cfg.eval_every and state["step"] % cfg.eval_every == 0 and state["step"] < self.n_total:
            row.update({f"eval_{k}": v for k, v in (self.evaluate_and_keep_best() or {}).items()})
        if acc.is_main_process:
            append_jsonl(self.metrics_file, row)
        bar.update(1)
        if state["step"] % max(1, cfg.log_every) == 0:
            bar.set_postfix(loss=f"{row_metrics['loss']:.4f}")
        signum = _should_stop(acc, stop, cfg, self.saved[0])
        if signum >= 0 or (cfg.save_every and state["step"] % cfg.save_every == 0):
            self.save_checkpoint()
        if signum > 0:
            bar.close()
            stop.restore()
            raise TrainingInterrupted(
                signum, state["step"], checkpoint.step_dir(self.ckpt_root, state["step"])
            )

    # ------------------------------------------------------------------ the loop
    def epoch_batches(self, epoch: int):
        """This epoch's batches (the sampler told the epoch), those done before a resume skipped."""
        skip = self.state["micro"] - epoch * len(self.loader)
        if hasattr(self.sampler, "set_epoch"):  # Accelerate's shard does not pass set_epoch on to ours
            self.sampler.set_epoch(epoch)
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)
        return self.acc.skip_first_batches(self.loader, skip) if skip > 0 else self.loader

    def train(self, desc: str, keep_checkpoint: bool) -> dict:
        acc, state = self.acc, self.state
        self.wrapped.train()
        bar = tqdm(
            total=self.n_total,
            initial=state["step"],
            desc=desc,
            disable=not acc.is_local_main_process,
            dynamic_ncols=True,
        )
        t0, tally, stop = time.time() - state["elapsed"], _StepTally(), _StopSignals()
        epoch = state["micro"] // max(1, len(self.loader))
        while state["step"] < self.n_total:
            for batch in self.epoch_batches(epoch):
                with acc.accumulate(self.wrapped):
                    loss, metrics = self.wrapped(batch)
                    units = self.backward(loss, metrics)
                    tally.add(float(loss.detach()), {"loss": float(loss.detach()), **metrics}, units)
                    if acc.sync_gradients:
                        row_metrics, step_units = tally.reduce(acc)  # every process, before clipping
                        self.rescale_and_clip(step_units)
                    self.optimizer_step()
                state["micro"] += 1
                if not acc.sync_gradients:
                    continue
                tally = _StepTally()
                self.end_step(epoch, row_metrics, t0, bar, stop)
                if state["step"] >= self.n_total:
                    break
            epoch += 1
        bar.close()
        stop.restore()
        return self.finish(t0, keep_checkpoint)

    def finish(self, t0: float, keep_checkpoint: bool) -> dict:
        """Final eval and model folder; the last checkpoint kept (keep_checkpoint) or every one removed."""
        acc, state = self.acc, self.state
        final_eval = self.evaluate_and_keep_best()
        if final_eval is not None and acc.is_main_process:
            append_jsonl(
                self.metrics_file, {"step": state["step"], **{f"eval_{k}": v for k, v in final_eval.items()}}
            )
        if self.save_fn and self.eval_fn is None:
            self.save_model()
        if keep_checkpoint and self.saved[1] != state["step"]:
            # the stage's work after the loop is not lost either: a rerun skips to here
            self.save_checkpoint()
        elif not keep_checkpoint and self.ckpt_root.exists() and acc.is_main_process:
            shutil.rmtree(self.ckpt_root)  # finished: the resumable state is no longer needed
        acc.wait_for_everyone()  # the other processes may read what the main one wrote (metrics, model)
        return {"steps": state["step"], "train_time_s": round(time.time() - t0, 2), "last": state["last"],
                "final_eval": final_eval, "best_eval_loss": state["best_eval"], "processes": self.n_proc,
                "sharding": self.engine or "none"}


class TrainingInterrupted(KeyboardInterrupt):
    """SIGTERM / SIGINT during train_loop: a checkpoint was saved; rerunning the command resumes."""

    def __init__(self, signum: int, step: int, folder: Path):
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name} at step {step}; checkpoint {folder} saved: rerun the same command to resume"
        )
        self.exit_code = 128 + signum


class _StopSignals:
    """SIGTERM / SIGINT handlers that only raise a flag, checked at the next optimizer step (a second
    signal of the same kind acts at once). Installed from the main thread only (Python's rule)."""

    def __init__(self):
        self.signum, self.previous = 0, {}
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.signum == signum:  # asked twice: stop now
            self.restore()
            signal.raise_signal(signum)
            return
        self.signum = signum
        log.warning("%s received: saving a checkpoint at the end of this step", signal.Signals(signum).name)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}


def _should_stop(acc: Accelerator, stop: _StopSignals, cfg: TrainConfig, last_save: float) -> int:
    """> 0: the signal that asks to stop (checkpoint, then stop); 0: a checkpoint is due by time;
    -1: neither. Every process gets the same answer (a signal may reach only one of them)."""
    timed = cfg.save_minutes > 0 and time.time() - last_save >= 60 * cfg.save_minutes
    flags = [float(stop.signum), float(timed)]
    if acc.num_processes > 1:
        flags = acc.reduce(torch.tensor(flags, device=acc.device), reduction="sum").tolist()
        flags = [max(flags[0], float(stop.signum)), flags[1]]
    if flags[0] > 0:
        return int(stop.signum or signal.SIGTERM)
    return 0 if flags[1] > 0 else -1


class LengthGroupedBatches:
    """Batch sampler: shuffled batches of similar-length examples (less padding, same data each epoch).

    Each epoch: shuffle indices (seed, epoch), sort windows of `window` batches by length, cut into
    batches, shuffle the batches. Deterministic per (seed, epoch), so a resumed run (train_loop
    skips the batches already done) sees the same order; train_loop calls `set_epoch`.

    `group` (set by train_loop to processes x accumulation) makes the batches above optimizer-step
    batches of group·batch_size examples, each cut into `group` consecutive micro-batches of
    batch_size; the one short step batch goes last. Accelerate deals micro-batch i to process
    i mod W, so an optimizer step trains on the same examples whether it runs as 1 x 8, 2 x 4 or
    4 accumulated x 2.

    >>> batches = list(LengthGroupedBatches([5, 1, 9, 3, 7], batch_size=2, seed=0))
    >>> sorted(i for b in batches for i in b), sorted(len(b) for b in batches)   # every index once
    ([0, 1, 2, 3, 4], [1, 2, 2])
    >>> batches == list(LengthGroupedBatches([5, 1, 9, 3, 7], batch_size=2, seed=0))   # deterministic
    True
    >>> whole = list(LengthGroupedBatches(list(range(8)), batch_size=4, seed=1))
    >>> split = list(LengthGroupedBatches(list(range(8)), batch_size=2, seed=1, group=2))
    >>> [sorted(a + b) for a, b in zip(split[::2], split[1::2])] == [sorted(b) for b in whole]
    True
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, window: int = 50, group: int = 1):
        self.lengths, self.batch_size, self.seed, self.window, self.epoch = (
            lengths,
            batch_size,
            seed,
            window,
            0,
        )
        self.group = group

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        big = self.batch_size * self.group
        full, rest = divmod(len(self.lengths), big)
        return full * self.group + math.ceil(rest / self.batch_size)

    def __iter__(self):
        rng = random.Random(f"buckets|{self.seed}|{self.epoch}")
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        big = self.batch_size * self.group  # examples per optimizer step
        span = big * self.window
        steps = []
        for k in range(0, len(order), span):
            window = sorted(order[k:k + span], key=lambda i: self.lengths[i])
            steps += [window[j:j + big] for j in range(0, len(window), big)]
        rng.shuffle(steps)
        if self.group > 1:  # a short step batch mid-epoch would shift every later step's split
            steps.sort(key=lambda s: len(s) < big)
        return iter([s[j:j + self.batch_size] for s in steps for j in range(0, len(s), self.batch_size)])


def right_pad(seqs: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The one batch padding every trainer uses: (B, longest) long tensor of `seqs` padded on the
    right with `value`, and the attention mask (1 on real tokens). Right padding keeps every real
    token at its unpadded position id, so a padded row computes what it would alone.

    >>> ids, mask = right_pad([[5, 6, 7], [5]], value=0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [5, 0, 0]], [[1, 1, 1], [1, 0, 0]])
    """
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
    return out, mask
