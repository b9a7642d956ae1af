"""The trainer: reference cache (hit => reference model not loaded), truncation drops, schedules,
per-step metrics, and a fast CLI run of `po pairs` + `po train`."""

import json
import random
import sys
from pathlib import Path

import pytest

from hiero.cli import main as cli_main
from hiero.data.io import read_jsonl, write_jsonl
from hiero.domains import builtin as synth
from hiero.preference import train as train_mod
from hiero.preference.train import POTrainConfig, main
from hiero.types import PreferencePair, Problem

sys.path.insert(0, str(Path(__file__).parent))
import po_helpers as H  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("po")
    tok = H.make_tokenizer(root / "tok")
    H.make_model(root / "policy", tok, seed=0)
    H.make_model(root / "ref", tok, seed=1)
    write_jsonl(root / "pairs.jsonl", H.synth_pairs(12))
    return root


def count_loads(monkeypatch):
    calls = []
    real = train_mod.load_model

    def spy(path, *a, **k):
        calls.append(Path(path).name)
        return real(path, *a, **k)

    monkeypatch.setattr(train_mod, "load_model", spy)
    return calls


def test_reference_cache_hit_skips_loading_the_reference(setup, tmp_path, monkeypatch):
    calls = count_loads(monkeypatch)
    cfg = POTrainConfig(
        model=str(setup / "policy"),
        ref_model=str(setup / "ref"),
        pairs=str(setup / "pairs.jsonl"),
        out=str(tmp_path / "a"),
        loss="hipo",
        weight_preset=["mt-bias"],
        max_steps=2,
        batch_size=2,
        ref_cache_dir=str(tmp_path / "cache"),
        metrics_out=str(tmp_path / "m.jsonl"),
    )
    first = main(cfg)
    assert first["ref_cache"] == "miss" and calls == ["ref", "policy"]
    rows = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for key in (
        "loss",
        "rewards/reasoning/chosen",
        "rewards/full/rejected",
        "margins/answer",
        "accuracies/full",
    ):
        assert key in rows[0]
    assert (tmp_path / "a" / "config.json").exists()
    calls.clear()
    second = main(POTrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "b"), "max_steps": 1}))
    assert second["ref_cache"] == "hit" and calls == ["policy"]
    # a different segment layout is a different cache entry
    calls.clear()
    third = main(
        POTrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "c"), "segmenter": "none", "max_steps": 1})
    )
    assert third["ref_cache"] == "miss" and calls == ["ref", "policy"]


