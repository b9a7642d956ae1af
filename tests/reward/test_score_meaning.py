"""One meaning of a score (issue 30, item 3): every scorer declares whether its step scores are
P(step right) in [0, 1]; thresholds and aggregations refuse scores they cannot interpret.

The trap this guards: a reward model trained with an MSE head scored steps in [-8, -1]; `--rm-threshold
0.5` then kept nothing and `po pairs` said "no problem with both a correct and an incorrect solution"
although 22 had both. Here an untrained tiny MSE model (raw outputs) and a CE model (softmax) are
saved through the real `save_reward_model` path and read back through `--rm DIR`.
"""

from __future__ import annotations

import json

import pytest

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.reward.base import check_threshold_split, is_probability, threshold_for
from hiero.reward.model import RMSpec, build_reward_model, save_reward_model
from hiero.reward.spec import PrecomputedScorer, load_scorer
from hiero.testing import make_tiny_base, noisy_reward_rows


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("meaning")
    rows, sols = noisy_reward_rows(12, 0)
    texts = [r["prompt"] for r in rows] + [s for r in rows for s in r["completions"]]
    make_tiny_base(root / "base", texts, vocab_size=300, hidden=32, layers=1)
    for loss in ("mse", "hard_ce"):
        model, tok = build_reward_model(root / "base", RMSpec(kind="prm", loss=loss, max_length=1024))
        if loss == "mse":  # an MSE head far from [0, 1], as the demo's likelihood head starts out
            model.head.bias.data.fill_(-5.0)
        save_reward_model(model, tok, root / loss)
    write_jsonl(root / "solutions.jsonl", sols)
    return root, sols


def test_each_scorer_declares_its_scale(models, tmp_path):
    root, sols = models
    raw, prob = load_scorer(str(root / "mse")), load_scorer(str(root / "hard_ce"))
    assert not is_probability(raw) and "mse" in raw.scale
    assert is_probability(prob)
    q, steps = [s.question for s in sols[:4]], [s.steps for s in sols[:4]]
    assert all(0.0 <= x <= 1.0 for row in prob.score(q, steps) for x in row)
    assert any(x < 0 for row in raw.score(q, steps) for x in row)  # raw: really outside [0, 1]
    from hiero.reward.oracle import OracleScorer
    from hiero.reward.public import PublicPRMScorer

    assert PublicPRMScorer.probability and OracleScorer.probability  # softmax / sigmoid; 1.0 / 0.0
    inside, outside = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(inside, [{"id": "a", "scores": [0.2, 1.0]}])
    write_jsonl(outside, [{"id": "a", "scores": [0.2, -3.5]}])
    assert is_probability(PrecomputedScorer(str(inside)))
    bad = PrecomputedScorer(str(outside))
    assert not is_probability(bad) and "[-3.5, 0.2]" in bad.scale


def test_threshold_rules():
    class Raw:
        probability, scale = False, "raw"

    class Prob:
        probability = True

    assert (
        threshold_for(Prob(), None, "--t") == 0.5 and threshold_for(Prob(), None, "--t", default=0.7) == 0.7
    )
    assert threshold_for(Prob(), float("-inf"), "--t") == float("-inf")  # keep everything, on purpose
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        threshold_for(Prob(), 1.5, "--t")
    with pytest.raises(ValueError, match="not probabilities \\(raw\\), so 0.5 means nothing"):
        threshold_for(Raw(), None, "--t")
    assert threshold_for(Raw(), -3.0, "--t") == -3.0
    # after scoring: a raw threshold every score falls below is refused, naming the range
    with pytest.raises(ValueError, match="lie in \\[-8, -1\\], so it keeps none of 3"):
        check_threshold_split(Raw(), [-8.0, -1.0, -4.0], 0.5, "--t")
    assert check_threshold_split(Raw(), [-8.0, -1.0, -4.0], -3.0, "--t") == 1
    assert check_threshold_split(Prob(), [0.1, 0.2], 0.5, "--t") == 0  # a probability model may reject all


def test_rm_score_says_what_the_scores_are(models, tmp_path, capsys):
    root, _ = models
    for loss, probability in (("mse", False), ("hard_ce", True)):
        out = tmp_path / f"{loss}.jsonl"
        assert cli(["rm", "score", "--rm", str(root / loss), "--input", str(root / "solutions.jsonl"),
                    "-o", str(out)]) == 0
        row = json.loads(out.read_text().splitlines()[0])
        assert ("prod" in row["aggregates"]) is probability  # no product of raw scores
        summary = json.loads(capsys.readouterr().out)
        assert summary["probability"] is probability


def test_po_pairs_refuse_a_threshold_the_scores_cannot_take(models, tmp_path, capsys):
    root, _ = models
    base = ["po", "pairs", "--solutions", str(root / "solutions.jsonl"), "--rm", str(root / "mse")]
    out = tmp_path / "pairs.jsonl"
    # no threshold: 0.7 is a probability; the MSE model's scores are not
    assert cli(base + ["-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--rm-threshold" in err and "not probabilities" in err and not out.exists()
    # 0.5 given: every raw score (about -5) is below it, so it would keep nothing: the range is named
    assert cli(base + ["-o", str(out), "--rm-threshold", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "lie in [" in err and "keeps none" in err and not out.exists()
    # a threshold inside the scores' range is the user's, in the model's own units: the filter runs
    from hiero.reward.scorer import min_step_scores

    root_sols = [json.loads(x) for x in (root / "solutions.jsonl").read_text().splitlines()]
    mins = sorted(min_step_scores(load_scorer(str(root / "mse")), [s["question"] for s in root_sols],
                                  [s["steps"] for s in root_sols]))
    mid = (mins[0] + mins[-1]) / 2
    rc = cli(base + ["-o", str(out), f"--rm-threshold={mid}"])
    err = capsys.readouterr().err
    assert "lie in [" not in err and (rc == 0 or "correct solutions as chosen" in err)


def test_processbench_default_threshold_needs_probabilities(models, tmp_path, capsys):
    root, sols = models
    data = tmp_path / "pb.json"
    data.write_text(json.dumps([{"id": f"g-{i}", "problem": s.question, "steps": s.steps, "label": -1}
                                for i, s in enumerate(sols[:6])]))
    out = tmp_path / "pb_out.json"
    assert cli(["eval", "processbench", "--rm", str(root / "mse"), "--data", str(data), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--threshold" in err and "--tune-on" in err and not out.exists()
    assert cli(["eval", "processbench", "--rm", str(root / "hard_ce"), "--data", str(data), "-o", str(out),
                "--threshold", "1.5"]) == 2
    assert "probabilities in [0, 1]" in capsys.readouterr().err and not out.exists()
    assert cli(["eval", "processbench", "--rm", str(root / "mse"), "--data", str(data), "-o", str(out),
                "--threshold", "-5"]) == 0


def test_bon_leaves_prod_out_for_raw_scores(models):
    from hiero.evaluation.bon import check_aggregations, method_table

    root, _ = models
    rms = {"raw": load_scorer(str(root / "mse")), "prob": load_scorer(str(root / "hard_ce"))}
    methods = method_table(rms, ["min", "prod"], "min")
    assert "prob:prod" in methods and "raw:min" in methods and "raw:prod" not in methods
    check_aggregations(rms, ["min", "prod"], "min")
    with pytest.raises(ValueError, match="--primary prod: --rm raw's scores are not probabilities"):
        check_aggregations(rms, ["min", "prod"], "prod")
