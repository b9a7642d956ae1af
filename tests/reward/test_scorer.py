"""RMScorer: the Scorer protocol, load_scorer, batching, order, edge cases, `hiero rm score` errors."""

import json

import pytest
import torch

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.reward.base import Scorer
from hiero.reward.model import RMSpec, build_reward_model, save_reward_model
from hiero.reward.scorer import RMScorer, load_scorer
from hiero.testing import make_tiny_base
from hiero.types import Solution

TEXTS = ["Ben owns 5 cards. He loses 2 cards. How many cards?", "Ben starts with 5 cards.", "5 - 2 = 3",
         "3 * 3 = 9", "The answer is 9"] * 30
QS = ["Ben owns 5 cards. He loses 2 cards. How many cards?", "Q2", "Q3", "Q4", "Q5"]
SOLS = [["Ben starts with 5 cards.", "5 - 2 = 3", "The answer is 3"], ["3 * 3 = 9"],
        ["5 - 2 = 3", "3 * 3 = 9", "9 - 1 = 8", "8 + 1 = 9", "The answer is 9"], [], ["The answer is 9"]]


def flat(scores):
    return [x for row in scores for x in row]


@pytest.fixture(scope="module", params=["marker", "per-step"])
def rm_dir(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("scorer")
    base = make_tiny_base(root / "base", TEXTS, vocab_size=300)
    torch.manual_seed(0)
    model, tok = build_reward_model(base, RMSpec(scoring=request.param, loss="soft_ce"))
    torch.nn.init.normal_(model.head.weight, std=1.0)
    save_reward_model(model, tok, root / "rm")
    return root / "rm"


def test_is_a_scorer_and_shapes(rm_dir):
    loaded = load_scorer(rm_dir, batch_size=2)
    scorer = RMScorer(loaded.model, loaded.tokenizer, loaded.spec, batch_size=2)
    assert isinstance(scorer, Scorer) and scorer.kind == "prm"
    scores = scorer.score(QS, SOLS)
    assert [len(s) for s in scores] == [3, 1, 5, 0, 1]
    assert all(0.0 <= x <= 1.0 for x in flat(scores))


def test_batch_size_and_input_order_do_not_change_scores(rm_dir):
    scorer = load_scorer(rm_dir, batch_size=3)
    ref = scorer.score(QS, SOLS)
    scorer.batch_size = 16
    assert flat(scorer.score(QS, SOLS)) == pytest.approx(flat(ref), abs=1e-5)
    perm = [2, 0, 4, 1, 3]
    got = scorer.score([QS[i] for i in perm], [SOLS[i] for i in perm])
    assert flat(got) == pytest.approx(flat([ref[i] for i in perm]), abs=1e-5)


def test_errors(rm_dir):
    scorer = load_scorer(rm_dir)
    with pytest.raises(ValueError, match="questions"):
        scorer.score(QS[:2], SOLS)
    scorer.max_length = 20
    with pytest.raises(ValueError, match="longer than"):
        scorer.score(QS[:1], SOLS[:1])


def test_rm_score_needs_questions(rm_dir, tmp_path, capsys):
    write_jsonl(tmp_path / "in.jsonl", [Solution("p1", ["5 - 2 = 3"], question="Q"), Solution("p2", ["x"])])
    rc = cli(
        [
            "rm",
            "score",
            "--rm",
            str(rm_dir),
            "--input",
            str(tmp_path / "in.jsonl"),
            "-o",
            str(tmp_path / "o.jsonl"),
        ]
    )
    assert rc == 2 and "in.jsonl:2" in capsys.readouterr().err and not (tmp_path / "o.jsonl").exists()
    write_jsonl(
        tmp_path / "in.jsonl",
        [Solution("p1", ["5 - 2 = 3", "The answer is 3"], question="Q"), Solution("p2", [], question="Q")],
    )
    assert (
        cli(
            [
                "rm",
                "score",
                "--rm",
                str(rm_dir),
                "--input",
                str(tmp_path / "in.jsonl"),
                "-o",
                str(tmp_path / "o.jsonl"),
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert len(rows[0]["scores"]) == 2 and rows[0]["problem_id"] == "p1" and rows[1]["aggregates"] is None
