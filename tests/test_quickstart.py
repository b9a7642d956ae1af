"""recipes/quickstart.sh, the README's Quick reference made runnable (issue 30, item 1).

The README's block is the script's quick-reference section, text for text, so a reader who types the
README's lines runs exactly what this test runs. The script then runs end to end at micro size
(`SIZE=micro`, the demo's micro settings): every command exits 0, each writes what a later one reads,
and a rerun skips every finished step.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "recipes" / "quickstart.sh"


def _section(text: str) -> str:
    start = text.index("# ---- quick reference")
    start = text.index("\n", start) + 1
    return text[start:text.index("# ---- end of the quick reference")].rstrip("\n")


def _readme_block() -> str:
    readme = (ROOT / "README.md").read_text()
    at = readme.index("## Quick reference")
    start = readme.index("```bash\n", at) + len("```bash\n")
    return readme[start:readme.index("\n```", start)]


def test_the_readme_quick_reference_is_the_script():
    assert _readme_block() == _section(SCRIPT.read_text())


def test_quickstart_runs_end_to_end_at_micro_size(tmp_path):
    env = {**os.environ, "SIZE": "micro", "OUT": str(tmp_path / "qs"), "HF_HUB_OFFLINE": "1",
           "HIERO": f"{shlex.quote(sys.executable)} -m hiero.cli", "HIERO_THREADS": "1"}
    run = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=900, cwd=ROOT
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / "qs"
    bon = json.loads((out / "bon" / "results.json").read_text())
    assert {"majority", "orm", "prm:min", "hrm:min", "oracle"} <= set(bon["curves"])
    assert {s["strategy"] for s in bon["search"].values()} == {"step_greedy", "beam"}
    assert "prm:prod" in bon["curves"]  # a CE-trained PRM's scores are probabilities
    po = json.loads((out / "po_eval.json").read_text())
    assert {"base", "dpo", "hipo"} <= set(po["models"])
    for folder in ("policy", "rm_base", "rm_prm", "rm_hrm", "rm_orm", "selftrain", "dpo", "hipo"):
        assert json.loads((out / folder / "hiero_run.json").read_text())["complete"], folder
    if (ROOT.parent / "shared" / "data" / "processbench").is_dir():  # the real split: scored or skipped by id
        pb = json.loads((out / "pb_gsm8k.json").read_text())
        assert pb["n_items"] + pb["n_skipped"] == 40
    again = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert again.returncode == 0
    steps = [x for x in again.stdout.splitlines() if x.startswith("== ")]
    assert steps and all(": done (" in x for x in steps), steps
