"""Scale-out invariance of the shared loop: 2 processes x batch b == 1 process x batch 2b, and
accumulation 4 x 2 == 8 x 1, on the loss curve (metrics.jsonl, one row per optimizer step); under DDP,
FSDP and DeepSpeed ZeRO-2 / ZeRO-3 (the last three on CPU with the settings of recipes/accelerate/*.yaml,
tests/dist_worker.py `force_engine`), whose killed runs resume to the bytes of uninterrupted ones from
checkpoints without pickle.

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
sys.path.insert(0, str(Path(__file__).parent))
import po_helpers as H  # noqa: E402
from test_accelerate_recipes import RECIPES, launch_env  # noqa: E402

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


@pytest.fixture(scope="module")
def one_process(assets, tmp_path_factory):
    """The four trainers' 1-process runs with the whole batch, the reference of the sharded ones."""
    d = tmp_path_factory.mktemp("one")
    run_in_process(rm_argv(assets, d / "rm", batch=4))
    run_in_process(po_argv(assets, d / "po", batch=4))
    run_in_process(sft_argv(d / "sft", batch=8))
    run_in_process(st_argv(assets, d / "st", batch=4))
    return d


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# engine -> the accelerate config whose launcher environment the test runs under (dist_worker.force_engine)
ENGINES = {"fsdp": "fsdp.yaml", "zero2": "deepspeed_zero2.yaml", "zero3": "deepspeed_zero3.yaml"}


def engine_env(engine: str) -> dict:
    """What `accelerate launch --config_file recipes/accelerate/<recipe>` exports (ACCELERATE_* and FSDP_*
    settings), in fp32 (the curves are compared with fp32 runs) and without FSDP's module sync and
    meta-device loading, which FSDP does not do on CPU (every process loads the same weights here)."""
    env = {k: v for k, v in launch_env(RECIPES / ENGINES[engine]).items()
           if k.startswith(("ACCELERATE_", "FSDP_"))}
    env.update(ACCELERATE_MIXED_PRECISION="no", FSDP_SYNC_MODULE_STATES="false",
               FSDP_CPU_RAM_EFFICIENT_LOADING="false")
    return env


def launch(jobs: list[dict], tmp: Path, nproc: int = 2, timeout: int = 240, expect_ok: bool = True,
           engine: str | None = None) -> None:
    spec = tmp / "jobs.json"
    kind = engine and ("fsdp" if engine == "fsdp" else "deepspeed")
    spec.write_text(json.dumps({"jobs": jobs, "engine": kind}))
    env = {**os.environ, **(engine_env(engine) if engine else {}), "ACCELERATE_USE_CPU": "1",
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), str(ROOT / "tests" / "dist_worker.py"), str(spec)]
    proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=timeout)
    assert (proc.returncode == 0) == expect_ok, proc.stdout[-3000:] + proc.stderr[-6000:]


# ----------------------------------------------------------------------------- 2 processes
def test_two_processes_match_one_process_all_trainers(assets, one_process, tmp_path):
    d, one = tmp_path, one_process
    launch([{"argv": rm_argv(assets, d / "rm2", batch=2), "summary": str(d / "rm2_rank{rank}.json")},
            {"argv": po_argv(assets, d / "po2", batch=2), "summary": str(d / "po2_rank{rank}.json")},
            {"argv": sft_argv(d / "sft2", batch=4), "summary": str(d / "sft2_rank{rank}.json")},
            {"argv": st_argv(assets, d / "st2", batch=2), "summary": str(d / "st2_rank{rank}.json")}], d)

    # policy SFT: a mean over target tokens, whose count differs between micro-batches
    assert_same_curve(d / "sft2", one / "sft", steps=4)
    sft_ranks = [json.loads((d / f"sft2_rank{r}.json").read_text()) for r in (0, 1)]
    sft_one = json.loads((one / "sft" / "train_summary.json").read_text())
    assert sft_ranks[0]["processes"] == 2 and sft_one["processes"] == 1
    assert (
        sft_ranks[0]["train_tokens"] == sft_ranks[1]["train_tokens"] == sft_one["train_tokens"]
    )  # summed over ranks
    assert (
        sft_ranks[0]["test_accuracy"] == sft_ranks[1]["test_accuracy"] == sft_one["test_accuracy"]
    )  # broadcast
    assert (d / "sft2" / "tokenizer.json").read_text() == (one / "sft" / "tokenizer.json").read_text()
    assert json.loads((d / "sft2" / "train_summary.json").read_text())["processes"] == 2
    # selftrain: 16 examples, 4 per step
    assert_same_curve(d / "st2", one / "st", steps=4)
    st_ranks = [json.loads((d / f"st2_rank{r}.json").read_text()) for r in (0, 1)]
    assert st_ranks[0]["before"] == st_ranks[1]["before"] and st_ranks[0]["after"] == st_ranks[1]["after"]
    assert st_ranks[0]["examples"] == 16 and (d / "st2" / "selftrain_summary.json").exists()
    assert (d / "st2" / "config.json").exists()

    assert_same_curve(d / "rm2", one / "rm", steps=4)  # 16 rows, 4 per step
    assert_same_curve(d / "po2", one / "po", steps=4)  # 16 pairs, 4 per step
    rm_ranks = [json.loads((d / f"rm2_rank{r}.json").read_text()) for r in (0, 1)]
    assert rm_ranks[0]["best_eval_loss"] == pytest.approx(rm_ranks[1]["best_eval_loss"])  # replicas agree
    one = json.loads((one / "rm" / "train_summary.json").read_text())
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


