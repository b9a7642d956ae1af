"""Every trainer, killed at a chosen step and rerun with the same command, writes byte-identical
model files to an uninterrupted run; two fresh runs with one seed do too (hiero/training.py,
hiero/checkpoint.py, hiero/runs.py).

The kill is simulated by raising inside the loop's step (after `save_every` steps were
checkpointed): nothing after it runs, as after kill -9, except that Python unwinds (the run folder
stays because it holds a checkpoint).
"""

import sys
from pathlib import Path

import pytest

from hiero import training
from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.domains import builtin as synth
from hiero.testing import make_tiny_base, noisy_reward_rows
from hiero.trees.tree import add_node, new_tree

sys.path.insert(0, str(Path(__file__).parent / "preference"))
import po_helpers as H  # noqa: E402


class Killed(RuntimeError):
    pass


def kill_at_call(monkeypatch, n):
    """Make the n-th training step call raise (the loop's prepared module is where every step goes)."""
    real, calls = training._StepModule.forward, {"n": 0}

    def forward(self, batch=None, call=None):
        if call is None:
            calls["n"] += 1
            if calls["n"] == n:
                raise Killed(f"killed in step call {n}")
        return real(self, batch, call)

    monkeypatch.setattr(training._StepModule, "forward", forward)


def model_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.safetensors"))}


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("exact")
    train, _ = noisy_reward_rows(24, 0)
    write_jsonl(root / "rm_data" / "train.jsonl", train)
    texts = [r["prompt"] for r in train] + [s for r in train for s in r["completions"]]
    make_tiny_base(root / "base", texts, vocab_size=300, hidden=32, layers=1)
    tok = H.make_tokenizer(root / "tok")
    H.make_model(root / "policy", tok, seed=0)
    write_jsonl(root / "pairs.jsonl", H.synth_pairs(12))
    trees = []
    for p in synth.generate_problems(6, seed=4):
        t = new_tree(p)
        steps = synth.solve(p)
        parent = 0
        for i, s in enumerate(steps):
            parent = add_node(
                t,
                parent,
                s,
                terminal=i == len(steps) - 1,
                correct=True if i == len(steps) - 1 else None,
                answer=p.answer if i == len(steps) - 1 else None,
            ).id
        t.recompute_counts()
        trees.append(t)
    write_jsonl(root / "trees.jsonl", trees)
    return root


def commands(root: Path, out: Path) -> dict[str, list[str]]:
    common = ["--save-every", "2", "--seed", "5"]
    return {
        "rm": [
            "rm",
            "train",
            "--data",
            str(root / "rm_data"),
            "--base",
            str(root / "base"),
            "-o",
            str(out),
            "--max-steps",
            "6",
            "--batch-size",
            "4",
            "--lr",
            "0.01",
            *common,
        ],
        "policy": [
            "policy",
            "train",
            "--preset",
            "micro",
            "--problems",
            "synth:n=24",
            "--n-test",
            "2",
            "--max-new-tokens",
            "8",
            "--max-steps",
            "6",
            "--batch-size",
            "4",
            "-o",
            str(out),
            *common,
        ],
        "po": [
            "po",
            "train",
            "--model",
            str(root / "policy"),
            "--pairs",
            str(root / "pairs.jsonl"),
            "-o",
            str(out),
            "--ref-cache-dir",
            str(root / "cache"),
            "--max-steps",
            "6",
            "--batch-size",
            "2",
            "--lr",
            "0.01",
            *common,
        ],
        "po-rows": [
            "po",
            "train",
            "--model",
            str(root / "policy"),
            "--pairs",
            str(root / "pairs.jsonl"),
            "-o",
            str(out),
            "--ref-cache-dir",
            str(root / "cache"),
            "--max-steps",
            "4",
            "--batch-size",
            "2",
            "--lr",
            "0.01",
            "--loss",
            "hipo",
            "--weight-preset",
            "rq-bias,mt-bias",
            "--schedule",
            "sequential",
            *common,
        ],
        "selftrain": [
            "selftrain",
            "--policy",
            str(root / "policy"),
            "--trees",
            str(root / "trees.jsonl"),
            "-o",
            str(out),
            "--max-steps",
            "6",
            "--batch-size",
            "2",
            "--lr",
            "0.01",
            "--eval-problems",
            "synth:n=2",
            "--max-new-tokens",
            "8",
            "--threshold",
            "0",
            *common,
        ],
    }


@pytest.mark.parametrize("trainer", ["rm", "policy", "po", "selftrain", "po-rows"])
def test_killed_and_resumed_equals_uninterrupted(assets, tmp_path, monkeypatch, trainer):
    """po-rows: two HiPO weight rows trained in sequence (row 2 starts from row 1's weights), killed
    in row 2; the rerun restores row 1 from its last checkpoint and resumes row 2 from step 2."""
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert cli(commands(assets, ref)[trainer]) == 0
    with monkeypatch.context() as m:
        kill_at_call(m, 4 + 4 if trainer == "po-rows" else 4)  # after a step-2 checkpoint, mid-way to step 4
        with pytest.raises(Killed):
            cli(commands(assets, run)[trainer])
    ckpt = run / "row1-mt-bias" if trainer == "po-rows" else run
    assert (ckpt / "checkpoints" / "step-00000002").is_dir()
    assert cli(commands(assets, run)[trainer]) == 0
    folders = ["row0-rq-bias", "row1-mt-bias"] if trainer == "po-rows" else ["."]
    for f in folders:
        want, got = model_bytes(ref / f), model_bytes(run / f)
        assert want and got == want, f
    assert not list(run.rglob("checkpoints"))


def test_rm_same_seed_same_bytes(assets, tmp_path):
    """The head and the marker token's embedding row are drawn after seeding (reward/train.py)."""
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert cli(commands(assets, out)["rm"]) == 0
    assert model_bytes(a) == model_bytes(b)
