"""`hf` generation backend: batched decoding with a KV cache on any Hugging Face causal LM.

    gen = HFGenerator("runs/policy")                 # a model folder (or a model + tokenizer)
    gen.generate(prompts, n=5, max_new_tokens=64, stop=["\\n"], temperature=0.7, seed=0)
        -> one list of 5 Completion(text, n_tokens, finish_reason) per prompt, in input order

How a call runs:
  1. Prompts are tokenized once and sorted by their token ids, so prompts that share a prefix
     (the nodes of one reasoning tree all start with the same question) sit in the same chunk.
     A chunk holds up to `batch_size // n` prompts (its rows, after expansion, are <= batch_size).
  2. Prefill. Prompts that share a long prefix (>= `min_shared_prefix` tokens and half the prompt:
     the nodes of one tree share their question) form groups (`prefix_groups`); each group's
     prefix runs once, all groups in one batch, and its KV cache is copied to each of its prompts;
     only the remainders are run, left-padded (the pad sits between prefix and remainder; the
     attention mask and explicit position ids make that exact). Without any group of two, all
     prompts run left-padded.
  3. The KV cache (and last logits) of each prompt is expanded n times: n samples of one prompt
     never recompute its prompt.
  4. Decode token by token with the cache. A row finishes on EOS ("eos"), when its new text
     contains a stop string ("stop": the text is cut before it) or at max_new_tokens ("length").
     Finished rows are dropped from the batch and the cache, so long stragglers run alone.

Sampling: temperature 0 is greedy (argmax). Otherwise each row samples by the Gumbel-max trick
with its own torch.Generator, seeded from (seed, prompt text, occurrence of that prompt in the
call, sample index). So a completion depends on the seed and on its own prompt, not on which
other prompts share the batch (up to floating-point differences between batch shapes), and
rerunning a call with the same seed gives the same completions. `seed=None` draws a fresh seed.

`stats` counts prompt tokens, tokens actually prefilled (after prefix reuse) and generated tokens.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, PreTrainedModel

from hiero.models import DTYPE_NAMES, resolve_model, torch_dtype
from hiero.policy.backend import Completion
from hiero.policy.prompt import PromptFormat, encode_prompts
from hiero.policy.prompt import prompt_format as policy_format
from hiero.runs import check_finished, reading_model

SMALL_BATCH_ROWS = 32  # below this many rows a tiny model decodes on one CPU thread (see HFGenerator)
DTYPES = {name: torch_dtype(name) for name in DTYPE_NAMES}


def _resolve_dtype(dtype, device: str) -> torch.dtype:
    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from {sorted(DTYPES)}")
    return DTYPES[dtype]


def row_seed(seed: int, prompt: str, occurrence: int, sample: int) -> int:
    """Seed of one sampled row: a hash of the call seed, the prompt and the row's indices."""
    h = hashlib.sha256(f"{seed}\x00{occurrence}\x00{sample}\x00".encode() + prompt.encode("utf-8"))
    return int.from_bytes(h.digest()[:8], "little") & (2**63 - 1)


def common_prefix_len(seqs: list[list[int]]) -> int:
    """Length of the longest common prefix of token lists.

    >>> common_prefix_len([[1, 2, 3], [1, 2, 4, 5], [1, 2]])
    2
    """
    first, n = seqs[0], min(len(s) for s in seqs)
    for i in range(n):
        if any(s[i] != first[i] for s in seqs):
            return i
    return n


