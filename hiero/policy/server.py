"""`hiero policy serve`: an OpenAI-compatible HTTP server for any Hugging Face causal LM folder.

    hiero policy serve --policy runs/policy --port 8000            # then, from any process:
    load_generator("openai:http://127.0.0.1:8000/v1#runs/policy")  # or curl, or the openai client

What it is for: a tiny policy served like a real one (`vllm serve`), so the `openai` backend, the
judge and the LLM segmenter run against a real HTTP endpoint on a laptop; and a simple server for
small models on one machine. For 7B policies on GPUs use `vllm serve` or SGLang: hiero's `openai`
backend speaks to them the same way.

Endpoints (the subset of the OpenAI API that hiero uses):
    GET  /v1/models             {"data": [{"id": MODEL, "object": "model"}]}
    POST /v1/completions        prompt (str or list of str), n, max_tokens, temperature, top_p, stop, seed
    POST /v1/chat/completions   messages -> the policy's own prompt layout (its chat template, or the
                                raw "Question: ...\\nAnswer:\\n" template around the contents)
`response_format` is accepted and ignored (a tiny model cannot be held to JSON); `stream: true` is a
400 (this server answers in one body). Each choice carries vLLM's extras: `stop_reason` (the matched
stop string; null at EOS) and `n_tokens` (generated tokens), so the client can tell a step boundary
from the end of a solution.

Batching: HTTP handler threads only parse and queue requests; one worker thread owns the model and,
each time it wakes, takes every queued request (waiting up to `batch_wait_ms` for more when idle) and
groups them by sampling settings into ONE `HFGenerator.generate` call per group. So eight concurrent
clients cost one batched decode, not eight sequential ones.

Auth: with `--api-key-env NAME`, requests must send `Authorization: Bearer $NAME` (HTTP 401
otherwise). The key is read from the environment once and never logged or echoed.
Bad requests get HTTP 400 with {"error": {"message": ...}} naming the field (NaN and infinities
included).

Under load: the listen backlog is sized for `--max-concurrency` (not the standard library's 5); a
request may ask for at most `--max-request-tokens` tokens (prompts x n x max_tokens; more is a 400).
Fair scheduling: each call is cut into its batched decodes of about `--batch-size` rows (whole prompts)
(`HFGenerator.pieces`; every row seeded by its own key, so the cut changes no completion), and the
worker runs one decode of each active call in turn, round-robin, taking new requests between decodes
(a round's calls enter cheapest first). A request therefore waits for at most one decode of each
call ahead of it, never for a whole large request. A client that disconnects has its request
cancelled: not decoded if it is still queued, and its call stopped before its next decode when no
client of that call is left; a disconnect prints nothing. Load test: tests/policy/test_server_load.py.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
import queue
import select
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hiero.policy.backend import Completion
from hiero.policy.prompt import format_of

log = logging.getLogger(__name__)


@dataclass
class ServeConfig:
    """`hiero policy serve`."""

    policy: str = field(default="", metadata={"help": "Hugging Face model folder to serve"})
    host: str = field(default="127.0.0.1", metadata={"help": "address to bind (loopback by default)"})
    port: int = field(default=8000, metadata={"help": "port (0: any free port, printed at start)"})
    model_name: str = field(
        default="", metadata={"help": "model id clients send (default: the --policy path)"}
    )
    batch_size: int = field(default=64, metadata={"help": "rows per batched decode (prompts x n)"})
    batch_wait_ms: float = field(default=5.0, metadata={"help": "how long to gather concurrent requests"})
    max_tokens_limit: int = field(default=4096, metadata={"help": "largest max_tokens a request may ask for"})
    max_request_tokens: int = field(
        default=32768,
        metadata={
            "help": "per-request budget: prompts x n x max_tokens at most this (larger requests get HTTP "
                    "400), so no "
            "request holds the model for long"
        },
    )
    max_concurrency: int = field(
        default=64,
        metadata={
            "help": "clients expected at once: the listen backlog (connections waiting to be accepted) is "
                    "sized for it"
        },
    )
    api_key_env: str = field(
        default="", metadata={"help": "env var holding the key clients must send ('' = open)"}
    )
    device: str = field(default="", metadata={"help": "torch device ('' = cuda if available, else cpu)"})


MAX_BODY_BYTES = 16 * 1024 * 1024


def group_jobs(jobs: list[_Job]) -> list[tuple[tuple, list[_Job]]]:
    """Jobs that can share one `generate` call: equal settings and no prompt in common.

    The hf backend seeds a sample by (seed, prompt, occurrence of the prompt in the call), so two
    requests with the same prompt and seed in one call would get different samples depending on
    their order; in separate calls they get the same ones, as a fixed seed promises.
    """
    groups: list[tuple[tuple, list[_Job], set[str]]] = []
    for j in jobs:
        for settings, members, seen in groups:
            if settings == j.settings and not seen.intersection(j.prompts):
                members.append(j)
                seen.update(j.prompts)
                break
        else:
            groups.append((j.settings, [j], set(j.prompts)))
    return [(s, m) for s, m, _ in groups]


class RequestError(ValueError):
    """A request the server refuses (HTTP 400, or `status`); the message names the field."""

    status = 400


class UnknownModel(RequestError):
    """A request for a model this server does not serve (HTTP 404, as vLLM answers)."""

    status = 404


@dataclass
class _Job:
    prompts: list[str]
    # (n, max_tokens, stop tuple, temperature, top_p, seed): requests with equal ones batch together
    settings: tuple
    done: threading.Event = field(default_factory=threading.Event)
    result: list[list[Completion]] | None = None
    error: Exception | None = None
    cancelled: bool = False  # the client went away: not decoded, or no further decode of its call

    @property
    def cost(self) -> int:
        """Generated tokens at most: prompts x n x max_tokens (the per-request budget's measure)."""
        return len(self.prompts) * self.settings[0] * self.settings[1]


@dataclass
class _Call:
    """One generate call for a group of jobs, as the batched decodes still to run and the outputs so far."""

    settings: tuple
    jobs: list[_Job]
    pieces: list
    outs: dict[int, list[Completion]] = field(default_factory=dict)


def _fail(jobs: list[_Job], error: Exception) -> None:
    """Answer `jobs` with `error`: a ValueError is the request's fault (400), anything else the server's
    (500, logged)."""
    if not isinstance(error, ValueError):
        log.error("generation failed", exc_info=error)
    for j in jobs:
        j.error = error
        j.done.set()


def _number(body: dict, key: str, kind, default, lo=None, hi=None):
    value = body.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
            kind is int and not float(value).is_integer()):
        raise RequestError(f"field '{key}': expected a finite {kind.__name__}, got {value!r}")
    value = kind(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise RequestError(f"field '{key}': {value} outside [{lo}, {hi}]")
    return value


def parse_settings(body: dict, max_tokens_limit: int) -> tuple:
    """The sampling settings of a completions request, checked.

    >>> parse_settings({"n": 2, "max_tokens": 8, "stop": "\\n", "temperature": 0.5}, 64)
    (2, 8, ('\\n',), 0.5, 1.0, None)
    """
    n = _number(body, "n", int, 1, 1, 128)
    max_tokens = _number(body, "max_tokens", int, 16, 1, max_tokens_limit)
    temperature = _number(body, "temperature", float, 1.0, 0.0, 10.0)
    top_p = _number(body, "top_p", float, 1.0, 1e-6, 1.0)
    stop = body.get("stop")
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise RequestError("field 'stop': expected a string or a list of strings")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RequestError(f"field 'seed': expected an integer, got {seed!r}")
    return n, max_tokens, tuple(stop), temperature, top_p, seed


def chat_prompt(generator, messages) -> str:
    """A chat request's prompt, in the layout the served policy was trained on (hiero.policy.prompt):
    a chat-style policy gets the tokenizer's chat template with the generation prompt; a raw-style
    one (the embedded policy) gets the contents, joined by blank lines, as the question of its
    template ("Question: ...\\nAnswer:\\n").

    Not the bare contents: a raw policy has never seen a prompt end in a blank line, and sampled at
    the chat default temperature 1.0 its first token then often was a lone byte of the byte-level
    vocabulary, which decodes to U+FFFD (the "broken first character" of issue 30).
    """
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
        raise RequestError("field 'messages': expected a non-empty list of {role, content} objects")
    fmt = format_of(generator)
    if fmt.style == "chat":
        return fmt.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return fmt.head("\n\n".join(m["content"] for m in messages))


class CompletionServer:
    """The model, its request queue and the batching worker; `serve_forever` runs the HTTP side."""

    def __init__(self, cfg: ServeConfig, generator=None):
        if generator is None:
            from hiero.policy.hf_backend import HFGenerator

            if not cfg.policy:
                raise ValueError("serve needs --policy DIR")
            generator = HFGenerator(cfg.policy, batch_size=cfg.batch_size, device=cfg.device or None)
        self.cfg = cfg
        self.generator = generator
        self.model_name = cfg.model_name or cfg.policy or "hiero"
        self._key = os.environ.get(cfg.api_key_env, "") if cfg.api_key_env else ""
        if cfg.api_key_env and not self._key:
            raise ValueError(f"--api-key-env {cfg.api_key_env}: that environment variable is not set")
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self.stats = {"requests": 0, "batches": 0, "generated_tokens": 0, "cancelled": 0}
        self._lock = threading.Lock()
        self._serving = self._closed = False
        self._worker = threading.Thread(target=self._work, name="hiero-serve-worker", daemon=True)
        self._worker.start()
        if cfg.max_concurrency < 1 or cfg.max_request_tokens < 1 or cfg.batch_size < 1:
            raise ValueError("--max-concurrency, --max-request-tokens and --batch-size must be >= 1")
        try:
            self.httpd = _QuietServer(
                (cfg.host, cfg.port), self._handler_class(), backlog=max(16, cfg.max_concurrency)
            )
        except OSError as e:  # a busy port, a host that is not this machine's: one line, not a traceback
            self._closed = True
            self._queue.put(None)
            raise ValueError(
                f"cannot listen on {cfg.host}:{cfg.port}: {e.strerror or e} "
                "(another server on that port? choose one with --port)"
            ) from None
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # ------------------------------------------------------------------ worker: round-robin over decodes
    def _take(self, block: bool) -> tuple[list[_Job], bool]:
        """The queued jobs (block: wait for one, then up to batch_wait_ms for more) and whether the
        server is shutting down."""
        jobs: list[_Job] = []
        try:
            first = self._queue.get() if block else self._queue.get_nowait()
        except queue.Empty:
            return jobs, False
        if first is None:
            return jobs, True
        jobs.append(first)
        deadline = time.monotonic() + (self.cfg.batch_wait_ms / 1000 if block else 0)
        while True:
            left = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                return jobs, False
            if nxt is None:
                return jobs, True
            jobs.append(nxt)

    def _work(self) -> None:
        """Requests with equal settings share one generate call; every call is cut into its batched
        decodes (`HFGenerator.pieces`), and the worker runs one decode of each active call in turn,
        taking new requests in between. So a request waits for at most one decode of each call ahead
        of it, never for a whole large request; and a call whose clients all left stops between
        decodes."""
        active: deque[_Call] = deque()
        stopping = False
        while True:
            if not stopping:
                jobs, stopping = self._take(block=not active)
                # new calls, cheapest first: a round's small requests go before its large ones
                for settings, group in sorted(group_jobs(jobs), key=lambda g: sum(j.cost for j in g[1])):
                    active.extend(self._plan(settings, group))
            if not active:
                if stopping:
                    return
                continue
            call = active.popleft()
            if all(j.cancelled for j in call.jobs):
                continue  # every client left: the rest of its decodes are skipped
            try:
                active.extend(self._step(call))
            except Exception as e:  # a fault of the server's own (a generator giving too few rows): a 500,
                _fail(call.jobs, e)  # and the worker goes on with the other calls

    def _step(self, call: _Call) -> list[_Call]:
        """Run the call's next decode; returns the calls to go on with: itself while decodes are left,
        none once its jobs have their results. A decode that fails for a call of several requests makes
        each of them its own call (one bad request must not fail the others batched with it); for a
        single request the error is its answer."""
        indices, run = call.pieces.pop(0)
        try:
            got = run()
        except Exception as e:
            if len(call.jobs) > 1:  # a live request alone may well decode: each on its own
                return [c for j in call.jobs if not j.cancelled for c in self._plan(call.settings, [j])]
            _fail(call.jobs, e)
            return []
        with self._lock:
            self.stats["batches"] += 1
            self.stats["generated_tokens"] += sum(c.n_tokens for row in got for c in row)
        call.outs.update(zip(indices, got))
        if call.pieces:
            return [call]
        k = 0
        for j in call.jobs:
            j.result = [call.outs[i] for i in range(k, k + len(j.prompts))]
            k += len(j.prompts)
            j.done.set()
        return []

    def _pieces(self, settings: tuple, prompts: list[str]) -> list:
        n, max_tokens, stop, temperature, top_p, seed = settings
        kw = dict(n=n, max_new_tokens=max_tokens, stop=list(stop), temperature=temperature, top_p=top_p,
                  seed=seed)
        if hasattr(self.generator, "pieces"):
            return self.generator.pieces(prompts, **kw)
        return [(list(range(len(prompts))), lambda: self.generator.generate(prompts, **kw))]  # one decode

    def _plan(self, settings: tuple, group: list[_Job]) -> list[_Call]:
        """The group as one call; if its prompts cannot be decoded together (one request's prompt is
        too long, say), each request on its own, so only the bad one gets its 400."""
        live = [j for j in group if not j.cancelled]
        if not live:
            return []
        try:
            return [_Call(settings, live, self._pieces(settings, [p for j in live for p in j.prompts]))]
        except Exception as e:
            if len(live) > 1:
                return [c for j in live for c in self._plan(settings, [j])]
            _fail(live, e)
            return []

    def submit(self, prompts: list[str], settings: tuple, gone=None) -> list[list[Completion]] | None:
        """Queue a request and wait for its answer; None if `gone()` (the client disconnected) turned
        true first: the job is then not decoded, or (its call's other clients gone too) its call stops
        before its next decode."""
        if self._closed:
            raise RuntimeError("the server is shutting down")
        job = _Job(prompts, settings)
        self._queue.put(job)
        while not job.done.wait(0.05):
            if not self._worker.is_alive():  # shut down (or died) with this job still queued
                raise RuntimeError("the server's worker has stopped")
            if gone is not None and gone():
                job.cancelled = True
                with self._lock:
                    self.stats["cancelled"] += 1
                return None
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    # ------------------------------------------------------------------ request -> response
    def completions(self, body: dict, chat: bool = False, gone=None) -> dict | None:
        model = body.get("model")
        if model is not None and model != self.model_name:
            raise UnknownModel(f"field 'model': {model!r} is not served here; this server serves "
                               f"{self.model_name!r} (GET /v1/models)")
        if body.get("stream"):  # answering with one JSON body would break a client that reads events
            raise RequestError(
                "field 'stream': this server does not stream; send \"stream\": false or leave it out"
            )
        if chat and "max_tokens" not in body:  # the chat API's newer name, and a chat-sized default
            body = {
                **body,
                "max_tokens": body.get("max_completion_tokens") or min(512, self.cfg.max_tokens_limit),
            }
        settings = parse_settings(body, self.cfg.max_tokens_limit)
        if chat:
            prompts = [chat_prompt(self.generator, body.get("messages"))]
        else:
            prompt = body.get("prompt")
            prompts = [prompt] if isinstance(prompt, str) else prompt
            if (
                not isinstance(prompts, list)
                or not prompts
                or not all(isinstance(p, str) and p for p in prompts)
            ):
                raise RequestError("field 'prompt': expected a non-empty string or list of strings")
        cost = len(prompts) * settings[0] * settings[1]
        if cost > self.cfg.max_request_tokens:
            raise RequestError(
                f"fields 'n', 'max_tokens', 'prompt': {len(prompts)} prompt(s) x n {settings[0]} x "
                f"max_tokens {settings[1]} = {cost} tokens exceeds this server's per-request budget "
                f"{self.cfg.max_request_tokens} (--max-request-tokens); split the request"
            )
        with self._lock:
            self.stats["requests"] += 1
        try:
            outs = self.submit(prompts, settings, gone)
        except ValueError as e:  # e.g. a prompt that tokenizes to nothing
            raise RequestError(str(e)) from None
        if outs is None:
            return None
        n = settings[0]
        choices, total = [], 0
        for i, row in enumerate(outs):
            for j, c in enumerate(row):
                total += c.n_tokens
                choice = {
                    "index": i * n + j,
                    "finish_reason": "length" if c.finish_reason == "length" else "stop",
                    # a str means "a stop string matched" to clients (vLLM's convention), null means EOS
                    "stop_reason": (c.stop_string or "") if c.finish_reason == "stop" else None,
                    "n_tokens": c.n_tokens,
                }
                if chat:
                    choice["message"] = {"role": "assistant", "content": c.text}
                else:
                    choice["text"] = c.text
                choices.append(choice)
        prompt_tokens = sum(len(x) for x in self.generator.tokenizer(prompts)["input_ids"])
        return {"id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion" if chat else "text_completion", "created": int(time.time()),
                "model": self.model_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": total,
                          "total_tokens": prompt_tokens + total}}

    def _authorized(self, header: str | None) -> bool:
        if not self._key:
            return True
        given = (header or "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, f"Bearer {self._key}".encode())

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, obj: dict) -> None:
                data = json.dumps(obj).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client went away: nothing to tell it, nothing to print
                    self.close_connection = True

            def _client_gone(self) -> bool:
                """True once the client closed its connection (readable, and a peek reads nothing)."""
                try:
                    if not select.select([self.connection], [], [], 0)[0]:
                        return False
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def _error(self, status: int, message: str) -> None:
                self._send(status, {"error": {"message": message, "code": status}})

            def do_GET(self):
                if not server._authorized(self.headers.get("Authorization")):
                    return self._error(401, "missing or wrong API key")
                if self.path.rstrip("/") in ("/v1/models", "/models"):
                    return self._send(200, {"object": "list", "data": [
                        {"id": server.model_name, "object": "model", "owned_by": "hiero"}]})
                if self.path.rstrip("/") in ("/health", "/v1/health"):
                    return self._send(200, {"status": "ok", **server.stats})
                self._error(404, f"no route GET {self.path}")

            def do_POST(self):
                try:  # read the whole body first: on a kept-alive connection it must not be left unread
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_BODY_BYTES:
                    self.close_connection = True
                    return self._error(
                        400 if length < 0 else 413, f"Content-Length must be 0..{MAX_BODY_BYTES}"
                    )
                raw = self.rfile.read(length)
                if not server._authorized(self.headers.get("Authorization")):
                    return self._error(401, "missing or wrong API key")
                path = self.path.rstrip("/")
                if path not in ("/v1/completions", "/v1/chat/completions"):
                    return self._error(404, f"no route POST {self.path}")
                try:
                    body = json.loads(raw.decode("utf-8"))
                    if not isinstance(body, dict):
                        raise RequestError("request body must be a JSON object")
                    answer = server.completions(
                        body, chat=path.endswith("chat/completions"), gone=self._client_gone
                    )
                    if answer is None:  # the client disconnected: its job was cancelled
                        self.close_connection = True
                        return
                    self._send(200, answer)
                except (RequestError, json.JSONDecodeError, UnicodeDecodeError) as e:
                    self._error(getattr(e, "status", 400), str(e))
                except Exception as e:  # generation failed: the client may retry
                    self._error(500, f"{type(e).__name__}: {e}")

            def log_message(self, fmt, *args):  # through logging, never the Authorization header
                log.debug("%s %s", self.address_string(), fmt % args)

        return Handler

    # ------------------------------------------------------------------ lifecycle
    def serve_forever(self) -> None:
        self._serving = True
        self.httpd.serve_forever()

    def start_background(self) -> CompletionServer:
        self._serving = True
        threading.Thread(target=self.httpd.serve_forever, name="hiero-serve-http", daemon=True).start()
        return self

    def close(self) -> None:
        self._closed = True
        if self._serving:  # shutdown() waits for serve_forever(), which must have been started
            self.httpd.shutdown()
        self.httpd.server_close()
        self._queue.put(None)
        self._worker.join(timeout=5)


class _QuietServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a listen backlog sized for the configured concurrency (the standard
    library's is 5) and no traceback when a client disconnects mid-answer."""

    def __init__(self, address, handler, backlog: int):
        self.request_queue_size = backlog  # read by server_activate's listen()
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            log.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)


def main(cfg: ServeConfig) -> int:
    server = CompletionServer(cfg)
    print(f"serving {server.model_name} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
