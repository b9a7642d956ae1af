"""The generation protocol every backend implements (hf, openai-compatible, vllm).

    gen.generate(prompts, n=5, max_new_tokens=64, stop=["\n"], temperature=0.1, seed=0)
        -> list (one per prompt) of list (n) of Completion

A `Completion.text` excludes the stop string that ended it. `finish_reason` is "stop" (a stop
string was hit: a step boundary), "eos" (the model ended the solution) or "length" (token limit).
Backends are free to batch, cache prefixes and run requests concurrently; the result order always
matches the input order, and a fixed `seed` gives the same completions on the same backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "eos", "length"]


@dataclass
class Completion:
    text: str
    n_tokens: int
    finish_reason: FinishReason
    stop_string: str | None = None  # which stop string ended it (finish_reason "stop"), when known


@runtime_checkable
class Generator(Protocol):
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
    ) -> list[list[Completion]]: ...
