"""Scale-out invariance of the shared loop: 2 processes x batch b == 1 process x batch 2b, and
accumulation 4 x 2 == 8 x 1, on the loss curve (metrics.jsonl, one row per optimizer step).

The 2-process runs go through the real CLI under `torch.distributed.run` on CPU (gloo, via
ACCELERATE_USE_CPU=1; `accelerate launch --cpu` runs CPU multi-process only through mpirun), one
launch for all four trainers together (reward model, HiPO, policy SFT, selftrain;
tests/dist_worker.py), so the start-up of two Python processes is paid once. What makes the curves
equal (hiero/training.py):
- the same examples per optimizer step: LengthGroupedBatches cuts optimizer-step batches of W·A·b
  and splits them; shuffled loaders draw their order from (seed, epoch) on every process;
- gradients reduced by DDP through the prepared step module (RewardModel.outputs and the bare
  decoder + LM head are not `forward`, yet they are synchronised);
- the RM loss, a mean over a varying number of labelled steps, weighted by that number
  (`loss_weight="n_steps"` in hiero/reward/train.py) so that the mean is over all steps of the step;
  likewise the SFT loss over target tokens (`"n_tokens"`) and the selftrain loss over examples
  (`"n_examples"`); HiPO's per-pair mean needs nothing (equal pairs per micro-batch);
- the scheduler stepped once per optimizer step; one metrics row per step, written by rank 0;
- the reference log-probs computed by rank 0 and read from the cache by rank 1; the SFT tokenizer
  trained by rank 0 and read back by rank 1; accuracy figures measured by rank 0 and broadcast.
Tolerance: DDP sums gradients in another order than one process does, and Adam then divides by
sqrt(v); 4 steps stay within ~1e-6 relative; we allow 2e-5.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.domains.builtin import generate_problems
from hiero.policy.prompt import STEP_SEP
from hiero.testing import make_tiny_base, noisy_reward_rows
from hiero.training import TrainConfig, train_loop
from hiero.trees.tree import add_node, new_tree

sys.path.insert(0, str(Path(__file__).parent / "preference"))
import po_helpers as H  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RTOL, ATOL = 2e-5, 1e-6


@pytest.fixture(autouse=True)
def one_thread():
    """Each process of the 2-process runs has one thread; so does the reference (and on a shared
    2-core machine two threads per run are several times slower than one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    # stepwise rows with unequal numbers of steps (the RM loss is a mean over labelled steps)
    train, ev = noisy_reward_rows(16, 0)[0], noisy_reward_rows(4, 1)[0]
    assert len({len(r["completions"]) for r in train}) > 1  # the weighting matters on these rows
    write_jsonl(root / "rm_data" / "train.jsonl", train)
    write_jsonl(root / "rm_data" / "eval.jsonl", ev)
    make_tiny_base(root / "base", [r["prompt"] for r in train] + [s for r in train for s in r["completions"]],
                   vocab_size=300, hidden=32)
    tok = H.make_tokenizer(root / "tok")
    H.make_model(root / "policy", tok, seed=0)
    pairs = H.synth_pairs(40)[:16]
    assert len(pairs) == 16
    write_jsonl(root / "pairs.jsonl", pairs)
    write_jsonl(root / "trees.jsonl", _selftrain_trees(16))
    return root


def _selftrain_trees(n):
    """Per problem a correct terminal path (MC 1: selected) and a wrong one: n examples of unequal length."""
    trees = []
    for p in generate_problems(n, 2):
        t = new_tree(p)
        add_node(t, 0, STEP_SEP.join(p.steps), terminal=True, correct=True, answer=p.answer)
        add_node(t, 0, "The answer is 0", terminal=True, correct=False, answer="0")
        t.recompute_counts()
        trees.append(t)
    return trees


def rm_argv(a: Path, out: Path, batch: int, accum: int = 1) -> list[str]:
    return [
        "rm",
        "train",
        "--kind",
        "prm",
        "--data",
        str(a / "rm_data"),
        "--base",
        str(a / "base"),
        "-o",
        str(out),
        "--loss",
        "soft_ce",
        "--lr",
        "0.01",
        "--warmup-ratio",
        "0.25",
        "--batch-size",
        str(batch),
        "--grad-accum",
        str(accum),
        "--epochs",
        "1",
        "--max-grad-norm",
        "0.5",
        "--log-every",
        "1",
    ]


def po_argv(a: Path, out: Path, batch: int, accum: int = 1) -> list[str]:
    return ["po", "train", "--loss", "hipo", "--weight-preset", "mt-bias", "--model", str(a / "policy"),
            "--pairs", str(a / "pairs.jsonl"), "-o", str(out), "--ref-cache-dir", str(out / "cache"),
            "--lr", "0.003", "--batch-size", str(batch), "--grad-accum", str(accum), "--epochs", "1",
            "--max-grad-norm", "1.0", "--log-every", "1"]


def sft_argv(out: Path, batch: int, accum: int = 1) -> list[str]:
    return ["policy", "train", "--preset", "micro", "-o", str(out), "--max-steps", "4", "--lr", "0.01",
            "--warmup-ratio", "0.25", "--batch-size", str(batch), "--grad-accum", str(accum), "--n-test", "4",
            "--max-new-tokens", "8"]


def st_argv(a: Path, out: Path, batch: int, accum: int = 1) -> list[str]:
    return ["selftrain", "--policy", str(a / "policy"), "--trees", str(a / "trees.jsonl"), "-o", str(out),
            "--lr", "0.01", "--warmup-ratio", "0.25", "--batch-size", str(batch), "--grad-accum", str(accum),
            "--epochs", "1", "--eval-problems", "synth:n=2", "--max-new-tokens", "8", "--log-every", "1"]


def curve(out: Path) -> list[dict]:
    return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def assert_same_curve(a: Path, b: Path, steps: int):
    ca, cb = curve(a), curve(b)
    assert [r["step"] for r in ca] == [r["step"] for r in cb] == list(range(1, steps + 1))  # one row per step
    for ra, rb in zip(ca, cb):
        assert ra["lr"] == pytest.approx(rb["lr"], rel=1e-9)
        assert ra["loss"] == pytest.approx(rb["loss"], rel=RTOL, abs=ATOL), (ra, rb)
    assert ca[0]["loss"] != pytest.approx(ca[-1]["loss"], rel=1e-3)  # the model did move


def run_in_process(argv):
    """The 1-process reference through the same CLI."""
    torch.manual_seed(0)
    assert cli(argv) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(jobs: list[dict], tmp: Path, nproc: int = 2, timeout: int = 240, expect_ok: bool = True) -> None:
    spec = tmp / "jobs.json"
    spec.write_text(json.dumps({"jobs": jobs}))
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), str(ROOT / "tests" / "dist_worker.py"), str(spec)]
    proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=timeout)
    assert (proc.returncode == 0) == expect_ok, proc.stdout[-3000:] + proc.stderr[-6000:]


