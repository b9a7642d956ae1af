"""The shared Accelerate loop: it optimises, logs one metrics line per step, and resumes exactly."""

import json
import logging
import os
import pickle
import shutil
import signal

import pytest
import torch

from hiero import checkpoint, training
from hiero.training import TrainConfig, TrainingInterrupted, check_train_config, train_loop


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


def run_dir_steps(folder):
    return [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()]


def crash_at(n):
    """A step_fn that raises on its n-th call (a kill between two checkpoints)."""
    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] == n:
            raise Crash()
        return step_fn(model, batch)

    return crashing


CFG = dict(lr=0.05, max_steps=12, warmup_ratio=0.0, save_every=2, seed=3)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every resumed run must reproduce bit for bit."""
    ref = fresh_model()
    train_loop(ref, step_fn, make_problem(), TrainConfig(**CFG), tmp_path_factory.mktemp("ref"))
    return ref


def assert_identical(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


def test_resume_after_crash_matches_uninterrupted_run(tmp_path, reference):
    with pytest.raises(Crash):
        train_loop(
            fresh_model(), crash_at(8), make_problem(), TrainConfig(**CFG), tmp_path
        )  # last save: step 6
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000006"]
    resumed = fresh_model()
    out = train_loop(resumed, step_fn, make_problem(), TrainConfig(**CFG), tmp_path)
    assert out["steps"] == 12
    assert_identical(resumed, reference)
    assert run_dir_steps(tmp_path) == list(range(1, 13))  # no step row repeated after the resume
    assert not (tmp_path / "checkpoints").exists()


def test_kill_during_a_save_keeps_the_previous_checkpoint(tmp_path, reference, monkeypatch):
    real = checkpoint.write_process_files

    def torn_write(folder, rank, model_sd, optim_sd, trainer):
        if folder.name.endswith("00000008"):  # dies with half of step 8's files written
            folder.mkdir(parents=True)
            checkpoint._save_tensors(folder / "model.safetensors", model_sd)
            raise Crash()
        return real(folder, rank, model_sd, optim_sd, trainer)

    monkeypatch.setattr(checkpoint, "write_process_files", torn_write)
    with pytest.raises(Crash):
        train_loop(fresh_model(), step_fn, make_problem(), TrainConfig(**CFG), tmp_path)
    monkeypatch.setattr(checkpoint, "write_process_files", real)
    assert (tmp_path / "checkpoints" / ".tmp-step-00000008").exists()
    resumed = fresh_model()
    train_loop(resumed, step_fn, make_problem(), TrainConfig(**CFG), tmp_path)
    assert_identical(resumed, reference)


def test_a_torn_checkpoint_is_set_aside_with_a_warning(tmp_path, reference, caplog):
    with pytest.raises(Crash):
        train_loop(fresh_model(), crash_at(8), make_problem(), TrainConfig(**CFG), tmp_path)
    newest = tmp_path / "checkpoints" / "step-00000006"
    older = tmp_path / "checkpoints" / "step-00000004"
    shutil.copytree(newest, older)  # pretend an older complete one is still there
    with open(newest / "optimizer.safetensors", "r+b") as f:  # torn: the tail of the file never written
        f.truncate(20)
    assert checkpoint.verify(newest) is not None and checkpoint.verify(older) is None
    resumed = fresh_model()
    with caplog.at_level(logging.WARNING):
        out = train_loop(resumed, step_fn, make_problem(), TrainConfig(**CFG), tmp_path)
    assert out["steps"] == 12
    assert_identical(resumed, reference)  # the copy holds step 6's state under the name of step 4
    assert any("torn checkpoint" in r.message and "set aside" in r.message for r in caplog.records)
    assert (tmp_path / "checkpoints").exists() is False


class Planted:
    """A pickle that, if ever loaded, would create a file (stands for running a shell command)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_planted_pickle_is_never_loaded(tmp_path, reference):
    with pytest.raises(Crash):
        train_loop(fresh_model(), crash_at(8), make_problem(), TrainConfig(**CFG), tmp_path / "run")
    ckpt = tmp_path / "run" / "checkpoints" / "step-00000006"
    sentinel = tmp_path / "pwned"
    for name in ("custom_checkpoint_0.pkl", "random_states_0.pkl"):  # what Accelerate's load_state unpickles
        (ckpt / name).write_bytes(pickle.dumps(Planted(sentinel)))
    resumed = fresh_model()
    out = train_loop(resumed, step_fn, make_problem(), TrainConfig(**CFG), tmp_path / "run")
    assert not sentinel.exists()
    assert out["steps"] == 12  # the tampered checkpoint was set aside: trained from step 0
    assert_identical(resumed, reference)
    assert (tmp_path / "run" / "checkpoints").exists() is False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_and_stops(tmp_path, reference, sig):
    calls = {"n": 0}

    def signalled(model, batch):
        calls["n"] += 1
        if calls["n"] == 5:  # the signal arrives mid-step 5: the step finishes, then a checkpoint
            os.kill(os.getpid(), sig)
        return step_fn(model, batch)

    cfg = TrainConfig(**{**CFG, "save_every": 0, "save_minutes": 0})
    with pytest.raises(TrainingInterrupted, match="at step 5") as e:
        train_loop(fresh_model(), signalled, make_problem(), cfg, tmp_path)
    assert e.value.exit_code == 128 + sig
    assert signal.getsignal(sig) is not None and (tmp_path / "checkpoints" / "step-00000005").exists()
    resumed = fresh_model()
    train_loop(resumed, step_fn, make_problem(), cfg, tmp_path)
    assert_identical(resumed, reference)


