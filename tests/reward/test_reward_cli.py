"""`hiero rm train` + `hiero rm score` through hiero.cli.main on a tiny model (fast), and bad input."""

import json

import pytest
from transformers import AutoTokenizer

from hiero.cli import main as cli
from hiero.data.io import read_jsonl, write_jsonl
from hiero.reward.collate import add_marker, encode_marker, rm_template
from hiero.testing import make_tiny_base, noisy_reward_rows


def write_rm_assets(root, **base_size) -> tuple[list[dict], list]:
    """root/data/{train,eval}.jsonl of built-in PRM rows and a tiny base in root/base trained on their text;
    returns (train rows, their solutions)."""
    train, sols = noisy_reward_rows(24, 0)
    ev, _ = noisy_reward_rows(6, 1)
    write_jsonl(root / "data" / "train.jsonl", train)
    write_jsonl(root / "data" / "eval.jsonl", ev)
    texts = [r["prompt"] for r in train] + [s for r in train for s in r["completions"]]
    make_tiny_base(root / "base", texts, vocab_size=300, **base_size)
    return train, sols


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("rmcli")
    train, sols = write_rm_assets(root)
    write_jsonl(root / "solutions.jsonl", sols[:5])
    tok = AutoTokenizer.from_pretrained(root / "base")
    mid = add_marker(tok)
    lengths = sorted(
        len(encode_marker(tok, r["prompt"], r["completions"], mid, rm_template())[0]) for r in train
    )
    return root, lengths[len(lengths) // 2]  # a --max-length that drops some rows, keeps others


def test_cli_train_then_score(setup, capsys):
    root, max_length = setup
    # rows of one kind train only that kind (an HRM needs the merged-step rows): refused before any work
    rc = cli(["rm", "train", "--kind", "hrm", "--data", str(root / "data"), "--base", str(root / "base"),
              "-o", str(root / "rm_hrm"), "--max-steps", "3"])
    assert rc == 2 and "--kind hrm" in capsys.readouterr().err and not (root / "rm_hrm").exists()
    rc = cli(["rm", "train", "--kind", "prm", "--data", str(root / "data"), "--base", str(root / "base"),
              "-o", str(root / "rm"), "--max-steps", "3", "--batch-size", "8", "--loss", "soft_ce",
              "--max-length", str(max_length)])
    assert rc == 0
    summary = json.loads((root / "rm" / "train_summary.json").read_text())
    assert summary["steps"] == 3 and summary["kind"] == "prm"
    tr = summary["train"]
    assert tr["rows"] == 24 and tr["examples"] + tr["dropped_too_long"] == 24
    assert 0 < tr["dropped_too_long"] < 24  # rows longer than --max-length are dropped and counted
    assert summary["best_eval_loss"] is not None
    spec = json.loads((root / "rm" / "hiero_rm.json").read_text())
    assert spec["scoring"] == "marker" and spec["loss"] == "soft_ce" and spec["max_length"] == max_length
    assert len((root / "rm" / "metrics.jsonl").read_text().splitlines()) >= 3
    assert not (root / "rm" / "checkpoint").exists()

    rc = cli(["rm", "score", "--rm", str(root / "rm"), "--input", str(root / "solutions.jsonl"),
              "-o", str(root / "scores.jsonl")])
    assert rc == 0
    rows = list(read_jsonl(root / "scores.jsonl"))
    assert len(rows) == 5
    for r in rows:
        assert len(r["scores"]) == len(r["steps"]) and all(0.0 <= x <= 1.0 for x in r["scores"])
        assert r["aggregates"]["min"] == min(r["scores"]) and r["aggregates"]["last"] == r["scores"][-1]


def test_cli_bad_rows_exit_2_without_output(setup, tmp_path, capsys):
    setup = setup[0]
    bad = tmp_path / "data"
    row = json.loads((setup / "data" / "train.jsonl").read_text().splitlines()[0])
    row["labels"] = row["labels"][:-1]  # misaligned with completions
    write_jsonl(
        bad / "train.jsonl", [json.loads((setup / "data" / "train.jsonl").read_text().splitlines()[1]), row]
    )
    rc = cli(["rm", "train", "--data", str(bad), "--base", str(setup / "base"), "-o", str(tmp_path / "rm")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "train.jsonl:2" in err and "labels" in err
    assert not (tmp_path / "rm" / "hiero_rm.json").exists()
    rc = cli(
        [
            "rm",
            "train",
            "--loss",
            "hard_ce",
            "--data",
            str(setup / "data"),
            "--base",
            str(setup / "base"),
            "-o",
            str(tmp_path / "rm2"),
        ]
    )
    assert rc == 2 and "label-type hard" in capsys.readouterr().err