def test_truncation_drops_and_counts(setup, tmp_path):
    pairs = list(read_jsonl(setup / "pairs.jsonl", PreferencePair))
    tok = train_mod.load_tokenizer(str(setup / "policy"))
    cfg = POTrainConfig(model=str(setup / "policy"), pairs="x", max_length=10_000)
    lengths = [len(e["rejected_ids"]) for e in train_mod.prepare_pairs(pairs, tok, cfg)[0]]
    cut_at = sorted(lengths)[len(lengths) // 2]  # about half the pairs no longer fit
    examples, stats = train_mod.prepare_pairs(
        pairs, tok, POTrainConfig(model="m", pairs="x", max_length=cut_at)
    )
    assert (
        stats["dropped_truncated"] > 0
        and stats["pairs_used"] == len(examples) == len(pairs) - stats["dropped_truncated"]
    )
    assert set(stats["dropped_by_segment"]) <= {"answer", "reasoning", "clarification"}
    assert all(len(e["chosen_ids"]) <= cut_at and len(e["rejected_ids"]) <= cut_at for e in examples)


def test_schedules_and_row_learning_rates(setup, tmp_path, monkeypatch):
    calls = count_loads(monkeypatch)
    base = dict(
        model=str(setup / "policy"),
        pairs=str(setup / "pairs.jsonl"),
        loss="hipo",
        max_steps=2,
        batch_size=2,
        weights=[0.6, 0.15, 0.15, 0.1, 0.2, 0.5, 0.2, 0.1],
        row_lrs=[1e-3, 1e-4],
        warmup_ratio=0.0,
        ref_cache_dir=str(tmp_path / "cache"),
    )
    seq = main(POTrainConfig(**base, out=str(tmp_path / "seq"), schedule="sequential"))
    assert [r["lr"] for r in seq["rows"]] == [1e-3, 1e-4]
    assert (
        calls.count("policy") == 2
    )  # reference (= policy) once for the cache, the policy once for both rows
    first_lr = json.loads(
        (tmp_path / "seq" / "row1-w0.2-0.5-0.2-0.1" / "metrics.jsonl").read_text().splitlines()[0]
    )["lr"]
    # logged after the first step of 2 without warm-up: half the row's own lr (its optimizer was rebuilt)
    assert first_lr == pytest.approx(0.5e-4)
    calls.clear()
    ind = main(POTrainConfig(**base, out=str(tmp_path / "ind"), schedule="individual"))
    assert ind["ref_cache"] == "hit" and calls == ["policy", "policy"]  # reset to the initial model per row
    with pytest.raises(ValueError, match="multiple of 4"):
        main(POTrainConfig(**{**base, "weights": [1.0, 0.0]}, out=str(tmp_path / "bad")))


def test_cli_pairs_then_train(tmp_path, setup):
    """Solutions (one correct, one noisy wrong per problem) -> `po pairs` -> `po train` (2 steps)."""
    rng = random.Random(0)
    sols = []
    for p in synth.generate_problems(6, seed=1):
        good = synth.render_noisy_solution(p, rng, p_error=0.0, p_correction=0.0)
        bad = synth.render_noisy_solution(p, rng, p_error=1.0, p_correction=0.0)
        sols += [good, bad]
    write_jsonl(tmp_path / "sols.jsonl", sols)
    assert (
        cli_main(
            ["po", "pairs", "--solutions", str(tmp_path / "sols.jsonl"), "-o", str(tmp_path / "pairs.jsonl")]
        )
        == 0
    )
    pairs = list(read_jsonl(tmp_path / "pairs.jsonl", PreferencePair))
    assert len(pairs) >= 3 and all(
        p.chosen_segments and p.chosen_segments["clarification"][1] > 0 for p in pairs
    )
    rc = cli_main(
        [
            "po",
            "train",
            "--loss",
            "hipo",
            "--weights",
            "0.2,0.5,0.2,0.1",
            "--model",
            str(setup / "policy"),
            "--pairs",
            str(tmp_path / "pairs.jsonl"),
            "-o",
            str(tmp_path / "run"),
            "--max-steps",
            "2",
            "--batch-size",
            "2",
            "--ref-cache-dir",
            str(tmp_path / "cache"),
            "--metrics-out",
            str(tmp_path / "metrics.jsonl"),
        ]
    )
    assert rc == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (
        summary["rows"][0]["steps"] == 2 and len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    )
    # bad input: exit 2 with a file:line message, no output written
    (tmp_path / "broken.jsonl").write_text('{"prompt": "q", "chosen": 3, "rejected": "r"}\n')
    assert (
        cli_main(
            [
                "po",
                "train",
                "--model",
                str(setup / "policy"),
                "--pairs",
                str(tmp_path / "broken.jsonl"),
                "-o",
                str(tmp_path / "run2"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "run2" / "summary.json").exists()


def test_a_step_level_pair_gets_no_eos(setup):
    """EOS ends complete responses only: after one step of a longer solution the policy writes the
    step separator, so a pair marked `continues` is encoded as prompt + step + "\\n", nothing more."""
    tok = train_mod.load_tokenizer(str(setup / "policy"))
    prompt = "Question: Tom has 6 cards and gets 8 more. How many?\nAnswer:\nStart with 6.\n"
    step = PreferencePair(
        prompt=prompt, chosen="6 + 8 = 14\n", rejected="6 + 8 = 15\n", meta={"continues": True}
    )
    whole = PreferencePair(prompt=prompt, chosen="6 + 8 = 14", rejected="6 + 8 = 15")
    (s, w), _ = train_mod.prepare_pairs(
        [step, whole], tok, POTrainConfig(model="m", pairs="x", segmenter="none")
    )
    for side in ("chosen", "rejected"):
        assert s[f"{side}_ids"] == tok(prompt + getattr(step, side))["input_ids"]
        assert w[f"{side}_ids"] == tok(prompt + getattr(whole, side))["input_ids"] + [tok.eos_token_id]
    assert s["chosen_ids"][-1] != tok.eos_token_id
    mixed = PreferencePair(prompt=prompt, chosen="6 + 8 = 14\n", rejected="The answer is 6",
                           meta={"continues": {"chosen": True, "rejected": False}})
    (m,), _ = train_mod.prepare_pairs([mixed], tok, POTrainConfig(model="m", pairs="x", segmenter="none"))
    assert m["chosen_ids"] == tok(prompt + mixed.chosen)["input_ids"]
    assert m["rejected_ids"] == tok(prompt + mixed.rejected)["input_ids"] + [tok.eos_token_id]


def test_cli_segment_pairs_then_hipo_then_segment_eval(tmp_path, setup):
    """The restate style end to end through the CLI: noisy solutions whose segments go wrong at their own
    rates -> `po pairs --by-segment` (each pair differs in one named segment, every segment non-empty on
    both sides) -> `po train --loss hipo` with every term live -> `po eval` checking each segment."""
    probs, sols = tmp_path / "problems.jsonl", tmp_path / "sols.jsonl"
    assert cli_main(["data", "synth", "--style", "restate", "--max-value", "30", "--n", "40", "--seed", "0",
                     "--p-restate", "0.3", "--p-answer", "0.3", "--p-error", "0.1", "--p-correction", "0",
                     "--solutions-per-problem", "6", "--out", str(probs), "--solutions-out", str(sols)]) == 0
    assert (
        cli_main(
            [
                "po",
                "pairs",
                "--solutions",
                str(sols),
                "--problems",
                str(probs),
                "--by-segment",
                "true",
                "--max-per-problem",
                "3",
                "-o",
                str(tmp_path / "pairs.jsonl"),
            ]
        )
        == 0
    )
    pairs = list(read_jsonl(tmp_path / "pairs.jsonl", PreferencePair))
    problems = {p.id: p for p in read_jsonl(probs, Problem)}
    seen = set()
    for p in pairs:
        problem = problems[p.meta["problem_id"]]
        good = synth.segment_checks(problem, p.chosen.split("\n"))
        bad = synth.segment_checks(problem, p.rejected.split("\n"))
        assert all(good[k] for k in synth.SEGMENTS)
        assert [k for k in synth.SEGMENTS if not bad[k]] == [p.meta["segment"]]
        assert all(e > s for side in (p.chosen_segments, p.rejected_segments) for s, e in side.values())
        seen.add(p.meta["segment"])
    assert seen == set(synth.SEGMENTS)
    rc = cli_main(
        [
            "po",
            "train",
            "--loss",
            "hipo",
            "--weight-preset",
            "rq-bias",
            "--model",
            str(setup / "policy"),
            "--pairs",
            str(tmp_path / "pairs.jsonl"),
            "-o",
            str(tmp_path / "run"),
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--ref-cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert rc == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["missing_segments"] == {k: 0 for k in synth.SEGMENTS}
    assert (
        cli_main(
            [
                "po",
                "eval",
                "--models",
                f"base={setup / 'policy'},hipo={tmp_path / 'run'}",
                "--problems",
                str(probs),
                "--limit",
                "3",
                "--max-new-tokens",
                "8",
                "--device",
                "cpu",
                "-o",
                str(tmp_path / "eval.json"),
            ]
        )
        == 0
    )
    seg = json.loads((tmp_path / "eval.json").read_text())["segments"]
    assert set(seg["hipo"]["by_segment"]) == set(synth.SEGMENTS) and "equation_accuracy" in seg["base"]
    # the demo's variant needs a policy that writes whole solutions: refused at micro size, before any work
    assert (
        cli_main(["demo", "--size", "micro", "--variant", "segments", "--out", str(tmp_path / "demo")]) == 2
    )
    assert not (tmp_path / "demo" / "stages").exists()
