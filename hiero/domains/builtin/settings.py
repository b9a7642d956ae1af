"""How hard the built-in domain's problems are: one settings object for every stage that draws them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hiero.domains.builtin.stories import generate_problems
from hiero.types import Problem


@dataclass
class DomainSettings:
    """How hard the built-in domain's problems are; one object for every stage that draws problems.

    The policy is trained on, trees are annotated on and every evaluation draws from the same
    settings (a policy trained on 2-3 operations and tested on 2-4 answers the 4-operation
    problems at a fraction of its accuracy). `hiero data synth`, which writes the domain's problem
    sets, inherits these fields (flags --min-ops ... --max-value; `domain_of_config(cfg)` reads them
    back); every other command takes them in one problem-source spec,
    `synth:n=200,seed=2,max_value=30` (hiero.data.problems).
    """

    min_ops: int = field(default=2, metadata={"help": "built-in domain: fewest operations per problem"})
    max_ops: int = field(default=3, metadata={"help": "built-in domain: most operations per problem"})
    max_operand: int = field(
        default=9, metadata={"help": "built-in domain: largest operand of + and - (and start value)"}
    )
    max_factor: int = field(
        default=3, metadata={"help": "built-in domain: largest multiplier / divisor (2..max_factor)"}
    )
    max_value: int = field(
        default=99, metadata={"help": "built-in domain: every running value stays in [1, max_value]"}
    )
    style: Literal["plain", "restate"] = field(
        default="plain",
        metadata={
            "help": "built-in domain: how solutions are written; plain: the start value, equations, 'The "
                    "answer is N'; "
            "restate: the givens restated, equations, an answer sentence (three segments that can each go "
            "wrong)"
        },
    )

    def problems(self, n: int, seed: int, split: str = "train") -> list[Problem]:
        """`generate_problems` with these settings."""
        return generate_problems(n, seed, split, self.min_ops, self.max_ops, self.max_operand,
                                 max_factor=self.max_factor, max_value=self.max_value, style=self.style)


def domain_of_config(cfg) -> DomainSettings:
    """The DomainSettings part of a config that inherits them (any object with those attributes)."""
    return DomainSettings(**{f: getattr(cfg, f) for f in DomainSettings.__dataclass_fields__})
