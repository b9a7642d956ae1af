"""`hiero demo` end to end through the CLI (micro size: every stage runs, in about half a minute),
then a rerun that reuses every cached stage, and a change that redoes only the stages downstream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hiero.cli import main as cli
from hiero.demo import DemoConfig, main
from hiero.demo.recipe import RECIPE_DIR, check_recipes, load_recipe

SIZES = {size: load_recipe(size) for size in ("micro", "quick")}

STAGES = [
    "domain",
    "policy",
    "annotate",
    "hnc",
    "rm_data",
    "rm_base",
    "rm_train",
    "processbench",
    "bon",
    "selftrain",
    "pairs",
    "po",
    "po_eval",
]


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
    # solution pairs went through the PRM (micro: threshold -inf keeps every right answer)
    assert (
        st["pairs"]["rm_threshold"] == float("-inf")
        and st["pairs"]["greedy"]["solutions"] == SIZES["micro"]["pairs"]["problems"]
    )
    assert (
        "rejected_greedy" in st["pairs"]["by_source"]
        and "picked by the PRM" in (demo_run / "report.md").read_text()
    )
    report = (demo_run / "report.md").read_text()
    for title in ("Built-in domain", "Policy", "Reasoning trees", "HNC", "Reward models", "Best-of-N",
                  "DPO vs HiPO"):
        assert title in report
    assert "Real data" not in report
    assert f"{100 * st['policy']['test_accuracy']:.1f}%" in report  # figures come from the stage results
    # the headline shape (issue 9): fractions, bon.prm = the min aggregation, step checks per RM
    assert res["seed"] == 0 and res["policy"]["accuracy"] == st["policy"]["test_accuracy"]
    assert res["rm_base"]["accuracy"] == st["rm_base"]["test_accuracy"] and "Reward-model backbone" in report
    spec = json.loads(next((demo_run / "stages").glob("rm_train-*/prm/hiero_rm.json")).read_text())
    assert (
        spec["lm_features"]
        and spec["marker_id"] == -1
        and spec["template"].startswith("Question: {q}\nAnswer:")
    )
    n = [str(k) for k in SIZES["micro"]["bon"]["n"]]
    for k in ("orm", "prm", "hrm", "majority", "oracle"):
        assert list(res["bon"][k]) == n and all(0 <= a <= 1 for a in res["bon"][k].values())
    assert res["bon"]["prm"] == dict(zip(n, st["bon"]["curves"]["prm:min"]["acc"], strict=True))
    assert set(res["step_eval"]) == {"prm", "hrm"} and "auroc_within" in res["step_eval"]["prm"]
    assert set(res["preference"]) == {"base", "dpo", "hipo"}
    assert (
        res["preference"]["dpo"]["minus_base"]["than"] == "base"
        and len(res["preference"]["base"]["ci95"]) == 2
    )
    assert set(res["selftrain"]) == {"before", "after"} and set(res["timings_s"]) == set(STAGES)
    assert "Step checks on the same fresh samples" in report
    # step-level search over N (issue 32): a curve per RM and strategy, the headline per N
    ns = [str(k) for k in SIZES["micro"]["bon"]["search_n"]]
    assert list(res["search"]["prm step_greedy"]) == ns and set(res["search"]) >= {
        "hrm beam",
        "oracle step_greedy",
    }
    assert any((demo_run / "stages").glob("bon-*/search.png")) and "Step-level search, N candidate" in report


def _recipe_dir(tmp_path, edit) -> object:
    """A copy of recipes/embedded with `edit(name -> parsed YAML)` applied, written back."""
    import yaml

    out = tmp_path / "recipes"
    out.mkdir()
    files = {f.name: yaml.safe_load(f.read_text()) for f in RECIPE_DIR.glob("*.yaml")}
    edit(files)
    for name, data in files.items():
        (out / name).write_text(yaml.safe_dump(data))
    return out


def test_every_size_names_real_config_fields(tmp_path):
    check_recipes()
    bad = _recipe_dir(tmp_path, lambda f: f["micro.yaml"]["rm"].update(lerning_rate=1.0))
    with pytest.raises(ValueError, match="micro.yaml, stage 'rm': unknown setting.*lerning_rate"):
        check_recipes(bad)


def test_recipes_are_checked_by_type_and_inherit_stage_by_stage(tmp_path):
    """The one config parser checks each value's type and counts (not only the names); `inherit` merges a
    recipe's stages key by key over its parent's; a demo key of the wrong type names itself."""
    bad = _recipe_dir(tmp_path, lambda f: f["micro.yaml"]["bon"].update(step_tokens="many"))
    with pytest.raises(ValueError, match="micro.yaml, stage 'bon': field 'step_tokens': expected int"):
        load_recipe("micro", recipe_dir=bad)
    full, quick = load_recipe("full"), load_recipe("quick")
    assert full["bon"] == {**quick["bon"], "problems": 1000, "search": ["step_greedy"]}
    assert (
        full["policy"] == quick["policy"]
        and full["domain_sample"]["p_error"] == quick["domain_sample"]["p_error"]
    )
    (tmp_path / "mine.yaml").write_text(f"inherit: {RECIPE_DIR / 'micro.yaml'}\npairs: {{problems: six}}\n")
    with pytest.raises(ValueError, match="stage 'pairs': 'problems': expected int, got 'six'"):
        load_recipe(tmp_path / "mine.yaml")
    (tmp_path / "loop.yaml").write_text("inherit: loop.yaml\n")
    with pytest.raises(ValueError, match="loops back"):
        load_recipe(tmp_path / "loop.yaml")


def test_every_default_says_why_in_the_recipe_file():
    """recipes/embedded/quick.yaml: each stage's non-obvious defaults carry a one-line reason, and the
    pointers
    into docs/embedded-default.md name sections that exist."""
    import re

    text = (RECIPE_DIR / "quick.yaml").read_text()
    doc = (Path(__file__).resolve().parents[1] / "docs" / "embedded-default.md").read_text()
    for key in (
        "max_value",
        "max_steps: 720",
        "lr: 1.0e-2",
        "head: likelihood",
        "dpop_lambda",
        "rm_threshold: 0.5",
    ):
        line = next(x for x in text.splitlines() if key in x)
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, line
    for section in re.findall(r'"([A-Z][^"]+)"\)', text):
        assert section in doc, section


_VARYING = {
    "_peak_rss_mb",
    "_cached",
    "peak_rss_mb",
    "timings_s",
    "seconds",
    "machine",
    "versions",
    "stage_dirs",
    "ref_cache",
}


def _comparable(out) -> dict:
    """results.json without what may differ between two runs of the same seed: times, memory,
    throughput (keys ending in _s, annotation's "seconds"), the machine, and the output folder in paths."""
    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k not in _VARYING and not k.endswith("_s")}
        return [strip(x) for x in d] if isinstance(d, list) else d
    return strip(json.loads((out / "results.json").read_text().replace(str(out), "OUT")))


