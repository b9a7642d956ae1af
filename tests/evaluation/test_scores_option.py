"""`--scores FILE` for `hiero eval processbench` and `hiero eval bon`: the same numbers as scoring with
the model that wrote the file (`hiero rm score`), and clear errors for a bad file.

The model is a tiny untrained hiero PRM; the data are built-in-domain solutions in ProcessBench
format (both erroneous and correct items) and, for best-of-N, three noisy candidates per problem.
"""

from __future__ import annotations

import json
import random

import pytest

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.domains import builtin as synth
from hiero.evaluation.processbench import SPLITS, synth_items


@pytest.fixture(scope="module")
def prm(tmp_path_factory):
    from hiero.policy.model import build_model
    from hiero.policy.prompt import STEP_SEP, build_prompt
    from hiero.policy.sft import save_policy
    from hiero.policy.tokenizer import train_tokenizer
    from hiero.reward.model import RMSpec, build_reward_model, save_reward_model

    root = tmp_path_factory.mktemp("scores_models")
    probs = synth.generate_problems(30, seed=0)
    tok = train_tokenizer(
        [build_prompt(p.question) + STEP_SEP.join(synth.solve(p)) for p in probs], vocab_size=300
    )
    save_policy(build_model(len(tok), n_layers=1, hidden=32, heads=2, eos_token_id=tok.eos_token_id,
                            pad_token_id=tok.pad_token_id, max_positions=1024), tok, root / "policy")
    model, rtok = build_reward_model(root / "policy", RMSpec(kind="prm", loss="hard_ce", max_length=1024))
    save_reward_model(model, rtok, root / "prm")
    return root / "prm"


def pb_file(path, split: str, n: int, seed: int):
    """n built-in-domain items written as a ProcessBench split (ids split-i)."""
    items, _ = synth_items(n, seed, 0.4, 0.2)
    path.write_text(json.dumps([{"id": f"{split}-{i}", "generator": "synth", "problem": it.question,
                                 "steps": it.steps, "label": it.label, "final_answer_correct": it.label < 0}
                                for i, it in enumerate(items)]))
    return path


def rm_score(prm, data, out):
    assert cli(["rm", "score", "--rm", str(prm), "--input", str(data), "-o", str(out)]) == 0
    return out


def test_processbench_scores_file_equals_model(prm, tmp_path):
    data = pb_file(tmp_path / "pb.json", "gsm8k", 16, seed=3)
    scores = rm_score(prm, data, tmp_path / "scores.jsonl")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    base = ["eval", "processbench", "--data", str(data), "--tune-on", str(data)]
    assert cli(base + ["--rm", str(prm), "-o", str(a)]) == 0
    assert cli(base + ["--scores", str(scores), "-o", str(b)]) == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert rb["n_error"] > 2 and rb["n_correct"] > 2
    assert (rb["f1"], rb["threshold"], rb["acc_error"], rb["acc_correct"]) == \
        (ra["f1"], ra["threshold"], ra["acc_error"], ra["acc_correct"])
    for x, y in zip(ra["items"], rb["items"]):
        assert x["id"] == y["id"] and x["scores"] == pytest.approx(y["scores"], abs=1e-6)


def test_processbench_table_scores_folder_equals_model(prm, tmp_path):
    """The four-split table: per-split scores files in a folder (`--scores DIR`) vs the model."""
    data, sdir = tmp_path / "pb", tmp_path / "scores"
    data.mkdir(), sdir.mkdir()
    for i, split in enumerate(SPLITS):
        pb_file(data / f"{split}.json", split, 10, seed=20 + i)
        rm_score(prm, data / f"{split}.json", sdir / f"{split}.jsonl")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert cli(["eval", "processbench", "--data", str(data), "--rm", str(prm), "-o", str(a)]) == 0
    assert cli(["eval", "processbench", "--data", str(data), "--scores", str(sdir), "-o", str(b)]) == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert rb["average_f1"] == ra["average_f1"] and rb["threshold"] == ra["threshold"]
    assert {s: r["f1"] for s, r in rb["splits"].items()} == {s: r["f1"] for s, r in ra["splits"].items()}


