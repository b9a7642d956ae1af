"""`hiero policy train` through the CLI: presets, the Hugging Face folder it writes, resume."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hiero.cli import main as cli
from hiero.data.io import read_jsonl, write_jsonl
from hiero.domains import builtin as synth
from hiero.policy.sft import PRESETS, PolicyTrainConfig, preset_config


def test_micro_preset_writes_a_loadable_hf_folder(tmp_path, capsys):
    out = tmp_path / "policy"
    assert cli(["policy", "train", "--preset", "micro", "--max-steps", "4", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 4  # the flag beat the preset's max_steps (3)
    assert summary["preset"] == "micro" and 0.0 <= summary["test_accuracy"] <= 1.0
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert model.config.hidden_size == PRESETS["micro"]["hidden"]  # the preset's size, not the default 128
    assert model.config.vocab_size == len(tok) and tok.eos_token_id is not None
    rows = list(read_jsonl(out / "metrics.jsonl"))
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 4
    assert not (out / "checkpoint").exists()


def test_yaml_between_preset_and_flags(tmp_path, capsys):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("preset: micro\nmax_steps: 2\nhidden: 16\n")
    out = tmp_path / "p"
    assert cli(["policy", "train", "--config", str(cfg_file), "--hidden", "24", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2  # YAML over the preset
    assert AutoModelForCausalLM.from_pretrained(out).config.hidden_size == 24  # flag over YAML


def test_bad_settings_are_clear_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: micro\nmax_step: 2\n")
    assert cli(["policy", "train", "--config", str(bad), "-o", str(tmp_path / "x")]) == 2
    assert "max_step" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("huge")


def test_problems_file_without_steps_names_the_line(tmp_path, capsys):
    probs = synth.generate_problems(4, seed=0, split="train")
    probs[2].steps = None
    path = tmp_path / "p.jsonl"
    write_jsonl(path, probs)
    assert (
        cli(["policy", "train", "--preset", "micro", "--problems", str(path), "-o", str(tmp_path / "o")]) == 2
    )
    assert f"{path}:3" in capsys.readouterr().err


def test_quick_preset_is_the_default_config():
    assert preset_config("quick") == PolicyTrainConfig(preset="quick")


def test_init_continues_from_a_model_folder(tmp_path, capsys):
    """--init loads the folder's weights and tokenizer (at lr 0 they come out unchanged), and a run
    that trains goes on from them; the architecture flags are not used."""
    first = tmp_path / "first"
    assert cli(["policy", "train", "--preset", "micro", "--max-steps", "2", "-o", str(first)]) == 0
    same = tmp_path / "same"
    assert cli(["policy", "train", "--preset", "micro", "--max-steps", "1", "--lr", "0", "--hidden", "48",
                "--init", str(first), "-o", str(same)]) == 0
    a, b = AutoModelForCausalLM.from_pretrained(first), AutoModelForCausalLM.from_pretrained(same)
    assert b.config.hidden_size == a.config.hidden_size != 48
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    assert AutoTokenizer.from_pretrained(same).get_vocab() == AutoTokenizer.from_pretrained(first).get_vocab()
    on = tmp_path / "on"
    assert (
        cli(["policy", "train", "--preset", "micro", "--max-steps", "2", "--init", str(first), "-o", str(on)])
        == 0
    )
    assert not torch.equal(AutoModelForCausalLM.from_pretrained(on).lm_head.weight, a.lm_head.weight)
    capsys.readouterr()
