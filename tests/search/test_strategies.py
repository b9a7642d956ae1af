"""Search strategies: selection rules by hand, pool prefix-stability, best_of_n / step_greedy / beam.

The generator here is a test double of the `Generator` protocol over the built-in domain: full
solutions come from `synth.render_noisy_solution` (errors and corrections), single steps are the
reference step with a seeded off-by-one slip. Its randomness depends only on (call seed, prompt,
occurrence, sample index), like the hf backend, so strategies can be checked exactly.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import replace

import pytest

from hiero.cache import derive_seed
from hiero.domains import builtin as synth
from hiero.policy.backend import Completion
from hiero.policy.sampling import make_solution, sample_pool
from hiero.search.strategies import (
    STRATEGIES,
    OracleScorer,
    SearchConfig,
    answer_groups,
    best_of_n,
    select,
)

_Q = re.compile(r"Question: (.*?)\nAnswer:\n(.*)\Z", re.S)


class NoisySynthGenerator:
    def __init__(self, problems, p_error=0.25, p_slip=0.3):
        self.by_q = {p.question.strip(): p for p in problems}
        self.p_error, self.p_slip = p_error, p_slip
        self.calls = []

    def _rng(self, seed, prompt, occ, k):
        h = hashlib.sha256(f"{seed}|{occ}|{k}|{prompt}".encode()).digest()
        return random.Random(int.from_bytes(h[:8], "little"))

    def generate(self, prompts, *, n=1, max_new_tokens=256, stop=None, temperature=0.0, top_p=1.0, seed=None):
        self.calls.append({"n_prompts": len(prompts), "n": n, "stop": stop, "seed": seed})
        out, seen = [], {}
        for prompt in prompts:
            occ = seen[prompt] = seen.get(prompt, -1) + 1
            m = _Q.match(prompt)
            problem = self.by_q[m.group(1).strip()]
            prefix = [s for s in m.group(2).split("\n") if s.strip()]
            comps = []
            for k in range(n):
                rng = self._rng(seed, prompt, occ, k)
                if stop:  # one step
                    ref = synth.solve(problem)
                    i = min(len(prefix), len(ref) - 1)
                    if i == len(ref) - 1:
                        ok = all(synth.check_steps(problem, prefix))
                        comps.append(
                            Completion(f"The answer is {int(problem.answer) + (0 if ok else 1)}", 5, "eos")
                        )
                        continue
                    step = ref[i]
                    if "=" in step and rng.random() < self.p_slip:
                        lhs, rhs = step.rsplit("=", 1)
                        step = f"{lhs}= {int(rhs) + 1}"
                    comps.append(Completion(step, 5, "stop"))
                else:
                    sol = synth.render_noisy_solution(problem, rng, self.p_error, 0.2)
                    comps.append(Completion("\n".join(sol.steps), 20, "eos"))
            out.append(comps)
        return out


@pytest.fixture(scope="module")
def problems():
    return synth.generate_problems(12, seed=3, split="test")


def test_select_rules_by_hand():
    """Scores [0.4, 0.9, 0.6, 0.1], answers groups [0, 1, 0, None].
    rm: argmax -> 1. majority: group 0 has 2 votes -> first member 0.
    vote: group 0 weighs 0.4 + 0.6 = 1.0 > group 1's 0.9 -> best member of group 0 is 2.
    With scores [0.4, 1.2, 0.6, 0.1] group 1 weighs 1.2 > 1.0 -> 1. Negative weights count 0:
    [-5, 0.3, -1, 0] with groups [0, 1, 0, 1] -> group 1 (0.3) -> member 1."""
    g = [0, 1, 0, None]
    assert select([0.4, 0.9, 0.6, 0.1], g, "rm") == 1
    assert select(None, g, "majority") == 0
    assert select([0.4, 0.9, 0.6, 0.1], g, "vote") == 2
    assert select([0.4, 1.2, 0.6, 0.1], g, "vote") == 1
    assert select([-5, 0.3, -1, 0], [0, 1, 0, 1], "vote") == 1
    assert select([0.5, 0.5], [0, 0], "rm") == 0  # ties -> earliest
    # rm never picks a candidate stating no answer (0.95 at index 3) over one that states one
    assert select([0.4, 0.9, 0.6, 0.95], g, "rm") == 1
    assert select([0.1, 0.7], [None, None], "rm") == 1  # none states one: plain argmax
    assert select(None, [None, None], "majority") == 0
    with pytest.raises(ValueError):
        select([1.0], [0], "bogus")


def test_answer_groups_prefix_stable(problems):
    p = problems[0]
    answers = ["12", "7", None, "12", "7", "3"]
    groups = answer_groups(p, answers)
    assert groups == [0, 1, None, 0, 1, 2]
    assert answer_groups(p, answers[:4]) == groups[:4]


def test_pool_is_prefix_stable_and_cached(problems, tmp_path):
    gen = NoisySynthGenerator(problems)
    cfg = SearchConfig(n=16, pool_chunk=4, seed=5, cache_dir=str(tmp_path))
    big = sample_pool(problems, gen, cfg)
    small = sample_pool(problems, gen, SearchConfig(n=6, pool_chunk=4, seed=5))
    assert [[s.steps for s in row[:6]] for row in big] == [[s.steps for s in row] for row in small]
    assert all(len(row) == 16 for row in big)
    calls = len(gen.calls)
    again = sample_pool(problems, gen, cfg)  # from the cache: no generation
    assert len(gen.calls) == calls
    assert [[s.steps for s in r] for r in again] == [[s.steps for s in r] for r in big]
    # graded consistently with the domain
    for p, row in zip(problems, big):
        for s in row:
            assert s.correct == synth.is_correct(p, s.answer) if s.answer else s.correct is False


def test_pool_grows_and_resumes_from_cached_chunks(problems, tmp_path):
    """A larger pool draws only the chunks the cache lacks, a run stopped mid-pool resumes at the first
    chunk not written, and the result equals drawing the whole pool at once without a cache."""
    cold = sample_pool(problems, NoisySynthGenerator(problems), SearchConfig(n=12, pool_chunk=4, seed=5))
    gen = NoisySynthGenerator(problems)
    cfg = SearchConfig(n=4, pool_chunk=4, seed=5, cache_dir=str(tmp_path))
    sample_pool(problems, gen, cfg)
    assert [c["seed"] for c in gen.calls] == [derive_seed(5, "pool", 0, 0)]
    gen.calls.clear()
    grown = sample_pool(problems, gen, replace(cfg, n=12))  # N up to 12 after 4: chunks 1 and 2 only
    assert [c["seed"] for c in gen.calls] == [derive_seed(5, "pool", c, 0) for c in (1, 2)]
    assert [[s.steps for s in r] for r in grown] == [[s.steps for s in r] for r in cold]
    assert [s.meta["sample"] for s in grown[0]] == list(range(12))

    last = sorted(tmp_path.glob("pool-*-c2.jsonl"))
    assert len(last) == 1 and len(list(tmp_path.glob("pool-*.jsonl"))) == 3
    last[0].unlink()  # as if the run had stopped while drawing chunk 2
    gen.calls.clear()
    again = sample_pool(problems, gen, replace(cfg, n=12))
    assert [c["seed"] for c in gen.calls] == [derive_seed(5, "pool", 2, 0)]
    assert [[s.steps for s in r] for r in again] == [[s.steps for s in r] for r in cold]

    # another temperature is another pool: nothing read from these files
    gen.calls.clear()
    sample_pool(problems, gen, replace(cfg, temperature=1.0))
    assert len(gen.calls) == 1

    first = last[0].with_name(last[0].name.replace("-c2.", "-c0."))  # this pool's chunk 0
    first.write_text("".join(first.read_text().splitlines(keepends=True)[:-1]))  # one solution lost
    with pytest.raises(ValueError, match=r"pool-.*-c0\.jsonl: .*delete the file"):
        sample_pool(problems, gen, replace(cfg, n=12))


def test_best_of_n_sliced_pool_equals_separate_run(problems, tmp_path):
    """One pool of 16 sliced to N equals a separate best_of_n run with N samples (same seed)."""
    gen = NoisySynthGenerator(problems)
    oracle = OracleScorer(problems)
    pool = sample_pool(problems, gen, SearchConfig(n=16, pool_chunk=4, seed=1))
    for n in (1, 4, 6):
        separate = best_of_n(problems, gen, oracle, SearchConfig(n=n, pool_chunk=4, seed=1))
        for p, row, got in zip(problems, pool, separate):
            fully_right = [s for s in row[:n] if all(synth.check_steps(p, s.steps))]
            # oracle + min picks the first fully right solution when one exists
            expect = fully_right[0] if fully_right else None
            if expect is not None:
                assert got.steps == expect.steps and got.correct
        sliced = STRATEGIES["majority_vote"](problems, gen, None, SearchConfig(n=n, pool_chunk=4, seed=1))
        ref = [row[select(None, answer_groups(p, [s.answer for s in row[:n]]), "majority")]
               for p, row in zip(problems, pool)]
        assert [s.steps for s in sliced] == [s.steps for s in ref]


def test_step_greedy_and_beam_use_the_scorer(problems):
    """With the oracle scorer, a slip scores 0 and a right step 1, so greedy over 4 candidates per
    step keeps a right step whenever one of them is right; with p_slip 0.3 that fails with
    probability 0.3^4 per equation, so most problems end right. Without a scorer's help
    (p_slip 1.0: every equation slips) nothing is right."""
    gen = NoisySynthGenerator(problems, p_slip=0.3)
    oracle = OracleScorer(problems)
    cfg = SearchConfig(n=4, beam_width=2, max_steps=8, seed=0)
    greedy = STRATEGIES["step_greedy"](problems, gen, oracle, cfg)
    assert len(greedy) == len(problems)
    assert all(c["n"] == 4 and c["stop"] == ["\n"] for c in gen.calls)
    assert gen.calls[0]["n_prompts"] == len(problems)  # batched across problems
    assert sum(s.correct for s in greedy) >= len(problems) - 2
    for p, s in zip(problems, greedy):
        if s.correct:
            assert all(synth.check_steps(p, s.steps)) and s.steps[-1].startswith("The answer is")
    gen.calls.clear()
    beams = STRATEGIES["beam"](problems, gen, oracle, cfg)
    assert gen.calls[0]["n"] == 8 and gen.calls[1]["n"] == 4  # first step: width x n from one path
    assert sum(s.correct for s in beams) >= len(problems) - 2
    always_wrong = NoisySynthGenerator(problems, p_slip=1.0)
    assert not any(s.correct for s in STRATEGIES["step_greedy"](problems, always_wrong, oracle, cfg))


def test_step_greedy_respects_step_limit(problems):
    gen = NoisySynthGenerator(problems)
    sols = STRATEGIES["step_greedy"](problems, gen, OracleScorer(problems), SearchConfig(n=2, max_steps=2))
    assert all(len(s.steps) <= 2 for s in sols)
    assert not any(s.correct for s in sols)  # every problem needs >= 4 steps (context, 2+ ops, answer)


def test_make_solution_grades_real_style_answers():
    from hiero.types import Problem

    p = Problem(id="g1", question="q", answer="18", source="gsm8k")
    assert make_solution(p, ["9 * 2 = 18", "#### 18"]).correct is True
    assert make_solution(p, ["9 * 2 = 17", "The answer is 17"]).correct is False


class HashScorer:
    """Deterministic pseudo-random step scores in [0, 1] (so the choice depends on which candidates a search
    sees); counts what it is asked to score."""

    kind, probability = "prm", True

    def __init__(self):
        self.scored = []

    def score(self, questions, solutions):
        self.scored += [(q, tuple(s)) for q, s in zip(questions, solutions)]
        return [[int.from_bytes(hashlib.sha256(f"{q}|{k}|{st}".encode()).digest()[:4], "little") / 2**32
                 for k, st in enumerate(s)] for q, s in zip(questions, solutions)]


@pytest.mark.parametrize("strategy", ["step_greedy", "beam"])
def test_step_candidates_shared_across_n_change_no_search_and_draw_less(problems, strategy):
    """A search at N through a pool drawn for N_max = 8 chooses exactly what the search at N alone chooses
    (the first N of a prompt's samples are its N samples), for every N, and the curve draws fewer
    candidates and scores each distinct partial solution once."""
    from hiero.search.strategies import StepCandidates

    ns, cfg = [2, 4, 8], SearchConfig(beam_width=2, max_steps=8, seed=3)
    alone_gen, alone = NoisySynthGenerator(problems, p_slip=0.5), {}
    for n in ns:
        alone[n] = [
            s.steps for s in STRATEGIES[strategy](problems, alone_gen, HashScorer(), replace(cfg, n=n))
        ]
    pooled_gen, scorer, pool = (
        NoisySynthGenerator(problems, p_slip=0.5),
        HashScorer(),
        StepCandidates(max(ns)),
    )
    for n in ns:
        got = [
            s.steps for s in STRATEGIES[strategy](problems, pooled_gen, scorer, replace(cfg, n=n), pool=pool)
        ]
        assert got == alone[n], n
    assert len({a for n in ns for a in map(tuple, alone[n])}) > len(problems)  # N changes what is chosen
    drawn = lambda gen: sum(c["n"] * c["n_prompts"] for c in gen.calls)  # noqa: E731
    assert drawn(pooled_gen) < drawn(alone_gen)
    assert len(scorer.scored) == len(set(scorer.scored))


def test_step_candidates_on_disk_resume_without_drawing(problems, tmp_path):
    """Candidates kept in a file come back in the next run: the same search draws nothing and chooses the
    same; a line torn by a crash is dropped (that call is drawn again), the rest is kept."""
    from hiero.search.strategies import StepCandidates

    cfg, path = SearchConfig(n=4, max_steps=8, seed=3), tmp_path / "steps.jsonl"
    gen = NoisySynthGenerator(problems, p_slip=0.5)
    first = [s.steps for s in STRATEGIES["step_greedy"](problems, gen, HashScorer(), cfg,
                                                        pool=StepCandidates(4, path))]
    calls = len(gen.calls)
    assert calls > 1 and len(path.read_text().splitlines()) == calls  # one line per generate call

    gen.calls.clear()
    pool = StepCandidates(4, path)
    assert pool.loaded == len(pool.texts) > len(problems)
    again = [s.steps for s in STRATEGIES["step_greedy"](problems, gen, HashScorer(), cfg, pool=pool)]
    assert again == first and gen.calls == [] and pool.generated == 0

    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:10])  # the last call torn mid-write
    pool = StepCandidates(4, path)
    assert path.read_text() == "".join(lines[:-1])
    resumed = [s.steps for s in STRATEGIES["step_greedy"](problems, gen, HashScorer(), cfg, pool=pool)]
    assert resumed == first and len(gen.calls) == 1  # only the torn call is drawn again
    assert len(path.read_text().splitlines()) == calls