# ----------------------------------------------------------------------------- 2 processes
def test_two_processes_match_one_process_all_trainers(assets, tmp_path):
    d = tmp_path
    launch([{"argv": rm_argv(assets, d / "rm2", batch=2), "summary": str(d / "rm2_rank{rank}.json")},
            {"argv": po_argv(assets, d / "po2", batch=2), "summary": str(d / "po2_rank{rank}.json")},
            {"argv": sft_argv(d / "sft2", batch=4), "summary": str(d / "sft2_rank{rank}.json")},
            {"argv": st_argv(assets, d / "st2", batch=2), "summary": str(d / "st2_rank{rank}.json")}], d)
    run_in_process(rm_argv(assets, d / "rm1", batch=4))
    run_in_process(po_argv(assets, d / "po1", batch=4))
    run_in_process(sft_argv(d / "sft1", batch=8))
    run_in_process(st_argv(assets, d / "st1", batch=4))

    # policy SFT: a mean over target tokens, whose count differs between micro-batches
    assert_same_curve(d / "sft2", d / "sft1", steps=4)
    sft_ranks = [json.loads((d / f"sft2_rank{r}.json").read_text()) for r in (0, 1)]
    sft_one = json.loads((d / "sft1" / "train_summary.json").read_text())
    assert sft_ranks[0]["processes"] == 2 and sft_one["processes"] == 1
    assert (
        sft_ranks[0]["train_tokens"] == sft_ranks[1]["train_tokens"] == sft_one["train_tokens"]
    )  # summed over ranks
    assert (
        sft_ranks[0]["test_accuracy"] == sft_ranks[1]["test_accuracy"] == sft_one["test_accuracy"]
    )  # broadcast
    assert (d / "sft2" / "tokenizer.json").read_text() == (d / "sft1" / "tokenizer.json").read_text()
    assert json.loads((d / "sft2" / "train_summary.json").read_text())["processes"] == 2
    # selftrain: 16 examples, 4 per step
    assert_same_curve(d / "st2", d / "st1", steps=4)
    st_ranks = [json.loads((d / f"st2_rank{r}.json").read_text()) for r in (0, 1)]
    assert st_ranks[0]["before"] == st_ranks[1]["before"] and st_ranks[0]["after"] == st_ranks[1]["after"]
    assert st_ranks[0]["examples"] == 16 and (d / "st2" / "selftrain_summary.json").exists()
    assert (d / "st2" / "config.json").exists()

    assert_same_curve(d / "rm2", d / "rm1", steps=4)  # 16 rows, 4 per step
    assert_same_curve(d / "po2", d / "po1", steps=4)  # 16 pairs, 4 per step
    rm_ranks = [json.loads((d / f"rm2_rank{r}.json").read_text()) for r in (0, 1)]
    assert rm_ranks[0]["best_eval_loss"] == pytest.approx(rm_ranks[1]["best_eval_loss"])  # replicas agree
    one = json.loads((d / "rm1" / "train_summary.json").read_text())
    assert rm_ranks[0]["best_eval_loss"] == pytest.approx(one["best_eval_loss"], rel=RTOL)
    po_ranks = [json.loads((d / f"po2_rank{r}.json").read_text()) for r in (0, 1)]
    assert [p["ref_cache"] for p in po_ranks] == ["miss", "hit"]  # computed once, by rank 0
    assert (d / "po2" / "config.json").exists() and (d / "rm2" / "hiero_rm.json").exists()


