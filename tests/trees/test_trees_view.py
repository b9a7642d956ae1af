"""The text and HTML views of a tree, on a hand-built tree."""

from __future__ import annotations

from hiero.trees.tree import add_node, new_tree
from hiero.trees.view import format_tree, mc_colour, render_html
from hiero.types import Problem


def _tree():
    t = new_tree(Problem(id="p1", question="What is 2+3<b>?", answer="5", source="x"), {"mode": "bfs"})
    a = add_node(t, 0, "2 + 3 = 5", step_correct=True)
    add_node(t, a.id, "The answer is 5", terminal=True, answer="5", correct=True)
    add_node(t, a.id, "The answer is 6", terminal=True, answer="6", correct=False)
    add_node(t, 0, "2 + 3 = 6", terminal=True, correct=False)  # unfinished at the depth limit
    t.recompute_counts()
    return t


def test_format_tree_exact():
    """Counts by hand: node 1 has leaves 2 (right) and 3 (wrong) -> 1/2; node 4 is a wrong leaf;
    the root has 3 leaves, 1 right -> 1/3 = 0.33."""
    assert format_tree(_tree()) == "\n".join([
        "problem p1  (answer 5)  mode=bfs",
        "Q: What is 2+3<b>?",
        "[0] root  mc=1/3 (0.33)  4 nodes, 3 leaves",
        "├─ [1] 2 + 3 = 5  mc=1/2 (0.50)  truth ✓",
        "│  ├─ [2] The answer is 5  mc=1/1 (1.00)  => 5 ✓",
        "│  └─ [3] The answer is 6  mc=0/1 (0.00)  => 6 ✗",
        "└─ [4] 2 + 3 = 6  mc=0/1 (0.00)  unfinished ✗",
    ])
    assert format_tree(_tree(), max_depth=1).splitlines()[4] == "│  └─ … 2 children"


def test_html_is_escaped_coloured_and_nested():
    page = render_html([_tree()])
    assert "What is 2+3&lt;b&gt;?" in page and "2+3<b>" not in page
    assert page.count("<details") == 2  # the tree and node 1 (the only inner node)
    assert mc_colour(0.0) == "hsl(0, 70%, 82%)" and mc_colour(1.0) == "hsl(120, 70%, 82%)"
    assert f'<summary style="background:{mc_colour(0.5)}">' in page  # node 1, mc 1/2
    assert "$" not in page.split("<body>")[1].split("<script>")[0]  # every template slot filled
