"""`hiero annotate` with a real (tiny, untrained) Hugging Face model through the `hf` backend:
both modes on 20 problems, and kill -9 of a running `python -m hiero.cli annotate` then resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from hiero.cli import main as cli_main
from hiero.data.io import read_jsonl, write_jsonl
from hiero.domains import builtin as synth
from hiero.policy.hf_backend import HFGenerator
from hiero.policy.model import build_model
from hiero.policy.prompt import build_prompt
from hiero.policy.tokenizer import train_tokenizer
from hiero.trees.annotate import AnnotateConfig, main
from hiero.trees.tree import check_tree
from hiero.types import Tree


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory):
    """A ~26K-parameter Qwen2 model and a BPE tokenizer trained on the fly, saved and loaded back."""
    path = tmp_path_factory.mktemp("policy")
    problems = synth.generate_problems(50, seed=0, split="train")
    tok = train_tokenizer([build_prompt(p.question, p.steps) for p in problems], vocab_size=300)
    model = build_model(len(tok), n_layers=1, hidden=32, heads=2, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def problems_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("problems") / "problems.jsonl"
    write_jsonl(path, synth.generate_problems(20, seed=0, split="test"))
    return path


@pytest.mark.parametrize("mode", ["bfs", "mcts"])
def test_tiny_model_20_problems(tmp_path, tiny_policy, problems_file, mode):
    gen = HFGenerator(str(tiny_policy), device="cpu")
    out = tmp_path / "trees.jsonl"
    cfg = AnnotateConfig(policy=str(tiny_policy), problems=str(problems_file), out=str(out), mode=mode,
                         children=3, depth=4, step_tokens=6, rollouts=2, simulations=2, batch_problems=20)
    summary = main(cfg, generator=gen)
    trees = list(read_jsonl(out, Tree))
    assert len(trees) == 20 == summary["written"]
    assert summary["generated_tokens"] == gen.stats["generated_tokens"] > 0
    for t in trees:
        check_tree(t)
        assert max(n.depth for n in t.nodes) <= 4 and all(leaf.terminal for leaf in t.leaves())
        if mode == "bfs":
            assert t.root.n_total == len(t.leaves())
            assert len(t.root.children) == 3
    if mode == "bfs":  # one generate call per level for all 20 problems
        assert gen.stats["calls"] <= 4


def test_kill9_then_rerun_gives_the_same_file(tmp_path, tiny_policy, problems_file):
    args = ["annotate", "--policy", str(tiny_policy), "--problems", str(problems_file), "--limit", "10",
            "--children", "2", "--depth", "3", "--step-tokens", "6", "--batch-problems", "1", "--seed", "3"]
    ref = tmp_path / "ref.jsonl"
    assert cli_main(args + ["-o", str(ref)]) == 0  # uninterrupted run (also the fast CLI test)
    ref_bytes = ref.read_bytes()
    assert len(ref_bytes.splitlines()) == 10

    out = tmp_path / "out.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": str(__import__("torch").get_num_threads())}
    proc = subprocess.Popen([sys.executable, "-m", "hiero.cli", *args, "-o", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    at_kill = out.read_bytes() if out.exists() else b""
    assert 1 <= at_kill.count(b"\n") < 10, f"kill did not land mid-run: {stderr[-2000:]}"
    assert ref_bytes.startswith(at_kill.rsplit(b"\n", 1)[0])  # what was written so far is right

    assert cli_main(args + ["-o", str(out)]) == 0  # rerun the same command
    assert out.read_bytes() == ref_bytes
