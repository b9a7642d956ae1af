"""`hiero eval processbench`: real ProcessBench files, the built-in domain with the oracle, a tiny RM.

The metric itself is checked by hand in test_eval_metrics.py (6-item fixture); here the data paths,
the threshold tuning plumbing and the output file.
"""

from __future__ import annotations

import json

import pytest

from hiero.cli import main as cli
from hiero.evaluation.processbench import ProcessBenchConfig, main, read_processbench, read_solutions

# SOURCE.md: rows and items with label -1 per split
PB_COUNTS = {"gsm8k": (400, 193), "math": (1000, 406), "olympiadbench": (1000, 339), "omnimath": (1000, 241)}


def test_read_real_processbench_files(shared_data):
    for split, (rows, no_error) in PB_COUNTS.items():
        items = read_processbench(str(shared_data / "processbench" / f"{split}.json"))
        assert len(items) == rows
        assert sum(it.label == -1 for it in items) == no_error
        it = next(it for it in items if it.label >= 1)
        assert it.step_labels[:it.label + 1] == [1] * it.label + [0]
        assert all(x is None for x in it.step_labels[it.label + 1:])


def test_converted_processbench_solutions_match_raw(shared_data, tmp_path):
    """The converter's Solution JSONL reads back to the same items (labels past the error unknown)."""
    from hiero.data.sources import convert

    conv = tmp_path / "pb.jsonl"
    convert("processbench", shared_data / "processbench" / "gsm8k.json", conv)
    raw = read_processbench(str(shared_data / "processbench" / "gsm8k.json"))
    got = read_solutions(str(conv))
    assert [(i.label, i.steps, i.step_labels) for i in got] == [
        (i.label, i.steps, i.step_labels) for i in raw
    ]


def test_oracle_on_builtin_domain_is_perfect(tmp_path):
    """Ground-truth step scores: the first step scored 0 is the first error, so F1 = 1, AUROC = 1."""
    out = tmp_path / "pb.json"
    res = main(ProcessBenchConfig(rm="oracle", data="synth:n=40", out=str(out)))
    assert res["f1"] == 1.0 and res["auroc_step"] == 1.0
    assert res["n_error"] > 5 and res["n_correct"] > 5  # both kinds present at p_error 0.4
    saved = json.loads(out.read_text())
    assert len(saved["items"]) == 40
    first = saved["items"][0]
    assert set(first) == {"id", "label", "pred", "scores", "step_labels"}
    assert len(first["scores"]) == len(first["step_labels"])


@pytest.fixture(scope="module")
def tiny_prm(tmp_path_factory):
    from hiero.domains import builtin as synth
    from hiero.policy.model import build_model
    from hiero.policy.prompt import STEP_SEP, build_prompt
    from hiero.policy.sft import save_policy
    from hiero.policy.tokenizer import train_tokenizer
    from hiero.reward.model import RMSpec, build_reward_model, save_reward_model

    root = tmp_path_factory.mktemp("pb_models")
    probs = synth.generate_problems(30, seed=0)
    tok = train_tokenizer(
        [build_prompt(p.question) + STEP_SEP.join(synth.solve(p)) for p in probs], vocab_size=300
    )
    save_policy(build_model(len(tok), n_layers=1, hidden=32, heads=2, eos_token_id=tok.eos_token_id,
                            pad_token_id=tok.pad_token_id, max_positions=4096), tok, root / "policy")
    model, rtok = build_reward_model(root / "policy", RMSpec(kind="prm", loss="hard_ce", max_length=4096))
    save_reward_model(model, rtok, root / "prm")
    return root / "prm"


def test_processbench_cli_tiny_rm(shared_data, tiny_prm, tmp_path):
    """A tiny untrained PRM on 8 real gsm8k items (4 erroneous, 4 correct), threshold tuned on them."""
    raw = json.loads((shared_data / "processbench" / "gsm8k.json").read_text())
    subset = [x for x in raw if x["label"] >= 0][:4] + [x for x in raw if x["label"] < 0][:4]
    data, out = tmp_path / "pb8.json", tmp_path / "pb.json"
    data.write_text(json.dumps(subset))
    rc = cli(["eval", "processbench", "--rm", str(tiny_prm), "--data", str(data), "--tune-on", str(data),
              "-o", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["n_items"] == 8 and res["threshold_source"].startswith("tuned on")
    assert (res["n_error"], res["n_correct"]) == (4, 4)
    # tuned on the same 8 items: the reported F1 is the tuning F1
    assert res["f1"] == pytest.approx(res["tune_f1"])
    assert all(len(it["scores"]) == len(it["step_labels"]) for it in res["items"])
    assert all(0.0 <= s <= 1.0 for it in res["items"] for s in it["scores"])  # P(good) from a 2-class head


def test_processbench_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "a", "problem": "p", "steps": ["x", "y"], "label": 5}]))
    out = tmp_path / "o.json"
    assert cli(["eval", "processbench", "--rm", "oracle", "--data", str(bad), "-o", str(out)]) == 2
    assert "item 0: field 'label'" in capsys.readouterr().err
    assert not out.exists()
    sols = tmp_path / "s.jsonl"
    sols.write_text('{"problem_id": "a", "steps": ["x"], "question": "q"}\n')
    assert cli(["eval", "processbench", "--rm", "oracle", "--data", str(sols), "-o", str(out)]) == 2
    assert ":1: field 'first_error'" in capsys.readouterr().err
