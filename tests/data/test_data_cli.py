"""`hiero data convert | stats | synth` through `hiero.cli.main`, and the Python entry points."""

from __future__ import annotations

import json

import pytest

from hiero.cli import main as cli_main
from hiero.data import sources
from hiero.data.io import DataError, read_jsonl
from hiero.types import Problem, Solution


def test_data_help_lists_only_working_commands(capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["data", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("convert", "stats", "synth"):
        assert cmd in out


def test_convert_processbench_through_cli(shared_data, tmp_path, capsys):
    out = tmp_path / "pb.jsonl"
    rc = cli_main(
        [
            "data",
            "convert",
            "--format",
            "processbench",
            str(shared_data / "processbench" / "gsm8k.json"),
            "-o",
            str(out),
            "--json",
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 400 and summary["source_counts"]["no_error"] == 193
    sols = list(read_jsonl(out, Solution))
    assert len(sols) == 400 and sum(s.first_error == -1 for s in sols) == 193
    rc = cli_main(["data", "stats", str(out), "--json"])
    stats = json.loads(capsys.readouterr().out)
    assert rc == 0 and stats["kind"] == "solution" and stats["records"] == 400
    assert stats["first_error"] == {"no_error": 193, "with_error": 207, "unknown": 0}
    assert stats["correct"] == {"true": 200, "false": 200, "unknown": 0}


def test_convert_malformed_line_3_exits_2_and_writes_nothing(shared_data, tmp_path, capsys):
    real = (shared_data / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    bad = json.loads(real[2])
    bad["answer"] = bad["answer"].replace("####", "==")  # no final-answer line
    src = tmp_path / "gsm8k_bad.jsonl"
    src.write_text("\n".join([real[0], real[1], json.dumps(bad)]) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "problems.jsonl"
    rc = cli_main(["data", "convert", "--format", "gsm8k", str(src), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{src}:3:" in err and "field 'answer'" in err
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_convert_bad_json_array_item(tmp_path, capsys):
    src = tmp_path / "pb.json"
    item = {
        "id": "x-0",
        "generator": "g",
        "problem": "p",
        "steps": ["a", "b"],
        "final_answer_correct": True,
        "label": -1,
    }
    src.write_text(json.dumps([item, item, {**item, "label": 5}]), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert cli_main(["data", "convert", "-f", "processbench", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "item 2" in err and "field 'label'" in err and not out.exists()


def test_synth_through_cli(tmp_path, capsys):
    out = tmp_path / "syn.jsonl"
    assert cli_main(["data", "synth", "--n", "12", "--seed", "3", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    problems = list(read_jsonl(out, Problem))
    assert len(problems) == summary["n"] == 12 and all(p.source == "synth" for p in problems)
    assert sources.stats(out)["records"] == 12


def test_python_api(shared_data, tmp_path):
    res = sources.convert(
        "math-shepherd",
        shared_data / "math_shepherd" / "openr_samples_math-shepherd.jsonl",
        tmp_path / "ms.jsonl",
    )
    assert res["records"] == 7 and res["kind"] == "solution"
    st = sources.stats(tmp_path / "ms.jsonl")
    assert st["labels"] == {"0": 20, "1": 5} and st["steps"] == 25
    raw = sources.stats(shared_data / "prm800k" / "phase2_raw_examples.jsonl", "prm800k", emit="rows")
    assert raw["kind"] == "step_row" and raw["records"] == raw["source_counts"]["rows"]
    with pytest.raises(ValueError, match="unknown format"):
        sources.convert("nope", tmp_path / "x", tmp_path / "y")
    with pytest.raises(DataError, match="file not found"):
        sources.convert("gsm8k", tmp_path / "absent.jsonl", tmp_path / "y.jsonl")
