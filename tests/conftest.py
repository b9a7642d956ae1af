"""Shared test set-up: offline Hugging Face, few threads, the path of the real data, and
`synth_oracle`: a test-only Generator that writes built-in-domain solutions with seeded slips.

`SynthOracleGenerator` reads the question back out of the prompt, looks the problem up, and writes
the reference step at the current position; with probability `p_slip` an equation's result is off
by one. Its answer line is right only if every step so far is right (`synth.check_steps`), so MC
scores are 1 on fully-right paths' leaves and 0 below any wrong step. Each sample's randomness
comes from (seed, call seed, prompt, its occurrence in the call, sample index) only,
as in the `hf` backend, so results do not depend on which prompts
share a call. It records every call (prompts, n, stop) so tests can check the batching.
(A fixture, not an import: the suite runs with --import-mode=importlib.)
"""

import os
import random
import re
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from hiero.domains import builtin as synth  # noqa: E402
from hiero.policy.backend import Completion  # noqa: E402
from hiero.types import Problem  # noqa: E402

torch.set_num_threads(2)

# ../shared/data beside the checkout (CI clones main with shared/ next to it)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it sits beside the checkout in CI)")
    return SHARED_DATA

_Q = re.compile(r"Question: (.*?)\nAnswer:\n(.*)\Z", re.S)


class SynthOracleGenerator:
    def __init__(self, problems: list[Problem], p_slip: float = 0.3, seed: int = 0):
        self.by_question = {p.question.strip(): p for p in problems}
        self.p_slip, self.seed = p_slip, seed
        self.calls: list[dict] = []

    def _next_step(self, problem: Problem, steps: list[str], rng: random.Random) -> str:
        ref = synth.solve(problem)
        i = len(steps)
        if i >= len(ref) - 1:  # the answer line: right only on an all-right path
            ok = all(synth.check_steps(problem, steps))
            return f"The answer is {int(problem.answer) + (0 if ok else 1)}"
        step = ref[i]
        if rng.random() < self.p_slip and "=" in step:
            lhs, rhs = step.rsplit("=", 1)
            step = f"{lhs}= {int(rhs) + 1}"
        return step

    def generate(self, prompts, *, n=1, max_new_tokens=256, stop=None, temperature=0.0, top_p=1.0, seed=None):
        self.calls.append({"prompts": list(prompts), "n": n, "stop": stop})
        out, seen = [], {}
        for prompt in prompts:
            occurrence = seen[prompt] = seen.get(prompt, -1) + 1  # identical prompts differ
            m = _Q.match(prompt)
            problem = self.by_question[m.group(1).strip()]
            prefix = [s for s in m.group(2).split("\n") if s.strip()]
            comps = []
            for j in range(n):
                rng = random.Random(f"{self.seed}|{seed}|{prompt}|{occurrence}|{j}")
                steps = list(prefix)
                while True:
                    step = self._next_step(problem, steps, rng)
                    steps.append(step)
                    if step.startswith("The answer is") or stop:  # stop "\n": one step only
                        break
                text = "\n".join(steps[len(prefix):])
                words = text.split(" ")
                if len(words) > max_new_tokens:
                    comps.append(Completion(" ".join(words[:max_new_tokens]), max_new_tokens, "length"))
                else:
                    reason = "eos" if step.startswith("The answer is") else "stop"
                    comps.append(Completion(text, len(words), reason))
            out.append(comps)
        return out


@pytest.fixture(scope="session")
def synth_oracle():
    """The SynthOracleGenerator class (session-scoped so hypothesis tests can use it)."""
    return SynthOracleGenerator


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One `hiero demo --size micro` through the CLI (tests/test_demo.py, tests/test_report_html.py)."""
    from hiero.cli import main as cli

    out = tmp_path_factory.mktemp("demo") / "run"
    # no real-data folder: that stage must then be absent from the report, not shown empty
    rc = cli(["demo", "--size", "micro", "--out", str(out), "--shared-data", str(out / "absent")])
    assert rc == 0
    return out
