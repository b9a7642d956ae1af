"""Real data into `hiero rm data` / `hiero rm train`: Math-Shepherd rows (rows_labelled.py) and the
step rows of `hiero data convert --format prm800k --emit rows`, through to a tiny `rm train`."""

import json

import pytest

from hiero.cli import main as cli
from hiero.data.io import read_jsonl
from hiero.reward.rows import RowsConfig, main
from hiero.reward.rows_labelled import labelled_rows, load_labelled
from hiero.types import RewardRow, Solution

SHEPHERD = "math_shepherd/openr_samples_math-shepherd.jsonl"


def test_labelled_rows_by_hand():
    sol = Solution(problem_id="q", steps=["a", "b", "c"], question="Q?", answer="5", correct=False,
                   labels=[1, 1, 0])
    prm = labelled_rows(sol, RowsConfig(kind="prm"), {})
    assert [r["completions"] for r in prm] == [["a"], ["a", "b"], ["a", "b", "c"]]
    assert [r["labels"][-1] for r in prm] == [True, True, False]
    assert all(r["label_mask"] == [False] * (len(r["completions"]) - 1) + [True] for r in prm)
    hrm = labelled_rows(sol, RowsConfig(kind="hrm", merge_label="min"), {})
    merged = [r for r in hrm if r["meta"]["row_type"] == "merged_pair"]
    assert [r["completions"] for r in merged] == [["a\nb"], ["a", "b\nc"]]
    assert [r["labels"][-1] for r in merged] == [True, False] and merged[1]["merged"] == [False, True]
    orm = labelled_rows(sol, RowsConfig(kind="orm"), {})
    assert len(orm) == 1 and orm[0]["labels"][-1] is False and orm[0]["completions"] == ["a", "b", "c"]
    # ProcessBench-style: only the first n_labelled steps carry a source label
    sol.meta["n_labelled"] = 2
    assert len(labelled_rows(sol, RowsConfig(kind="prm"), {})) == 2


def test_math_shepherd_real_rows(shared_data, tmp_path):
    raw = shared_data / SHEPHERD
    sols = load_labelled(raw)
    assert len(sols) == 7 and sum(len(s.steps) for s in sols) == 25
    s = main(RowsConfig(inputs=[str(raw)], out_dir=str(tmp_path / "prm"), kind="prm", source="math-shepherd"))
    assert s["inputs"] == 7 and s["rows_built"] == 25  # one row per labelled step
    rows = list(read_jsonl(tmp_path / "prm" / "train.jsonl", RewardRow)) + list(
        read_jsonl(tmp_path / "prm" / "eval.jsonl", RewardRow))
    first = next(
        r for r in rows if r["prompt"].startswith("Janet pays $40/hour") and len(r["completions"]) == 5
    )
    # the file's first row: steps 1-4 are "+", the last ("... The answer is: 13520") is "-"
    assert first["completions"][-1].endswith("The answer is: 13520") and first["labels"][-1] is False
    assert first["source"] == "math-shepherd" and first["question_id"].startswith("math-shepherd-")
    h = main(RowsConfig(inputs=[str(raw)], out_dir=str(tmp_path / "hrm"), kind="hrm", source="math-shepherd"))
    assert h["rows_built"] == 25 + 25 - 7  # plus one merged pair per step after the first


def test_emitted_step_rows_give_the_raw_files_rows(shared_data, tmp_path):
    """`data convert --emit rows` output -> `rm data --from prm800k` = the raw file's rows, byte for byte."""
    from hiero.data.sources import convert

    raw = shared_data / "prm800k" / "phase1_test.jsonl"
    emitted = tmp_path / "rows.jsonl"
    convert("prm800k", raw, emitted, emit="rows")
    for kind in ("prm", "hrm"):
        a = main(
            RowsConfig(inputs=[str(raw)], out_dir=str(tmp_path / f"raw_{kind}"), kind=kind, source="prm800k")
        )
        b = main(RowsConfig(inputs=[str(emitted)], out_dir=str(tmp_path / f"rows_{kind}"), kind=kind,
                            source="prm800k"))
        assert a["rows_built"] == b["rows_built"] > 3000
        for split in ("train", "eval"):
            assert (tmp_path / f"raw_{kind}" / f"{split}.jsonl").read_text() == \
                (tmp_path / f"rows_{kind}" / f"{split}.jsonl").read_text()


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, shared_data):
    from hiero.testing import make_tiny_base

    texts = []
    for line in (shared_data / SHEPHERD).read_text().splitlines():
        texts.append(json.loads(line)["input"])
    out = tmp_path_factory.mktemp("base") / "base"
    make_tiny_base(out, texts, vocab_size=300)
    return out


@pytest.mark.parametrize("route", ["math-shepherd", "prm800k-rows"])
def test_real_file_to_rm_train(route, shared_data, tiny_base, tmp_path, capsys):
    """The real file through the CLI: convert -> rm data -> rm train (2 steps on a tiny base)."""
    if route == "math-shepherd":
        conv, src, kind = tmp_path / "ms.jsonl", "math-shepherd", "hrm"
        assert (
            cli(
                ["data", "convert", "--format", "math-shepherd", str(shared_data / SHEPHERD), "-o", str(conv)]
            )
            == 0
        )
    else:
        conv, src, kind = tmp_path / "rows.jsonl", "prm800k", "prm"
        assert (
            cli(
                [
                    "data",
                    "convert",
                    "--format",
                    "prm800k",
                    str(shared_data / "prm800k" / "phase2_raw_examples.jsonl"),
                    "--emit",
                    "rows",
                    "-o",
                    str(conv),
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert cli(["rm", "data", "--kind", kind, "--from", src, str(conv), "-o", str(tmp_path / "data")]) == 0
    assert (
        cli(
            [
                "rm",
                "train",
                "--kind",
                kind,
                "--data",
                str(tmp_path / "data"),
                "--base",
                str(tiny_base),
                "-o",
                str(tmp_path / "rm"),
                "--max-steps",
                "2",
                "--batch-size",
                "4",
                "--max-length",
                "1024",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "rm" / "train_summary.json").read_text())
    assert summary["steps"] == 2 and summary["kind"] == kind and summary["train"]["examples"] > 0
