"""`hiero policy serve` under load and faults, on loopback (hiero/policy/server.py): a bounded load
test (200 requests from 50 concurrent clients plus one oversized request) with every valid request
answered within a stated time, 400 for every invalid field (NaN included), cancellation of a
disconnected client's queued request, quiet disconnects, a listen backlog sized for the concurrency."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from hiero.policy.backend import Completion
from hiero.policy.prompt import build_prompt
from hiero.policy.server import CompletionServer, ServeConfig

ANSWER_WITHIN_S = 60.0  # the stated bound for every valid request of the load test (tiny model, 2 CPU cores)


def post(url: str, body, timeout: float = 120.0) -> tuple[int, dict]:
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", "/v1/completions", body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(tiny_policy):
    s = CompletionServer(
        ServeConfig(
            policy=str(tiny_policy),
            port=0,
            model_name="tiny",
            device="cpu",
            batch_wait_ms=10,
            max_concurrency=64,
            max_request_tokens=4096,
        )
    ).start_background()
    yield s
    s.close()


def test_load_200_requests_50_concurrent_plus_one_oversized(server, test_problems):
    """Every valid request answered (HTTP 200) within ANSWER_WITHIN_S; the oversized one refused at once."""
    prompts = [build_prompt(test_problems[i % len(test_problems)].question) for i in range(200)]
    started = time.perf_counter()

    def ask(i):
        t0 = time.perf_counter()
        status, body = post(
            server.url, {"prompt": prompts[i], "max_tokens": 8, "temperature": 1.0, "seed": i}
        )
        return status, body, time.perf_counter() - t0

    with ThreadPoolExecutor(50) as pool:
        futures = [pool.submit(ask, i) for i in range(200)]
        # one request at the budget (32 x 128 = 4096 tokens) is served too, without starving the small ones
        large = pool.submit(lambda: (time.perf_counter(), post(server.url, {
            "prompt": prompts[1], "n": 32, "max_tokens": 128, "temperature": 1.0}), time.perf_counter()))
        big = post(
            server.url, {"prompt": prompts[0], "n": 128, "max_tokens": 4096}
        )  # the oversized one
        results = [f.result() for f in futures]
        t_large0, large, t_large1 = large.result()
    assert large[0] == 200 and len(large[1]["choices"]) == 32
    wall = time.perf_counter() - started
    assert big[0] == 400 and "per-request budget" in big[1]["error"]["message"]
    assert [s for s, _, _ in results] == [200] * 200
    assert all(len(b["choices"]) == 1 for _, b, _ in results)
    worst = max(t for _, _, t in results)
    print(f"\nload: 200 requests / 50 concurrent answered in {wall:.2f}s wall, slowest {worst:.2f}s, "
          f"the 4096-token request in {t_large1 - t_large0:.2f}s, {server.stats['batches']} batched decodes")
    assert worst < ANSWER_WITHIN_S and t_large1 - t_large0 < ANSWER_WITHIN_S


def test_backlog_is_sized_for_the_concurrency(server):
    assert server.httpd.request_queue_size >= 50


@pytest.mark.parametrize("body,field", [
    (b'{"prompt": "x", "temperature": NaN}', "temperature"), (b'{"prompt": "x", "top_p": Infinity}', "top_p"),
    ({"prompt": "x", "n": 0}, "n"), ({"prompt": "x", "max_tokens": 1.5}, "max_tokens"),
    ({"prompt": "x", "max_tokens": -1}, "max_tokens"), ({"prompt": ""}, "prompt"),
    ({"prompt": "x", "stop": [1]}, "stop"), ({"prompt": "x", "seed": "a"}, "seed"), ([1, 2], "JSON object"),
])
def test_every_invalid_field_is_a_400(server, body, field):
    status, answer = post(server.url, body)
    assert status == 400 and field in answer["error"]["message"]


class _Gate:
    """A generator whose first call waits for a gate: the worker is busy while the test queues more."""

    tokenizer = staticmethod(lambda prompts: {"input_ids": [[1] for _ in prompts]})

    def __init__(self):
        self.gate, self.entered, self.calls = threading.Event(), threading.Event(), []

    def generate(self, prompts, n=1, **kw):
        self.calls.append(list(prompts))
        self.entered.set()
        self.gate.wait(10)
        return [[Completion(p, 1, "eos")] * n for p in prompts]


def test_a_disconnected_client_is_cancelled_quietly(capfd):
    gen = _Gate()
    s = CompletionServer(
        ServeConfig(port=0, model_name="m", batch_wait_ms=1), generator=gen
    ).start_background()
    try:
        first = threading.Thread(target=post, args=(s.url, {"prompt": "first"}), daemon=True)
        first.start()
        assert gen.entered.wait(10)  # the worker is now busy with "first"
        u = urlparse(s.url)
        sock = socket.create_connection((u.hostname, u.port))
        body = json.dumps({"prompt": "gone"}).encode()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.3)  # queued behind "first"
        sock.close()  # the client goes away
        deadline = time.time() + 10
        while s.stats["cancelled"] == 0 and time.time() < deadline:
            time.sleep(0.02)
        gen.gate.set()
        first.join(10)
        assert s.stats["cancelled"] == 1
        assert post(s.url, {"prompt": "after"})[0] == 200
        assert ["gone"] not in gen.calls  # never decoded
    finally:
        gen.gate.set()
        s.close()
    assert "Traceback" not in capfd.readouterr().err


def test_a_client_that_leaves_mid_answer_prints_nothing(capfd):
    gen = _Gate()
    gen.gate.set()
    s = CompletionServer(
        ServeConfig(port=0, model_name="m", batch_wait_ms=1), generator=gen
    ).start_background()
    try:
        u = urlparse(s.url)
        for _ in range(5):
            sock = socket.create_connection((u.hostname, u.port))
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )  # RST on close
            sock.sendall(
                b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{"prompt": "a"}'
            )
            sock.close()
        time.sleep(0.5)
        assert post(s.url, {"prompt": "still up"})[0] == 200
    finally:
        s.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err


class _Pieces:
    """A generator cut into decodes like HFGenerator.pieces: one decode per prompt, each taking `step_s`;
    `log` records the prompt of every decode run, in order."""

    tokenizer = staticmethod(lambda prompts: {"input_ids": [[1] for _ in prompts]})

    def __init__(self, step_s: float):
        self.step_s, self.log, self.started = step_s, [], threading.Event()

    def pieces(self, prompts, n=1, **kw):
        def run(p):
            self.started.set()
            time.sleep(self.step_s)
            self.log.append(p)
            return [[Completion(p, 1, "eos")] * n]

        return [([i], lambda p=p: run(p)) for i, p in enumerate(prompts)]

    def generate(self, prompts, **kw):
        return [out for _, run in self.pieces(prompts, **kw) for out in run()]


def test_a_small_request_waits_for_one_decode_not_for_a_large_request():
    """Round-robin over decodes: a request arriving while a 12-decode request runs is answered after at
    most one more of its decodes, and the large one's answer is still whole and in order."""
    gen = _Pieces(step_s=0.1)
    s = CompletionServer(ServeConfig(port=0, model_name="m", batch_wait_ms=1), generator=gen)
    s.start_background()
    try:
        big_prompts = [f"big{i}" for i in range(12)]
        big = {}
        t = threading.Thread(target=lambda: big.update(r=post(s.url, {"prompt": big_prompts})), daemon=True)
        t.start()
        assert gen.started.wait(10)
        t0 = time.perf_counter()
        status, small = post(s.url, {"prompt": "small"})
        waited = time.perf_counter() - t0
        t.join(20)
    finally:
        s.close()
    assert status == 200 and small["choices"][0]["text"] == "small"
    at = gen.log.index("small")
    assert 1 <= at <= 3 < len(gen.log) - 1  # decoded between the big request's decodes, not after them
    assert waited < 0.1 * 6  # vs 1.2 s for the whole large request
    assert big["r"][0] == 200 and [c["text"] for c in big["r"][1]["choices"]] == big_prompts


