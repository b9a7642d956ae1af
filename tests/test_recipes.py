"""Dry runs of the recipes in recipes/: every command of each script, unchanged, on tiny local models
and tiny data (the scripts' environment variables swap the model path and the sizes), so a recipe
cannot rot. The data folder is fabricated here in the real files' formats (../shared/data/*/SOURCE.md):
PRM800K stepwise-critic train rows and raw phase-1 test lines, the four ProcessBench splits, GSM8K and
MATH500 test files, preference pairs.

    real_prm800k_cpu.sh    the CPU real-data track (a tiny BERT stands in for all-MiniLM-L6-v2)
    paper_hrm_prm800k.sh   HRM/PRM on Qwen2.5-Math-1.5B with DeepSpeed ZeRO-2 (tiny Qwen2, no launcher)
    paper_hipo_mse.sh      DPO and HiPO on a 7B policy with FSDP (tiny Qwen2, no launcher)
    real_smollm2_cpu.sh    SmolLM2 through every stage (a tiny GGUF chat model stands in for it)
"""

import gzip
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hiero.testing import make_tiny_base, make_tiny_encoder

ROOT = Path(__file__).resolve().parents[1]
HIERO = f"{shlex.quote(sys.executable)} -m hiero.cli"
pytestmark = pytest.mark.slow  # each runs a dozen `hiero` processes (~1-2 min on 2 cores)

PROBLEMS = [
    ("What is 2 + 3?", "5", ["2 + 3 = 5.", "So the sum is 5.", "# Answer\n\n5"]),
    ("What is 4 times 3?", "12", ["4 times 3 is 12.", "Check: 3 + 3 + 3 + 3 = 12.", "# Answer\n\n12"]),
    ("What is 10 - 7?", "3", ["10 - 7 = 3.", "Counting up from 7 gives 3.", "# Answer\n\n3"]),
    ("What is 9 / 3?", "3", ["9 / 3 = 3.", "Since 3 * 3 = 9.", "# Answer\n\n3"]),
    ("What is 6 + 6?", "12", ["6 + 6 = 12.", "Double 6 is 12.", "# Answer\n\n12"]),
]
WRONG = "The result is 7 because the numbers are close."


def _critic_rows():
    """Stepwise-critic rows: per step, the chosen (+1) candidate and a rejected (-1) one."""
    rows = []
    for q, ans, steps in PROBLEMS * 2:  # x2: a question with a twin differs only by a suffix
        for i, step in enumerate(steps):
            text, answer = (step, None) if not step.startswith("# Answer") else ("", ans)
            base = {"instruction": q, "responses": steps[:i], "is_human_response": False}
            rows.append({**base, "next_response": text, "answer": answer, "is_solution": answer is not None,
                         "is_preferred_response": True, "rating": 1})
            rows.append({**base, "next_response": WRONG, "answer": None, "is_solution": False,
                         "is_preferred_response": False, "rating": -1})
        q_alt = q.replace("?", " exactly?")
        for i, step in enumerate(steps[:2]):
            rows.append({"instruction": q_alt, "responses": steps[:i], "next_response": step, "answer": None,
                         "is_human_response": False, "is_solution": False, "is_preferred_response": True,
                         "rating": 1 if i == 0 else -1})
    return rows


def _raw_line(q, ans, steps):
    label_steps = [{"completions": [{"text": s, "rating": 1, "flagged": False}, {"text": WRONG, "rating": -1,
                                                                                 "flagged": False}],
                    "human_completion": None, "chosen_completion": 0} for s in steps]
    return {"labeler": "x", "timestamp": "2022-07-30T00:00:00", "generation": None,
            "is_quality_control_question": False, "is_initial_screening_question": False,
            "question": {"problem": q, "ground_truth_answer": ans},
            "label": {"steps": label_steps, "total_time": 1, "finish_reason": "solution"}}


