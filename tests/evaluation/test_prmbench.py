"""`hiero eval prmbench` on the real PRMBench files against a direct port of the official evaluator
(ssmisya/PRMBench mr_eval/tasks/prmtest_classified/task.py: eval_on_hallucination_step and the pooled
F1 / negative F1; PRMScore as form_latex_strs.ipynb computes it), with deterministic fake scores."""

from __future__ import annotations

import hashlib
import json

import pytest

from hiero.cli import main as cli
from hiero.evaluation.prmbench import CLASSES, read_items


def fake_score(item_id: str, k: int) -> float:
    return int(hashlib.sha256(f"{item_id}/{k}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def official(rows: list[dict], scores: dict[str, list[float]], threshold: float = 0.5) -> dict:
    """The evaluator's arithmetic, written from its published code (not from hiero's)."""
    def eval_on_hallucination_step(hallucination_steps, labels):
        hallucination_steps = [i - 1 for i in hallucination_steps]
        TP = FP = TN = FN = 0
        for idx in range(len(labels)):
            if idx in hallucination_steps:
                if labels[idx] == 1:
                    FP += 1
                else:
                    TN += 1
            else:
                if labels[idx] == 1:
                    TP += 1
                else:
                    FN += 1
        return {"TP": TP, "FP": FP, "TN": TN, "FN": FN}

    def f1s(m):
        TP, FP, FN, TN = m["TP"], m["FP"], m["FN"], m["TN"]
        p = TP / (TP + FP) if (TP + FP) != 0 else -1
        r = TP / (TP + FN) if (TP + FN) != 0 else -1
        f1 = 2 * p * r / (p + r) if (p + r) != 0 else -1
        npr = TN / (TN + FN) if (TN + FN) != 0 else -1
        nr = TN / (TN + FP) if (TN + FP) != 0 else -1
        nf1 = 2 * npr * nr / (npr + nr) if (npr + nr) != 0 else -1
        return f1, nf1

    total = {"TP": 0, "FP": 0, "TN": 0, "FN": 0}
    per = {}
    seen = set()
    for row in rows:
        idx = f"{row['classification']}_{row['idx']}"
        if idx in seen:
            continue
        seen.add(idx)
        labels = [1 if s > threshold else 0 for s in scores[idx]]
        m = eval_on_hallucination_step(row["error_steps"], labels)
        per.setdefault(row["classification"], {"TP": 0, "FP": 0, "TN": 0, "FN": 0})
        for k in m:
            total[k] += m[k]
            per[row["classification"]][k] += m[k]
    f1, nf1 = f1s(total)
    out = {"overall": f1 * 0.5 + nf1 * 0.5}
    for c, m in per.items():
        f, n = f1s(m)
        out[c] = f if c == "multi_solutions" else f * 0.5 + n * 0.5
    return out


def test_prmscore_equals_the_official_evaluator(shared_data, tmp_path, capsys):
    folder = shared_data / "prmbench"
    rows = [
        json.loads(line)
        for f in sorted(folder.glob("*.jsonl"))
        for line in f.read_text().splitlines()
        if line
    ]
    items = read_items(str(folder))
    assert len(items) == 6211 and {it.classification for it in items} == set(
        CLASSES
    )  # duplicates dropped as task.py
    scores = {it.id: [fake_score(it.id, k) for k in range(len(it.steps))] for it in items}
    path = tmp_path / "scores.jsonl"
    path.write_text("".join(json.dumps({"id": i, "scores": s}) + "\n" for i, s in scores.items()))
    out = tmp_path / "pb.json"
    assert cli(["eval", "prmbench", "--rm", f"scores:{path}", "--data", str(folder), "-o", str(out)]) == 0
    res = json.loads(out.read_text())
    ref = official(rows, scores)
    assert res["prm_score"] == pytest.approx(ref["overall"], abs=1e-12)
    for c in CLASSES:
        assert res["classes"][c]["prm_score"] == pytest.approx(ref[c], abs=1e-12), c
    assert res["n_items"] == 6211 and res["n_skipped"] == 0
    table = (tmp_path / "pb.md").read_text()
    assert (
        "| Overall |" in table.replace("| model | Overall |", "| Overall |")
        and "NCL." in table
        and "MS." in table
    )


def test_a_perfect_and_an_inverted_scorer(shared_data, tmp_path):
    """Hand-derived: right steps 1 and wrong 0 give PRMScore 1; the inverse gives the -1 convention's
    value."""
    folder = shared_data / "prmbench"
    items = read_items(str(folder))
    for name, good, bad, want in (("perfect", 0.9, 0.1, 1.0), ("inverted", 0.1, 0.9, -1.0)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": it.id, "scores": [bad if k in it.error_steps else good
                                                                    for k in range(len(it.steps))]}) + "\n"
                                for it in items))
        out = tmp_path / f"{name}.json"
        assert cli(["eval", "prmbench", "--rm", f"scores:{path}", "--data", str(folder), "-o", str(out)]) == 0
        # inverted: TP = TN = 0 -> precision 0 and recall 0 in both classes -> F1 = -1 (0 denominator) each
        assert json.loads(out.read_text())["prm_score"] == pytest.approx(want)


def test_bad_prmbench_rows_name_file_line_field(tmp_path, capsys):
    bad = tmp_path / "x.jsonl"
    bad.write_text(json.dumps({"idx": 1, "classification": "circular", "modified_question": "q",
                               "modified_process": ["a"], "error_steps": [0]}) + "\n")
    assert (
        cli(
            [
                "eval",
                "prmbench",
                "--rm",
                "scores:" + str(bad),
                "--data",
                str(bad),
                "-o",
                str(tmp_path / "o.json"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"{bad}:1" in err and "error_steps" in err and not (tmp_path / "o.json").exists()
