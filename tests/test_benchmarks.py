"""The benchmark modules added to `make bench` run end to end on tiny settings and report sane
figures (benchmarks/efficiency.py, po_memory.py, hnc.py); the real numbers are benchmarks/RESULTS.md."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def bench(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def args_of(module, tmp_path, *flags):
    return module.build_parser().parse_args([*flags, "--out", str(tmp_path / "out.json")])


def test_run_all_lists_the_new_benchmarks():
    assert {"efficiency", "po_memory", "hnc"} <= set(bench("run_all").BENCHMARKS)


def test_efficiency_counts_flops_and_a_fraction_of_peak(tmp_path):
    eff = bench("efficiency")
    before = torch.get_num_threads()
    try:
        res = eff.run(args_of(eff, tmp_path, "--sizes", "32x1", "--repeats", "1", "--batch-size", "4"))
    finally:
        torch.set_num_threads(before)
    assert res["peak"]["peak_gflops"] > 0
    assert [s["step"] for s in res["steps"]] == ["rm", "dpo"]
    for s in res["steps"]:
        # the counted matmul FLOPs of fwd + bwd are near 6·N·T (padding and the LM head add, attention is not
        # counted)
        assert 0.5 < s["flops_counted"] / s["flops_analytic_6NT"] < 3, s
        assert 0 < s["fraction_of_peak"] < 1.5, s  # a step cannot beat the matmul peak by much
    assert json.loads((tmp_path / "out.json").read_text())["ratio"] == res["ratio"]


def test_matmul_flop_count_is_exact():
    eff = bench("efficiency")
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    assert eff.count_flops(lambda: a @ b) == 2 * 8 * 16 * 4


def test_hnc_bench_reports_hrm_rows(tmp_path):
    hnc = bench("hnc")
    res = hnc.run(
        args_of(hnc, tmp_path, "--trees", "6", "--row-trees", "3", "--repeats", "1", "--depth", "3")
    )
    assert res["hrm_rows_trees"] == 3 and res["hrm_rows_per_tree"] > 0 and res["hrm_rows_trees_per_s"] > 0
    assert (
        len(res["in_memory_runs_wall_s"]) == 1 == len(res["hrm_rows_runs_wall_s"])
    )  # the warm-up is not timed


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(),
    reason="po_memory measures peak memory through Linux /proc, absent on this OS",
)
def test_po_memory_child_measures_a_hiero_run(tmp_path):
    """One measured process (the hiero side; a TRL process costs ~20 s and runs in `make bench`)."""
    from hiero.data.io import write_jsonl
    from hiero.policy.model import build_model
    from hiero.policy.tokenizer import train_tokenizer

    pairs = bench("po_train").make_pairs(8, 0)
    tok = train_tokenizer([p.prompt + p.chosen for p in pairs] + [p.rejected for p in pairs], vocab_size=300)
    build_model(len(tok), n_layers=1, hidden=32, heads=4, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id).save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "po_memory.py"),
            "--child",
            "hiero",
            "--dir",
            str(tmp_path),
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--pairs",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["side"] == "hiero" and r["steps"] == 2
    assert r["peak_mb"] >= r["baseline_mb"] > 50 and r["training_mb"] == pytest.approx(
        r["peak_mb"] - r["baseline_mb"]
    )
