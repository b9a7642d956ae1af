"""`hiero policy sample`: N graded solutions per problem with the built-in domain's step truth."""

from __future__ import annotations

import json

from hiero.cli import main as cli
from hiero.data.io import read_jsonl, write_jsonl
from hiero.domains import builtin as synth
from hiero.types import Solution


def test_sample_cli_writes_graded_solutions_with_truth(tmp_path, tiny_policy, test_problems, capsys):
    probs = tmp_path / "p.jsonl"
    write_jsonl(probs, test_problems)
    out = tmp_path / "s.jsonl"
    assert cli(["policy", "sample", "--policy", str(tiny_policy), "--problems", str(probs), "--n", "3",
                "--max-new-tokens", "24", "--temperature", "1.0", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    sols = list(read_jsonl(out, Solution))
    assert summary["solutions"] == len(sols) == 3 * len(test_problems)
    by_id = {p.id: p for p in test_problems}
    for s in sols:
        p = by_id[s.problem_id]
        assert s.correct == synth.is_correct(p, s.answer)
        if s.steps:
            assert s.labels == [int(x) for x in synth.check_steps(p, s.steps)]
            assert s.first_error == synth.first_error(p, s.steps)
    # n=2 is the first two of n=3 (one prefix-stable pool)
    out2 = tmp_path / "s2.jsonl"
    assert cli(["policy", "sample", "--policy", str(tiny_policy), "--problems", str(probs), "--n", "2",
                "--max-new-tokens", "24", "--temperature", "1.0", "-o", str(out2)]) == 0
    two = list(read_jsonl(out2, Solution))
    for p in test_problems:
        assert [s.steps for s in two if s.problem_id == p.id] == [
            s.steps for s in sols if s.problem_id == p.id
        ][:2]