def test_the_same_seed_gives_the_same_results(demo_run, tmp_path):
    again = tmp_path / "run"
    assert cli(["demo", "--size", "micro", "--out", str(again), "--shared-data", str(again / "absent")]) == 0
    first, second = _comparable(demo_run), _comparable(again)
    assert first["bon"] and first["stages"]["rm_train"]["prm"]["final_eval"]  # figures, not empty shells
    assert first == second


def test_rerun_reuses_every_stage(demo_run):
    res = main(DemoConfig(size="micro", out=str(demo_run), shared_data=str(demo_run / "absent")))
    assert all(s["_cached"] for s in res["stages"].values())
    assert res["wall_time_s"] < 10
    assert "reused from cache" in (demo_run / "report.md").read_text()


def test_a_changed_recipe_redoes_only_the_stages_it_touches(demo_run, tmp_path):
    """Stage keys hash settings + upstream stages: a recipe of one's own (`--recipe`) that changes the domain
    sample's size redoes that stage alone."""
    (tmp_path / "mine.yaml").write_text(f"inherit: {RECIPE_DIR / 'micro.yaml'}\ndomain_sample: {{n: 21}}\n")
    res = main(DemoConfig(size="micro", recipe=str(tmp_path / "mine.yaml"), out=str(demo_run),
                          shared_data=str(demo_run / "absent")))
    assert not res["stages"]["domain"]["_cached"] and res["stages"]["domain"]["problems"] == 21
    assert all(res["stages"][s]["_cached"] for s in STAGES[1:])
    assert f"--recipe {tmp_path / 'mine.yaml'}" in (demo_run / "report.md").read_text()


def test_variant_settings_override_only_the_named_stages():
    plain, sc = load_recipe("quick"), load_recipe("quick", "self_correct")
    assert plain == SIZES["quick"]
    assert sc["policy"] == {**SIZES["quick"]["policy"], "p_error": 0.2, "p_correction": 0.9}
    # only the policy changes: the reward models' backbone runs on with the clean reference solutions
    assert sc["rm_base"] == plain["rm_base"] and plain["rm_base"]["p_error"] == 0.0
    named = ("policy",)
    assert {k: v for k, v in sc.items() if k not in named} == {
        k: v for k, v in plain.items() if k not in named
    }
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        load_recipe("quick", "nope")