def test_checkpoints_by_time_by_default(tmp_path, monkeypatch):
    assert TrainConfig().save_minutes > 0 and TrainConfig().save_every == 0
    clock = {"t": 1000.0}
    monkeypatch.setattr(training.time, "time", lambda: clock.__setitem__("t", clock["t"] + 61) or clock["t"])
    with pytest.raises(Crash):  # each step "takes" a minute: save_minutes=5 saves every 5th step or so
        train_loop(
            fresh_model(), crash_at(8), make_problem(), TrainConfig(**{**CFG, "save_every": 0}), tmp_path
        )
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000005"]


def test_keep_checkpoint_leaves_the_last_step(tmp_path, reference):
    m = fresh_model()
    train_loop(m, step_fn, make_problem(), TrainConfig(**CFG), tmp_path, keep_checkpoint=True)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000012"]
    again = fresh_model()  # a rerun after the loop finished: nothing is trained, the weights come back
    out = train_loop(again, step_fn, make_problem(), TrainConfig(**CFG), tmp_path, keep_checkpoint=True)
    assert out["steps"] == 12 and out["last"]
    assert_identical(again, reference)


def test_an_old_pickled_checkpoint_is_refused(tmp_path):
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "loop_state.json").write_text('{"step": 15}')
    with pytest.raises(ValueError, match="older hiero"):
        train_loop(fresh_model(), step_fn, make_problem(), TrainConfig(**CFG), tmp_path)


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("lr", float("nan")), ("grad_accum", 0)])
def test_settings_that_cannot_train_are_refused(field, value):
    with pytest.raises(ValueError, match=f"--{field.replace('_', '-')}"):
        check_train_config(TrainConfig(**{field: value}))


def test_verify_covers_sub_folders(tmp_path):
    """Engines that shard (DeepSpeed, FSDP) write sub-folders: the manifest covers them too."""
    with pytest.raises(Crash):
        train_loop(fresh_model(), crash_at(4), make_problem(), TrainConfig(**CFG), tmp_path)
    ckpt = tmp_path / "checkpoints" / "step-00000002"
    assert checkpoint.verify(ckpt) is None
    (ckpt / "engine").mkdir()
    (ckpt / "engine" / "extra.pkl").write_bytes(b"x")
    assert "unexpected ['engine/extra.pkl']" in checkpoint.verify(ckpt)
