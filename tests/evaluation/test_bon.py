"""`hiero eval bon`: the CLI on tiny models, the pool with the hf backend, pre-generated GSM8K candidates.

The policy and reward models are tiny and untrained (built on the fly from transformers configs,
the reward models with `hiero.reward.model`), so the tests check the mechanics and the
bookkeeping; accuracy itself is checked against independent counts where it is not trivially 0.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hiero.cli import main as cli
from hiero.data.io import read_jsonl, write_jsonl
from hiero.domains import builtin as synth
from hiero.policy.prompt import STEP_SEP, build_prompt
from hiero.types import Solution


def make_policy(out: Path) -> Path:
    """A random 2-layer Qwen2 with a byte-level BPE trained on built-in-domain text."""
    from hiero.policy.model import build_model
    from hiero.policy.sft import save_policy
    from hiero.policy.tokenizer import train_tokenizer

    probs = synth.generate_problems(30, seed=0)
    tok = train_tokenizer(
        [build_prompt(p.question) + STEP_SEP.join(synth.solve(p)) for p in probs], vocab_size=300
    )
    model = build_model(len(tok), n_layers=2, hidden=32, heads=2, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id, max_positions=1024, seed=0)
    save_policy(model, tok, out)
    return out


def make_rm(policy: Path, kind: str, out: Path) -> Path:
    from hiero.reward.model import RMSpec, build_reward_model, save_reward_model

    model, tok = build_reward_model(policy, RMSpec(kind=kind, loss="hard_ce", max_length=1024))
    save_reward_model(model, tok, out)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("bon_models")
    policy = make_policy(root / "policy")
    return {"policy": policy, **{k: make_rm(policy, k, root / f"rm_{k}") for k in ("orm", "prm", "hrm")}}


def test_eval_bon_cli_tiny(models, tmp_path, capsys):
    out = tmp_path / "bon"
    rc = cli(["eval", "bon", "--policy", str(models["policy"]), "--rm", f"prm={models['prm']}",
              f"orm={models['orm']}", "--problems", "synth:n=3", "--n", "1,2,4", "--max-new-tokens", "16",
              "--bootstrap", "50", "-o", str(out)])
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert res["n"] == [1, 2, 4] and res["n_problems"] == 3 and res["pool_size"] == 4
    expected = {"majority", "pass@N", "orm", "orm+vote", "prm:min", "prm:prod", "prm:last", "prm:mean",
                "prm+vote", "oracle"}
    assert set(res["curves"]) == expected
    for c in res["curves"].values():
        assert len(c["acc"]) == 3
        assert all(lo <= a <= hi for a, lo, hi in zip(c["acc"], c["ci_low"], c["ci_high"]))
    # pass@N is monotone in N and bounds every selection rule
    passn = res["curves"]["pass@N"]["acc"]
    assert passn == sorted(passn)
    for c in res["curves"].values():
        assert all(a <= p + 1e-12 for a, p in zip(c["acc"], passn))
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| prm:min |" in (out / "table.md").read_text()
    assert list((out / "cache").glob("pool-*.jsonl"))  # the pool is cached for the next run
    assert "score: 100%" in capsys.readouterr().err  # the pool's scoring shows progress


def test_eval_bon_step_search_resumes_from_its_cache(models, tmp_path, monkeypatch):
    """The step search's candidates land in the cache folder: the run again (as after a stop) draws no
    sample and no candidate step and gives the same curves."""
    from hiero.evaluation.bon import BonConfig, main
    from hiero.policy.hf_backend import HFGenerator

    drawn = []
    real = HFGenerator.generate
    monkeypatch.setattr(HFGenerator, "generate", lambda self, prompts, **kw: drawn.append(len(prompts))
                        or real(self, prompts, **kw))
    cfg = BonConfig(policy=str(models["policy"]), rm=[f"prm={models['prm']}"], problems="synth:n=2",
                    n=[1, 2], max_new_tokens=12, bootstrap=20, search=["step_greedy"], search_n=[2],
                    max_steps=3, step_tokens=8, out=str(tmp_path / "a"), cache_dir=str(tmp_path / "cache"))
    first = main(cfg)
    assert drawn and len(list((tmp_path / "cache").glob("steps-*.jsonl"))) == 1
    drawn.clear()
    second = main(replace(cfg, out=str(tmp_path / "b")))
    assert drawn == []
    assert second["search"] == first["search"] and second["curves"] == first["curves"]


def test_pool_prefix_with_hf_backend(models):
    """The hf backend seeds each row from (call seed, prompt, sample index): a pool of 4 equals the
    first 4 of a pool of 12 drawn with the same seed and chunk size."""
    from hiero.policy import load_generator
    from hiero.policy.sampling import sample_pool
    from hiero.search.strategies import SearchConfig

    problems = synth.generate_problems(2, seed=7, split="test")
    gen = load_generator(str(models["policy"]))
    cfg = SearchConfig(pool_chunk=4, max_new_tokens=12, temperature=1.0, seed=3)
    small = sample_pool(problems, gen, cfg, size=4)
    big = sample_pool(problems, gen, cfg, size=12)
    assert [[s.steps for s in r] for r in small] == [[s.steps for s in r[:4]] for r in big]
    # different chunks really are different samples
    assert [s.steps for s in big[0][:4]] != [s.steps for s in big[0][4:8]]


def test_bon_on_gsm8k_example_solutions(shared_data, tmp_path):
    """GSM8K's four example model solutions per test question as candidates (N up to 4, no RM).
    pass@N and majority are checked against counts taken straight from the raw file."""
    from hiero.data.sources import convert

    cands = tmp_path / "cands.jsonl"
    convert("gsm8k-model-solutions", shared_data / "gsm8k" / "example_model_solutions.jsonl", cands)
    keep = 60
    sols = [s for s in read_jsonl(cands, Solution) if int(s.problem_id.rsplit("-", 1)[1]) < keep]
    write_jsonl(cands, sols)
    from hiero.evaluation.bon import BonConfig, main

    res = main(BonConfig(candidates=str(cands), n=[1, 2, 4, 8], bootstrap=100, out=str(tmp_path / "out")))
    assert res["n"] == [1, 2, 4] and res["n_dropped"] == [8] and res["n_problems"] == keep
    raw = [json.loads(line) for line in (shared_data / "gsm8k" / "example_model_solutions.jsonl").open()][
        :keep
    ]
    models_ = ["6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"]
    for n, acc in zip([1, 2, 4], res["curves"]["pass@N"]["acc"]):
        expect = np.mean([any(r[m]["is_correct"] for m in models_[:n]) for r in raw])
        assert acc == pytest.approx(expect)
    assert res["curves"]["majority"]["acc"][0] == pytest.approx(
        np.mean([r[models_[0]]["is_correct"] for r in raw])
    )


def test_eval_bon_bad_input(tmp_path, capsys):
    assert (
        cli(["eval", "bon", "--problems", "synth:n=2", "-o", str(tmp_path / "x")]) == 2
    )  # no policy, no candidates
    assert "--policy" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"problem_id": "a", "steps": ["x"], "correct": true, "question": "q"}\n{"problem_id": 3}\n'
    )
    assert cli(["eval", "bon", "--candidates", str(bad), "-o", str(tmp_path / "y")]) == 2
    assert ":2:" in capsys.readouterr().err
    assert not (tmp_path / "y" / "results.json").exists()


@pytest.mark.slow
def test_eval_bon_full_curve_three_rms(models, tmp_path):
    """The issue's check: ORM, PRM, HRM and majority vote for N up to 64; step_greedy and beam run."""
    from hiero.evaluation.bon import BonConfig, main

    res = main(
        BonConfig(
            policy=str(models["policy"]),
            rm=[f"{k}={models[k]}" for k in ("orm", "prm", "hrm")],
            problems="synth:n=3",
            max_new_tokens=16,
            bootstrap=100,
            search=["step_greedy", "beam"],
            search_n=[2, 4],
            beam_width=2,
            max_steps=3,
            step_tokens=8,
            out=str(tmp_path / "o"),
        )
    )
    assert res["n"] == [1, 2, 4, 8, 16, 24, 32, 64]
    assert {"orm", "prm:min", "hrm:min", "majority", "oracle"} <= set(res["curves"])
    assert {"prm step_greedy", "hrm beam", "oracle beam"} <= set(res["search"])
    assert all(v["n"] == [2, 4] and len(v["acc"]) == len(v["ci_low"]) == 2 for v in res["search"].values())
    assert Path(res["files"]["search_plot"]).exists() and "Step-level search" in res["markdown"]
    assert Path(res["files"]["plot"]).exists()
