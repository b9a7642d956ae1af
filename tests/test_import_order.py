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
    {"domains"},                        # answers and steps per domain; the built-in domain (writes no file)
    {"data"},                           # sources, JSONL io, `hiero data synth`
    {"cache", "checkpoint"},            # hashes and seeds; resumable training checkpoints (no pickle)
    {"training", "runs", "models"},     # training loop and output folders; model sources
    {"policy"},                         # generation backends, sampling, policy SFT
    {"trees"},                          # tree annotation (bfs, MCTS, binary search)
    {"augment"},                        # HNC and reward-model rows
    {"reward"},                         # reward models: train, score, public formats
    {"search"},                         # test-time search with a reward model
    {"evaluation"},                     # best-of-N curves, ProcessBench, step metrics
    {"selftrain", "preference"},        # the stages that train the policy further
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
    """'file: pkg imports dep' for every import of a later layer, a same-layer sibling or an unplaced
    package."""
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
        "from hiero.domains import builtin\n\ndef f():\n    from hiero.evaluation.bon import policy_id\n")
    (tmp_path / "trees").mkdir()
    (tmp_path / "trees" / "x.py").write_text("import hiero.trees.tree\nimport hiero.policy.prompt\n")
    assert violations(tmp_path) == [
        f"{tmp_path / 'policy' / 'sample.py'}: policy imports evaluation (layer 10 >= 5)"
    ]


def module_imports(root: Path) -> dict[str, set[str]]:
    """Every hiero module (dotted name; a package is its __init__) -> the hiero modules it imports, function-
    level imports included; `from hiero.pkg import name` counts as importing hiero.pkg.name where that is a
    module, else hiero.pkg."""
    mods = {".".join(("hiero",) + f.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): f
            for f in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, f in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("hiero.")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hiero"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    deps.add(full if full in mods else node.module)
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def cycles_inside_packages(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles between modules of one subpackage (hiero.X.a -> hiero.X.b -> hiero.X.a), each once.
    A package's own __init__ is left out: it re-exports its modules, which import it for nothing else."""
    def pkg(m: str) -> str:
        return ".".join(m.split(".")[:2])

    edges = {m: {d for d in ds if pkg(d) == pkg(m) and d != pkg(m)} for m, ds in graph.items() if m != pkg(m)}
    found, seen = [], set()

    def walk(path: list[str]) -> None:
        for d in sorted(edges.get(path[-1], ())):
            if d == path[0]:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    found.append(path + [d])
            elif d not in path and d > path[0]:  # each cycle from its smallest module only
                walk(path + [d])

    for m in sorted(edges):
        walk([m])
    return found


def test_no_import_cycle_inside_a_package():
    assert cycles_inside_packages(module_imports(Path(hiero.__file__).parent)) == []


def test_a_planted_cycle_is_caught(tmp_path):
    """annotate.py and ray_runner.py imported each other through function-level imports (issue 31)."""
    pkg = tmp_path / "trees"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "annotate.py").write_text("def run():\n    from hiero.trees.ray_runner import go\n")
    (pkg / "ray_runner.py").write_text("def go():\n    from hiero.trees.annotate import run\n")
    (pkg / "bfs.py").write_text("from hiero.trees import annotate\n")
    assert cycles_inside_packages(module_imports(tmp_path)) == [
        ["hiero.trees.annotate", "hiero.trees.ray_runner", "hiero.trees.annotate"]]
