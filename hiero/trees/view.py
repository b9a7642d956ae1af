"""Look at reasoning trees: an indented text view and a self-contained HTML page.

    hiero trees show trees.jsonl --id synth-test-0-3 [--max-depth 3]
    hiero trees html trees.jsonl -o trees.html [--limit 200]
    python: format_tree(tree) -> str ; render_html(trees, title) -> str

Text view, one line per node: `[id] step  mc=n_correct/n_total (score)`, then marks:
`=> answer ✓/✗` for a terminal step, `unfinished ✗` for a leaf cut by the depth or token limit,
`truth ✓/✗` for the ground-truth step label (built-in domain), `(rollout)` for MCTS rollout nodes.
The HTML page needs no network: inline CSS and JS (template hiero/templates/trees.html), one
<details> element per node, its background coloured by MC score from red (0) to green (1).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from functools import cache
from importlib import resources
from string import Template

from hiero.types import ROOT, Node, Tree


def _marks(node: Node, rollout: bool) -> str:
    marks = []
    if node.terminal and node.answer is None and node.correct is False:
        marks.append("unfinished ✗")
    elif node.terminal:
        marks.append(f"=> {node.answer} {'✓' if node.correct else '✗'}")
    if node.step_correct is not None:
        marks.append(f"truth {'✓' if node.step_correct else '✗'}")
    if rollout:
        marks.append("(rollout)")
    return "  ".join(marks)


def format_tree(tree: Tree, max_depth: int | None = None) -> str:
    """The tree as indented text, children in id order, with MC counts and marks."""
    p, root = tree.problem, tree.root
    rollouts = set(tree.meta.get("rollout_nodes", []))
    lines = [f"problem {p.id}  (answer {p.answer})  mode={tree.meta.get('mode', '?')}",
             f"Q: {p.question}",
             f"[0] root  mc={root.n_correct}/{root.n_total} ({root.mc_score:.2f})  "
             f"{len(tree.nodes) - 1} nodes, {len(tree.leaves())} leaves"]

    def walk(nid: int, prefix: str) -> None:
        kids = tree.nodes[nid].children
        for i, cid in enumerate(kids):
            node = tree.nodes[cid]
            last = i == len(kids) - 1
            mark = _marks(node, cid in rollouts)
            lines.append(
                f"{prefix}{'└─ ' if last else '├─ '}[{cid}] {node.step or '<empty>'}  "
                f"mc={node.n_correct}/{node.n_total} ({node.mc_score:.2f})" + (f"  {mark}" if mark else "")
            )
            if max_depth is None or node.depth < max_depth:
                walk(cid, prefix + ("   " if last else "│  "))
            elif node.children:
                lines.append(f"{prefix}{'   ' if last else '│  '}└─ … {len(node.children)} children")

    walk(ROOT, "")
    return "\n".join(lines)


def mc_colour(score: float) -> str:
    """Background colour for an MC score: hue 0 (red) at 0 to 120 (green) at 1."""
    score = min(max(score, 0.0), 1.0)
    return f"hsl({round(120 * score)}, 70%, 82%)"


@cache
def _template() -> Template:
    return Template(resources.files("hiero").joinpath("templates/trees.html").read_text(encoding="utf-8"))


def _node_html(tree: Tree, nid: int, rollouts: set[int], out: list[str]) -> None:
    node = tree.nodes[nid]
    mark = html.escape(_marks(node, nid in rollouts))
    good = node.correct if node.terminal else node.step_correct
    label = (f'<span class="step">[{nid}] {html.escape(node.step) or "&lt;empty&gt;"}</span>'
             f'<span class="mc">mc {node.n_correct}/{node.n_total} = {node.mc_score:.2f}</span>'
             + (f'<span class="tag {"ok" if good else "bad"}">{mark}</span>' if mark else ""))
    style = f'style="background:{mc_colour(node.mc_score)}"'
    cls = ' class="roll"' if nid in rollouts else ""
    if not node.children:
        out.append(f'<div class="leaf"{cls} {style}>{label}</div>')
        return
    out.append(f'<details{cls}><summary {style}>{label}</summary>')
    for cid in node.children:
        _node_html(tree, cid, rollouts, out)
    out.append("</details>")


def render_html(trees: Iterable[Tree], title: str = "hiero reasoning trees") -> str:
    """A self-contained page: one collapsible block per tree, nested <details> per node."""
    body: list[str] = []
    n = 0
    for tree in trees:
        n += 1
        p, root = tree.problem, tree.root
        rollouts = set(tree.meta.get("rollout_nodes", []))
        body.append(f'<details class="tree" data-id="{html.escape(p.id, quote=True)}">'
                    f'<summary style="background:{mc_colour(root.mc_score)}"><b>{html.escape(p.id)}</b> '
                    f'{html.escape(p.question)} <i>(answer {html.escape(p.answer)})</i>'
                    f'<span class="mc">root mc {root.n_correct}/{root.n_total} = {root.mc_score:.2f}, '
                    f'{len(tree.nodes) - 1} nodes</span></summary>')
        for cid in root.children:
            _node_html(tree, cid, rollouts, body)
        body.append("</details>")
    legend = "".join(f'<span style="background:{mc_colour(s / 4)}">{s / 4:.2f}</span>' for s in range(5))
    return _template().substitute(
        title=html.escape(title), subtitle=f"{n} trees; click a step to expand its children. "
        "✓/✗ after => is the graded final answer; truth is the ground-truth step label where known.",
        legend=legend, body="\n".join(body))
