"""Training output folders (hiero/runs.py), through `hiero rm train` on a tiny model: a resume
only with matching settings and inputs, finished folders replaced only with --overwrite (and then
atomically), readers refuse unfinished folders, one writer per folder, no output left by a failure."""

import json
from pathlib import Path

import pytest

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.reward.model import load_reward_model
from hiero.runs import LOCK_FILE, RUN_FILE, check_finished, output_lock
from tests.reward.test_reward_cli import write_rm_assets
from tests.test_resume_exact import Killed, kill_at_call, model_bytes


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    write_rm_assets(root, hidden=32, layers=1)
    return root


def rm_cmd(root, out, *extra):
    return ["rm", "train", "--data", str(root / "data"), "--base", str(root / "base"), "-o", str(out),
            "--max-steps", "6", "--batch-size", "4", "--lr", "0.01", "--save-every", "2", *extra]


def interrupted(root, out, monkeypatch, *extra, at=4):
    with monkeypatch.context() as m:
        kill_at_call(m, at)
        with pytest.raises(Killed):
            cli(rm_cmd(root, out, *extra))


def test_a_resume_with_other_settings_is_refused_naming_them(assets, tmp_path, monkeypatch, capsys):
    out = tmp_path / "rm"
    interrupted(assets, out, monkeypatch)
    assert cli(rm_cmd(assets, out, "--lr", "0.05", "--seed", "7")) == 2
    err = capsys.readouterr().err
    assert "interrupted run made with other settings" in err and "lr: 0.01 there, 0.05 here" in err
    assert "seed: 0 there, 7 here" in err and "--overwrite" in err
    assert [line for line in err.splitlines() if "error" in line][0].startswith("hiero: error:")  # one line
    assert cli(rm_cmd(assets, out, "--max-steps", "3")) == 2 and "max_steps" in capsys.readouterr().err
    # with --overwrite the interrupted run is discarded and the new one trains from step 0
    assert cli(rm_cmd(assets, out, "--lr", "0.05", "--overwrite", "true")) == 0
    assert json.loads((out / "train_summary.json").read_text())["config"]["lr"] == 0.05


