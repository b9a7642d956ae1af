"""The data model every stage shares, validated where data enters.

    Problem          a question with its reference answer (and optional reference steps)
    Solution         a candidate solution: steps (list[str]) with aligned per-step labels
    Node / Tree      a reasoning tree with Monte-Carlo counts (n_correct, n_total) per node
    PreferencePair   prompt / chosen / rejected, with optional named character spans (segments)
    RewardRow        a reward-model training row (TRL stepwise supervision + MC fields), kept as a dict

Every type round-trips through a plain dict (`to_dict` / `from_dict`) so it can live in
`datasets`-compatible JSONL. `from_dict` checks every field and raises `FieldError` naming the
field; `hiero.data.io.read_jsonl` adds the file and line.

Conventions defined once here:
    IGNORE_INDEX   label value that losses skip (the PyTorch / transformers convention)
    ROOT           id of a tree's root node; the root holds the question, its `step` is ""
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

IGNORE_INDEX = -100
ROOT = 0


class FieldError(ValueError):
    """A value in one record is missing or has the wrong type; `field` names it (dotted path)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"field '{field}': {message}")
        self.field = field
        self.message = message


# ----------------------------------------------------------------------------- field checks
def _get(d: dict, key: str, types, *, prefix: str = "", required: bool = True, default=None):
    """Read `d[key]`, check its type, and raise FieldError naming `prefix+key` if it is wrong."""
    name = prefix + key
    if not isinstance(d, dict):
        raise FieldError(prefix.rstrip(".") or "<record>", f"expected an object, got {type(d).__name__}")
    if key not in d or d[key] is None:
        if required:
            raise FieldError(name, "is missing")
        return default
    value = d[key]
    # bool is an int subclass: never accept True where a number is asked for, and vice versa
    if isinstance(value, bool) and bool not in _as_tuple(types):
        raise FieldError(name, f"expected {_type_names(types)}, got bool")
    if not isinstance(value, types):
        raise FieldError(name, f"expected {_type_names(types)}, got {type(value).__name__}")
    return value


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types) -> str:
    return " or ".join(t.__name__ for t in _as_tuple(types))


def _str_list(d: dict, key: str, *, prefix: str = "", required: bool = True) -> list[str] | None:
    values = _get(d, key, list, prefix=prefix, required=required)
    if values is None:
        return None
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise FieldError(f"{prefix}{key}[{i}]", f"expected str, got {type(v).__name__}")
    return list(values)


