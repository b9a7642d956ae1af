"""The shared JSONL layer (hiero/data/io.py) and the validation in hiero/types.py: errors name
file:line and field, writes are atomic, append-only files survive a torn last line."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from hiero.cli import main as cli_main
from hiero.data.io import (
    DataError,
    append_jsonl,
    read_appended,
    read_json,
    read_jsonl,
    repair_appended,
    write_jsonl,
)
from hiero.types import FieldError, Node, PreferencePair, Problem, Solution, Tree

GOOD = {"problem_id": "p1", "steps": ["1 + 2 = 3", "The answer is 3"], "answer": "3", "correct": True,
        "labels": [1, 1]}


def _write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_invalid_json_on_line_3_names_the_line(tmp_path):
    path = _write_lines(tmp_path / "bad.jsonl", [json.dumps(GOOD), json.dumps(GOOD), '{"problem_id": "p3", '])
    with pytest.raises(DataError) as e:
        list(read_jsonl(path, Solution))
    assert f"{path}:3:" in str(e.value) and e.value.line == 3 and "invalid JSON" in str(e.value)


@pytest.mark.parametrize("bad,field", [
    ({**GOOD, "labels": [1]}, "labels"),                  # wrong length
    ({**GOOD, "labels": [1, 2]}, "labels[1]"),            # out of range
    ({**GOOD, "steps": ["a", 3]}, "steps[1]"),            # wrong element type
    ({k: v for k, v in GOOD.items() if k != "steps"}, "steps"),  # missing
    ({**GOOD, "correct": "yes"}, "correct"),              # wrong type
    ({**GOOD, "counts": [[3, 2], [1, 1]]}, "counts[0]"),  # n_correct > n_total
    ({**GOOD, "soft_labels": [0.5, 1.5]}, "soft_labels[1]"),
])
def test_bad_field_on_line_3_names_line_and_field(tmp_path, bad, field):
    path = _write_lines(tmp_path / "bad.jsonl", [json.dumps(GOOD), "", json.dumps(bad)])  # blank line 2
    with pytest.raises(DataError) as e:
        list(read_jsonl(path, Solution))
    msg = str(e.value)
    assert ":3:" in msg and f"field '{field}'" in msg


def test_stats_cli_on_malformed_line_3_exits_2(tmp_path, capsys):
    path = _write_lines(
        tmp_path / "sols.jsonl", [json.dumps(GOOD), json.dumps(GOOD), json.dumps({**GOOD, "labels": "x"})]
    )
    assert cli_main(["data", "stats", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hiero: error:") and "sols.jsonl:3:" in err and "labels" in err


def test_write_is_atomic(tmp_path):
    """A failure while writing leaves neither a partial output nor a temp file, and an existing
    output is untouched."""
    out = tmp_path / "out.jsonl"

    def rows():
        yield Problem(id="a", question="q", answer="1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl(out, rows())
    assert list(tmp_path.iterdir()) == []
    write_jsonl(out, [Problem(id="a", question="q", answer="1")])
    before = out.read_text()
    with pytest.raises(RuntimeError):
        write_jsonl(out, rows())
    assert out.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_round_trip_every_type(tmp_path):
    sol = Solution(problem_id="p", steps=["a", "b"], answer="2", correct=False, question="q", labels=[1, 0],
                   soft_labels=[0.75, 0.0], counts=[(3, 4), (0, 4)], first_error=1, meta={"k": 1})
    prob = Problem(id="p", question="q", answer="2", steps=["a"], source="synth")
    tree = Tree(
        problem=prob,
        nodes=[
            Node(id=0, parent=None, step="", depth=0, children=[1], n_correct=1, n_total=2),
            Node(id=1, parent=0, step="a", depth=1, n_correct=1, n_total=2),
        ],
    )
    pair = PreferencePair(prompt="q", chosen="good answer", rejected="bad", chosen_segments={"Ra": (0, 4)})
    for obj, cls in ((sol, Solution), (prob, Problem), (tree, Tree), (pair, PreferencePair)):
        path = tmp_path / f"{cls.__name__}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as f:  # .gz is read transparently
            f.write(json.dumps(obj.to_dict()) + "\n")
        (back,) = list(read_jsonl(path, cls))
        assert back.to_dict() == obj.to_dict()


def test_segment_span_outside_response_is_rejected():
    with pytest.raises(FieldError, match="chosen_segments.Ra"):
        PreferencePair(prompt="q", chosen="abc", rejected="d", chosen_segments={"Ra": (1, 9)})
    assert PreferencePair.from_dict({"question": "q", "chosen": "a", "rejected": "b"}).prompt == "q"


def test_append_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    append_jsonl(path, {"i": 0})
    append_jsonl(path, {"i": 1})
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"i": 2, "trunc')  # a crash mid-write
    assert [r["i"] for r in read_appended(path)] == [0, 1]
    assert repair_appended(path) == len('{"i": 2, "trunc')
    append_jsonl(path, {"i": 2})
    assert [r["i"] for r in read_jsonl(path)] == [0, 1, 2]


def test_read_json_names_the_line_of_a_syntax_error(tmp_path):
    path = tmp_path / "arr.json"
    path.write_text('[\n {"a": 1},\n {"a": 2,,}\n]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"arr\.json:3:"):
        read_json(path)
    with pytest.raises(DataError, match="file not found"):
        list(read_jsonl(tmp_path / "missing.jsonl"))


@pytest.mark.parametrize("reader", ["jsonl", "json", "appended"])
def test_non_utf8_bytes_name_file_line_and_column(tmp_path, reader):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": "caf\xe9"}\n')
    read = {"jsonl": lambda: list(read_jsonl(path)), "json": lambda: read_json(path),
            "appended": lambda: read_appended(path)}[reader]
    with pytest.raises(
        DataError, match=r"x.jsonl:2: not UTF-8 text \(byte 0xe9 at column 11\); save the file as UTF-8"
    ):
        read()


def test_a_folder_given_as_a_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        list(read_jsonl(tmp_path))


@pytest.mark.parametrize(
    "umask,existing,want", [(0o022, None, 0o644), (0o077, None, 0o600), (0o022, 0o640, 0o640)]
)
def test_atomic_writes_follow_the_umask(tmp_path, umask, existing, want):
    """mkstemp creates 0600 files; the output gets what open() would give (or keeps its mode)."""
    path = tmp_path / "out.jsonl"
    if existing is not None:
        path.write_text("old\n")
        path.chmod(existing)
    old = os.umask(umask)
    try:
        write_jsonl(path, [{"a": 1}])
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == want
