"""Preference pairs for DPO / HiPO (`hiero po pairs`), with segments attached.

Four sources, any combination in one run:

    --solutions FILE   Solution JSONL (sampled solutions, GSM8K model solutions…): for each problem a
                       correct and an incorrect solution form a pair (up to --max-per-problem pairs).
                       The real GSM8K file (`example_model_solutions.jsonl`) is read directly.
                       With --rm DIR a reward model scores every solution (min over its steps): the
                       chosen side is the correct solution it scores highest, and only where that score
                       is >= --rm-threshold (a right answer through a wrong step is not "chosen"); the
                       rejected side is the incorrect one it scores lowest, or, with --greedy FILE, the
                       policy's own greedy solution wherever that one is wrong (the error the policy
                       actually makes, not a slip it rarely samples). With --by-segment the problem's
                       domain checks each segment instead (built-in problems; `synth.segment_checks`):
                       chosen = right in every segment, rejected = wrong in exactly one (clarification,
                       reasoning or answer, named in `meta.segment`), with the domain's exact spans.
    --trees FILE       reasoning trees (Step-DPO style): under a shared correct prefix, the child with
                       the highest MC score is chosen and the child with the lowest is rejected, when
                       their scores differ by at least --min-gap. `--tree-response step` keeps only the
                       next step (Step-DPO), written as the policy writes it: "step\n", marked in
                       `meta.continues` so that the trainer appends no EOS to it (the text goes on after
                       it), or the bare step where it ends the solution; `leaf` extends each side along
                       its best (chosen) / worst (rejected) MC path down to a leaf, giving whole
                       solutions with Rq/Mt/Ra parts.
    --prm800k FILE     PRM800K's human-rated alternative steps (Step-DPO style): under a chosen prefix
                       with no step rated -1, a +1 and a -1 candidate for the same next step form a
                       pair (prompt = question + prefix steps, chosen = the +1 step, rejected = the -1
                       step; the labelers' chosen candidate first among the +1 ones), earliest
                       position first, up to --max-per-problem pairs per labelled solution. Any file
                       `hiero rm data --from prm800k` reads: raw phase-1/2 lines, their Solution JSONL,
                       the stepwise mirror, `--emit rows` output. Steps as for `--tree-response step`:
                       "step\n" and `meta.continues` unless the step ends the solution ("# Answer").
    --prefs FILE       preference rows `question|prompt, chosen, rejected` (TRL format), including the
                       HiPO authors' decomposed Math StackExchange file (query/output_a/output_b/Rq_a…),
                       by default as its Rq/Mt/Ra rewrite with exact segments (what the authors
                       trained on; the rewrite never occurs verbatim in the original answers, whose
                       prose has no answer line the heuristic could find); `--prefs-text original`
                       keeps the original answers.

Prompts for solutions and trees are `hiero.policy.prompt.build_prompt(question, prefix_steps)`, the
policy's own prompt, and responses are steps joined by "\\n", as the policy writes them. Segments are
then filled in by a segmenter (`--segmenter auto|tags|heuristic|llm|none`) for pairs that have none;
`llm` calls the OpenAI-compatible decomposer (cached; a failed reply falls back to the heuristic and
is counted). A segment still empty on either side of some pairs is warned about with counts (HiPO's
term for it is zero there) and counted in `missing_segments`.
Run: `hiero po pairs --solutions sols.jsonl -o pairs.jsonl`; Python: `main(PairsConfig(...))`.

Departures: the paper builds pairs only from Math StackExchange votes; solution and tree pairs are
this project's additions (the HiPO paper's data section, arXiv 2604.20140). A "correct prefix" in a tree is a
path whose steps are
all known right (`step_correct`) or, without ground truth, all have MC score >= --prefix-min-mc.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.domains import domain_of
from hiero.domains.builtin import SEGMENTS, segment_spans
from hiero.policy.prompt import STEP_SEP, build_prompt
from hiero.preference.segment import (
    DEFAULT_NAMES,
    SEGMENTERS,
    HeuristicSegmenter,
    LLMSegmenter,
    SegmentError,
    canonical_spans,
    missing_segments,
    warn_missing,
)
from hiero.types import PreferencePair, Problem, Solution, Tree

log = logging.getLogger(__name__)

@dataclass
class PairsConfig:
    out: str = field(default="pairs.jsonl", metadata={"help": "output pairs JSONL"})
    solutions: str | None = field(
        default=None, metadata={"help": "Solution JSONL (or GSM8K example_model_solutions.jsonl)"}
    )
    trees: str | None = field(default=None, metadata={"help": "reasoning trees JSONL"})
    prefs: str | None = field(
        default=None, metadata={"help": "preference rows (question|prompt, chosen, rejected)"}
    )
    prm800k: str | None = field(
        default=None,
        metadata={
            "help": "PRM800K file (raw, converted, stepwise, --emit rows): Step-DPO pairs of +1 vs -1 rated "
                    "steps"
        },
    )
    problems: str | None = field(
        default=None, metadata={"help": "Problem JSONL to fill in questions missing from solutions"}
    )
    prefs_text: Literal["original", "decomposed"] = field(
        default="decomposed",
        metadata={
            "help": "authors' decomposed file: train on its Rq/Mt/Ra rewrite with exact "
            "segments (as the authors did), or on the original answers"
        },
    )
    rm: str | None = field(
        default=None, metadata={"help": "solutions: reward-model folder that picks chosen/rejected"}
    )
    rm_threshold: float | None = field(default=None, metadata={
        "help": "solutions with --rm: min step score a chosen solution needs (default 0.7 for a reward model "
                "whose scores are probabilities; required for one whose scores are not)"})
    greedy: str | None = field(
        default=None,
        metadata={
            "help": "solutions: the policy's greedy solutions (Solution JSONL); "
            "a wrong one is the rejected side"
        },
    )
    by_segment: bool = field(
        default=False,
        metadata={
            "help": "solutions: chosen = right in every segment, rejected = wrong in exactly one, named in "
                    "meta.segment "
            "(checked by the problem's domain: the built-in one; needs --problems), with exact segment spans"
        },
    )
    max_per_problem: int = field(default=1, metadata={"help": "pairs per problem from solutions / per tree / "
                                                               "per PRM800K solution"})
    min_gap: float = field(
        default=0.5, metadata={"help": "trees: minimum MC-score gap between chosen and rejected step"}
    )
    prefix_min_mc: float = field(
        default=0.5, metadata={"help": "trees: MC score every prefix step needs without ground truth"}
    )
    tree_response: Literal["step", "leaf"] = field(
        default="step", metadata={"help": "trees: next step only, or down to a leaf"}
    )
    segmenter: Literal["auto", "tags", "heuristic", "llm", "none"] = field(
        default="auto", metadata={"help": "how to fill in missing segments"})
    resegment: bool = field(default=False, metadata={"help": "replace segments already in the input"})
    llm_mode: Literal["split", "rewrite"] = field(
        default="split", metadata={"help": "LLM decomposer: split in place or rewrite"}
    )
    llm_base_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible server for --segmenter llm"}
    )
    llm_model: str = field(default="gpt-4.1", metadata={"help": "decomposer model name"})
    cache_dir: str = field(default="runs/cache/po", metadata={"help": "where LLM replies are cached"})
    seed: int = field(default=0, metadata={"help": "random seed (which pairs are drawn)"})


# ----------------------------------------------------------------------------- solutions
def _is_gsm8k_model_file(path: str) -> bool:
    with open(path, encoding="utf-8") as f:
        head = f.readline()
    return '"ground_truth"' in head and '"175b_verification"' in head


def load_solutions(path: str, problems: dict[str, Problem] | None = None) -> list[Solution]:
    if _is_gsm8k_model_file(path):
        from hiero.data.sources_text import convert_gsm8k_model_solutions

        return convert_gsm8k_model_solutions(path).records
    sols = list(read_jsonl(path, Solution))
    for i, s in enumerate(sols, start=1):
        if s.question is None and problems and s.problem_id in problems:
            s.question = problems[s.problem_id].question
        if s.question is None:
            raise DataError(path, i, "field 'question': missing (pass --problems to fill it in)")
        if s.correct is None:
            raise DataError(path, i, "field 'correct': missing; solutions must be graded to form pairs")
    return sols


def pairs_from_solutions(
    solutions: list[Solution], max_per_problem: int = 1, seed: int = 0
) -> list[PreferencePair]:
    """A correct vs an incorrect solution of the same problem (distinct texts), up to max_per_problem."""
    rng = random.Random(seed)
    groups: dict[str, list[Solution]] = defaultdict(list)
    for s in solutions:
        groups[s.problem_id].append(s)
    out = []
    for pid, sols in groups.items():
        good = [s for s in sols if s.correct]
        bad = [s for s in sols if s.correct is False]
        combos = [(g, b) for g in good for b in bad if g.text != b.text]
        rng.shuffle(combos)
        for j, (g, b) in enumerate(combos[:max_per_problem]):
            out.append(PreferencePair(prompt=build_prompt(g.question), chosen=g.text, rejected=b.text,
                                      id=f"{pid}-s{j}", meta={"source": "solutions", "problem_id": pid}))
    return out


def pairs_from_scored_solutions(
    solutions: list[Solution],
    scores: list[float],
    threshold: float,
    greedy: dict[str, Solution] | None = None,
    max_per_problem: int = 1,
) -> list[PreferencePair]:
    """Pairs picked by a reward model: `scores[i]` is solution i's min step score.

    Per problem, chosen = the correct solutions with score >= threshold, best first; rejected = the
    problem's greedy solution if it is wrong (`greedy`, by problem id), then the incorrect ones,
    lowest score first; they are paired in that order (distinct texts), up to max_per_problem.
    """
    if len(scores) != len(solutions):
        raise ValueError(f"{len(solutions)} solutions but {len(scores)} scores")
    groups: dict[str, list[tuple[Solution, float]]] = defaultdict(list)
    for s, v in zip(solutions, scores, strict=True):
        groups[s.problem_id].append((s, v))
    out = []
    for pid, xs in groups.items():
        good = [(s, v) for s, v in sorted(xs, key=lambda x: -x[1]) if s.correct and v >= threshold]
        bad = [(s, v) for s, v in sorted(xs, key=lambda x: x[1]) if s.correct is False]
        g = (greedy or {}).get(pid)
        if g is not None and g.correct is False:
            bad = [(g, None)] + [b for b in bad if b[0].text != g.text]
        combos = [(c, r) for c, r in zip(good, bad, strict=False) if c[0].text != r[0].text]
        for j, ((c, cv), (r, rv)) in enumerate(combos[:max_per_problem]):
            out.append(
                PreferencePair(
                    prompt=build_prompt(c.question),
                    chosen=c.text,
                    rejected=r.text,
                    id=f"{pid}-s{j}",
                    meta={
                        "source": "solutions",
                        "problem_id": pid,
                        "chosen_rm": round(cv, 4),
                        "rejected_rm": None if rv is None else round(rv, 4),
                        "rejected_greedy": rv is None,
                    },
                )
            )
    return out


def pairs_from_segments(solutions: list[Solution], problems: dict[str, Problem], max_per_problem: int = 1,
                        seed: int = 0) -> list[PreferencePair]:
    """Pairs that differ in one known segment, checked by the problem's domain (`segment_checks`).

    Per problem: chosen = a solution right in all three segments (clarification, reasoning,
    answer) with the right answer; rejected = one wrong in exactly one segment. The rejected sides
    take turns over the wrong segments (one clarification, one reasoning, one answer error, then
    again), so a problem with several kinds of error gives one pair of each first; each is paired
    with another chosen text where there are several. Both sides carry the domain's exact segment
    spans (`synth.segment_spans`); meta["segment"] names the one that differs.
    """
    rng = random.Random(seed)
    groups: dict[str, list[tuple[Solution, list[str]]]] = defaultdict(list)
    for i, s in enumerate(solutions, start=1):
        problem = problems.get(s.problem_id)
        if problem is None:
            raise ValueError(f"solution {i} ({s.problem_id!r}): no such problem in --problems")
        checks = domain_of(problem).segment_checks(problem, s.steps)
        if checks is None:
            raise ValueError(
                f"solution {i} ({s.problem_id!r}): the {domain_of(problem).name} domain cannot check "
                "segments; --by-segment needs the built-in domain"
            )
        groups[s.problem_id].append((s, [k for k in SEGMENTS if not checks[k]]))
    out = []
    for pid, xs in groups.items():
        good = list({s.text: s for s, wrong in xs if not wrong and s.correct}.values())
        if not good:
            continue
        by_seg = {k: list({s.text: s for s, wrong in xs if wrong == [k]}.values()) for k in SEGMENTS}
        for v in by_seg.values():
            rng.shuffle(v)
        rng.shuffle(good)
        turns = []
        while any(by_seg.values()):
            for k in SEGMENTS:
                if by_seg[k]:
                    turns.append((k, by_seg[k].pop()))
        for j, (k, bad) in enumerate(turns[:max_per_problem]):
            chosen = good[j % len(good)]
            out.append(
                PreferencePair(
                    prompt=build_prompt(chosen.question),
                    chosen=chosen.text,
                    rejected=bad.text,
                    id=f"{pid}-g{j}",
                    chosen_segments=segment_spans(chosen.steps),
                    rejected_segments=segment_spans(bad.steps),
                    meta={"source": "segments", "problem_id": pid, "segment": k},
                )
            )
    return out


def rm_min_scores(solutions: list[Solution], rm: str, threshold: float | None,
                  batch_size: int = 64) -> tuple[list[float], float]:
    """Each solution's min step score under the reward model `rm` (one batched pass), and the threshold
    to apply (None: 0.7 for probabilities, refused for raw scores: hiero.reward.base.threshold_for)."""
    from hiero.reward.scorer import load_scorer, min_score_filter

    scorer = load_scorer(rm, batch_size=batch_size, progress=True)
    return min_score_filter(scorer, [s.question for s in solutions], [s.steps for s in solutions], threshold,
                            default=0.7)


# ----------------------------------------------------------------------------- trees
def _step_ok(node, prefix_min_mc: float) -> bool:
    return node.step_correct if node.step_correct is not None else node.mc_score >= prefix_min_mc


def _walk(tree: Tree, node_id: int, best: bool) -> list[str]:
    """Steps from `node_id` down to a leaf, always taking the highest (best) or lowest MC child."""
    steps = [tree.nodes[node_id].step]
    node = tree.nodes[node_id]
    while node.children:
        kids = [tree.nodes[c] for c in node.children]
        node = max(kids, key=lambda n: n.mc_score) if best else min(kids, key=lambda n: n.mc_score)
        steps.append(node.step)
    return steps


def pairs_from_tree(tree: Tree, *, min_gap: float = 0.5, prefix_min_mc: float = 0.5, response: str = "step",
                    max_pairs: int = 1, seed: int = 0) -> list[PreferencePair]:
    """Step-DPO pairs under correct prefixes, largest MC gap first."""
    candidates = []
    for node in tree.nodes:
        if len(node.children) < 2:
            continue
        path = tree.path(node.id)
        if not all(_step_ok(n, prefix_min_mc) for n in path):
            continue
        kids = [tree.nodes[c] for c in node.children]
        hi = max(kids, key=lambda n: n.mc_score)
        lo = min(kids, key=lambda n: n.mc_score)
        gap = hi.mc_score - lo.mc_score
        if gap >= min_gap and hi.step != lo.step:
            candidates.append((gap, node.depth, node.id, hi.id, lo.id, [n.step for n in path]))
    rng = random.Random(seed)
    rng.shuffle(candidates)
    candidates.sort(key=lambda c: (-c[0], c[1]))  # largest gap, then shallowest prefix
    out = []
    for gap, _, nid, hi, lo, prefix in candidates[:max_pairs]:
        meta = {"source": "trees", "problem_id": tree.problem.id, "mc_gap": round(gap, 4),
                "chosen_mc": tree.nodes[hi].mc_score, "rejected_mc": tree.nodes[lo].mc_score}
        if response == "leaf":
            chosen, rejected = STEP_SEP.join(_walk(tree, hi, True)), STEP_SEP.join(_walk(tree, lo, False))
        else:  # one step: the policy follows it with the step separator, unless it ends the solution
            c, r = tree.nodes[hi], tree.nodes[lo]
            chosen, rejected = (n.step if n.terminal else n.step + STEP_SEP for n in (c, r))
            meta["continues"] = {"chosen": not c.terminal, "rejected": not r.terminal}
        out.append(
            PreferencePair(
                prompt=build_prompt(tree.problem.question, prefix),
                chosen=chosen,
                rejected=rejected,
                id=f"{tree.problem.id}-n{nid}",
                meta=meta,
            )
        )
    return out


# ----------------------------------------------------------------------------- PRM800K alternatives
def _as_step(text: str) -> tuple[str, bool]:
    """(text as the policy writes it, does the solution go on after it): a step that states the
    final answer ("# Answer") ends the solution, any other is followed by the step separator."""
    ends = "# Answer" in text
    return (text if ends else text + STEP_SEP), not ends


def pairs_from_prm800k(sol: Solution, max_pairs: int = 1) -> list[PreferencePair]:
    """Step-DPO pairs of one PRM800K solution: a +1 vs a -1 rated candidate at the same position,
    under the chosen prefix (no -1 step in it), earliest position first."""
    ratings = sol.meta["ratings"]
    by_step: dict[int, list[dict]] = defaultdict(list)
    for alt in sol.meta["alternatives"]:
        if not alt["human"] and alt["rating"] in (1, -1):
            by_step[alt["step"]].append(alt)
    out = []
    for i in sorted(by_step):
        if len(out) >= max_pairs or i > len(sol.steps) or -1 in ratings[:i]:
            break  # a prefix holding a wrong step is no ground for a preference
        good = sorted((a for a in by_step[i] if a["rating"] == 1), key=lambda a: not a["chosen"])
        bad = [a for a in by_step[i] if a["rating"] == -1]
        pair = next(((g, b) for g in good for b in bad if g["text"] != b["text"]), None)
        if pair is None:
            continue
        (chosen, c_goes_on), (rejected, r_goes_on) = _as_step(pair[0]["text"]), _as_step(pair[1]["text"])
        out.append(PreferencePair(
            prompt=build_prompt(sol.question, sol.steps[:i]), chosen=chosen, rejected=rejected,
            id=f"{sol.problem_id}-p{i}",
            meta={"source": "prm800k", "problem_id": sol.problem_id, "step": i,
                  "continues": {"chosen": c_goes_on, "rejected": r_goes_on}}))
    return out


def load_prm800k_pairs(path: str, max_per_problem: int = 1) -> list[PreferencePair]:
    """Step-DPO pairs of every labelled solution in a PRM800K file, each (prompt, chosen, rejected) once
    (a trajectory labelled twice would give the same pair twice)."""
    from hiero.reward.rows import load_prm800k

    out, seen = [], set()
    for sol in load_prm800k(path, "drop"):
        for p in pairs_from_prm800k(sol, max_per_problem):
            if (p.prompt, p.chosen, p.rejected) not in seen:
                seen.add((p.prompt, p.chosen, p.rejected))
                out.append(p)
    return out


# ----------------------------------------------------------------------------- preference files
def load_prefs(path: str, prefs_text: str = "original") -> list[PreferencePair]:
    """TRL-style rows, or the authors' decomposed file (through the data stage's converter)."""
    with open(path, encoding="utf-8") as f:
        head = f.readline()
    if '"output_a"' in head:
        from hiero.data.sources_text import convert_prefs

        pairs = convert_prefs(path, prefs_text=prefs_text).records
    else:
        pairs = list(read_jsonl(path, PreferencePair))
    for i, p in enumerate(pairs):
        p.chosen_segments, p.rejected_segments = (
            canonical_spans(p.chosen_segments),
            canonical_spans(p.rejected_segments),
        )
        p.id = p.id or f"prefs-{i}"
        p.meta = {**p.meta, "source": p.meta.get("source", "prefs")}
    return pairs


# ----------------------------------------------------------------------------- segments
def make_llm_segmenter(cfg: PairsConfig, names=DEFAULT_NAMES) -> LLMSegmenter:
    from hiero.preference.chat import make_chat_client

    client = make_chat_client(cfg.llm_base_url, cfg.llm_model)
    return LLMSegmenter(client=client, model=cfg.llm_model, cache_dir=Path(cfg.cache_dir) / "decompose",
                        mode=cfg.llm_mode, names=tuple(names))


def attach_segments(
    pairs: list[PreferencePair],
    segmenter: str,
    *,
    resegment: bool = False,
    llm: LLMSegmenter | None = None,
    names=DEFAULT_NAMES,
) -> dict:
    """Fill chosen/rejected segments in place; returns counts (segmented, llm fallbacks, empty segments)."""
    stats = {"segmented": 0, "llm_fallbacks": 0, "rewritten": 0}
    if segmenter == "none":
        return stats
    todo = [p for p in pairs if resegment or p.chosen_segments is None or p.rejected_segments is None]
    names = tuple(names)
    heuristic = HeuristicSegmenter(names=names)
    if segmenter == "llm":
        if llm is None:
            raise ValueError("--segmenter llm needs an LLM decomposer (--llm-base-url)")
        items = [(p.prompt, side) for p in todo for side in (p.chosen, p.rejected)]
        replies = llm.replies(items)
        for j, p in enumerate(todo):
            for side, reply in zip(("chosen", "rejected"), replies[2 * j:2 * j + 2], strict=True):
                text = getattr(p, side)
                try:
                    if isinstance(reply, SegmentError):
                        raise reply
                    if llm.mode == "rewrite":
                        from hiero.preference.segment import assemble

                        new, spans = assemble(reply, names)
                        p.meta = {**p.meta, f"original_{side}": text}
                        setattr(p, side, new)
                        stats["rewritten"] += 1
                    else:
                        from hiero.preference.segment import locate_quotes

                        spans = locate_quotes(text, reply, names)
                except SegmentError:
                    spans = heuristic.segment(p.prompt, text)
                    stats["llm_fallbacks"] += 1
                setattr(p, f"{side}_segments", spans)
            stats["segmented"] += 1
        return stats
    seg = SEGMENTERS[segmenter](names)
    for p in todo:
        p.chosen_segments = seg.segment(p.prompt, p.chosen)
        p.rejected_segments = seg.segment(p.prompt, p.rejected)
        stats["segmented"] += 1
    return stats


def segment_coverage(pairs: list[PreferencePair], names=DEFAULT_NAMES) -> dict[str, float]:
    """Fraction of pairs whose segment is non-empty on both sides (the pairs a HiPO term sees)."""
    out = {}
    for n in names:
        ok = sum(
            1
            for p in pairs
            if all(s and n in s and s[n][1] > s[n][0] for s in (p.chosen_segments, p.rejected_segments))
        )
        out[n] = round(ok / max(1, len(pairs)), 4)
    return out


def main(cfg: PairsConfig) -> dict:
    """Build, segment and write pairs; returns counts per source and segment coverage."""
    if not (cfg.solutions or cfg.trees or cfg.prefs or cfg.prm800k):
        raise ValueError("give at least one of --solutions, --trees, --prefs, --prm800k")
    problems = {p.id: p for p in read_jsonl(cfg.problems, Problem)} if cfg.problems else None
    pairs, counts = [], {}
    threshold, rm_note = None, ""
    if cfg.solutions:
        sols = load_solutions(cfg.solutions, problems)
        if cfg.by_segment:
            if cfg.rm or cfg.greedy:
                raise ValueError(
                    "--by-segment picks pairs by the domain's segment checks: drop --rm / --greedy"
                )
            if not problems:
                raise ValueError("--by-segment needs --problems (the problems the solutions answer)")
            new = pairs_from_segments(sols, problems, cfg.max_per_problem, cfg.seed)
            counts["by_segment"] = dict.fromkeys(SEGMENTS, 0) | Counter(p.meta["segment"] for p in new)
            if not new:
                raise ValueError(
                    f"--by-segment: no pair in {cfg.solutions}: no problem has a solution right in every "
                    f"segment and another wrong in exactly one ({len(sols)} solutions, "
                    f"{sum(bool(s.correct) for s in sols)} with the right answer)"
                )
        elif cfg.rm:
            greedy = {g.problem_id: g for g in load_solutions(cfg.greedy, problems)} if cfg.greedy else None
            scores, threshold = rm_min_scores(sols, cfg.rm, cfg.rm_threshold)
            new = pairs_from_scored_solutions(sols, scores, threshold, greedy, cfg.max_per_problem)
            rm_note = (f"; --rm {cfg.rm} at --rm-threshold {threshold:g} kept "
                       f"{sum(1 for s, v in zip(sols, scores) if s.correct and v >= threshold)} of "
                       f"{sum(1 for s in sols if s.correct)} correct solutions as chosen")
            counts["rejected_greedy"] = sum(p.meta["rejected_greedy"] for p in new)
        elif cfg.greedy:
            raise ValueError("--greedy picks the rejected side of reward-model pairs: pass --rm as well")
        else:
            new = pairs_from_solutions(sols, cfg.max_per_problem, cfg.seed)
        counts["solutions"] = len(new)
        pairs += new
    if cfg.trees:
        new = []
        for i, tree in enumerate(read_jsonl(cfg.trees, Tree)):
            new += pairs_from_tree(
                tree,
                min_gap=cfg.min_gap,
                prefix_min_mc=cfg.prefix_min_mc,
                response=cfg.tree_response,
                max_pairs=cfg.max_per_problem,
                seed=cfg.seed + i,
            )
        counts["trees"] = len(new)
        pairs += new
    if cfg.prm800k:
        new = load_prm800k_pairs(cfg.prm800k, cfg.max_per_problem)
        counts["prm800k"] = len(new)
        pairs += new
    if cfg.prefs:
        new = load_prefs(cfg.prefs, cfg.prefs_text)
        counts["prefs"] = len(new)
        pairs += new
    if not pairs:
        raise ValueError(
            "no pairs could be formed from the inputs (no problem with both a correct and an incorrect "
            "solution, no tree node with a large enough MC gap, no PRM800K step rated both +1 and -1; "
            f"PRM800K files go to --prm800k, not --solutions{rm_note})"
        )
    llm = make_llm_segmenter(cfg) if cfg.segmenter == "llm" else None
    seg_stats = attach_segments(pairs, cfg.segmenter, resegment=cfg.resegment, llm=llm)
    write_jsonl(cfg.out, pairs)
    missing = missing_segments([(p.chosen_segments, p.rejected_segments) for p in pairs], DEFAULT_NAMES)
    if cfg.segmenter != "none":
        warn_missing(missing, len(pairs), log)
    return {"out": cfg.out, "pairs": len(pairs), "by_source": counts, "rm_threshold": threshold, **seg_stats,
            "llm_calls": llm.calls if llm else 0, "segment_coverage": segment_coverage(pairs),
            "missing_segments": missing}
