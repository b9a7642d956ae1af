"""How a policy is prompted and how its text splits into steps (one definition for every stage).

The embedded policy (and the default for any model without a chat template) sees the template in
`hiero/templates/policy_prompt.txt`, then writes one step per line; the solution ends with a line
"The answer is X" and the end-of-sequence token. So a step boundary is "\n" (STEP_SEP), and a
partial solution is the prompt plus the finished steps, each followed by "\n".
"""

from __future__ import annotations

from functools import cache
from importlib import resources

STEP_SEP = "\n"


@cache
def _template() -> str:
    return resources.files("hiero").joinpath("templates/policy_prompt.txt").read_text(encoding="utf-8")


def build_prompt(question: str, steps: list[str] | None = None) -> str:
    """Prompt for the next step: question in the template, then the steps written so far.

    >>> build_prompt("What is 2+3?", ["2 + 3 = 5"])
    'Question: What is 2+3?\\nAnswer:\\n2 + 3 = 5\\n'
    """
    prefix = _template().format(question=question.strip())
    return prefix + "".join(s + STEP_SEP for s in (steps or []))


def split_steps(text: str) -> list[str]:
    """Split a generated solution into steps (non-empty lines, stripped).

    >>> split_steps("2 + 3 = 5\\n\\nThe answer is 5\\n")
    ['2 + 3 = 5', 'The answer is 5']
    """
    return [line.strip() for line in text.split(STEP_SEP) if line.strip()]
