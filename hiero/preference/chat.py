"""The one chat client of the judge and the LLM segmenter: an OpenAI-compatible client, and
`CachedChat`, which sends prompts in one batched request and caches each reply on disk under a
hash of (kind, model, temperature, prompt), so a rerun sends only what it has not asked before.

    make_chat_client(base_url, model)  -> client with .chat(messages_batch, temperature, max_tokens,
                                       response_format)
    CachedChat(client, model, cache_dir).ask(kind, prompts) -> replies (str); .calls = requests sent
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hiero.cache import fingerprint
from hiero.data.io import atomic_write


def reply_text(reply) -> str:
    """A client's reply as text (plain clients return str, richer ones an object with .text)."""
    return reply if isinstance(reply, str) else getattr(reply, "text", str(reply))


def make_chat_client(base_url: str | None, model: str):
    """hiero's OpenAI-compatible client (hiero.policy.openai_backend: standard library only, concurrent
    requests, retries with backoff, the key from the environment), whose `.chat` the judge and the LLM
    segmenter call."""
    if not base_url:
        raise ValueError("an OpenAI-compatible base URL is needed (e.g. --llm-base-url "
                         "http://127.0.0.1:8000/v1)")
    from hiero.policy.openai_backend import OpenAIGenerator

    return OpenAIGenerator(base_url, model)


@dataclass
class CachedChat:
    """Send prompts through `client.chat`, caching each reply under a hash of everything that shapes it."""

    client: object
    model: str
    cache_dir: str | Path | None = None
    temperature: float = 0.2
    max_tokens: int = 512
    calls: int = 0

    def ask(self, kind: str, prompts: list[str]) -> list[str]:
        """One reply per prompt: cached ones read back, the misses sent in one batched request."""
        keys = [
            fingerprint({"kind": kind, "model": self.model, "t": self.temperature, "prompt": p}, length=24)
            for p in prompts
        ]
        cache = Path(self.cache_dir) if self.cache_dir else None
        out: list = [None] * len(prompts)
        todo = []
        for i, key in enumerate(keys):
            f = cache / f"{key}.json" if cache else None
            if f is not None and f.exists():
                out[i] = json.loads(f.read_text(encoding="utf-8"))["reply"]
            else:
                todo.append(i)
        if todo:
            replies = self.client.chat([[{"role": "user", "content": prompts[i]}] for i in todo],
                                       temperature=self.temperature, max_tokens=self.max_tokens,
                                       response_format={"type": "json_object"})
            self.calls += len(todo)
            for i, reply in zip(todo, replies, strict=True):
                out[i] = reply_text(reply)
                if cache is not None:
                    with atomic_write(cache / f"{keys[i]}.json") as f:
                        json.dump({"reply": out[i]}, f)
        return out