def _processbench(split):
    items = []
    for k, (q, _, steps) in enumerate(PROBLEMS):
        body = [s for s in steps if not s.startswith("#")]
        if k % 2:
            items.append({"id": f"{split}-{k}", "generator": "x", "problem": q, "steps": body + [WRONG],
                          "final_answer_correct": False, "label": len(body)})
        else:
            items.append({"id": f"{split}-{k}", "generator": "x", "problem": q, "steps": body,
                          "final_answer_correct": True, "label": -1})
    return items


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes")
    data = root / "data"
    (data / "prm800k").mkdir(parents=True)
    with gzip.open(data / "prm800k" / "phase1_train_plus.stepwise-critic.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in _critic_rows())
    (data / "prm800k" / "phase1_test.jsonl").write_text(
        "".join(json.dumps(_raw_line(*p)) + "\n" for p in PROBLEMS)
    )
    (data / "processbench").mkdir()
    for split in ("gsm8k", "math", "olympiadbench", "omnimath"):
        (data / "processbench" / f"{split}.json").write_text(json.dumps(_processbench(split)))
    (data / "gsm8k").mkdir()
    (data / "gsm8k" / "test.jsonl").write_text("".join(
        json.dumps({"question": q, "answer": f"{steps[0]}\n#### {a}"}) + "\n" for q, a, steps in PROBLEMS))
    (data / "math500").mkdir()
    (data / "math500" / "test.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "problem": q,
                    "solution": f"{steps[0]} $\\boxed{{{a}}}$",
                    "answer": a,
                    "subject": "Prealgebra",
                    "level": 1,
                    "unique_id": f"test/prealgebra/{k}.json",
                }
            )
            + "\n"
            for k, (q, a, steps) in enumerate(PROBLEMS)
        )
    )
    (data / "prefs.jsonl").write_text("".join(json.dumps(
        {"question": q, "chosen": f"We need {q[8:-1]}. {steps[0]} The answer is {a}.",
         "rejected": f"We need {q[8:-1]}. {WRONG} The answer is 7."}) + "\n" for q, a, steps in PROBLEMS))
    texts = [q for q, _, _ in PROBLEMS] + [s for _, _, st in PROBLEMS for s in st] + [WRONG] * 3
    bert = make_tiny_encoder(
        root / "bert", texts + ["Question: Let's break it down step by step!"], max_positions=128
    )
    qwen = make_tiny_base(root / "qwen", texts, vocab_size=300, max_positions=1024)
    return root, data, bert, qwen


def _run(script, env, cwd):
    full = {
        **os.environ,
        "HIERO": HIERO,
        "PY": sys.executable,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        **env,
    }
    res = subprocess.run(
        ["bash", str(ROOT / "recipes" / script)],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, f"{script} failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}"
    return res


def test_real_track_recipe_dry_run(tiny, tmp_path):
    root, data, bert, _ = tiny
    out = tmp_path / "real"
    res = _run("real_prm800k_cpu.sh", {"BASE": str(bert), "DATA": str(data), "OUT": str(out), "THREADS": "1",
                                      "TRAIN_QUESTIONS": "3", "EVAL_QUESTIONS": "1", "MAX_LENGTH": "64",
                                      "MAX_STEPS": "2", "BATCH": "4", "PB_LIMIT": "3", "TEST_ROWS": "8",
                                      "PRECISION": "no"}, ROOT)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"prm", "hrm"}
    for kind, s in summary.items():
        assert set(s["processbench_f1"]) == {"gsm8k", "math", "olympiadbench", "omnimath"}
        assert s["processbench_items"] == {"gsm8k": 3, "math": 3, "olympiadbench": 3, "omnimath": 3}
        assert s["prm800k_test_steps"] == 8 and s["train_steps"] == 2
        spec = json.loads((out / f"rm_{kind}" / "hiero_rm.json").read_text())
        assert (spec["scoring"], spec["truncation"], spec["pooling"], spec["max_length"]) == (
            "per-step",
            "fit",
            "mean",
            64,
        )
    # the same questions train PRM and HRM; HRM adds merged pairs
    qs = {
        k: {json.loads(line)["question_id"] for line in (out / f"data_{k}" / "train.jsonl").open()}
        for k in summary
    }
    assert qs["prm"] == qs["hrm"] and len(qs["prm"]) == 3
    hrm_rows = [json.loads(line) for line in (out / "data_hrm" / "train.jsonl").open()]
    assert any(r["meta"]["row_type"] == "merged_pair" for r in hrm_rows)
    assert "| PRM |" in res.stdout and "| HRM |" in (out / "summary.md").read_text()