def test_a_changed_input_file_is_refused(assets, tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_bytes((assets / "data" / "train.jsonl").read_bytes())
    cmd = ["rm", "train", "--data", str(data), "--base", str(assets / "base"), "-o", str(tmp_path / "rm"),
           "--max-steps", "6", "--batch-size", "4", "--save-every", "2"]
    with monkeypatch.context() as m:
        kill_at_call(m, 4)
        with pytest.raises(Killed):
            cli(cmd)
    lines = (data / "train.jsonl").read_text().splitlines()
    (data / "train.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    assert cli(cmd) == 2 and "input data:" in capsys.readouterr().err


def test_a_finished_folder_is_replaced_only_with_overwrite_and_atomically(
    assets, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "rm"
    assert cli(rm_cmd(assets, out)) == 0
    old = model_bytes(out)
    assert json.loads((out / RUN_FILE).read_text())["complete"] is True
    assert cli(rm_cmd(assets, out, "--lr", "0.02")) == 2
    assert "holds a finished rm train run; pass --overwrite" in capsys.readouterr().err
    interrupted(assets, out, monkeypatch, "--lr", "0.02", "--overwrite", "true")  # killed mid-retrain
    assert model_bytes(out) == old  # the finished model is untouched, still loads
    load_reward_model(out)
    assert cli(rm_cmd(assets, out, "--lr", "0.02", "--overwrite", "true")) == 0  # resumes the staged retrain
    fresh = tmp_path / "fresh"
    assert cli(rm_cmd(assets, fresh, "--lr", "0.02")) == 0
    assert model_bytes(out) == model_bytes(fresh) != old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "rm"]  # no staging folder left


def test_readers_refuse_an_unfinished_folder_but_load_plain_ones(assets, tmp_path, monkeypatch, capsys):
    out = tmp_path / "rm"
    # --eval-every saves the best model into the folder mid-run: complete-looking, yet unfinished
    interrupted(assets, out, monkeypatch, "--eval-every", "1")
    assert (out / "hiero_rm.json").exists() and (out / "model.safetensors").exists()
    with pytest.raises(ValueError, match="unfinished hiero rm train run"):
        load_reward_model(out)
    solutions = tmp_path / "s.jsonl"
    write_jsonl(
        solutions, [{"problem_id": "p", "question": "1 + 1?", "steps": ["1 + 1 = 2", "The answer is 2"]}]
    )
    assert (
        cli(["rm", "score", "--rm", str(out), "--input", str(solutions), "-o", str(tmp_path / "o.jsonl")])
        == 2
    )
    assert "unfinished" in capsys.readouterr().err and not (tmp_path / "o.jsonl").exists()
    check_finished(assets / "base")  # a plain Hugging Face folder (no record, no checkpoint): fine


def test_a_failed_run_leaves_no_folder(assets, tmp_path, capsys):
    bad = tmp_path / "bad"
    write_jsonl(bad / "train.jsonl", [{"prompt": "q", "completions": ["a"], "labels": [True, False]}])
    out = tmp_path / "sub" / "rm"
    assert cli(["rm", "train", "--data", str(bad), "--base", str(assets / "base"), "-o", str(out)]) == 2
    assert "train.jsonl:1" in capsys.readouterr().err
    assert not out.exists()


def test_one_writer_per_folder(assets, tmp_path, capsys):
    out = tmp_path / "rm"
    with output_lock(out / LOCK_FILE, str(out)):  # another run holds the folder
        assert cli(rm_cmd(assets, out)) == 2
    err = capsys.readouterr().err
    assert "another hiero run" in err and "is writing it" in err
    assert cli(rm_cmd(assets, out)) == 0  # the lock is gone with its holder


def test_an_older_pickled_checkpoint_is_refused(assets, tmp_path, capsys):
    out = tmp_path / "rm"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "loop_state.json").write_text('{"step": 250}')
    assert cli(rm_cmd(assets, out)) == 2
    assert "older hiero" in capsys.readouterr().err
    assert cli(rm_cmd(assets, out, "--overwrite", "true")) == 0 and not (out / "checkpoint").exists()


def test_output_that_is_a_file_is_a_clear_error(assets, tmp_path, capsys):
    f = tmp_path / "rm"
    f.write_text("x")
    assert cli(rm_cmd(assets, f)) == 2
    assert "is a file" in capsys.readouterr().err and f.read_text() == "x"


@pytest.mark.slow  # ~20 s each (a second Python process); tests/test_training.py signals in-process, fast
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_real_signal_to_the_cli_checkpoints_then_resumes_exactly(assets, tmp_path, sig):
    """`hiero rm train` in its own process gets a real signal mid-run: it saves a checkpoint, prints
    one line and exits 128+signal; the same command then finishes with an uninterrupted run's bytes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "hiero.cli", *rm_cmd(assets, tmp_path / "run", "--max-steps", "16",
                                                       "--save-every", "0")]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 60
    while (not metrics.exists() or len(metrics.read_text().splitlines()) < 3) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 128 + getattr(signal, sig), err
    line = [x for x in err.splitlines() if x.startswith("hiero:")]
    assert len(line) == 1 and f"stopped by {sig} at step" in line[0] and "rerun the same command" in line[0]
    assert "Traceback" not in err
    assert list((tmp_path / "run" / "checkpoints").glob("step-*"))
    assert cli(cmd[3:]) == 0  # the same command, in this process
    assert cli(rm_cmd(assets, tmp_path / "ref", "--max-steps", "16", "--save-every", "0")) == 0
    assert model_bytes(tmp_path / "run") == model_bytes(tmp_path / "ref")
