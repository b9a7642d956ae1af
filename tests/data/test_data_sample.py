"""`hiero data sample`: whole groups or rows at random, file order kept, same groups across files."""

import json

import pytest

from hiero.cli import main as cli
from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.data.sample import sample_rows


def _rows(qs, per, tag):
    return [{"question_id": q, "i": i, "tag": tag} for q in qs for i in range(per)]


def test_groups_keep_whole_questions_in_file_order():
    rows = _rows([f"q{k}" for k in range(10)], 3, "prm")
    kept = sample_rows(rows, groups=4, seed=1)
    qs = {r["question_id"] for r in kept}
    assert len(qs) == 4 and len(kept) == 12
    assert kept == [r for r in rows if r["question_id"] in qs]
    assert sample_rows(rows, groups=4, seed=1) == kept  # deterministic
    assert sample_rows(rows, groups=4, seed=2) != kept


def test_two_files_over_the_same_questions_keep_the_same_questions():
    qs = [f"q{k}" for k in range(20)]
    prm = _rows(qs, 2, "prm")
    hrm = _rows(list(reversed(qs)), 4, "hrm")  # other order, other row counts
    a = {r["question_id"] for r in sample_rows(prm, groups=5, seed=0)}
    b = {r["question_id"] for r in sample_rows(hrm, groups=5, seed=0)}
    assert a == b


def test_rows_mode_and_argument_errors():
    rows = _rows(["a", "b"], 5, "x")
    assert len(sample_rows(rows, n_rows=3)) == 3
    assert sample_rows(rows, n_rows=99) == rows
    with pytest.raises(ValueError, match="exactly one"):
        sample_rows(rows, groups=1, n_rows=1)
    with pytest.raises(ValueError, match="exactly one"):
        sample_rows(rows)
    with pytest.raises(DataError, match="x.jsonl:2: field 'question_id'"):
        sample_rows([{"question_id": "a"}, {"other": 1}], groups=1, src="x.jsonl")


def test_cli(tmp_path, capsys):
    write_jsonl(tmp_path / "in.jsonl", _rows([f"q{k}" for k in range(6)], 2, "t"))
    assert cli(["data", "sample", str(tmp_path / "in.jsonl"), "--groups", "2", "--seed", "3",
                "-o", str(tmp_path / "out.jsonl")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows_in"], summary["rows_out"], summary["groups_out"]) == (12, 4, 2)
    assert len(list(read_jsonl(tmp_path / "out.jsonl"))) == 4
