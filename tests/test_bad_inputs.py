"""Every bad input of issue 29 fed to every command that reads it: exit 2, one `hiero: error:` line
naming the file and line or the field (and the fix), and no output file or folder left behind."""

import json
import shutil

import pytest

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.domains import builtin as synth
from hiero.testing import make_tiny_base, noisy_reward_rows
from hiero.trees.tree import add_node, new_tree


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    problems = synth.generate_problems(4, seed=0)
    write_jsonl(root / "problems.jsonl", problems)
    tree = new_tree(problems[0])
    n = add_node(tree, 0, "step one")
    add_node(tree, n.id, "The answer is 1", terminal=True, correct=True, answer="1")
    tree.recompute_counts()
    good_tree = tree.to_dict()
    write_jsonl(root / "trees.jsonl", [good_tree])
    broken = json.loads(json.dumps(good_tree))
    broken["nodes"][0]["children"] = [1, 7]  # a child that is not a node
    write_jsonl(root / "broken_trees.jsonl", [broken])
    write_jsonl(root / "no_steps.jsonl", [{"problem_id": "p", "question": "q?", "steps": []}])
    write_jsonl(root / "same_pair.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "a"}])
    write_jsonl(root / "empty_chosen.jsonl", [{"prompt": "q", "chosen": " ", "rejected": "a"}])
    (root / "latin1.jsonl").write_bytes(b'{"id": "p", "question": "caf\xe9"}\n')
    (root / "empty.jsonl").write_text("")
    (root / "bad.yaml").write_text("lr: 0.1\nseed: 1: 2\n")
    rows, _ = noisy_reward_rows(8, 0)
    write_jsonl(root / "rm_data" / "train.jsonl", rows)
    texts = [r["prompt"] for r in rows] + [s for r in rows for s in r["completions"]]
    make_tiny_base(root / "base", texts, vocab_size=300, hidden=32, layers=1)
    shutil.copytree(root / "base", root / "truncated")
    weights = root / "truncated" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return root


def commands(r, case_file, out):
    """command name -> argv reading `case_file` in the role that file plays for it."""
    f = str(case_file)
    return {
        "annotate": ["annotate", "--problems", f, "--policy", str(r / "base"), "-o", str(out)],
        "policy train": ["policy", "train", "--preset", "micro", "--problems", f, "-o", str(out)],
        "rm score": ["rm", "score", "--rm", str(r / "base"), "--input", f, "-o", str(out)],
        "augment hnc": ["augment", "hnc", f, "-o", str(out)],
        "rm data": ["rm", "data", f, "-o", str(out)],
        "selftrain": ["selftrain", "--policy", str(r / "base"), "--trees", f, "-o", str(out)],
        "po train": ["po", "train", "--model", str(r / "base"), "--pairs", f, "-o", str(out),
                     "--ref-cache-dir", str(out) + ".cache"],
    }


# (case, input file, commands that read it in that role, what the message must name)
CASES = [
    (
        "non-UTF-8",
        "latin1.jsonl",
        ["annotate", "policy train", "rm score", "augment hnc", "rm data", "selftrain", "po train"],
        "latin1.jsonl:1: not UTF-8 text",
    ),
    (
        "empty file",
        "empty.jsonl",
        ["annotate", "policy train", "rm score", "augment hnc", "rm data", "po train"],
        "empty.jsonl",
    ),
    (
        "child points to a missing node",
        "broken_trees.jsonl",
        ["augment hnc", "rm data", "selftrain"],
        "broken_trees.jsonl:1: field 'nodes[0].children'",
    ),
    ("pair with chosen == rejected", "same_pair.jsonl", ["po train"], "same_pair.jsonl:1: field 'rejected'"),
    ("pair with an empty chosen", "empty_chosen.jsonl", ["po train"], "empty_chosen.jsonl:1: field 'chosen'"),
]


def run(argv, capsys):
    rc = cli(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("hiero: error:")]
    return rc, lines


@pytest.mark.parametrize("case,name,readers,expect", CASES, ids=[c[0] for c in CASES])
def test_bad_input_files(files, tmp_path, capsys, case, name, readers, expect):
    for command in readers:
        out = tmp_path / command.replace(" ", "_")
        rc, lines = run(commands(files, files / name, out)[command], capsys)
        assert rc == 2, (case, command)
        assert len(lines) == 1 and expect in lines[0], (case, command, lines)
        assert not out.exists(), (case, command)


def test_a_solution_with_no_steps_is_named_not_silent(files, caplog):
    """rm score keeps an empty solution (scores [], aggregates null: tests/reward/test_scorer.py relies
    on it; PRM800K give-ups are empty) but names it, with its line, instead of accepting it silently."""
    import logging

    from hiero.reward.scorer import read_inputs

    write_jsonl(files / "mixed.jsonl", [{"problem_id": "a", "question": "q?", "steps": ["x"]},
                                        {"problem_id": "b", "question": "q?", "steps": []}])
    with caplog.at_level(logging.WARNING):
        solutions, _ = read_inputs(str(files / "mixed.jsonl"))
    assert len(solutions) == 2
    assert any("mixed.jsonl: 1 solution(s) with no steps (line 2)" in r.message for r in caplog.records)


def trainers(r, out):
    return {
        "rm train": ["rm", "train", "--data", str(r / "rm_data"), "--base", str(r / "base"), "-o", str(out)],
        "policy train": ["policy", "train", "--preset", "micro", "-o", str(out)],
        "po train": [
            "po",
            "train",
            "--model",
            str(r / "base"),
            "--pairs",
            str(r / "same_pair.jsonl"),
            "-o",
            str(out),
        ],
        "selftrain": [
            "selftrain",
            "--policy",
            str(r / "base"),
            "--trees",
            str(r / "trees.jsonl"),
            "-o",
            str(out),
        ],
    }


@pytest.mark.parametrize("extra,expect", [(["--batch-size", "0"], "--batch-size 0: must be an integer >= 1"),
                                          (["--lr", "nan"], "--lr nan: must be a finite number >= 0")])
def test_settings_that_cannot_train(files, tmp_path, capsys, extra, expect):
    for command, argv in trainers(files, tmp_path / "out").items():
        rc, lines = run(argv + extra, capsys)
        assert rc == 2 and len(lines) == 1 and expect in lines[0], (command, lines)
        assert not (tmp_path / "out").exists(), command


def test_negative_beta(files, tmp_path, capsys):
    rc, lines = run(trainers(files, tmp_path / "o")["po train"] + ["--beta", "-1"], capsys)
    assert rc == 2 and "--beta -1.0: β must be a finite number > 0" in lines[0]


def test_yaml_syntax_error_names_file_and_line(files, tmp_path, capsys):
    for command, argv in trainers(files, tmp_path / "out").items():
        rc, lines = run(argv + ["--config", str(files / "bad.yaml")], capsys)
        assert rc == 2 and len(lines) == 1 and "bad.yaml:2: YAML syntax error" in lines[0], (command, lines)


def test_truncated_model_weights(files, tmp_path, capsys):
    t = str(files / "truncated")
    argvs = {
        "rm train": ["rm", "train", "--data", str(files / "rm_data"), "--base", t, "-o", str(tmp_path / "a")],
        "annotate": [
            "annotate",
            "--problems",
            str(files / "problems.jsonl"),
            "--policy",
            t,
            "-o",
            str(tmp_path / "b.jsonl"),
        ],
        "selftrain": [
            "selftrain",
            "--policy",
            t,
            "--trees",
            str(files / "trees.jsonl"),
            "-o",
            str(tmp_path / "c"),
        ],
    }
    for command, argv in argvs.items():
        rc, lines = run(argv, capsys)
        assert rc == 2 and len(lines) == 1, (command, lines)
        assert f"{t}: cannot read the model files" in lines[0] and "truncated" in lines[0], (command, lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_output_is_a_folder(files, tmp_path, capsys):
    for command, name in (("annotate", "problems.jsonl"), ("augment hnc", "trees.jsonl")):
        rc, lines = run(commands(files, files / name, tmp_path)[command], capsys)
        assert rc == 2 and len(lines) == 1 and f"{tmp_path}: is a folder" in lines[0], (command, lines)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    import hiero.augment.hnc as hnc

    def interrupted(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(hnc, "main", interrupted)
    assert cli(["augment", "hnc", "x.jsonl", "-o", "y.jsonl"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "hiero: interrupted" and "Traceback" not in err


def test_readers_refuse_a_policy_folder_still_being_trained(tmp_path, files):
    """HFGenerator / po / selftrain read through check_finished: an in-progress record refuses."""
    from hiero.policy.hf_backend import HFGenerator
    from hiero.preference.train import load_model

    folder = tmp_path / "policy"
    shutil.copytree(files / "base", folder)
    (folder / "hiero_run.json").write_text(json.dumps({"stage": "policy train", "complete": False}))
    for read in (lambda: HFGenerator(folder, device="cpu"), lambda: load_model(str(folder))):
        with pytest.raises(ValueError, match="unfinished hiero policy train run"):
            read()
    (folder / "hiero_run.json").write_text(json.dumps({"stage": "policy train", "complete": True}))
    HFGenerator(folder, device="cpu")
