"""The tiny embedded policy: a small causal LM built from a transformers config (Qwen2 or Llama).

    model = build_model(vocab_size=len(tok), arch="qwen2", n_layers=4, hidden=128, heads=4)
    count_params(model)   # ~1M for that size with a 512-token vocabulary

Any Hugging Face causal LM directory works everywhere else in hiero (the backends only use
`AutoModelForCausalLM`); this module only makes the default one. Embeddings are tied (most of a
tiny model's parameters would otherwise sit in the two vocabulary matrices).
"""

from __future__ import annotations

from typing import Literal

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedModel, Qwen2Config

ARCHS = {"qwen2": Qwen2Config, "llama": LlamaConfig}


def build_model(
    vocab_size: int,
    *,
    arch: Literal["qwen2", "llama"] = "qwen2",
    n_layers: int = 4,
    hidden: int = 128,
    heads: int = 4,
    kv_heads: int = 0,
    intermediate: int = 0,
    max_positions: int = 512,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    seed: int = 0,
) -> PreTrainedModel:
    """A randomly initialised causal LM (fp32). `kv_heads=0` means = heads (no GQA);
    `intermediate=0` means 4 * hidden."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose from {sorted(ARCHS)}")
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
    kv_heads = kv_heads or heads
    if heads % kv_heads:
        raise ValueError(f"heads ({heads}) must be divisible by kv_heads ({kv_heads})")
    config = ARCHS[arch](
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=intermediate or 4 * hidden,
        num_hidden_layers=n_layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        bos_token_id=None,
        use_cache=True,
    )
    # seeded init, without touching the global RNG state of the caller
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    return model


def count_params(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