def test_real_track_recipe_names_missing_data(tmp_path):
    res = subprocess.run(
        ["bash", str(ROOT / "recipes" / "real_prm800k_cpu.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATA": str(tmp_path / "none"), "HIERO": HIERO},
    )
    assert res.returncode == 2 and "phase1_train_plus.stepwise-critic.jsonl.gz not found" in res.stderr


def test_paper_hrm_recipe_dry_run(tiny, tmp_path):
    root, data, _, qwen = tiny
    out = tmp_path / "hrm"
    _run(
        "paper_hrm_prm800k.sh",
        {
            "MODEL": str(qwen),
            "LAUNCH": HIERO,
            "DATA": str(data),
            "OUT": str(out),
            "EPOCHS": "1",
            "MAX_STEPS": "2",
            "BATCH": "2",
            "GRAD_ACCUM": "2",
            "EVAL_EVERY": "1",
            "MAX_LENGTH": "512",
            "PRECISION": "no",
            "TRAIN_QUESTIONS": "3",
            "PB_LIMIT": "4",
            "TEST_ROWS": "6",
        },
        ROOT,
    )
    for kind in ("prm", "hrm"):
        summary = json.loads((out / f"rm_{kind}" / "train_summary.json").read_text())
        cfg = summary["config"]
        # the paper's optimisation settings reach the trainer (sizes swapped for the dry run)
        assert (cfg["lr"], cfg["max_grad_norm"], cfg["loss"], cfg["read"]) == (
            1e-5,
            0.01,
            "hard_ce",
            "per-step",
        )
        assert summary["steps"] == 2 and summary["best_eval_loss"] is not None
        pb = json.loads((out / f"eval_{kind}" / "processbench.json").read_text())
        assert set(pb["splits"]) == {"gsm8k", "math", "olympiadbench", "omnimath"}
        assert json.loads((out / f"eval_{kind}" / "prm800k_test.json").read_text())["steps"] == 6


def test_paper_hipo_recipe_dry_run(tiny, tmp_path):
    root, data, _, qwen = tiny
    out = tmp_path / "hipo"
    _run(
        "paper_hipo_mse.sh",
        {
            "POLICY": str(qwen),
            "LAUNCH": HIERO,
            "DATA": str(data),
            "OUT": str(out),
            "PREFS": str(data / "prefs.jsonl"),
            "EPOCHS": "1",
            "MAX_STEPS": "1",
            "BATCH": "2",
            "GRAD_ACCUM": "1",
            "MAX_LENGTH": "256",
            "PRECISION": "no",
            "CHAT_TEMPLATE": "false",
            "EVAL_LIMIT": "2",
            "MAX_NEW_TOKENS": "8",
        },
        ROOT,
    )
    hipo = json.loads((out / "hipo" / "summary.json").read_text())
    assert hipo["loss"] == "hipo" and hipo["schedule"] == "sequential" and hipo["beta"] == 0.2
    assert [r["label"] for r in hipo["rows"]] == ["rq-bias", "mt-bias"]
    assert json.loads((out / "dpo" / "summary.json").read_text())["loss"] == "dpo"
    for bench in ("gsm8k", "math500"):
        res = json.loads((out / f"eval_{bench}.json").read_text())
        assert {"base", "dpo", "hipo"} <= set(json.dumps(res).replace('"', " ").split())


def test_real_smollm2_recipe_dry_run(tiny, tmp_path):
    """Every part of recipes/real_smollm2_cpu.sh, unchanged, with a tiny GGUF chat model in SmolLM2's place
    (a GPT-2-style BPE, a chat template, written by the `gguf` package) and the tiny BERT for MiniLM."""
    pytest.importorskip("gguf", reason="the recipe's policy is a GGUF file: pip install 'hiero[gguf]'")
    from hiero.policy.model import build_model
    from hiero.testing import QWEN_CHAT, write_gguf
    from tests.test_models import gpt2_style_tokenizer

    root, data, bert, _ = tiny
    gsm = (data / "gsm8k" / "test.jsonl").read_text()
    (data / "gsm8k" / "train.jsonl").write_text(gsm)
    (data / "math_stackexchange_prefs").mkdir(exist_ok=True)
    (data / "math_stackexchange_prefs" / "metacognition_prhegde_first5_decomposed.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "query": q,
                    "Rq_a": f"We need {q[8:-1]}.",
                    "Mt_a": steps[0],
                    "Ra_a": f"The answer is {a}.",
                    "Rq_b": f"We need {q[8:-1]}.",
                    "Mt_b": WRONG,
                    "Ra_b": "The answer is 7.",
                    "output_a": f"We need {q[8:-1]}. {steps[0]} The answer is {a}.",
                    "output_b": f"We need {q[8:-1]}. {WRONG} The answer is 7.",
                }
            )
            + "\n"
            for q, a, steps in PROBLEMS
        )
    )
    (data / "prmbench").mkdir(exist_ok=True)
    (data / "prmbench" / "prm_test_p1_circular.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "classification": cls,
                    "idx": k,
                    "modified_question": q,
                    "error_steps": [2] if cls != "multi_solutions" else [],
                    "modified_process": [steps[0], WRONG if cls != "multi_solutions" else steps[1]],
                }
            )
            + "\n"
            for k, (q, _, steps) in enumerate(PROBLEMS)
            for cls in ("circular", "multi_solutions")
        )
    )
    texts = [q for q, _, _ in PROBLEMS] + ["\n\n".join(st) for _, _, st in PROBLEMS] + [WRONG] * 3
    tok = gpt2_style_tokenizer(texts * 5, vocab_size=400)
    tok.chat_template = QWEN_CHAT
    model = build_model(len(tok), arch="llama", n_layers=2, hidden=32, heads=2, max_positions=2048,
                        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    gguf_file = write_gguf(model, tok, tmp_path / "tiny-chat.gguf", chat_template=QWEN_CHAT)
    out = tmp_path / "smol"
    env = {
        "POLICY": str(gguf_file),
        "MINILM": str(bert),
        "DATA": str(data),
        "OUT": str(out),
        "THREADS": "1",
        "HIERO_CACHE_DIR": str(tmp_path / "cache"),
        "EVAL_PROBLEMS": "3",
        "SAMPLES": "2",
        "MAX_NEW": "24",
        "TREE_PROBLEMS": "3",
        "TREE_SAMPLES": "2",
        "TRAIN_QUESTIONS": "3",
        "EVAL_QUESTIONS": "1",
        "TRAIN_LAYERS": "1",
        "RM_MAX_LENGTH": "512",
        "MINILM_MAX_LENGTH": "64",
        "RM_BATCH": "4",
        "TEST_ROWS": "6",
        "PB_LIMIT": "4",
        "PRMBENCH_LIMIT": "2",
        "TREE_RMS": "always",
        "SEARCH_PROBLEMS": "2",
        "SEARCH_N": "1,2",
        "PO_STEPS": "1",
        "PO_EVAL": "2",
        "ST_STEPS": "1",
        "ST_THRESHOLD": "0",
    }
    _run("real_smollm2_cpu.sh", env, ROOT)
    record = json.loads((out / "smollm2" / "hiero_import.json").read_text())
    assert record["format"] == "gguf" and (out / "smollm2" / "chat_template.jinja").exists()
    greedy = [json.loads(line) for line in (out / "policy" / "greedy.jsonl").open()]
    assert len(greedy) == 3
    trees = [json.loads(line) for line in (out / "policy" / "trees.jsonl").open()]
    assert len(trees) == 3
    for name in ("smollm2_prm", "smollm2_hrm", "minilm_prm", "minilm_hrm", "smollm2_hrm_trees_hnc"):
        assert json.loads((out / "rm" / f"eval_{name}" / "processbench.json").read_text())["splits"]
        assert json.loads((out / "rm" / f"eval_{name}" / "prm800k_test.json").read_text())["steps"] == 6
        assert json.loads((out / "rm" / f"eval_{name}" / "prmbench.json").read_text())["n_items"] == 4
    smol = json.loads((out / "rm" / "smollm2_prm" / "train_summary.json").read_text())
    assert smol["train_layers"] == 1 and smol["backbone_trainable"] < smol["backbone_total"]
    bon = json.loads((out / "search" / "results.json").read_text())
    assert {"ORM", "PRM", "HRM"} <= set(json.dumps(bon).replace('"', " ").split())
    for set_ in ("gsm8k_test", "math500_test"):
        assert (out / "po" / f"eval_{set_}.json").exists()
    assert json.loads((out / "selftrain" / "selftrain_summary.json").read_text())["examples"] >= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gsm8k"]["problems"] == 3 and summary["gsm8k"]["samples_per_problem"] == 2
    assert (
        set(summary["rm"]) >= {"smollm2_prm", "minilm_hrm", "smollm2_hrm_trees_hnc"} and "search" in summary
    )
    # every step is counted in the session that runs it (the sessions `bash real_smollm2_cpu.sh NAME` takes)
    sessions = summary["sessions"]
    assert set(sessions) == {"setup", "eval", "trees", "rm_prm", "rm_hrm", "rm_trees", "search", "po_dpo",
                             "selftrain"}
    assert sum(v["steps"] for v in sessions.values()) == len(list((out / "logs").glob("*.seconds")))
    # resumable: a second run skips every finished step
    res = _run("real_smollm2_cpu.sh", env, ROOT)
    assert "greedy: done before" in res.stdout and "selftrain: done before" in res.stdout
