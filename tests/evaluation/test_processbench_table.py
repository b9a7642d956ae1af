"""`hiero eval processbench --data FOLDER`: the whole ProcessBench table in one call.

The worked example: four tiny splits with hand-picked step scores at threshold 0.5,

    split          items                                    acc_error  acc_correct  F1
    gsm8k          err@0 [.2 .9] ok, correct [.9 .8] ok       1          1           1
    math           err@1 [.9 .9] -1 x, err@0 [.1] ok,          1/2        1           2/3
                   correct [.7] ok
    olympiadbench  err@1 [.9 .3] ok, correct [.4 .9] 0 x,     1          1/2         2/3
                   correct [.6] ok
    omnimath       err@0 [.9] -1 x, correct [.9] ok           0          1           0

average F1 = (1 + 2/3 + 2/3 + 0) / 4 = 7/12 = 0.5833: the unweighted mean of the splits. It is
neither the item-weighted mean ((2·1 + 3·2/3 + 3·2/3 + 2·0) / 10 = 0.6) nor the F1 of all items
pooled (acc_error 3/5, acc_correct 4/5 -> 0.686), so the test tells the three apart.
"""

from __future__ import annotations

import json

import pytest

from hiero.cli import main as cli
from hiero.evaluation.processbench import SPLITS, ProcessBenchConfig, main

# split -> [(label, scores)], the worked example of the module docstring
EXAMPLE = {
    "gsm8k": [(0, [0.2, 0.9]), (-1, [0.9, 0.8])],
    "math": [(1, [0.9, 0.9]), (0, [0.1]), (-1, [0.7])],
    "olympiadbench": [(1, [0.9, 0.3]), (-1, [0.4, 0.9]), (-1, [0.6])],
    "omnimath": [(0, [0.9]), (-1, [0.9])],
}
EXPECT = {"gsm8k": (1.0, 1.0, 1.0), "math": (0.5, 1.0, 2 / 3), "olympiadbench": (1.0, 0.5, 2 / 3),
          "omnimath": (0.0, 1.0, 0.0)}


def write_example(root):
    """Four ProcessBench-format split files and one scores file for all of them."""
    data, rows = root / "pb", []
    data.mkdir()
    for split, items in EXAMPLE.items():
        recs = []
        for i, (label, scores) in enumerate(items):
            rid = f"{split}-{i}"
            recs.append({"id": rid, "generator": "test", "problem": f"Problem {rid}",
                         "steps": [f"step {k} of {rid}" for k in range(len(scores))], "label": label,
                         "final_answer_correct": label < 0})
            rows.append({"id": rid, "scores": scores})
        (data / f"{split}.json").write_text(json.dumps(recs))
    scores = root / "scores.jsonl"
    scores.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data, scores


def test_average_f1_is_unweighted_mean_of_splits(tmp_path):
    data, scores = write_example(tmp_path)
    out = tmp_path / "pb.json"
    res = main(ProcessBenchConfig(data=str(data), scores=str(scores), threshold=0.5, out=str(out)))
    for split, (a_err, a_cor, f1) in EXPECT.items():
        r = res["splits"][split]
        assert (r["acc_error"], r["acc_correct"]) == (a_err, a_cor)
        assert r["f1"] == pytest.approx(f1)
    assert res["average_f1"] == pytest.approx(7 / 12)
    assert res["average_f1"] != pytest.approx(0.6) and res["average_f1"] != pytest.approx(0.686, abs=1e-3)
    assert res["threshold"] == 0.5 and res["threshold_source"] == "fixed (--threshold)"
    saved = json.loads(out.read_text())
    assert list(saved["splits"]) == list(SPLITS) and saved["average_f1"] == pytest.approx(7 / 12)
    assert [it["pred"] for it in saved["items"]["olympiadbench"]] == [1, 0, -1]
    md = (tmp_path / "pb.md").read_text()
    assert "| math | 3 | 50.0 | 100.0 | 66.7 |" in md and "| **average F1** | 10 | | | 58.3 |" in md


def test_table_tunes_on_gsm8k_by_default(tmp_path, capsys):
    data, scores = write_example(tmp_path)
    out = tmp_path / "pb.json"
    assert cli(["eval", "processbench", "--data", str(data), "--scores", str(scores), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| split |")  # the table first, then the JSON summary
    res = json.loads(out.read_text())
    assert res["threshold_source"] == "tuned on the gsm8k split"
    # gsm8k separates at any threshold in (0.2, 0.8]; ties keep the smallest grid value, 0.21
    assert res["threshold"] == pytest.approx(0.21) and res["tune_f1"] == 1.0
    # at 0.21 the math item with a 0.1 step is still caught, the olympiadbench 0.4 is no longer an error
    assert res["splits"]["olympiadbench"]["acc_correct"] == 1.0


def test_table_needs_all_four_splits(tmp_path, capsys):
    data, scores = write_example(tmp_path)
    (data / "omnimath.json").unlink()
    out = tmp_path / "pb.json"
    assert cli(["eval", "processbench", "--data", str(data), "--scores", str(scores), "-o", str(out)]) == 2
    assert "missing omnimath.json" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "pb.md").exists()


def test_real_processbench_table_with_precomputed_scores(shared_data, tmp_path):
    """All four real splits parse and join to a scores file by id; --limit-mode spread keeps both kinds.

    The scores are ground truth (good steps 0.9, the first error 0.1, later ones 0.5), so every split
    must reach F1 = 1 and the threshold tuned on gsm8k must separate 0.1 from 0.9.
    """
    folder, k = shared_data / "processbench", 12
    rows = []
    for split in SPLITS:
        for rec in json.loads((folder / f"{split}.json").read_text()):
            n, y = len(rec["steps"]), rec["label"]
            rows.append(
                {"id": rec["id"], "scores": [0.9] * n if y < 0 else [0.9] * y + [0.1] + [0.5] * (n - y - 1)}
            )
    scores = tmp_path / "scores.jsonl"
    scores.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pb.json"
    res = main(
        ProcessBenchConfig(data=str(folder), scores=str(scores), limit=k, limit_mode="spread", out=str(out))
    )
    assert {s: r["n_items"] for s, r in res["splits"].items()} == {s: k for s in SPLITS}
    assert all(r["n_error"] > 0 and r["n_correct"] > 0 for r in res["splits"].values())
    assert res["average_f1"] == 1.0 and 0.1 < res["threshold"] <= 0.5
    assert json.loads(out.read_text())["items"]["math"][0]["id"].startswith("math-")
