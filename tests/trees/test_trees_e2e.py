"""Slow end to end: train the quick policy, annotate 20 synthetic problems in both modes via the CLI."""

from __future__ import annotations

import json

import pytest

from hiero.cli import main as cli_main
from hiero.data.io import read_jsonl, write_jsonl
from hiero.domains import builtin as synth
from hiero.trees.tree import check_tree
from hiero.types import Tree


@pytest.mark.slow
def test_quick_policy_then_annotate_both_modes(tmp_path, capsys):
    from hiero.policy.sft import main as train_policy
    from hiero.policy.sft import preset_config

    policy = tmp_path / "policy"
    train_policy(preset_config("quick", output=str(policy)))
    problems = tmp_path / "problems.jsonl"
    write_jsonl(problems, synth.generate_problems(20, seed=0, split="test"))
    for mode in ("bfs", "mcts"):
        out = tmp_path / f"{mode}.jsonl"
        capsys.readouterr()
        assert cli_main(["annotate", "--policy", str(policy), "--problems", str(problems), "-o", str(out),
                         "--mode", mode, "--children", "3", "--depth", "6", "--rollouts", "4",
                         "--simulations", "6", "--temperature", "0.7", "--batch-problems", "20"]) == 0
        summary = json.loads(capsys.readouterr().out)
        trees = list(read_jsonl(out, Tree))
        assert len(trees) == 20 == summary["trees"]
        for t in trees:
            check_tree(t)
            if mode == "bfs":
                assert t.root.n_total == len(t.leaves())
        # the trained policy writes real steps: some are right, and right steps score higher
        assert summary["true_steps"] > 0 and summary["false_steps"] > 0
        assert summary["mean_mc_true_steps"] > summary["mean_mc_false_steps"]
