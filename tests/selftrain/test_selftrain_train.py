"""Self-training: trajectory selection on hand-built trees, label placement, and the CLI on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hiero.cli import main as cli
from hiero.data.io import read_jsonl, write_jsonl
from hiero.domains import builtin as synth
from hiero.policy.prompt import STEP_SEP, build_prompt
from hiero.selftrain.train import collate, encode_example, rm_filter, select_candidates, select_examples
from hiero.trees.tree import add_node, new_tree
from hiero.types import IGNORE_INDEX


def hand_tree(problem):
    """root ─ a (right first step) ─ a1 (right rest + answer, terminal, correct)
            │                      └ a2 (same text as a1: a duplicate)
            ├ b (wrong first step) ─ b1 (terminal, wrong)
            └ c (right first step, written differently) ─ c1 (terminal, correct)
                                                        └ c2 (terminal, wrong)
    MC: a 2/2 = 1, b 0/1, c 1/2 = 0.5; leaves a1, a2, c1: 1; b1, c2: 0."""
    ref = synth.solve(problem)
    t = new_tree(problem)
    a = add_node(t, 0, ref[0])
    rest = "\n".join(ref[1:])
    add_node(t, a.id, rest, terminal=True, correct=True, answer=problem.answer)
    add_node(t, a.id, rest, terminal=True, correct=True, answer=problem.answer)
    b = add_node(t, 0, ref[0].replace(ref[0].split()[2], "999"))
    add_node(t, b.id, "The answer is 0", terminal=True, correct=False, answer="0")
    c = add_node(t, 0, ref[0] + " ")
    add_node(t, c.id, rest, terminal=True, correct=True, answer=problem.answer)
    add_node(t, c.id, "The answer is 0", terminal=True, correct=False, answer="0")
    t.recompute_counts()
    return t


def test_select_paths_and_nodes():
    p = synth.generate_problems(1, seed=0)[0]
    t = hand_tree(p)
    ref = synth.solve(p)
    paths = select_examples([t], 0.95, "path")
    # a->a1 (a->a2 is the same text, kept once); c->c1 fails because c has MC 0.5
    assert paths == [(build_prompt(p.question), ref[0] + "\n" + "\n".join(ref[1:]), True)]
    assert select_examples([t], 0.5, "path")[1][1].startswith(ref[0] + " \n")  # c->c1 at threshold 0.5
    nodes = select_examples([t], 0.95, "node")
    # a (not terminal), a1 (= a2), c1 (its own MC is 1 even though its parent's is 0.5)
    assert [(ex[1], ex[2]) for ex in nodes] == [(ref[0], False), ("\n".join(ref[1:]), True),
                                                ("\n".join(ref[1:]), True)]
    assert nodes[2][0] == build_prompt(p.question, [ref[0] + " "])
    with pytest.raises(ValueError):
        select_examples([t], 0.95, "bogus")


class StepScorer:
    """A scorer that gives 0.1 to a step containing '999' (the hand tree's wrong step), else 0.9."""

    probability = True

    def __init__(self):
        self.calls = 0

    def score(self, questions, solutions):
        self.calls += 1
        assert len(questions) == len(solutions)
        return [[0.1 if "999" in s else 0.9 for s in steps] for steps in solutions]


def test_rm_filter_reads_the_min_over_the_steps_so_far():
    p = synth.generate_problems(1, seed=0)[0]
    t = hand_tree(p)
    cands = select_candidates([t], 0.0, "node")  # every node with leaves: a, a1, b, b1, c, c1, c2 (a2 = a1)
    assert len(cands) == 7 and all(isinstance(c[1], list) for c in cands)
    scorer = StepScorer()
    kept, mins, threshold = rm_filter(cands, scorer, None)  # None: 0.5 for probabilities
    assert scorer.calls == 1 and threshold == 0.5  # one batched pass
    # b is the wrong step and b1 follows it: min over [b, b1] is 0.1 although b1 itself scores 0.9
    assert [m for m in mins] == [0.9, 0.9, 0.1, 0.1, 0.9, 0.9, 0.9]
    assert [c for c in cands if c not in kept] == [c for c in cands if "999" in c[1][0]]
    # the examples built from candidates are select_examples' own
    assert select_examples([t], 0.0, "node") == [
        (build_prompt(q, steps[:-1]), steps[-1], ends) for q, steps, ends in cands]


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> Path:
    from hiero.policy.model import build_model
    from hiero.policy.sft import save_policy
    from hiero.policy.tokenizer import train_tokenizer

    probs = synth.generate_problems(30, seed=0)
    tok = train_tokenizer(
        [build_prompt(p.question) + STEP_SEP.join(synth.solve(p)) for p in probs], vocab_size=300
    )
    out = tmp_path_factory.mktemp("st") / "policy"
    save_policy(build_model(len(tok), n_layers=1, hidden=32, heads=2, eos_token_id=tok.eos_token_id,
                            pad_token_id=tok.pad_token_id, seed=0), tok, out)
    return out


def test_encode_and_collate_label_placement(policy):
    """Prompt tokens -> IGNORE_INDEX; response tokens + EOS are labels (a terminal example), or
    response + "\\n" with no EOS (a single non-terminal step); padding -> IGNORE_INDEX, attention 0."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(policy)
    prompt = build_prompt("What is 2 + 3?")
    ex = encode_example(tok, prompt, "2 + 3 = 5\nThe answer is 5", True)
    n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
    assert ex["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert ex["labels"][n_prompt:] == ex["input_ids"][n_prompt:]
    assert ex["input_ids"][-1] == tok.eos_token_id
    assert tok.decode(ex["input_ids"][n_prompt:-1]) == "2 + 3 = 5\nThe answer is 5"
    assert tok.decode(ex["input_ids"]) == prompt + "2 + 3 = 5\nThe answer is 5" + tok.eos_token
    step = encode_example(tok, prompt, "2 + 3 = 5", False)
    assert tok.decode(step["input_ids"][n_prompt:]) == "2 + 3 = 5\n"
    batch = collate([ex, step], tok.pad_token_id)
    n = len(step["input_ids"])
    assert batch["input_ids"].shape == (2, len(ex["input_ids"]))
    assert batch["labels"][1, n:].eq(IGNORE_INDEX).all() and batch["attention_mask"][1, n:].eq(0).all()
    assert batch["input_ids"][1, n:].eq(tok.pad_token_id).all()


def test_selftrain_cli_tiny(policy, tmp_path):
    problems = synth.generate_problems(6, seed=4)
    trees = tmp_path / "trees.jsonl"
    write_jsonl(trees, [hand_tree(p) for p in problems])
    out = tmp_path / "st"
    rc = cli(["selftrain", "--policy", str(policy), "--trees", str(trees), "-o", str(out), "--max-steps", "3",
              "--lr", "1e-2", "--batch-size", "4", "--eval-problems", "synth:n=3", "--max-new-tokens", "12"])
    assert rc == 0
    summary = json.loads((out / "selftrain_summary.json").read_text())
    assert summary["examples"] == 6 and summary["trees"] == 6  # one kept path per tree
    assert summary["before"]["n"] == 3 and summary["after"]["n"] == 3
    assert summary["train"]["steps"] == 3
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if "ce" in r]
    assert len(rows) == 3
    assert rows[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # first step: policy == reference
    assert rows[-1]["kl"] > 0  # the policy moved away from the frozen reference
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out)  # a normal model folder


def test_selftrain_no_trajectory_is_an_error(policy, tmp_path, capsys):
    p = synth.generate_problems(1, seed=0)[0]
    t = new_tree(p)
    add_node(t, 0, "The answer is 0", terminal=True, correct=False, answer="0")
    t.recompute_counts()
    trees = tmp_path / "t.jsonl"
    write_jsonl(trees, [t])
    rc = cli(["selftrain", "--policy", str(policy), "--trees", str(trees), "-o", str(tmp_path / "o")])
    assert rc == 2 and "no trajectory passes" in capsys.readouterr().err
