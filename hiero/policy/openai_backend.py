"""`openai` generation backend: any OpenAI-compatible server (vLLM, SGLang, `hiero policy serve`, ...).

    gen = OpenAIGenerator("http://127.0.0.1:8000/v1", "Qwen2.5-Math-7B-Instruct", concurrency=8)
    gen.generate(prompts, n=5, max_new_tokens=64, stop=["\\n"], temperature=0.7, seed=0)
    gen.chat([[{"role": "user", "content": "..."}]], temperature=0.0, max_tokens=256)  -> list[str]

One POST /v1/completions per prompt (n samples each), up to `concurrency` in flight from a thread
pool; results come back in input order. Failures that can pass (HTTP 429, 5xx, connection errors,
timeouts) are retried up to `max_retries` times with exponential backoff (`backoff_s` * 2^attempt,
or the server's Retry-After when it is given); any other HTTP error is raised at once as
`BackendError` with the server's message.

The API key is read from the environment variable `api_key_env` at each request and sent only in
the Authorization header: it is never stored on the object, logged, or put in an error message.
No key set means no Authorization header (local servers usually need none).

Per-sample token counts and the stop/EOS distinction are not in the OpenAI schema: vLLM (and our
server) add `stop_reason` per choice (the matched stop string; null or a token id at EOS), which is
used when present; otherwise a "stop" finish counts as "stop". A per-choice token count is taken
from the non-standard `n_tokens`/`token_ids` fields when present, else the usage total is split
evenly over the n choices.
Standard library only (urllib), so no new dependency.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from hiero.policy.backend import Completion

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class BackendError(RuntimeError):
    """A request to the generation server failed for good (message never holds the API key)."""


class OpenAIGenerator:
    """Client of an OpenAI-compatible completions server (implements `Generator`)."""

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
                 max_retries: int = 4, timeout_s: float = 60.0, backoff_s: float = 0.5):
        base_url = base_url.rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url if base_url.endswith("/v1") else base_url + "/v1"
        self.model = model
        self.api_key_env = api_key_env
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.stats = {"requests": 0, "retries": 0, "generated_tokens": 0}

    def __repr__(self) -> str:
        return f"OpenAIGenerator({self.base_url!r}, {self.model!r}, api_key_env={self.api_key_env!r})"

    # ------------------------------------------------------------------------------- HTTP
    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, path: str, body: dict) -> dict:
        url = f"{self.base_url}{path}"
        data = json.dumps(body).encode("utf-8")
        for attempt in range(self.max_retries + 1):
            self.stats["requests"] += 1
            req = urllib.request.Request(url, data=data, headers=self._headers(), method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                message = _error_message(e)
                if e.code not in RETRY_STATUS or attempt == self.max_retries:
                    raise BackendError(f"POST {url}: HTTP {e.code}: {message}") from None
                wait = _retry_after(e) or self.backoff_s * 2**attempt
                reason = f"HTTP {e.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                if attempt == self.max_retries:
                    raise BackendError(f"POST {url}: {type(e).__name__}: {getattr(e, 'reason', e)}") from None
                wait, reason = self.backoff_s * 2**attempt, type(e).__name__
            self.stats["retries"] += 1
            log.warning(
                "POST %s failed (%s); retry %d/%d in %.1fs", url, reason, attempt + 1, self.max_retries, wait
            )
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _map(self, fn, items: list) -> list:
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    # ------------------------------------------------------------------------------- protocol
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
        if n < 1 or max_new_tokens < 1:
            raise ValueError(
                f"need n >= 1 and max_new_tokens >= 1, got n={n}, max_new_tokens={max_new_tokens}"
            )

        def one(prompt: str) -> list[Completion]:
            body = {"model": self.model, "prompt": prompt, "n": n, "max_tokens": max_new_tokens,
                    "temperature": temperature, "top_p": top_p}
            if stop:
                body["stop"] = list(stop)
            if seed is not None:
                body["seed"] = seed
            return self._completions(self._post("/completions", body), n)

        out = self._map(one, list(prompts))
        self.stats["generated_tokens"] += sum(c.n_tokens for row in out for c in row)
        return out

    def _completions(self, resp: dict, n: int) -> list[Completion]:
        choices = sorted(resp.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise BackendError(f"server returned {len(choices)} choices, expected n={n}")
        total = (resp.get("usage") or {}).get("completion_tokens")
        out = []
        for j, c in enumerate(choices):
            if "n_tokens" in c:
                n_tok = int(c["n_tokens"])
            elif isinstance(c.get("token_ids"), list):
                n_tok = len(c["token_ids"])
            elif isinstance(total, int):
                n_tok = total // n + (1 if j < total % n else 0)
            else:
                n_tok = 0
            out.append(Completion(c.get("text", ""), n_tok, _finish_reason(c)))
        return out

    def chat(self, messages_batch: list[list[dict]], temperature: float = 0.0, max_tokens: int = 256,
             response_format: dict | None = None, seed: int | None = None) -> list[str]:
        """One /v1/chat/completions call per conversation (concurrently); returns the replies."""

        def one(messages: list[dict]) -> str:
            body = {
                "model": self.model,
                "messages": messages,
                "temperature": temperature,
                "max_tokens": max_tokens,
            }
            if response_format is not None:
                body["response_format"] = response_format
            if seed is not None:
                body["seed"] = seed
            resp = self._post("/chat/completions", body)
            try:
                return resp["choices"][0]["message"]["content"] or ""
            except (KeyError, IndexError, TypeError):
                raise BackendError("chat response has no choices[0].message.content") from None

        return self._map(one, list(messages_batch))


def _finish_reason(choice: dict) -> str:
    reason = choice.get("finish_reason")
    if reason == "length":
        return "length"
    if reason == "stop" and "stop_reason" in choice:
        return "stop" if isinstance(choice["stop_reason"], str) else "eos"
    return "stop"


def _error_message(e: urllib.error.HTTPError) -> str:
    try:
        body = e.read().decode("utf-8", "replace")
    except Exception:  # the body is only for the message
        return e.reason or ""
    try:
        err = json.loads(body).get("error")
        return (err.get("message") if isinstance(err, dict) else str(err))[:500]
    except (ValueError, AttributeError):
        return body[:500]


def _retry_after(e: urllib.error.HTTPError) -> float | None:
    value = e.headers.get("Retry-After") if e.headers else None
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None
