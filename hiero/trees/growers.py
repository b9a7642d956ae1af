"""The tree growers as one table, and the picklable search of one chunk of problems that any engine runs.

    GROWERS[mode] -> Grower(settings class, grow function)       mode: bfs | mcts | bsearch
    search = ChunkSearch.of(mode, values, seed, meta)              values: any mapping holding the settings
    trees, tokens = search(problems, generator)                    new trees, grown together, checked

Every grower has one signature, `grow(trees, generator, settings, seed) -> generated tokens`, and its
settings class is built by keyword from the fields it declares, so a new mode is one row here. The engines
(`annotate.py` in this process, `ray_runner.py` on Ray actors) only call a `ChunkSearch`: a frozen
dataclass of plain values, so it pickles to a Ray actor unchanged and the engines never import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from hiero.policy.backend import Generator
from hiero.trees.bfs import SearchSettings, grow_bfs
from hiero.trees.bsearch import BSearchSettings, grow_bsearch
from hiero.trees.mcts import MCTSSettings, grow_mcts
from hiero.trees.tree import check_tree, new_tree
from hiero.types import Problem, Tree


@dataclass(frozen=True)
class Grower:
    settings: type  # a SearchSettings dataclass
    grow: Callable[[list[Tree], Generator, SearchSettings, int], int]


GROWERS: dict[str, Grower] = {
    "bfs": Grower(SearchSettings, grow_bfs),  # full tree, one generate call per level (the official code)
    "mcts": Grower(MCTSSettings, grow_mcts),  # PUCT select / expand / rollout / backup
    "bsearch": Grower(BSearchSettings, grow_bsearch),  # sampled solutions + binary search of the first error
}


def settings_for(mode: str, values: Mapping) -> SearchSettings:
    """The `mode` grower's settings, each field taken by name from `values` (e.g. asdict(AnnotateConfig)).

    >>> settings_for("bsearch", {"children": 2, "depth": 6, "samples": 8, "rollouts": 4, "seed": 1}).samples
    8
    """
    if mode not in GROWERS:
        raise ValueError(f"unknown tree mode {mode!r}; choose from {sorted(GROWERS)}")
    cls = GROWERS[mode].settings
    return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass(frozen=True)
class ChunkSearch:
    """Grow one tree per problem of a chunk, all together (one generate call per level or round)."""

    mode: str
    settings: SearchSettings
    seed: int
    meta: tuple  # the tree meta written into every tree, as (key, value) pairs in order (hashable, picklable)

    @classmethod
    def of(cls, mode: str, values: Mapping, seed: int, meta: Mapping) -> ChunkSearch:
        return cls(mode, settings_for(mode, values), seed, tuple(meta.items()))

    def __call__(self, problems: list[Problem], generator: Generator) -> tuple[list[Tree], int]:
        """(trees, generated tokens); every tree's counts checked against leaf counting before it is
        returned."""
        trees = [new_tree(p, dict(self.meta)) for p in problems]
        tokens = GROWERS[self.mode].grow(trees, generator, self.settings, self.seed)
        for t in trees:
            check_tree(t)
        return trees, tokens
