"""`hiero annotate` end to end with the test oracle policy: both modes, resume, shards, viewers."""

from __future__ import annotations

import json

import pytest

from hiero.cli import main as cli_main
from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.domains import builtin as synth
from hiero.trees.annotate import AnnotateConfig, load_problems, main
from hiero.trees.tree import check_tree
from hiero.types import Problem, Tree


@pytest.fixture
def problems_file(tmp_path):
    path = tmp_path / "problems.jsonl"
    write_jsonl(path, synth.generate_problems(20, seed=0, split="test"))
    return path


def _cfg(problems_file, out, **kw) -> AnnotateConfig:
    base = dict(problems=str(problems_file), out=str(out), children=3, depth=4, batch_problems=6, seed=7)
    return AnnotateConfig(**{**base, **kw})


@pytest.mark.parametrize("mode", ["bfs", "mcts"])
def test_annotate_20_problems_both_modes(tmp_path, problems_file, synth_oracle, mode):
    problems = list(read_jsonl(problems_file, Problem))
    gen = synth_oracle(problems, p_slip=0.2)
    out = tmp_path / f"{mode}.jsonl"
    summary = main(_cfg(problems_file, out, mode=mode, depth=5, rollouts=2, simulations=4), generator=gen)
    trees = list(read_jsonl(out, Tree))
    assert [t.problem.id for t in trees] == [p.id for p in problems]
    assert summary["written"] == 20 and summary["trees"] == 20 and summary["generated_tokens"] > 0
    for t in trees:
        check_tree(t)
        assert t.meta["mode"] == mode and t.meta["children"] == 3
        assert all(n.step_correct is not None for n in t.nodes[1:])
    if mode == "bfs":
        assert all(t.root.n_total == len(t.leaves()) for t in trees)
        # 20 problems in chunks of 6 -> 4 chunks, each at most depth=5 levels, one call per level
        assert len(gen.calls) <= 4 * 5
    # MC separates true from false steps on this policy (false steps can only lead to wrong answers)
    assert summary["mean_mc_false_steps"] == 0.0 < summary["mean_mc_true_steps"]


class _Crash(RuntimeError):
    pass


class _CrashingGenerator:
    """Wraps a generator and raises after `calls` calls: a crash in the middle of a run."""

    def __init__(self, inner, calls):
        self.inner, self.left = inner, calls

    def generate(self, prompts, **kw):
        if self.left == 0:
            raise _Crash
        self.left -= 1
        return self.inner.generate(prompts, **kw)


@pytest.mark.parametrize("mode", ["bfs", "mcts"])
def test_resume_after_crash_gives_the_same_file(tmp_path, problems_file, synth_oracle, mode):
    problems = list(read_jsonl(problems_file, Problem))
    kw = dict(mode=mode, rollouts=2, simulations=3)
    ref = tmp_path / "ref.jsonl"
    main(_cfg(problems_file, ref, **kw), generator=synth_oracle(problems))
    out = tmp_path / "out.jsonl"
    with pytest.raises(_Crash):  # dies in the 2nd chunk: chunk 1 (6 trees) is written
        main(_cfg(problems_file, out, **kw), generator=_CrashingGenerator(synth_oracle(problems), 6))
    assert len(out.read_text().splitlines()) == 6
    with open(out, "ab") as f:  # and a torn half line, as a kill -9 mid-write would leave
        f.write(ref.read_bytes().splitlines()[6][:50])
    summary = main(_cfg(problems_file, out, **kw), generator=synth_oracle(problems))
    assert summary["written"] == 14 and summary["skipped"] == 6
    assert out.read_bytes() == ref.read_bytes()
    again = main(_cfg(problems_file, out, **kw), generator=synth_oracle(problems))
    assert again["written"] == 0 and out.read_bytes() == ref.read_bytes()


def test_resume_with_other_settings_is_refused(tmp_path, problems_file, synth_oracle):
    problems = list(read_jsonl(problems_file, Problem))
    out = tmp_path / "out.jsonl"
    main(_cfg(problems_file, out, limit=3), generator=synth_oracle(problems))
    with pytest.raises(ValueError, match="other settings"):
        main(_cfg(problems_file, out, limit=3, children=2), generator=synth_oracle(problems))


def test_shards_partition_the_problems(tmp_path, problems_file, synth_oracle):
    """Shards are disjoint and cover every problem; with a per-prompt-seeded backend a tree does
    not depend on which problems share its batch, so sharded trees equal the unsharded ones."""
    problems = list(read_jsonl(problems_file, Problem))
    whole = tmp_path / "whole.jsonl"
    main(_cfg(problems_file, whole), generator=synth_oracle(problems))
    by_id = {t.problem.id: t for t in read_jsonl(whole, Tree)}
    seen = []
    for i in range(3):
        out = tmp_path / f"shard{i}.jsonl"
        main(_cfg(problems_file, out, shard=f"{i}/3"), generator=synth_oracle(problems))
        ids = [t.problem.id for t in read_jsonl(out, Tree)]
        assert ids == [p.id for p in load_problems(str(problems_file), f"{i}/3")]
        for t in read_jsonl(out, Tree):
            assert t.to_dict()["nodes"] == by_id[t.problem.id].to_dict()["nodes"]
        seen += ids
    assert sorted(seen) == sorted(by_id) and len(seen) == len(set(seen)) == 20


