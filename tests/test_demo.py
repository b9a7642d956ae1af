"""`hiero demo` end to end through the CLI (micro size: every stage runs, in about half a minute),
then a rerun that reuses every cached stage, and a change that redoes only the stages downstream."""

from __future__ import annotations

import json

import pytest

from hiero.cli import main as cli
from hiero.demo import SIZES, DemoConfig, main

STAGES = ["domain", "policy", "annotate", "hnc", "rm_data", "rm_train", "processbench", "bon", "selftrain",
          "pairs", "po", "po_eval"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    # no real-data folder: that stage must then be absent from the report, not shown empty
    rc = cli(["demo", "--size", "micro", "--out", str(out), "--shared-data", str(out / "absent")])
    assert rc == 0
    return out


def test_every_stage_ran_and_reports_its_figures(demo_run):
    res = json.loads((demo_run / "results.json").read_text())
    assert list(res["stages"]) == STAGES  # pipeline order; real_data left out (no folder)
    assert all(not s["_cached"] for s in res["stages"].values())
    st = res["stages"]
    assert st["domain"]["first_error_agreement"] == 1.0  # the checker finds every injected error
    assert st["annotate"]["trees"] == SIZES["micro"]["annotate"]["problems"]
    assert st["hnc"]["root_counts_unchanged"] == f"{st['hnc']['trees']}/{st['hnc']['trees']}"
    trained = {k for k, v in st["rm_train"].items() if isinstance(v, dict) and "skipped" not in v}
    assert {"prm", "hrm"} <= trained
    assert set(st["bon"]["curves"]) >= {"majority", "prm:min", "hrm:min"}
    assert (demo_run / "stages").exists() and any((demo_run / "stages").glob("bon-*/curves.png"))
    assert set(st["po_eval"]["accuracy"]) == {"base", "dpo", "hipo"}
    report = (demo_run / "report.md").read_text()
    for title in ("Built-in domain", "Policy", "Reasoning trees", "HNC", "Reward models", "Best-of-N",
                  "DPO vs HiPO"):
        assert title in report
    assert "Real data" not in report
    assert f"{100 * st['policy']['test_accuracy']:.1f}%" in report  # figures come from the stage results


def test_rerun_reuses_every_stage(demo_run):
    res = main(DemoConfig(size="micro", out=str(demo_run), shared_data=str(demo_run / "absent")))
    assert all(s["_cached"] for s in res["stages"].values())
    assert res["wall_time_s"] < 10
    assert "reused from cache" in (demo_run / "report.md").read_text()


def test_a_new_seed_redoes_the_stages(demo_run, monkeypatch):
    """Stage keys hash settings + upstream stages: the domain alone for a changed domain setting."""
    import hiero.demo as demo

    sizes = json.loads(json.dumps(SIZES))
    sizes["micro"]["domain"]["n"] = 21
    monkeypatch.setattr(demo, "SIZES", sizes)
    res = main(DemoConfig(size="micro", out=str(demo_run), shared_data=str(demo_run / "absent")))
    assert not res["stages"]["domain"]["_cached"] and res["stages"]["domain"]["problems"] == 21
    assert all(res["stages"][s]["_cached"] for s in STAGES[1:])