def prefix_groups(seqs: list[list[int]], min_shared: int = 4) -> tuple[list[int] | None, list[int] | None]:
    """Group consecutive (sorted) prompts that share a long prefix: (group of each prompt, shared
    length of each group), or (None, None) when no group has two members (nothing to reuse).

    A prompt joins the current group when its common prefix with the group's first prompt is at
    least `min_shared` tokens and half that first prompt (prompts of one tree share their question;
    prompts of different problems share only the template). Every prompt keeps >= 1 own token.

    >>> prefix_groups([[1, 2, 3, 4, 5], [1, 2, 3, 4, 6, 7], [1, 9, 9, 9, 9]], min_shared=2)
    ([0, 0, 1], [4, 4])
    """
    owner, shared, start = [], [], 0
    for i, s in enumerate(seqs):
        head = seqs[start]
        n = common_prefix_len([head, s])
        if i > start and n >= max(min_shared, len(head) // 2):
            shared[-1] = min(shared[-1], n, len(s) - 1)
        else:
            start = i
            shared.append(len(s) - 1)
        owner.append(len(shared) - 1)
    if len(shared) == len(seqs):
        return None, None
    return owner, shared


def sample_next(logits: torch.Tensor, temperature: float, top_p: float,
                generators: list[torch.Generator] | None) -> torch.Tensor:
    """Next token per row. logits: (rows, vocab) -> (rows,) token ids.

    Sampling is Gumbel-max: argmax(logits / T + g) with g ~ Gumbel(0, 1) i.i.d. is an exact draw
    from softmax(logits / T); top-p removes the tail first (the smallest set of tokens whose
    probability reaches top_p is kept).
    """
    if temperature <= 0:
        return logits.argmax(-1)
    scores = logits.float() / temperature
    if top_p < 1.0:
        sorted_scores, order = scores.sort(-1, descending=True)
        probs = sorted_scores.softmax(-1)
        drop_sorted = probs.cumsum(-1) - probs >= top_p  # tokens after the nucleus is full
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, float("-inf"))
    u = torch.stack([torch.rand(scores.shape[-1], generator=g) for g in generators]).to(scores.device)
    gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))
    return (scores + gumbel).argmax(-1)


