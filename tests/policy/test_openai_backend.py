"""The `openai` backend against a real HTTP server on loopback that the test starts.

The server is `hiero policy serve`'s CompletionServer serving the tiny model, so the bytes go
through urllib, the socket and the JSON schema both ways; the same prompts through the `hf`
backend directly give the same greedy completions.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hiero.policy import load_generator
from hiero.policy.hf_backend import HFGenerator
from hiero.policy.openai_backend import BackendError, OpenAIGenerator
from hiero.policy.prompt import build_prompt
from hiero.policy.server import CompletionServer, ServeConfig


@pytest.fixture(scope="module")
def server(tiny_policy):
    s = CompletionServer(ServeConfig(policy=str(tiny_policy), port=0, model_name="tiny", device="cpu",
                                     batch_wait_ms=20)).start_background()
    yield s
    s.close()


def test_same_completions_as_the_hf_backend(server, tiny_policy, test_problems):
    prompts = [build_prompt(p.question) for p in test_problems]
    client = load_generator(f"openai:{server.url}#tiny", concurrency=6)
    remote = client.generate(prompts, n=2, max_new_tokens=10, stop=["\n"], temperature=0.0, seed=0)
    local = HFGenerator(tiny_policy, device="cpu").generate(prompts, n=2, max_new_tokens=10, stop=["\n"],
                                                            temperature=0.0, seed=0)
    assert [[(c.text, c.n_tokens, c.finish_reason) for c in r] for r in remote] == \
           [[(c.text, c.n_tokens, c.finish_reason) for c in r] for r in local]
    # six concurrent requests with equal settings were answered by fewer batched decodes
    assert server.stats["batches"] < server.stats["requests"]


def test_sampling_is_seeded_through_the_server(server, test_problems):
    client = OpenAIGenerator(server.url, "tiny", concurrency=2)
    prompts = [build_prompt(test_problems[0].question)]
    a = client.generate(prompts, n=3, max_new_tokens=8, temperature=1.0, seed=5)
    b = client.generate(prompts, n=3, max_new_tokens=8, temperature=1.0, seed=5)
    assert [c.text for c in a[0]] == [c.text for c in b[0]]


def test_bad_request_is_not_retried_and_names_the_field(server):
    client = OpenAIGenerator(server.url, "tiny", max_retries=3, backoff_s=0.01)
    with pytest.raises(BackendError, match="HTTP 400.*'temperature'"):
        client.generate(["Question: 1\nAnswer:\n"], temperature=-1.0)
    assert client.stats["retries"] == 0


def test_api_key_from_env_is_required_and_never_shown(tiny_policy, monkeypatch, caplog):
    secret = "sk-test-do-not-print-4242"
    monkeypatch.setenv("HIERO_TEST_KEY", secret)
    s = CompletionServer(
        ServeConfig(
            policy=str(tiny_policy), port=0, api_key_env="HIERO_TEST_KEY", model_name="m", device="cpu"
        )
    ).start_background()
    try:
        ok = OpenAIGenerator(s.url, "m", api_key_env="HIERO_TEST_KEY")
        assert ok.generate(["Question: 2\nAnswer:\n"], max_new_tokens=3)[0][0].n_tokens > 0
        assert secret not in repr(ok) and secret not in json.dumps(ok.__dict__, default=str)
        monkeypatch.delenv("HIERO_TEST_KEY")
        with caplog.at_level(logging.DEBUG), pytest.raises(BackendError, match="HTTP 401") as err:
            ok.generate(["Question: 2\nAnswer:\n"], max_new_tokens=3)
        assert secret not in str(err.value) and secret not in caplog.text
    finally:
        s.close()


class _Flaky(BaseHTTPRequestHandler):
    """503 (Retry-After 0) for the first `fail` POSTs, then a valid completion."""

    fail = 2
    seen = 0

    def do_POST(self):
        type(self).seen += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).seen <= type(self).fail:
            body, status = b'{"error": {"message": "busy"}}', 503
        else:
            body, status = json.dumps({"choices": [{"index": 0, "text": "1 + 1 = 2", "finish_reason": "stop",
                                                    "stop_reason": None}],
                                       "usage": {"completion_tokens": 5}}).encode(), 200
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_retries_with_backoff_then_succeeds():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client = OpenAIGenerator(
            f"http://127.0.0.1:{httpd.server_address[1]}", "m", max_retries=3, backoff_s=0.01
        )
        (c,), = client.generate(["p"], max_new_tokens=5)
        assert (c.text, c.n_tokens, c.finish_reason) == ("1 + 1 = 2", 5, "eos")  # stop_reason null: EOS
        assert client.stats["retries"] == 2
        _Flaky.seen, _Flaky.fail = 0, 10
        with pytest.raises(BackendError, match="HTTP 503: busy"):
            OpenAIGenerator(f"http://127.0.0.1:{httpd.server_address[1]}", "m", max_retries=1,
                            backoff_s=0.01).generate(["p"])
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_timeout_is_retried_then_reported():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)  # accepts connections but never answers
    try:
        client = OpenAIGenerator(
            f"http://127.0.0.1:{sock.getsockname()[1]}", "m", max_retries=1, timeout_s=0.2, backoff_s=0.01
        )
        with pytest.raises(BackendError, match="Timeout|timed out"):
            client.generate(["p"])
        assert client.stats["retries"] == 1
    finally:
        sock.close()


class _PickyGenerator:
    """Echo generator that refuses prompts containing BAD (as a backend refuses an over-long prompt)."""

    class tokenizer:  # noqa: N801 - stands in for a tokenizer object
        def __new__(cls, texts):
            return {"input_ids": [t.split() for t in texts]}

    def __init__(self):
        self.calls = []

    def generate(self, prompts, *, n=1, max_new_tokens=16, stop=None, temperature=0.0, top_p=1.0, seed=None):
        from hiero.policy.backend import Completion

        self.calls.append(list(prompts))
        if any("BAD" in p for p in prompts):
            raise ValueError("prompt too long for the model")
        return [[Completion(p.upper(), 1, "eos")] * n for p in prompts]


def test_one_bad_request_does_not_fail_the_others_in_its_batch():
    gen = _PickyGenerator()
    s = CompletionServer(
        ServeConfig(port=0, model_name="m", batch_wait_ms=200), generator=gen
    ).start_background()
    try:
        client = OpenAIGenerator(s.url, "m", concurrency=3, max_retries=2, backoff_s=0.01)
        results, errors = {}, {}

        def ask(p):
            try:
                results[p] = client.generate([p], max_new_tokens=4)[0][0].text
            except BackendError as e:
                errors[p] = str(e)

        threads = [threading.Thread(target=ask, args=(p,)) for p in ("good one", "BAD one", "good two")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == {"good one": "GOOD ONE", "good two": "GOOD TWO"}
        assert (
            "HTTP 400" in errors["BAD one"] and client.stats["retries"] == 0
        )  # the request's fault: no retry
        assert len(gen.calls[0]) == 3  # they were batched together first
    finally:
        s.close()


def test_group_jobs_keeps_equal_prompts_apart():
    from hiero.policy.server import _Job, group_jobs

    a, b, c, d = (_Job(["p"], (1,)), _Job(["p"], (1,)), _Job(["q"], (1,)), _Job(["p"], (2,)))
    groups = group_jobs([a, b, c, d])
    assert [[id(j) for j in g] for _, g in groups] == [[id(a), id(c)], [id(b)], [id(d)]]


def test_close_before_start_returns_and_bad_auth_header_is_401(tiny_policy, monkeypatch):
    done = threading.Event()
    s = CompletionServer(ServeConfig(port=0), generator=_PickyGenerator())
    t = threading.Thread(target=lambda: (s.close(), done.set()), daemon=True)
    t.start()
    assert done.wait(10), "close() of a server that never served must not hang"

    import urllib.error
    import urllib.request

    monkeypatch.setenv("HIERO_TEST_KEY2", "k")
    s = CompletionServer(ServeConfig(port=0, api_key_env="HIERO_TEST_KEY2"), generator=_PickyGenerator())
    s.start_background()
    try:
        req = urllib.request.Request(s.url + "/completions", data=b'{"prompt": "x"}', method="POST",
                                     headers={"Authorization": "Bearer k\u00e9"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 401
    finally:
        s.close()


def test_a_busy_port_is_one_clear_error():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(ValueError, match=f"cannot listen on 127.0.0.1:{port}: .*choose one with --port"):
            CompletionServer(ServeConfig(host="127.0.0.1", port=port), generator=_PickyGenerator())


def test_a_request_for_another_model_is_404_naming_the_served_one():
    import json as _json
    import urllib.error
    import urllib.request

    s = CompletionServer(
        ServeConfig(port=0, model_name="tiny"), generator=_PickyGenerator()
    ).start_background()
    try:
        req = urllib.request.Request(s.url + "/completions", method="POST",
                                     data=_json.dumps({"model": "gpt-4", "prompt": "x"}).encode())
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 404 and "'tiny'" in err.value.read().decode()
    finally:
        s.close()