def test_the_segments_variant_writes_three_segments_and_pairs_by_segment(tmp_path, capsys):
    from hiero.domains.builtin import DomainSettings

    plain, seg = load_recipe("quick"), load_recipe("quick", "segments")
    assert seg["domain"] == {**plain["domain"], "style": "restate"}
    assert (seg["policy"]["p_restate"], seg["policy"]["p_answer"], seg["policy"]["p_correction"]) == (
        0.15,
        0.1,
        0.0,
    )
    assert seg["pairs"]["by_segment"] is True and seg["pairs"]["max_per_problem"] == 3
    problems = DomainSettings(**seg["domain"]).problems(3, 0, "test")
    assert all(p.steps[0].startswith("Givens: ") and p.meta["style"] == "restate" for p in problems)
    # the micro policy writes no solution right in every segment: refused at start, nothing written
    out = tmp_path / "micro"
    assert cli(["demo", "--size", "micro", "--variant", "segments", "--out", str(out)]) == 2
    assert "--variant segments needs a policy" in capsys.readouterr().err and not out.exists()


def test_the_reward_models_backbone_trains_on_clean_targets_under_every_variant(monkeypatch, tmp_path):
    """rm_base runs the policy's SFT on from the policy's weights with the policy's settings, except
    its own: under self_correct (0.2 slips in the policy's targets) it still gets p_error 0."""
    import hiero.policy.sft as sft
    from hiero.demo import stages
    from hiero.domains.builtin import DomainSettings

    seen = []
    monkeypatch.setattr(sft, "main", lambda cfg: seen.append(cfg) or {"test_accuracy": 0.5})
    for variant in ("plain", "self_correct"):
        R = load_recipe("quick", variant)
        c = stages.Context(seed=3, threads=0, domain=DomainSettings(**R["domain"]), recipe=R, shared=tmp_path,
                           dirs={"policy": tmp_path / "policy"})
        stages.rm_base(tmp_path / variant, R["rm_base"], c)
    plain, sc = seen
    assert sc.p_error == plain.p_error == 0.0 and sc.p_correction == plain.p_correction == 0.0
    assert load_recipe("quick", "self_correct")["policy"]["p_error"] == 0.2
    assert (
        sc.init == str(tmp_path / "policy" / "model")
        and sc.max_steps == SIZES["quick"]["rm_base"]["max_steps"]
    )
    assert sc.n_layers == SIZES["quick"]["policy"]["n_layers"]
    # its problems: the domain's, the policy's training set (same n, same seed)
    assert sc.problems == plain.problems == "synth:n=12000,seed=3,split=train,max_value=30"


def test_a_misspelt_variant_setting_fails_at_start(tmp_path):
    bad = _recipe_dir(
        tmp_path, lambda f: f["variants.yaml"]["self_correct"]["policy"].update(p_corection=0.9)
    )
    with pytest.raises(
        ValueError, match="quick.yaml \\+ variant self_correct, stage 'policy': unknown setting.*p_corection"
    ):
        check_recipes(bad)
    (bad / "variants.yaml").write_text("plain: {}\nself_correct: {polcy: {p_correction: 0.9}}\n")
    with pytest.raises(ValueError, match="overrides stage.*polcy"):
        check_recipes(bad)


def test_the_self_correct_variant_retrains_the_policy_and_what_follows(demo_run, tmp_path):
    """Through the CLI: the variant's SFT settings reach the policy stage (a new cache key); the
    domain sample, which no variant changes, is reused."""
    import shutil

    out = tmp_path / "sc"
    shutil.copytree(demo_run, out)
    assert cli(["demo", "--size", "micro", "--variant", "self_correct", "--out", str(out),
                "--shared-data", str(out / "absent")]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["variant"] == "self_correct" and res["settings"]["policy"]["p_correction"] == 0.9
    assert res["settings"]["rm_base"]["p_error"] == 0.0
    assert res["stages"]["domain"]["_cached"] and not res["stages"]["policy"]["_cached"]
    assert not res["stages"]["bon"]["_cached"]
    assert "n_recovered" in res["step_eval"]["prm"]
    assert "--variant self_correct" in (out / "report.md").read_text()