BAD_ROWS = {  # what is wrong -> (rows, the words the error must contain)
    "length": ([{"id": "gsm8k-0", "scores": [0.5]}], [":1:", "'gsm8k-0'", "field 'scores'", "has 1 entries"]),
    "missing": ([{"id": "other", "scores": [0.5]}], ["field 'id'", "no row for id 'gsm8k-0'"]),
    "non-number": ([{"id": "gsm8k-0", "scores": [0.5, "high"]}], [":1:", "'gsm8k-0'", "field 'scores[1]'"]),
    "nan": ([{"id": "gsm8k-0", "scores": [float("nan")]}], [":1:", "'gsm8k-0'", "finite number"]),
    "duplicate": ([{"id": "gsm8k-0", "scores": [0.5]}, {"id": "gsm8k-0", "scores": [0.5]}],
                  [":2:", "field 'id'", "'gsm8k-0' repeats the row on line 1"]),
    "no id": ([{"scores": [0.5]}], [":1:", "field 'id': is missing"]),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_processbench_bad_scores_file(tmp_path, capsys, case):
    data = tmp_path / "pb.json"
    data.write_text(json.dumps([{"id": "gsm8k-0", "problem": "p", "steps": ["a", "b"], "label": 1},
                                {"id": "gsm8k-1", "problem": "p", "steps": ["a"], "label": -1}]))
    rows, words = BAD_ROWS[case]
    scores = tmp_path / "s.jsonl"
    scores.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o.json"
    assert cli(["eval", "processbench", "--data", str(data), "--scores", str(scores), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(scores) in err and all(w in err for w in words), err
    assert not out.exists() and not (tmp_path / "o.md").exists()


def test_processbench_rm_and_scores_exclusive(tmp_path, capsys):
    assert (
        cli(
            [
                "eval",
                "processbench",
                "--rm",
                "x",
                "--scores",
                "y",
                "--data",
                "synth",
                "-o",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "not both" in capsys.readouterr().err


@pytest.fixture(scope="module")
def candidates(tmp_path_factory):
    """Three noisy candidates for each of 6 built-in problems (question and `correct` set)."""
    rng = random.Random(5)
    sols = [synth.render_noisy_solution(p, rng, 0.4, 0.2)
            for p in synth.generate_problems(6, seed=4, split="test") for _ in range(3)]
    path = tmp_path_factory.mktemp("cands") / "cands.jsonl"
    write_jsonl(path, sols)
    return path


def test_bon_scores_file_equals_model(prm, candidates, tmp_path):
    scores = rm_score(prm, candidates, tmp_path / "scores.jsonl")
    assert json.loads(scores.read_text().splitlines()[4])["id"].endswith("#1")  # problem_id#k ids
    common = ["eval", "bon", "--candidates", str(candidates), "--n", "1,2,3", "--bootstrap", "50"]
    assert cli(common + ["--rm", f"prm={prm}", "-o", str(tmp_path / "a")]) == 0
    assert cli(common + ["--scores", f"prm={scores}", "-o", str(tmp_path / "b")]) == 0
    ra = json.loads((tmp_path / "a" / "results.json").read_text())
    rb = json.loads((tmp_path / "b" / "results.json").read_text())
    assert set(rb["curves"]) == set(ra["curves"]) >= {"prm:min", "prm:last", "prm+vote"}
    for name, c in ra["curves"].items():
        assert rb["curves"][name]["acc"] == c["acc"], name
    assert rb["rms"] == {"prm": "prm"}


def test_bon_bad_scores(prm, candidates, tmp_path, capsys):
    scores = rm_score(prm, candidates, tmp_path / "scores.jsonl")
    rows = [json.loads(x) for x in scores.read_text().splitlines()]
    rows[2]["scores"] = rows[2]["scores"][:-1]  # one step short
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o"
    assert (
        cli(
            [
                "eval",
                "bon",
                "--candidates",
                str(candidates),
                "--n",
                "1,2",
                "--scores",
                str(bad),
                "-o",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"{bad}:3:" in err and repr(rows[2]["id"]) in err and "field 'scores'" in err
    assert not (out / "results.json").exists()
    assert cli(["eval", "bon", "--problems", "synth:n=2", "--scores", str(scores), "-o", str(out)]) == 2
    assert "precomputed scores need --candidates" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", [["rm", "score"], ["eval", "processbench"], ["eval", "bon"]])
def test_help_lists_the_new_flags(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        cli(cmd + ["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "FORMAT:DIR" in out and "--dtype" in out and "--device-map" in out
    assert cmd[0] == "rm" or "--scores" in out
