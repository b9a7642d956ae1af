"""`hiero eval steps`: step AUROC on labelled stepwise rows (the PRM800K-test figure of the real track)."""

import json

import pytest

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.evaluation.labelled_rows import labelled_steps, question_bootstrap, score_labelled


def _row(q, steps, labels, mask=None, row_type="step"):
    k = len(steps)
    return {"prompt": q, "completions": steps, "labels": labels, "soft_labels": [float(x) for x in labels],
            "counts": [None] * k, "merged": [False] * k, "label_mask": mask or [False] * (k - 1) + [True],
            "kind": "prm", "source": "prm800k", "question_id": q, "meta": {"row_type": row_type}}


class KeywordScorer:
    """Scores a step 0.9 when it says 'right', else 0.1; records what it was asked to score."""

    kind = "prm"

    def __init__(self):
        self.calls = []

    def score(self, questions, solutions):
        self.calls.append(len(questions))
        return [[0.9 if "right" in s else 0.1 for s in sol] for sol in solutions]


def test_only_masked_steps_count_and_scores_line_up():
    rows = [_row("q1", ["a right", "b wrong"], [True, False]),
            _row("q2", ["right", "wrong", "right"], [True, False, True], mask=[True, True, False])]
    steps = labelled_steps(rows)
    assert steps == [(0, 1, 0), (1, 0, 1), (1, 1, 0)]
    scorer = KeywordScorer()
    assert score_labelled(scorer, rows, steps, batch=1) == ([0.1, 0.9, 0.1], {})
    assert scorer.calls == [1, 1]  # whole rows scored once each (not a per-step model)


def test_orm_is_refused():
    class Orm(KeywordScorer):
        kind = "orm"

    with pytest.raises(ValueError, match="outcome reward model"):
        score_labelled(Orm(), [_row("q", ["x"], [True])], [(0, 0, 1)], 4)


def test_bootstrap_resamples_questions():
    lo, hi = question_bootstrap([0.9, 0.1, 0.8, 0.2], [1, 0, 1, 0], ["a", "a", "b", "b"], 200, 0)
    assert lo == hi == 1.0  # every resample separates perfectly
    assert question_bootstrap([0.9, 0.1], [1, 0], ["a", "a"], 200, 0) == (None, None)  # one question


def test_cli_on_a_trained_tiny_encoder(tmp_path):
    """End to end: a per-step encoder RM trained 2 steps, evaluated on held-out rows (only labelled prompts
    built)."""
    from hiero.reward.train import RMTrainConfig
    from hiero.reward.train import main as rm_train
    from hiero.testing import make_tiny_encoder

    rows = [_row(f"q{i}", [f"step {j} of {i}" for j in range(i % 3 + 1)], [True] * (i % 3) + [i % 2 == 0],
                 row_type="merged_pair" if i % 4 == 0 else "step") for i in range(16)]
    write_jsonl(tmp_path / "data" / "train.jsonl", rows)
    base = make_tiny_encoder(tmp_path / "bert", ["step of question"] * 5, max_positions=64)
    rm_train(
        RMTrainConfig(
            data=str(tmp_path / "data"),
            base=str(base),
            out=str(tmp_path / "rm"),
            read="per-step",
            loss="hard_ce",
            label_type="hard",
            max_length=64,
            truncation="fit",
            max_steps=2,
            batch_size=4,
        )
    )
    out = tmp_path / "steps.json"
    assert (
        cli(
            [
                "eval",
                "steps",
                "--rm",
                str(tmp_path / "rm"),
                "--rows",
                str(tmp_path / "data" / "train.jsonl"),
                "--limit",
                "10",
                "--n-boot",
                "50",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert res["rows"] == 10 and res["rows_in_file"] == 16 and res["steps"] == 10 == len(res["items"])
    assert res["positive"] + res["negative"] == 10
    assert res["auroc"] is None or 0.0 <= res["auroc"] <= 1.0
    assert set(res["auroc_by_row_type"]) <= {"step", "merged_pair"}
    assert all(0.0 <= it["score"] <= 1.0 for it in res["items"])


def test_missing_arguments_are_an_error():
    from hiero.evaluation.labelled_rows import StepEvalConfig, main

    with pytest.raises(ValueError, match="--rm DIR and --rows"):
        main(StepEvalConfig())