# ----------------------------------------------------------------------------- FSDP and DeepSpeed, on CPU
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_sharded_two_processes_match_one_process_all_trainers(assets, one_process, tmp_path, engine):
    """FSDP (each process holds half of every parameter and of the optimizer state) and DeepSpeed ZeRO-2
    / ZeRO-3 (the optimizer state; under ZeRO-3 the parameters too), each under its recipe's settings:
    the optimisation is still that of one process with the whole batch, for all four trainers."""
    if engine != "fsdp":
        pytest.importorskip("deepspeed", reason="DeepSpeed is in the dev extra")
    d = tmp_path
    launch([{"argv": rm_argv(assets, d / "rm", batch=2), "summary": str(d / "rm_rank{rank}.json")},
            {"argv": po_argv(assets, d / "po", batch=2), "summary": str(d / "po_rank{rank}.json")},
            {"argv": sft_argv(d / "sft", batch=4), "summary": str(d / "sft_rank{rank}.json")},
            {"argv": st_argv(assets, d / "st", batch=2), "summary": str(d / "st_rank{rank}.json")}], d,
           engine=engine)
    for name in ("rm", "po", "sft", "st"):
        assert_same_curve(d / name, one_process / name, steps=4)
    summaries = {n: json.loads((d / f"{n}_rank0.json").read_text()) for n in ("rm", "po", "sft", "st")}
    loops = [summaries["rm"], summaries["po"]["rows"][0], summaries["sft"], summaries["st"]["train"]]
    sharding = "fsdp" if engine == "fsdp" else "deepspeed"
    assert [(x["processes"], x["sharding"]) for x in loops] == [(2, sharding)] * 4  # the engine trained
    assert json.loads((one_process / "rm" / "train_summary.json").read_text())["sharding"] == "none"
    # the model folders hold the whole (gathered) weights: the 1-process run's tensors
    from safetensors.torch import load_file

    for name in ("rm", "po", "st"):
        a, b = (load_file(str(x / name / "model.safetensors")) for x in (d, one_process))
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


# files of each process's part of a sharded checkpoint, besides rng-<rank>.* and trainer / manifest
PARTS = {"fsdp": ["model-{r}.safetensors", "optimizer-{r}.json", "optimizer-{r}.safetensors"],
         "zero2": ["engine-{r}.json", "engine-{r}.safetensors"],
         "zero3": ["engine-{r}.json", "engine-{r}.safetensors"]}


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_sharded_killed_and_resumed_equal_uninterrupted_without_pickle(assets, tmp_path, capsys, engine):
    """Every process writes its own part of the model and optimizer (FSDP shards; DeepSpeed's ZeRO
    partitions, loss scaler and counters) as safetensors + JSON, no pickle; after both processes die,
    the relaunch resumes from those parts and writes the bytes of an uninterrupted run. A run laid out
    otherwise (one process, no engine) refuses the checkpoint."""
    if engine != "fsdp":
        pytest.importorskip("deepspeed", reason="DeepSpeed is in the dev extra")
    d = tmp_path
    argv = lambda out: rm_argv(assets, out, batch=2) + ["--save-every", "2"]  # noqa: E731
    launch([{"argv": argv(d / "ref"), "summary": str(d / "ref{rank}.json")},
            {"argv": argv(d / "run"), "summary": str(d / "run{rank}.json"), "kill_at_call": 4}],
           d, expect_ok=False, engine=engine)
    ckpt = d / "run" / "checkpoints" / "step-00000002"
    per_process = PARTS[engine] + ["rng-{r}.json", "rng-{r}.safetensors"]
    want = ["manifest.json", "trainer.json"] + [f.format(r=r) for r in (0, 1) for f in per_process]
    if engine == "zero2":
        want.append("model.safetensors")  # ZeRO-2 keeps whole weights on every process: written once
    assert sorted(p.name for p in ckpt.iterdir()) == sorted(want)  # only JSON and safetensors
    trainer = json.loads((ckpt / "trainer.json").read_text())
    sharding = "fsdp" if engine == "fsdp" else "deepspeed"
    assert (trainer["engine"], trainer["processes"]) == (sharding, 2)
    assert trainer["zero_stage"] == {"fsdp": None, "zero2": 2, "zero3": 3}[engine]
    if engine == "fsdp":
        from safetensors.torch import load_file

        shards = [load_file(str(ckpt / f"model-{r}.safetensors")) for r in (0, 1)]
        assert shards[0].keys() == shards[1].keys()
        n_model = sum(t.numel() for t in load_file(str(d / "ref" / "model.safetensors")).values())
        assert all(sum(t.numel() for t in s.values()) < n_model for s in shards)  # neither is the whole

    assert cli(argv(d / "run")) != 0  # one process, no engine: refused, nothing trained
    layout = {"fsdp": "fsdp", "zero2": "deepspeed ZeRO-2", "zero3": "deepspeed ZeRO-3"}[engine]
    err = capsys.readouterr().err
    assert f"written under {layout} on 2 processes, but this run uses no sharding engine" in err
    assert ckpt.is_dir() and not (d / "run" / "model.safetensors").exists()

    launch([{"argv": argv(d / "run"), "summary": str(d / "run{rank}.json")}], d, engine=engine)
    for name in ("model.safetensors", "rm_head.safetensors"):
        assert (d / "run" / name).read_bytes() == (d / "ref" / name).read_bytes(), name
    assert [r["step"] for r in curve(d / "run")] == [1, 2, 3, 4]
