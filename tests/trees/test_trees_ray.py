"""`hiero annotate --backend ray` on a local Ray cluster of 2 CPU workers against the single-process
run: the same trees (compared as sets keyed by problem id: the file is in arrival order), resume
from a crashed file, and kill -9 of a running Ray driver then the same command again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hiero.cli import main as cli_main
from hiero.data.io import write_jsonl
from hiero.domains import builtin as synth
from hiero.policy.model import build_model
from hiero.policy.prompt import build_prompt
from hiero.policy.tokenizer import train_tokenizer
from hiero.trees.annotate import AnnotateConfig, main
from hiero.trees.tree import check_tree
from hiero.types import Tree

ray = pytest.importorskip(
    "ray", reason="ray is not installed (pip install 'hiero[ray]'): the Ray backend is untested"
)


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance with 2 CPUs; annotate uses it as it finds it (and leaves it running)."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    if started:
        ray.shutdown()


@pytest.fixture(autouse=True)
def one_thread():
    """The reference runs with one torch thread, as each 1-CPU actor does (same floating point)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory):
    path = tmp_path_factory.mktemp("policy")
    problems = synth.generate_problems(50, seed=0, split="train")
    tok = train_tokenizer([build_prompt(p.question, p.steps) for p in problems], vocab_size=300)
    build_model(len(tok), n_layers=1, hidden=32, heads=2, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def problems_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("problems") / "problems.jsonl"
    write_jsonl(path, synth.generate_problems(12, seed=0, split="test"))
    return path


def cfg_for(policy, problems, out, **kw) -> AnnotateConfig:
    base = dict(policy=str(policy), problems=str(problems), out=str(out), children=2, depth=3, step_tokens=6,
                rollouts=2, simulations=2, samples=3, batch_problems=2, seed=5, temperature=1.0, limit=8)
    return AnnotateConfig(**{**base, **kw})


def by_id(path) -> dict[str, str]:
    """problem id -> the tree's JSON line (byte-identical trees give identical lines)."""
    lines = path.read_text().splitlines()
    out = {json.loads(line)["problem"]["id"]: line for line in lines}
    assert len(out) == len(lines), f"{path}: a problem written twice"
    return out


# each Ray run starts 2 actors that import torch + load the policy (~5 s on 2 shared cores): mcts /
# bsearch and the real kill -9 run only with the slow tests (make test-all)
@pytest.mark.parametrize("mode", ["bfs", pytest.param("mcts", marks=pytest.mark.slow),
                                  pytest.param("bsearch", marks=pytest.mark.slow)])
def test_ray_matches_single_process(cluster, tmp_path, tiny_policy, problems_file, mode):
    ref = tmp_path / "ref.jsonl"
    main(cfg_for(tiny_policy, problems_file, ref, mode=mode))
    out = tmp_path / "ray.jsonl"
    summary = main(cfg_for(tiny_policy, problems_file, out, mode=mode, backend="ray", workers=2))
    assert summary["backend"] == "ray" and summary["workers"] == 2 and summary["written"] == 8
    assert summary["generated_tokens"] > 0
    got, want = by_id(out), by_id(ref)
    assert got == want  # same trees, whichever actor searched them, in whatever order they arrived
    for line in got.values():
        check_tree(Tree.from_dict(json.loads(line)))
    assert main(cfg_for(tiny_policy, problems_file, out, mode=mode, backend="ray", workers=2))["written"] == 0


def test_ray_resumes_a_crashed_file(cluster, tmp_path, tiny_policy, problems_file):
    ref = tmp_path / "ref.jsonl"
    main(cfg_for(tiny_policy, problems_file, ref))
    lines = ref.read_bytes().splitlines(keepends=True)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2])  # what a kill -9 mid-write leaves
    summary = main(cfg_for(tiny_policy, problems_file, out, backend="ray", workers=2))
    assert summary["written"] == 5 and summary["skipped"] == 3
    assert by_id(out) == by_id(ref)  # chunk (2, 3) was searched whole again: tree 3 is the same


@pytest.mark.slow
def test_kill9_of_the_ray_driver_then_rerun(cluster, tmp_path, tiny_policy, problems_file):
    args = ["annotate", "--policy", str(tiny_policy), "--problems", str(problems_file), "--children", "2",
            "--depth", "3", "--step-tokens", "6", "--batch-problems", "1", "--seed", "3"]
    ref = tmp_path / "ref.jsonl"
    assert cli_main(args + ["-o", str(ref)]) == 0
    out = tmp_path / "out.jsonl"
    ray_args = args + ["-o", str(out), "--backend", "ray", "--workers", "2", "--ray-address", cluster]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hiero.cli", *ray_args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # the driver; its actors die with it
    proc.wait()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    at_kill = out.read_bytes() if out.exists() else b""
    assert 1 <= at_kill.count(b"\n") < 12, f"kill did not land mid-run: {stderr[-3000:]}"
    assert cli_main(ray_args) == 0  # the same command again (joins the same cluster)
    assert by_id(out) == by_id(ref)


def test_ray_backend_errors(tmp_path, tiny_policy, problems_file):
    with pytest.raises(ValueError, match="do not pass a generator"):
        main(cfg_for(tiny_policy, problems_file, tmp_path / "x.jsonl", backend="ray"), generator=object())
    with pytest.raises(ValueError, match="--workers"):
        main(cfg_for(tiny_policy, problems_file, tmp_path / "x.jsonl", backend="ray", workers=-1))
