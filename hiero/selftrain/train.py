"""Self-training (HRM paper): fine-tune the policy on its own high-MC trajectories with a KL leash.

    hiero selftrain --policy runs/policy --trees runs/trees.jsonl -o runs/selftrain [--threshold 0.95]
    Python: main(SelfTrainConfig(policy=..., trees=..., out=...)) -> summary dict

Recipe (reads top to bottom in `main`):
  1. Select: from the annotated trees keep what the policy got right with high Monte-Carlo score.
     `--select path` (default): root->leaf trajectories ending in a correct terminal leaf whose every
     node has MC >= threshold, trained as one response (prompt -> all steps -> EOS).
     `--select node` (the official code's rows): every node with MC >= threshold is one example
     (prompt + previous steps -> this step, then "\\n", or EOS at a terminal step).
     Identical examples (same question and text) are kept once.
     `--rm DIR --rm-threshold τ` (not in the paper): also require a reward model's min score over the
     steps so far >= τ, scored in one batched pass. MC >= 0.95 alone keeps a node whose only solution
     below it reached the right answer despite an earlier slip; on the embedded default 58% of the
     kept nodes had a wrong step among the steps so far (docs/embedded-default.md, self-training).
  2. Fine-tune with loss = CE + λ·log(1 + KL(π_ref ‖ π)) (losses.py; `--kl-form plain` for λ·KL),
     λ = 0.1. π_ref is a frozen copy of the starting policy run forward on the same batch, so no
     reference logits are ever stored. Prompt and padding tokens are IGNORE_INDEX; the labels are
     shifted once, inside the loss. An example longer than `--max-len` is dropped and counted,
     never cut.
  3. Report greedy accuracy before and after on held-out problems (`--eval-problems FILE`, else
     the built-in domain's test split), and save the policy (model + tokenizer) in OUT.

Under `accelerate launch` (hiero/training.py) W processes x batch b train as 1 process x W·b: the
loss is a mean over examples, weighted by their number (`loss_weight="n_examples"`, exact also for
a short last batch); the accuracy before / after is measured once, by the main process, which
alone writes the summary.

Paper settings: threshold 0.95, λ 0.1, lr 2e-6, 1 epoch (the defaults here). The tiny embedded
policy needs a larger lr (e.g. 1e-4) to move within a few hundred steps. Departures: the official
code stores full-vocabulary reference logits per example and shifts labels twice and trains on
padding; none of that here.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoTokenizer

from hiero.data.io import atomic_write, read_jsonl
from hiero.data.problems import SYNTH, is_synth, read_problems
from hiero.models import resolve_model
from hiero.policy.prompt import RAW, PromptFormat, encode_prompts, prompt_format, save_prompt_file
from hiero.policy.sft import collate
from hiero.runs import check_finished, reading_model, settings_of, training_run
from hiero.selftrain.losses import selftrain_loss
from hiero.training import (
    TrainConfig,
    check_train_config,
    make_accelerator,
    on_main_process,
    train_loop,
    whole_model_loading,
)
from hiero.types import IGNORE_INDEX, ROOT, Problem, Tree

log = logging.getLogger(__name__)


@dataclass
class SelfTrainConfig(TrainConfig):
    """Settings of `hiero selftrain` (plus the shared optimisation fields of TrainConfig)."""

    policy: str = field(default="", metadata={"help": "policy: model folder, .gguf file or pypi:DIST"})
    trees: str = field(default="", metadata={"help": "annotated trees JSONL (hiero annotate)"})
    out: str = field(default="runs/selftrain", metadata={"help": "output folder (the fine-tuned policy)"})
    threshold: float = field(default=0.95, metadata={"help": "keep nodes / paths with MC >= this"})
    select: Literal["path", "node"] = field(
        default="path", metadata={"help": "whole correct paths or single nodes"}
    )
    rm: str = field(default="", metadata={"help": "reward-model folder: also require its min step score >= "
                                                  "--rm-threshold ('' = MC only, the paper's rows)"})
    rm_threshold: float | None = field(
        default=None,
        metadata={
            "help": "least min step score of a kept example (with --rm); default 0.5 for a reward model "
                    "whose scores "
            "are probabilities, required for one whose scores are not"
        },
    )
    lam: float = field(default=0.1, metadata={"help": "λ, weight of the KL term"})
    kl_form: Literal["log1p", "plain"] = field(
        default="log1p", metadata={"help": "λ·log(1+KL) (paper) or λ·KL"}
    )
    max_len: int = field(
        default=512, metadata={"help": "longest example in tokens (longer ones are dropped)"}
    )
    eval_problems: str = field(
        default="",
        metadata={
            "help": "held-out problems: a Problem JSONL, or the built-in domain: "
                    "synth[:n=100,seed=1,max_value=30,...] "
            "(hiero.data.problems; '' = synth: 100 test problems, seed 1)"
        },
    )
    max_new_tokens: int = field(default=128, metadata={"help": "token limit of an evaluation solution"})
    lr: float = field(default=2e-6, metadata={"help": "peak learning rate (paper: 2e-6)"})
    batch_size: int = field(default=16, metadata={"help": "examples per micro-batch"})


# ----------------------------------------------------------------------------- 1. select
def select_candidates(
    trees: list[Tree], threshold: float, mode: str = "path"
) -> list[tuple[str, list[str], bool]]:
    """(question, steps, ends_solution) candidates from trees; duplicates removed, order kept.

    path: a correct terminal leaf whose path nodes all have MC >= threshold -> (question, the path's
          steps, True); the response is every step.
    node: a non-root node with leaves below it and MC >= threshold -> (question, the steps up to and
          including it, whether it is terminal); the response is the last step, the others are prompt.
    """
    if mode not in ("path", "node"):
        raise ValueError(f"select must be 'path' or 'node', got {mode!r}")
    seen, out = set(), []
    for tree in trees:
        q = tree.problem.question
        for node in tree.leaves() if mode == "path" else tree.nodes:
            if mode == "path":
                if not (node.terminal and node.correct is True):
                    continue
                path = tree.path(node.id)
                if not all(n.mc_score >= threshold for n in path):
                    continue
            else:
                if node.id == ROOT or node.n_total == 0 or node.mc_score < threshold:
                    continue
                path = tree.path(node.id)
            ex = (q, tuple(n.step for n in path), node.terminal)
            if ex not in seen:
                seen.add(ex)
                out.append((q, list(ex[1]), node.terminal))
    return out


def to_example(
    candidate: tuple[str, list[str], bool], mode: str, fmt: PromptFormat = RAW
) -> tuple[str, str, bool]:
    """(question, steps, ends) -> (prompt, response, ends): path mode answers with every step, node
    mode with the last one after the others in the prompt (in the policy's prompt format)."""
    q, steps, ends = candidate
    if mode == "path":
        return fmt.prompt(q), fmt.join(steps), ends
    return fmt.prompt(q, steps[:-1]), steps[-1], ends


def select_examples(trees: list[Tree], threshold: float, mode: str = "path") -> list[tuple[str, str, bool]]:
    """(prompt, response, ends_solution) examples of `select_candidates`, in its order."""
    return [to_example(c, mode) for c in select_candidates(trees, threshold, mode)]


def rm_filter(candidates: list[tuple[str, list[str], bool]], scorer,
              threshold: float | None) -> tuple[list, list[float], float]:
    """Keep the candidates whose steps a reward model scores >= threshold at every step (min
    aggregation over the steps so far: for a node, its prefix and itself). One batched scoring pass.
    threshold None: 0.5 for probabilities, refused for raw scores (hiero.reward.base.threshold_for).
    Returns (kept candidates, every candidate's min score, the threshold applied)."""
    from hiero.reward.scorer import min_score_filter

    mins, threshold = min_score_filter(
        scorer, [c[0] for c in candidates], [c[1] for c in candidates], threshold
    )
    return [c for c, m in zip(candidates, mins, strict=True) if m >= threshold], mins, threshold


def encode_example(tokenizer, prompt: str, response: str, ends: bool, fmt: PromptFormat = RAW) -> dict:
    """input_ids = prompt ids + response ids (+ the step separator, or the end of a solution: EOS, or the
    chat template's end of turn); labels IGNORE_INDEX on the prompt.

    Prompt and response are tokenized separately and concatenated, which is exactly what the
    model sees at generation time (it is given the prompt's ids and writes the rest).
    """
    p = encode_prompts(tokenizer, [prompt])[0]  # as generation sees it (hiero.policy.prompt)
    r = encode_prompts(tokenizer, [response if ends else response + fmt.step_sep], special=False)[0]
    if ends:
        r = r + fmt.end_ids(tokenizer)
    return {"input_ids": p + r, "labels": [IGNORE_INDEX] * len(p) + r}



# ----------------------------------------------------------------------------- 3. evaluate
def held_out_problems(cfg: SelfTrainConfig) -> list[Problem]:
    return read_problems(cfg.eval_problems or SYNTH, n=100, seed=1, split="test", where="--eval-problems")


def greedy_accuracy(model, tokenizer, problems: list[Problem], max_new_tokens: int, desc: str,
                    fmt: PromptFormat | None = None) -> dict:
    """Greedy decoding on `problems` with the hf backend; accuracy and counts."""
    from hiero.policy.generators import evaluate_accuracy
    from hiero.policy.hf_backend import HFGenerator

    if not problems:
        return {"accuracy": None, "correct": 0, "n": 0}
    was_training = model.training
    gen = HFGenerator(model, tokenizer, device=str(next(model.parameters()).device), prompt_format=fmt)
    acc = evaluate_accuracy(gen, problems, max_new_tokens=max_new_tokens, desc=desc)
    model.train(was_training)
    return {"accuracy": acc["accuracy"], "correct": acc["n_correct"], "n": acc["n"]}


# ----------------------------------------------------------------------------- main
def main(cfg: SelfTrainConfig) -> dict:
    """Select -> encode -> evaluate before -> fine-tune with CE + λ·log(1+KL) -> evaluate after -> save.

    The output folder records the settings and input hashes (hiero.runs): an interrupted run resumes
    only with the same ones, a finished folder is replaced only with --overwrite."""
    if not cfg.policy or not cfg.trees:
        raise ValueError("give --policy DIR and --trees FILE")
    cfg = replace(
        cfg, policy=str(resolve_model(cfg.policy, option="--policy"))
    )  # a GGUF file is imported once
    if not (Path(cfg.policy) / "config.json").exists():
        raise FileNotFoundError(f"{cfg.policy}: not a Hugging Face model folder (no config.json)")
    check_finished(cfg.policy)
    check_train_config(cfg)
    inputs = {"policy": cfg.policy, "trees": cfg.trees, "rm": cfg.rm or None,
              "eval_problems": None if is_synth(cfg.eval_problems or SYNTH) else cfg.eval_problems}
    with training_run(cfg.out, "selftrain", settings_of(cfg, inputs), inputs, overwrite=cfg.overwrite) as run:
        summary, config = _train(cfg, run.dir)
        summary["out"] = cfg.out
        if run.main:
            with atomic_write(run.dir / "selftrain_summary.json") as f:
                json.dump({**summary, "config": config}, f, indent=2, default=str)
        run.finish()
    return summary


def _train(cfg: SelfTrainConfig, out: Path) -> tuple[dict, dict]:
    t0 = time.time()
    trees = list(read_jsonl(cfg.trees, Tree))
    candidates = select_candidates(trees, cfg.threshold, cfg.select)
    n_mc = len(candidates)
    rm_threshold = cfg.rm_threshold
    if cfg.rm and candidates:
        from hiero.reward.scorer import load_scorer

        scorer = load_scorer(cfg.rm, batch_size=cfg.batch_size * 4, progress=True)
        candidates, _, rm_threshold = rm_filter(candidates, scorer, cfg.rm_threshold)
        del scorer
        log.info("reward-model filter kept %d of %d MC-selected examples", len(candidates), n_mc)
    with reading_model(cfg.policy):
        tokenizer = AutoTokenizer.from_pretrained(cfg.policy)
    if tokenizer.eos_token_id is None:
        raise ValueError(f"{cfg.policy}: the tokenizer has no EOS token (needed to end a solution)")
    fmt = prompt_format(tokenizer, cfg.policy)  # the policy's own prompt layout and step boundary
    examples = [to_example(c, cfg.select, fmt) for c in candidates]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rows = [encode_example(tokenizer, *ex, fmt) for ex in examples]
    kept = [r for r in rows if len(r["input_ids"]) <= cfg.max_len]
    n_too_long = len(rows) - len(kept)
    if n_too_long:
        log.warning("dropped %d examples longer than --max-len %d", n_too_long, cfg.max_len)
    if not kept:
        rm = f", {n_mc} by MC before the --rm filter (min step score >= {rm_threshold})" if cfg.rm else ""
        raise ValueError(
            f"{cfg.trees}: no trajectory passes the MC threshold {cfg.threshold} "
            f"(select={cfg.select}, {len(trees)} trees, {len(rows)} examples before the length cut{rm})"
        )

    # whole on every process (the main one evaluates it alone first); the engine shards it in prepare
    with reading_model(cfg.policy), whole_model_loading():
        model = AutoModelForCausalLM.from_pretrained(cfg.policy, dtype=torch.float32)
        ref = AutoModelForCausalLM.from_pretrained(cfg.policy, dtype=torch.float32).eval()
    ref.requires_grad_(False)
    acc = make_accelerator(cfg)
    ref.to(acc.device)
    problems = held_out_problems(cfg)
    model.to(acc.device)
    before = on_main_process(acc, lambda: greedy_accuracy(model, tokenizer, problems, cfg.max_new_tokens,
                                                          "eval before", fmt))

    # seeded shuffling: the same data order on resume (training.train_loop skips finished batches)
    loader = DataLoader(
        kept,
        batch_size=cfg.batch_size,
        shuffle=True,
        collate_fn=lambda b: collate(b, pad_id),
        generator=torch.Generator().manual_seed(cfg.seed),
    )

    def step_fn(m, batch):
        logits = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        with torch.no_grad():
            ref_logits = ref(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss, metrics = selftrain_loss(logits, ref_logits, batch["labels"], cfg.lam, cfg.kl_form)
        return loss.mean(), {**metrics, "n_examples": float(loss.shape[0])}

    def save_fn(m, folder: Path):
        m.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        save_prompt_file(cfg.policy, folder)

    train = train_loop(model, step_fn, loader, cfg, out, save_fn=save_fn, accelerator=acc, desc="selftrain",
                       loss_weight="n_examples",  # a mean over examples; batches may differ in size
                       keep_checkpoint=True)
    sharded = train["sharding"] != "none"

    def accuracy_after() -> dict:
        trained = acc.unwrap_model(model)
        if sharded:  # FSDP / DeepSpeed: the model in memory holds this process's shard only (its layers
            # gather with the other processes on every call): the saved folder, loaded back whole
            with reading_model(str(out)), whole_model_loading():
                trained = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).to(acc.device)
        return greedy_accuracy(trained, tokenizer, problems, cfg.max_new_tokens, "eval after", fmt)

    after = on_main_process(acc, accuracy_after)
    summary = {
        "trees": len(trees), "examples": len(kept), "mc_selected": n_mc, "dropped_too_long": n_too_long,
        "select": cfg.select, "rm": cfg.rm or None, "rm_threshold": rm_threshold if cfg.rm else None,
        "threshold": cfg.threshold, "lam": cfg.lam, "kl_form": cfg.kl_form,
        "before": before, "after": after,
        "delta_accuracy": None if before["accuracy"] is None else after["accuracy"] - before["accuracy"],
        "train": train, "out": str(out), "time_s": round(time.time() - t0, 2),
    }
    return summary, vars(cfg)