def _aligned(values, n: int, name: str, kind, lo=None, hi=None) -> list | None:
    """Check a per-step list: length n, element type, optional [lo, hi] range."""
    if values is None:
        return None
    if not isinstance(values, list):
        raise FieldError(name, f"expected a list, got {type(values).__name__}")
    if len(values) != n:
        raise FieldError(name, f"has {len(values)} entries but there are {n} steps")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, kind):
            raise FieldError(f"{name}[{i}]", f"expected {_type_names(kind)}, got {type(v).__name__}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise FieldError(f"{name}[{i}]", f"value {v} outside [{lo}, {hi}]")
        out.append(v)
    return out


# ----------------------------------------------------------------------------- Problem
@dataclass
class Problem:
    """A question with a checkable reference answer."""

    id: str
    question: str
    answer: str  # reference final answer, as text (graded by hiero.grading)
    steps: list[str] | None = None  # reference solution steps, where the source has them
    source: str = ""  # e.g. "gsm8k", "math500", "synth"
    meta: dict = field(default_factory=dict)  # source-specific extras (level, subject, program…)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Problem:
        return cls(
            id=str(_get(d, "id", (str, int))),
            question=_get(d, "question", str),
            answer=str(_get(d, "answer", (str, int, float))),
            steps=_str_list(d, "steps", required=False),
            source=_get(d, "source", str, required=False, default=""),
            meta=_get(d, "meta", dict, required=False, default={}),
        )


# ----------------------------------------------------------------------------- Solution
@dataclass
class Solution:
    """A candidate solution, one string per step, with optional per-step supervision.

    labels       hard per-step labels: 1 = step is good, 0 = bad
    soft_labels  per-step probability in [0, 1] (e.g. Monte-Carlo score n_correct / n_total)
    counts       per-step (n_correct, n_total) the soft labels came from, kept so scores can be
                 recomputed exactly after merging steps
    """

    problem_id: str
    steps: list[str]
    answer: str | None = None  # the final answer this solution states (None: none found)
    correct: bool | None = None  # final answer graded against the reference (None: unknown)
    question: str | None = None  # carried along so a solution file is self-contained
    labels: list[int] | None = None
    soft_labels: list[float] | None = None
    counts: list[tuple[int, int]] | None = None
    first_error: int | None = None  # 0-based index of the first wrong step, -1 if none (truth)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.steps)
        self.labels = _aligned(self.labels, n, "labels", int, 0, 1)
        self.soft_labels = _aligned(
            [float(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in self.soft_labels]
            if isinstance(self.soft_labels, list)
            else self.soft_labels,
            n, "soft_labels", float, 0.0, 1.0,
        )
        if self.counts is not None:
            if not isinstance(self.counts, list) or len(self.counts) != n:
                raise FieldError("counts", f"expected a list of {n} [n_correct, n_total] pairs")
            pairs = []
            for i, c in enumerate(self.counts):
                if (not isinstance(c, (list, tuple)) or len(c) != 2
                        or not all(isinstance(x, int) and not isinstance(x, bool) for x in c)
                        or not 0 <= c[0] <= c[1]):
                    raise FieldError(
                        f"counts[{i}]",
                        f"expected [n_correct, n_total] with 0 <= n_correct <= n_total, got {c!r}",
                    )
                pairs.append((c[0], c[1]))
            self.counts = pairs

    @property
    def text(self) -> str:
        """The steps joined one per line, the way a policy writes them."""
        return "\n".join(self.steps)

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.counts is not None:
            d["counts"] = [list(c) for c in self.counts]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Solution:
        correct = _get(d, "correct", bool, required=False)
        steps = _str_list(d, "steps")  # may be empty (PRM800K give-ups); readers that score steps refuse it
        return cls(
            problem_id=str(_get(d, "problem_id", (str, int))),
            steps=steps,
            answer=_get(d, "answer", (str, int, float), required=False),
            correct=correct,
            question=_get(d, "question", str, required=False),
            labels=d.get("labels"),
            soft_labels=d.get("soft_labels"),
            counts=d.get("counts"),
            first_error=_get(d, "first_error", int, required=False),
            meta=_get(d, "meta", dict, required=False, default={}),
        )


# ----------------------------------------------------------------------------- Tree
@dataclass
class Node:
    """One reasoning step in a tree. Node ROOT (id 0) holds no step: it stands for the question.

    n_correct / n_total: correct leaves / all leaves in this node's subtree (the MC counts);
    an unfinished leaf at the depth limit counts as a wrong leaf.
    """

    id: int
    parent: int | None
    step: str
    depth: int  # root 0, first step 1, …
    children: list[int] = field(default_factory=list)
    n_correct: int = 0
    n_total: int = 0
    terminal: bool = False  # this step ends the solution (states an answer or hit the limit)
    answer: str | None = None  # the answer stated at a terminal node
    correct: bool | None = None  # terminal: answer graded against the reference
    step_correct: bool | None = None  # ground truth for this step (built-in domain only)

    @property
    def mc_score(self) -> float:
        """Monte-Carlo estimate of reaching the right answer from this node (0 with no leaves)."""
        return self.n_correct / self.n_total if self.n_total else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mc_score"] = self.mc_score  # derived, written for readers; ignored on load
        return d

    @classmethod
    def from_dict(cls, d: dict, prefix: str = "") -> Node:
        node = cls(
            id=_get(d, "id", int, prefix=prefix),
            parent=_get(d, "parent", int, prefix=prefix, required=False),
            step=_get(d, "step", str, prefix=prefix),
            depth=_get(d, "depth", int, prefix=prefix),
            children=list(_get(d, "children", list, prefix=prefix, required=False, default=[])),
            n_correct=_get(d, "n_correct", int, prefix=prefix, required=False, default=0),
            n_total=_get(d, "n_total", int, prefix=prefix, required=False, default=0),
            terminal=_get(d, "terminal", bool, prefix=prefix, required=False, default=False),
            answer=_get(d, "answer", (str, int, float), prefix=prefix, required=False),
            correct=_get(d, "correct", bool, prefix=prefix, required=False),
            step_correct=_get(d, "step_correct", bool, prefix=prefix, required=False),
        )
        if not 0 <= node.n_correct <= node.n_total:
            raise FieldError(
                prefix + "n_correct", f"need 0 <= n_correct <= n_total, got {node.n_correct}/{node.n_total}"
            )
        return node


@dataclass
class Tree:
    """A problem and its reasoning tree; `nodes[i].id == i` and nodes[ROOT] is the root."""

    problem: Problem
    nodes: list[Node]
    meta: dict = field(default_factory=dict)  # how it was built: mode, children, depth, seed…

    def __post_init__(self):
        for i, n in enumerate(self.nodes):
            if n.id != i:
                raise FieldError(f"nodes[{i}].id", f"expected {i} (nodes are stored in id order), got {n.id}")
        if not self.nodes or self.nodes[ROOT].parent is not None:
            raise FieldError("nodes[0]", "the first node must be the root (parent null)")

    @property
    def root(self) -> Node:
        return self.nodes[ROOT]

    def path(self, node_id: int) -> list[Node]:
        """Nodes from the first step down to `node_id` (root excluded)."""
        out = []
        while node_id is not None and node_id != ROOT:
            node = self.nodes[node_id]
            out.append(node)
            node_id = node.parent
        return out[::-1]

    def leaves(self) -> list[Node]:
        return [n for n in self.nodes if not n.children and n.id != ROOT]

    def recompute_counts(self) -> None:
        """Set every node's (n_correct, n_total) by leaf counting: a leaf counts 1, correct if
        `leaf.correct` is True (an unfinished leaf has correct None/False and counts as wrong)."""
        for node in sorted(self.nodes, key=lambda n: n.depth, reverse=True):  # children first
            if node.children:
                node.n_correct = sum(self.nodes[c].n_correct for c in node.children)
                node.n_total = sum(self.nodes[c].n_total for c in node.children)
            elif node.id != ROOT:
                node.n_correct, node.n_total = int(node.correct is True), 1
            else:
                node.n_correct, node.n_total = 0, 0

    def to_dict(self) -> dict:
        return {
            "problem": self.problem.to_dict(),
            "nodes": [n.to_dict() for n in self.nodes],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Tree:
        problem = _get(d, "problem", dict)
        try:
            problem = Problem.from_dict(problem)
        except FieldError as e:
            raise FieldError("problem." + e.field, e.message) from None
        nodes = [Node.from_dict(n, prefix=f"nodes[{i}].") for i, n in enumerate(_get(d, "nodes", list))]
        tree = cls(problem=problem, nodes=nodes, meta=_get(d, "meta", dict, required=False, default={}))
        tree.check_links()
        return tree

    def check_links(self) -> None:
        """Every child id names a node whose parent is this one, and every parent names a node."""
        for n in self.nodes:
            for c in n.children:
                if not (isinstance(c, int) and 0 <= c < len(self.nodes)):
                    raise FieldError(f"nodes[{n.id}].children", f"child {c!r} is not a node of this tree "
                                     f"(ids 0..{len(self.nodes) - 1})")
                if self.nodes[c].parent != n.id:
                    raise FieldError(
                        f"nodes[{c}].parent",
                        f"is {self.nodes[c].parent!r}, but node {n.id} lists it as a child",
                    )
            if n.parent is not None and not (isinstance(n.parent, int) and 0 <= n.parent < len(self.nodes)):
                raise FieldError(f"nodes[{n.id}].parent", f"{n.parent!r} is not a node of this tree")


# ----------------------------------------------------------------------------- PreferencePair
Span = tuple[int, int]  # [start, end) character offsets into the response text


@dataclass
class PreferencePair:
    """A TRL-style preference row; segments are named [start, end) character spans of the responses."""

    prompt: str
    chosen: str
    rejected: str
    id: str = ""
    chosen_segments: dict[str, Span] | None = None
    rejected_segments: dict[str, Span] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        for side in ("chosen", "rejected"):
            segs = getattr(self, f"{side}_segments")
            if segs is None:
                continue
            text = getattr(self, side)
            checked = {}
            for name, span in segs.items():
                where = f"{side}_segments.{name}"
                if (not isinstance(span, (list, tuple)) or len(span) != 2
                        or not all(isinstance(x, int) and not isinstance(x, bool) for x in span)):
                    raise FieldError(where, f"expected [start, end], got {span!r}")
                if not 0 <= span[0] <= span[1] <= len(text):
                    raise FieldError(where, f"span {list(span)} outside the {len(text)}-character response")
                checked[name] = (span[0], span[1])
            setattr(self, f"{side}_segments", checked)

    def to_dict(self) -> dict:
        d = asdict(self)
        for side in ("chosen_segments", "rejected_segments"):
            if d[side] is not None:
                d[side] = {k: list(v) for k, v in d[side].items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PreferencePair:
        # `question` is accepted for `prompt` (the Math StackExchange preference files use it)
        if "prompt" not in d and "question" in d:
            d = {**d, "prompt": d["question"]}
        chosen, rejected = _get(d, "chosen", str), _get(d, "rejected", str)
        if not chosen.strip() or not rejected.strip():
            raise FieldError(
                "chosen" if not chosen.strip() else "rejected", "is empty; a pair needs two responses"
            )
        if chosen == rejected:
            raise FieldError("rejected", "equals chosen; a preference pair needs two different responses")
        return cls(
            prompt=_get(d, "prompt", str),
            chosen=chosen,
            rejected=rejected,
            id=str(_get(d, "id", (str, int), required=False, default="")),
            chosen_segments=_get(d, "chosen_segments", dict, required=False),
            rejected_segments=_get(d, "rejected_segments", dict, required=False),
            meta=_get(d, "meta", dict, required=False, default={}),
        )


# ----------------------------------------------------------------------------- RewardRow
RM_KINDS = ("orm", "prm", "hrm")
_HIERO_ROW_FIELDS = ("soft_labels", "counts", "label_mask", "merged", "kind")


def _bool_list(d: dict, key: str, n: int) -> list[bool]:
    v = d.get(key)
    if not isinstance(v, list) or len(v) != n:
        raise FieldError(key, f"expected a list of {n} booleans (one per step)")
    for i, x in enumerate(v):
        if not isinstance(x, bool):
            raise FieldError(f"{key}[{i}]", f"expected bool, got {type(x).__name__}")
    return v


def _from_trl_row(d: dict) -> dict:
    """A plain TRL stepwise-supervision row (prompt / completions / labels, none of hiero's fields) ->
    a full row: every step labelled, soft label = hard label, no MC counts, nothing merged."""
    steps, labels = d.get("completions"), d.get("labels")
    if not isinstance(steps, list) or not steps:
        raise FieldError("completions", "expected a non-empty list of str")
    n = len(steps)
    labels = _bool_list(d, "labels", n)
    prompt = d.get("prompt") if isinstance(d.get("prompt"), str) else ""
    qid = d.get("question_id", d.get("id", hashlib.sha1(prompt.encode()).hexdigest()[:16]))
    return {**d, "question_id": str(qid), "source": d.get("source", "trl"), "kind": "prm",
            "soft_labels": [float(x) for x in labels], "counts": [None] * n,
            "label_mask": [True] * n, "merged": [False] * n, "meta": d.get("meta", {})}


def validate_reward_row(d: dict) -> dict:
    """Check one reward-model row (schema: hiero.reward.rows); raises FieldError naming the field.

    Returns the row as a dict, int soft labels turned into floats. A plain TRL row (prompt,
    completions, labels and none of soft_labels / counts / label_mask / merged / kind) is accepted
    and completed (see `_from_trl_row`), so TRL stepwise-supervision datasets train as they are.
    """
    if not isinstance(d, dict):
        raise FieldError("<row>", f"expected an object, got {type(d).__name__}")
    if not any(k in d for k in _HIERO_ROW_FIELDS):
        d = _from_trl_row(d)
    for key in ("prompt", "question_id", "source"):
        if not isinstance(d.get(key), str):
            raise FieldError(key, "expected str" if key in d else "is missing")
    steps = d.get("completions")
    if not isinstance(steps, list) or not steps:
        raise FieldError("completions", "expected a non-empty list of str")
    for i, s in enumerate(steps):
        if not isinstance(s, str):
            raise FieldError(f"completions[{i}]", f"expected str, got {type(s).__name__}")
    n = len(steps)
    _bool_list(d, "labels", n)
    _bool_list(d, "merged", n)
    if not any(_bool_list(d, "label_mask", n)):
        raise FieldError("label_mask", "no step carries a label")
    soft = d.get("soft_labels")
    if not isinstance(soft, list) or len(soft) != n:
        raise FieldError("soft_labels", f"expected a list of {n} numbers in [0, 1]")
    for i, x in enumerate(soft):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0.0 <= x <= 1.0:
            raise FieldError(f"soft_labels[{i}]", f"expected a number in [0, 1], got {x!r}")
    d["soft_labels"] = [float(x) for x in soft]
    counts = d.get("counts")
    if not isinstance(counts, list) or len(counts) != n:
        raise FieldError("counts", f"expected a list of {n} entries ([n_correct, n_total] or null)")
    for i, c in enumerate(counts):
        if c is not None and (
            not isinstance(c, list)
            or len(c) != 2
            or any(isinstance(x, bool) or not isinstance(x, int) for x in c)
            or not 0 <= c[0] <= c[1]
        ):
            raise FieldError(
                f"counts[{i}]",
                f"expected [n_correct, n_total] with 0 <= n_correct <= n_total or null, got {c!r}",
            )
    if d.get("kind") not in RM_KINDS:
        raise FieldError("kind", f"expected one of {list(RM_KINDS)}, got {d.get('kind')!r}")
    if not isinstance(d.get("meta", {}), dict):
        raise FieldError("meta", "expected an object")
    return d


class RewardRow:
    """A reward-model training row, kept as the dict the collators read: `read_jsonl(path,
    RewardRow)` checks every line with `validate_reward_row` and names file:line:field on errors."""

    from_dict = staticmethod(validate_reward_row)
