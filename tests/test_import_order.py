"""No subpackage of hiero imports a later pipeline stage (issue 12): the layers below, lowest first.

A module may import its own subpackage and any lower layer, never a later one and never a sibling
of its own layer; function-level (lazy) imports count too. A new subpackage must be placed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hiero

LAYERS = [
    {"types", "config", "grading"},     # the data model, settings, answer equivalence
    {"data"},                           # sources, the built-in domain's generator, JSONL io
    {"cache", "checkpoint"},            # hashes and seeds; resumable training checkpoints (no pickle)
    {"training", "runs", "domains", "models"},  # training loop and output folders; grading per domain; model sources
    {"policy"},                         # generation backends, sampling, policy SFT
    {"trees"},                          # tree annotation (bfs, MCTS, binary search)
    {"augment"},                        # HNC and reward-model rows
    {"reward"},                         # reward models: train, score, public formats
    {"search"},                         # test-time search with a reward model
    {"evaluation"},                     # best-of-N curves, ProcessBench, step metrics
    {"selftrain", "preference"},        # the stages that train the policy further
    {"report_html"},                    # the demo's HTML report
    {"demo", "cli"},                    # the whole pipeline and the command line
    {"testing"},                        # real-layout test models (tests and benchmarks only)
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        out |= {n.split(".")[1] for n in names if n.startswith("hiero.") and len(n.split(".")) > 1}
    return out


def violations(root: Path) -> list[str]:
    """'file: pkg imports dep' for every import of a later layer, a same-layer sibling or an unplaced package."""
    bad = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).parts
        pkg = rel[0].removesuffix(".py")
        if pkg == "__init__":
            continue
        if pkg not in RANK:
            bad.append(f"{f}: subpackage {pkg!r} is not placed in LAYERS")
            continue
        for dep in _imports(f) - {pkg}:
            if dep not in RANK or RANK[dep] >= RANK[pkg]:
                bad.append(f"{f}: {pkg} imports {dep} (layer {RANK.get(dep)} >= {RANK[pkg]})")
    return bad


def test_no_stage_imports_a_later_one():
    assert violations(Path(hiero.__file__).parent) == []


def test_the_check_catches_a_stage_importing_a_later_one(tmp_path):
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "sample.py").write_text(
        "from hiero.data import synth\n\ndef f():\n    from hiero.evaluation.bon import policy_id\n")
    (tmp_path / "trees").mkdir()
    (tmp_path / "trees" / "x.py").write_text("import hiero.trees.tree\nimport hiero.policy.prompt\n")
    assert violations(tmp_path) == [f"{tmp_path / 'policy' / 'sample.py'}: policy imports evaluation (layer 9 >= 4)"]