def test_a_call_whose_client_left_stops_between_its_decodes():
    gen = _Pieces(step_s=0.1)
    s = CompletionServer(ServeConfig(port=0, model_name="m", batch_wait_ms=1), generator=gen)
    s.start_background()
    try:
        u = urlparse(s.url)
        sock = socket.create_connection((u.hostname, u.port))
        body = json.dumps({"prompt": [f"p{i}" for i in range(20)]}).encode()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert gen.started.wait(10)
        sock.close()  # the client goes away during the second of 20 decodes
        deadline = time.time() + 10
        while s.stats["cancelled"] == 0 and time.time() < deadline:
            time.sleep(0.02)
        assert post(s.url, {"prompt": "after"})[0] == 200
    finally:
        s.close()
    assert s.stats["cancelled"] == 1 and len(gen.log) < 8 and gen.log[-1] == "after"


def test_decodes_in_any_order_give_the_completions_of_one_call(tiny_policy, test_problems):
    """HFGenerator.pieces: every row is seeded by its own key, so the server's interleaving (here: the
    decodes run last to first) changes no completion of a seeded sampled call."""
    from hiero.policy.hf_backend import HFGenerator

    gen = HFGenerator(str(tiny_policy), batch_size=4, device="cpu")
    prompts = [build_prompt(p.question) for p in test_problems[:5]]
    kw = dict(n=3, max_new_tokens=12, temperature=1.0, seed=11)
    whole = gen.generate(prompts, **kw)
    pieces = gen.pieces(prompts, **kw)
    assert len(pieces) == 5  # 4 rows per decode: one prompt's 3 samples each
    out = {}
    for indices, run in reversed(pieces):
        out.update(zip(indices, run()))
    assert [[c.text for c in out[i]] for i in range(5)] == [[c.text for c in row] for row in whole]


def test_a_generator_fault_is_a_500_and_the_worker_goes_on():
    class Short(_Pieces):  # gives no completion for a prompt "lost"
        def pieces(self, prompts, n=1, **kw):
            if "lost" in prompts:
                return [([0], lambda: [])]
            return super().pieces(prompts, n=n, **kw)

    gen = Short(step_s=0.0)
    s = CompletionServer(ServeConfig(port=0, model_name="m", batch_wait_ms=1), generator=gen)
    s.start_background()
    try:
        status, body = post(s.url, {"prompt": "lost"})
        assert status == 500 and "error" in body
        status, body = post(s.url, {"prompt": "fine"})
        assert status == 200 and body["choices"][0]["text"] == "fine"
        assert s._worker.is_alive()
    finally:
        s.close()
