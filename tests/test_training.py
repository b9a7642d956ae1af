"""The shared Accelerate loop: it optimises, logs one metrics line per step, and resumes exactly."""

import json

import pytest
import torch

from hiero.training import TrainConfig, train_loop


def make_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    data = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True,
                                         generator=torch.Generator().manual_seed(1))
    return loader


def step_fn(model, batch):
    x, y = batch
    loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
    return loss, {"mse": float(loss.detach())}


def fresh_model():
    torch.manual_seed(0)
    return torch.nn.Linear(4, 1)


def test_loop_optimises_and_logs(tmp_path):
    model = fresh_model()
    cfg = TrainConfig(lr=0.3, max_steps=40, warmup_ratio=0.0, grad_accum=2)
    out = train_loop(model, step_fn, make_problem(), cfg, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert out["steps"] == 40 and [r["step"] for r in rows] == list(range(1, 41))
    assert rows[-1]["loss"] < 0.2 * rows[0]["loss"]


class Crash(RuntimeError):
    pass


def test_resume_after_crash_matches_uninterrupted_run(tmp_path):
    cfg = TrainConfig(lr=0.05, max_steps=12, warmup_ratio=0.0, save_every=2, seed=3)
    ref = fresh_model()
    train_loop(ref, step_fn, make_problem(), cfg, tmp_path / "ref")

    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] == 8:  # dies between checkpoints (last one at step 6)
            raise Crash()
        return step_fn(model, batch)

    with pytest.raises(Crash):
        train_loop(fresh_model(), crashing, make_problem(), cfg, tmp_path / "run")
    assert (tmp_path / "run" / "checkpoint" / "loop_state.json").exists()
    resumed = fresh_model()
    out = train_loop(resumed, step_fn, make_problem(), cfg, tmp_path / "run")
    assert out["steps"] == 12
    torch.testing.assert_close(resumed.weight, ref.weight)
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 12 and not (tmp_path / "run" / "checkpoint").exists()