# ----------------------------------------------------------------------------- accumulation (1 process)
def test_grad_accum_4x2_equals_8x1_all_trainers(assets, tmp_path):
    d = tmp_path
    run_in_process(rm_argv(assets, d / "rm_acc", batch=2, accum=4))
    run_in_process(rm_argv(assets, d / "rm_big", batch=8))
    assert_same_curve(d / "rm_acc", d / "rm_big", steps=2)
    run_in_process(po_argv(assets, d / "po_acc", batch=2, accum=4))
    run_in_process(po_argv(assets, d / "po_big", batch=8))
    assert_same_curve(d / "po_acc", d / "po_big", steps=2)
    run_in_process(sft_argv(d / "sft_acc", batch=2, accum=4))
    run_in_process(sft_argv(d / "sft_big", batch=8))
    assert_same_curve(d / "sft_acc", d / "sft_big", steps=4)
    run_in_process(st_argv(assets, d / "st_acc", batch=2, accum=4))
    run_in_process(st_argv(assets, d / "st_big", batch=8))
    assert_same_curve(d / "st_acc", d / "st_big", steps=2)


def _weighted_problem(batch: int):
    """Toy regression whose loss per batch is a mean over a varying number of 'units' per example
    (example i carries 1 + i % 3 units), like an RM batch's labelled steps."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    units = torch.tensor([1 + i % 3 for i in range(16)], dtype=torch.float32)
    data = torch.utils.data.TensorDataset(x, y, units)
    return torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True)


def _weighted_step(model, batch):
    x, y, units = batch
    err = (model(x).squeeze(-1) - y) ** 2
    return (err * units).sum() / units.sum(), {"n_units": float(units.sum())}


@pytest.mark.parametrize("weighted", [True, False])
def test_loop_accumulation_with_and_without_loss_weight(tmp_path, weighted):
    """With loss_weight the 4 x 2 run is the 8 x 1 run; without, it is the mean of micro-batch means
    (what plain Accelerate accumulation computes), which differs when the unit counts differ."""
    runs = {}
    for name, batch, accum in (("acc", 2, 4), ("big", 8, 1)):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        cfg = TrainConfig(lr=0.1, max_steps=2, warmup_ratio=0.0, grad_accum=accum, batch_size=batch, seed=0)
        train_loop(model, _weighted_step, _weighted_problem(batch), cfg, tmp_path / name,
                   loss_weight="n_units" if weighted else None)
        runs[name] = (curve(tmp_path / name), model.weight.detach().clone())
    (ca, wa), (cb, wb) = runs["acc"], runs["big"]
    if weighted:
        torch.testing.assert_close(wa, wb, rtol=1e-5, atol=1e-6)
        assert [r["loss"] for r in ca] == pytest.approx([r["loss"] for r in cb], rel=1e-5)
    else:
        assert not torch.allclose(wa, wb, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # two 2-process launches (~40 s on 2 cores)
def test_two_processes_killed_and_resumed_equal_uninterrupted(assets, tmp_path):
    """DDP: both processes die (os._exit) after the step-2 checkpoint; the relaunched command resumes
    from it (each rank its own RNG file) and writes the bytes of an uninterrupted 2-process run."""
    d = tmp_path
    argv = lambda out: rm_argv(assets, out, batch=2) + ["--save-every", "2"]  # noqa: E731
    launch(
        [
            {"argv": argv(d / "ref"), "summary": str(d / "ref{rank}.json")},
            {"argv": argv(d / "run"), "summary": str(d / "run{rank}.json"), "kill_at_call": 4},
        ],
        d,
        expect_ok=False,
    )
    assert (d / "ref" / "model.safetensors").exists() and (
        d / "run" / "checkpoints" / "step-00000002"
    ).is_dir()
    assert sorted(p.name for p in (d / "run" / "checkpoints" / "step-00000002").glob("rng-*")) == [
        "rng-0.json", "rng-0.safetensors", "rng-1.json", "rng-1.safetensors"]
    launch([{"argv": argv(d / "run"), "summary": str(d / "run{rank}.json")}], d)
    for name in ("model.safetensors", "rm_head.safetensors"):
        assert (d / "run" / name).read_bytes() == (d / "ref" / name).read_bytes(), name
    assert [r["step"] for r in curve(d / "run")] == [1, 2, 3, 4]