class HFGenerator:
    """Batched generation with a KV cache on a transformers causal LM (implements `Generator`)."""

    def __init__(
        self,
        model_or_dir: str | os.PathLike | PreTrainedModel,
        tokenizer=None,
        device: str | None = None,
        batch_size: int = 64,
        dtype: str | torch.dtype | None = None,
        prefix_reuse: bool = True,
        min_shared_prefix: int = 4,
        threads: int | None = None,
        prompt_format: PromptFormat | None = None,
    ):
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if isinstance(model_or_dir, (str, os.PathLike)):
            path = resolve_model(model_or_dir, option="--policy")  # a GGUF file or pypi:DIST is imported once
            if not (path / "config.json").exists():
                hub = not path.exists() and str(model_or_dir).count("/") == 1
                raise FileNotFoundError(
                    f"{path}: "
                    + (
                        "not found; it looks like a hub id, and hiero loads local "
                        "folders only (download it first, then give the folder)"
                        if hub
                        else "not a Hugging Face model folder (no config.json)"
                    )
                )
            check_finished(path)  # not a folder a hiero training run is still writing (hiero.runs)
            with reading_model(path):
                tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
                model = AutoModelForCausalLM.from_pretrained(path, dtype=_resolve_dtype(dtype, device))
        else:
            model = model_or_dir
            if dtype is not None:
                model = model.to(_resolve_dtype(dtype, device))
            if tokenizer is None:
                raise ValueError("a tokenizer is required when passing a model object")
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        # how stages prompt this policy and split its text into steps (hiero.policy.prompt)
        folder = path if isinstance(model_or_dir, (str, os.PathLike)) else None
        self.prompt_format = prompt_format or policy_format(tokenizer, folder)
        self.device = device
        self.batch_size = batch_size
        self.prefix_reuse = prefix_reuse
        self.min_shared_prefix = min_shared_prefix
        eos = model.generation_config.eos_token_id if model.generation_config is not None else None
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id is not None:
            eos.append(tokenizer.eos_token_id)
        self.eos_ids = set(eos)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (min(self.eos_ids) if self.eos_ids else 0)
        params = inspect.signature(self.model.forward).parameters
        self._logits_to_keep = "logits_to_keep" in params
        # transformers >= 5.2x names the cache argument `cache`; older models take `past_key_values`
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        # Tiny models decode small batches faster on one CPU thread: per-token matmuls are too small
        # to split, and on busy cores OpenMP threads spin waiting for each other (measured 6x on 2
        # cores). Large batches (>= SMALL_BATCH_ROWS rows) do split well (measured 2x on 2 cores
        # for 256 rows), so `threads=None` picks per call; an explicit value is always used.
        small = sum(p.numel() for p in self.model.parameters()) < 20_000_000
        self.threads = threads
        self._one_thread_when_small = threads is None and device == "cpu" and small
        # positions beyond the model's table are never generated: a row stops at "length" there
        self.context = getattr(self.model.config, "max_position_embeddings", None)
        self.stats = {"calls": 0, "prompt_tokens": 0, "prefill_tokens": 0, "generated_tokens": 0}

    @property
    def name(self) -> str:
        return str(getattr(self.model.config, "_name_or_path", "") or type(self.model).__name__)

    # ------------------------------------------------------------------------------- public
    def generate(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        max_new_tokens: int = 256,
        stop: list[str] | None = None,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[list[Completion]]:
        prompts = list(prompts)
        results: list[list[Completion] | None] = [None] * len(prompts)
        pieces = self.pieces(prompts, n=n, max_new_tokens=max_new_tokens, stop=stop, temperature=temperature,
                             top_p=top_p, seed=seed)
        if pieces:
            self.stats["calls"] += 1
        for indices, run in pieces:
            for i, out in zip(indices, run()):
                results[i] = out
        return results  # type: ignore[return-value]

    def pieces(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        max_new_tokens: int = 256,
        stop: list[str] | None = None,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[tuple[list[int], Callable[[], list[list[Completion]]]]]:
        """`generate`'s call cut into its batched decodes: (indices of the prompts, run) pairs, each run
        returning those prompts' completions. Every row's sampling is seeded by its own key, so running the
        pieces in any order, interleaved with other calls' pieces (what `policy serve` does to be fair
        between requests), gives `generate`'s result. Bad arguments or prompts raise ValueError here,
        before any decoding."""
        if n < 1 or max_new_tokens < 1:
            raise ValueError(
                f"need n >= 1 and max_new_tokens >= 1, got n={n}, max_new_tokens={max_new_tokens}"
            )
        prompts = list(prompts)
        if not prompts:
            return []
        ids = self.encode(prompts)
        for i, x in enumerate(ids):
            if not x:
                raise ValueError(f"prompt {i} is empty after tokenization")
            if self.context is not None and len(x) >= self.context:
                raise ValueError(f"prompt {i} has {len(x)} tokens; {self.name} reads at most {self.context} "
                                 "(its max_position_embeddings): shorten the prompt")
        seed = int.from_bytes(os.urandom(8), "little") if seed is None else seed
        seen: dict[str, int] = {}
        occurrence = []
        for p in prompts:  # identical prompts in one call still get different samples
            occurrence.append(seen.get(p, 0))
            seen[p] = occurrence[-1] + 1
        order = sorted(range(len(prompts)), key=lambda i: ids[i])
        per_chunk = max(1, self.batch_size // n)
        rows = min(len(prompts), per_chunk) * n  # rows of the largest piece: the thread count of every piece
        stop = [s for s in (stop or []) if s]

        def piece(chunk: list[int]):
            keys = [[row_seed(seed, prompts[i], occurrence[i], j) for j in range(n)] for i in chunk]
            return chunk, lambda: self._decode([ids[i] for i in chunk], keys, n, max_new_tokens, stop,
                                               temperature, top_p, rows)

        return [piece(order[k:k + per_chunk]) for k in range(0, len(order), per_chunk)]

    def _decode(self, ids, keys, n, max_new_tokens, stop, temperature, top_p, rows) -> list[list[Completion]]:
        """One batched decode (`_run_chunk`) under the thread count the call's size calls for."""
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        elif self._one_thread_when_small and rows < SMALL_BATCH_ROWS:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                return self._run_chunk(ids, keys, n, max_new_tokens, stop, temperature, top_p)
        finally:
            torch.set_num_threads(before)

    def encode(self, prompts: list[str]) -> list[list[int]]:
        """Token ids of prompts (hiero.policy.prompt.encode_prompts: no doubled BOS, separators in
        context)."""
        return encode_prompts(self.tokenizer, prompts)

    # ------------------------------------------------------------------------------- internals
    def _forward(self, input_ids, attention_mask, position_ids, cache):
        kw = {"logits_to_keep": 1} if self._logits_to_keep else {}
        kw[self._cache_arg] = cache
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         use_cache=True, **kw)
        return out.logits[:, -1, :]

    def _left_pad(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[r, width - len(s):] = 1
        return ids.to(self.device), mask.to(self.device)

    def _prefill(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, DynamicCache]:
        """Run the prompts; returns (last logits (P, V), attention mask (P, T), cache).

        Prompts that share a long prefix (the nodes of one tree share their question) form a group;
        each group's prefix runs once, all groups in one padded batch, and every row gets its
        group's cache rows (`batch_select_indices`); then only the remainders run. Padding sits
        left of each prefix and between prefix and remainder; the mask and explicit positions
        make that exact.
        """
        cache = DynamicCache(config=self.model.config)
        self.stats["prompt_tokens"] += sum(len(s) for s in seqs)
        owner, shared = prefix_groups(seqs, self.min_shared_prefix) if self.prefix_reuse else (None, None)
        if owner is None:
            ids, mask = self._left_pad(seqs)
            logits = self._forward(ids, mask, (mask.cumsum(1) - 1).clamp(min=0), cache)
            self.stats["prefill_tokens"] += sum(len(s) for s in seqs)
            return logits, mask, cache
        first = {g: i for i, g in reversed(list(enumerate(owner)))}
        p_ids, p_mask = self._left_pad([seqs[first[g]][:shared[g]] for g in range(len(shared))])
        self._forward(p_ids, p_mask, (p_mask.cumsum(1) - 1).clamp(min=0), cache)
        rows = torch.tensor(owner, device=self.device)
        cache.batch_select_indices(rows)
        rest, rest_mask = self._left_pad([s[shared[g]:] for s, g in zip(seqs, owner)])
        mask = torch.cat([p_mask[rows], rest_mask], dim=1)
        positions = (mask.cumsum(1) - 1).clamp(min=0)[:, p_ids.shape[1]:]
        logits = self._forward(rest, mask, positions, cache)
        self.stats["prefill_tokens"] += sum(shared) + sum(len(s) - shared[g] for s, g in zip(seqs, owner))
        return logits, mask, cache

    def _run_chunk(self, seqs, keys, n, max_new_tokens, stop, temperature, top_p) -> list[list[Completion]]:
        if self.context is not None:  # the longest prompt of the chunk may not run past the position table
            max_new_tokens = max(1, min(max_new_tokens, self.context - max(len(s) for s in seqs)))
        logits, mask, cache = self._prefill(seqs)
        if n > 1:  # n samples share their prompt's cache
            cache.batch_repeat_interleave(n)
            logits, mask = logits.repeat_interleave(n, 0), mask.repeat_interleave(n, 0)
        rows = len(seqs) * n
        flat_keys = [k for per_prompt in keys for k in per_prompt]
        gens = ([torch.Generator().manual_seed(k) for k in flat_keys] if temperature > 0 else None)
        new_ids: list[list[int]] = [[] for _ in range(rows)]
        n_tokens, texts, finish = [0] * rows, [""] * rows, [None] * rows
        stops: list[str | None] = [None] * rows
        active = list(range(rows))  # batch position -> row
        for t in range(max_new_tokens):
            nxt = sample_next(logits, temperature, top_p, [gens[r] for r in active] if gens else None)
            keep = []
            for b, (r, tok) in enumerate(zip(active, nxt.tolist())):
                n_tokens[r] += 1
                if tok in self.eos_ids:
                    finish[r] = "eos"
                    continue
                new_ids[r].append(tok)
                if stop:
                    text = self.tokenizer.decode(new_ids[r], skip_special_tokens=False)
                    hits = [(i, s) for s in stop if (i := text.find(s)) >= 0]
                    if hits:
                        cut, stops[r] = min(hits)
                        texts[r], finish[r] = text[:cut], "stop"
                        continue
                keep.append(b)
            if not keep or t == max_new_tokens - 1:
                break
            if len(keep) < len(active):  # drop finished rows from the batch and the cache
                idx = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(idx)
                mask, nxt = mask[idx], nxt[idx]
                active = [active[b] for b in keep]
            positions = mask.sum(1, keepdim=True)  # index of the new token among real tokens
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            logits = self._forward(nxt[:, None], mask, positions, cache)
        for r in range(rows):
            if finish[r] in (None, "eos"):
                texts[r] = self.tokenizer.decode(new_ids[r], skip_special_tokens=False)
                finish[r] = finish[r] or "length"
        self.stats["generated_tokens"] += sum(n_tokens)
        return [[Completion(texts[r], n_tokens[r], finish[r], stops[r]) for r in range(p * n, p * n + n)]
                for p in range(len(seqs))]
