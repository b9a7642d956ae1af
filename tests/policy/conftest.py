"""A tiny policy saved as a Hugging Face folder (tokenizer trained on the fly), shared by these tests."""

from __future__ import annotations

import pytest

from hiero.domains import builtin as synth
from hiero.policy.model import build_model
from hiero.policy.prompt import build_prompt
from hiero.policy.tokenizer import train_tokenizer


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_policy")
    problems = synth.generate_problems(60, seed=0, split="train")
    tok = train_tokenizer([build_prompt(p.question, p.steps) for p in problems], vocab_size=320)
    model = build_model(len(tok), n_layers=2, hidden=32, heads=2, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id, seed=1)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def test_problems():
    return synth.generate_problems(6, seed=0, split="test")