def test_bad_inputs(tmp_path, problems_file):
    dup = tmp_path / "dup.jsonl"
    rows = [json.loads(line) for line in problems_file.read_text().splitlines()[:2]]
    rows[1]["id"] = rows[0]["id"]
    dup.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match="dup.jsonl:2: field 'id'"):
        load_problems(str(dup))
    with pytest.raises(ValueError, match="shard"):
        load_problems(str(problems_file), "3/3")
    rc = cli_main(["annotate", "--problems", str(dup), "--policy", "x", "-o", str(tmp_path / "t.jsonl")])
    assert rc == 2 and not (tmp_path / "t.jsonl").exists()


def test_trees_show_and_html_cli(tmp_path, problems_file, synth_oracle, capsys):
    problems = list(read_jsonl(problems_file, Problem))
    out = tmp_path / "trees.jsonl"
    main(_cfg(problems_file, out, mode="mcts", limit=4, rollouts=2, simulations=3, depth=6),
         generator=synth_oracle(problems, p_slip=0.3))
    tree = list(read_jsonl(out, Tree))[2]
    capsys.readouterr()
    assert cli_main(["trees", "show", str(out), "--id", tree.problem.id]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert tree.problem.id in lines[0]
    assert len(lines) == 3 + len(tree.nodes) - 1  # header (3 lines) + one line per node
    assert f"mc={tree.root.n_correct}/{tree.root.n_total}" in lines[2]
    assert "(rollout)" in text and "=> " in text
    assert cli_main(["trees", "show", str(out), "--id", "nope"]) == 2

    page = tmp_path / "trees.html"
    assert cli_main(["trees", "html", str(out), "-o", str(page)]) == 0
    html = page.read_text()
    assert html.count('<details class="tree"') == 4
    assert "<script>" in html and "<style>" in html and "http" not in html.split("<body>")[1]
    assert "hsl(0, 70%, 82%)" in html or "hsl(120, 70%, 82%)" in html  # coloured by MC score


@pytest.mark.parametrize("content", [b'{"problem_id": "p1", "steps": ["a"]}',  # one JSON line, no newline
                                     b'{"a": 1}\n{"b": 2}\n', b"plain text\n", b'{"problem": {"id": "x"}}\n'])
def test_a_file_that_is_not_annotate_output_is_never_modified(tmp_path, problems_file, synth_oracle, content):
    out = tmp_path / "data.jsonl"
    out.write_bytes(content)
    problems = list(read_jsonl(problems_file, Problem))
    with pytest.raises(DataError, match="not a trees file written by hiero annotate"):
        main(_cfg(problems_file, out, limit=2), generator=synth_oracle(problems))
    assert out.read_bytes() == content
    rc = cli_main(["annotate", "--problems", str(problems_file), "--policy", "x", "-o", str(out)])
    assert rc == 2 and out.read_bytes() == content


def test_one_writer_per_output(tmp_path, problems_file, synth_oracle):
    from hiero.runs import output_lock

    problems = list(read_jsonl(problems_file, Problem))
    out = tmp_path / "t.jsonl"
    with output_lock(tmp_path / ".t.jsonl.lock", str(out)):  # another annotate run holds it
        with pytest.raises(ValueError, match="another hiero run .* is writing it"):
            main(_cfg(problems_file, out, limit=2), generator=synth_oracle(problems))
    assert not out.exists()
    assert main(_cfg(problems_file, out, limit=2), generator=synth_oracle(problems))["written"] == 2


def test_empty_problems_and_a_folder_as_output_are_errors(tmp_path, problems_file, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    rc = cli_main(["annotate", "--problems", str(empty), "--policy", "x", "-o", str(tmp_path / "t.jsonl")])
    assert rc == 2 and "no problems" in capsys.readouterr().err and not (tmp_path / "t.jsonl").exists()
    rc = cli_main(["annotate", "--problems", str(problems_file), "--policy", "x", "-o", str(tmp_path)])
    assert rc == 2 and "is a folder" in capsys.readouterr().err


def test_the_progress_bar_hears_of_every_generate_call(tmp_path, problems_file, synth_oracle, capsys):
    """A chunk's trees are written only when its search ends; meanwhile the bar reports each generate call
    (issue 30: the bar sat at 0/8 for minutes). The wrapper is transparent: attributes pass through."""
    from hiero.trees.annotate import WatchedGenerator

    problems = list(read_jsonl(problems_file, Problem))
    gen = synth_oracle(problems, p_slip=0.2)
    seen = []
    watched = WatchedGenerator(gen, seen.append)
    from hiero.policy.prompt import build_prompt

    outs = watched.generate([build_prompt(problems[0].question)], n=3, max_new_tokens=8, stop=["\n"])
    assert seen == [3] and len(outs[0]) == 3
    assert getattr(watched, "prompt_format", None) is getattr(gen, "prompt_format", None)
    main(_cfg(problems_file, tmp_path / "t.jsonl", mode="bfs", depth=3, batch_problems=20), generator=gen)
    err = capsys.readouterr().err
    assert (
        "generate_calls=3" in err
    )  # one call per bfs level of the one 20-problem chunk, shown before it ends
