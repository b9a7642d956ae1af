"""Problems as stories: a program told from varied templates (characters, objects, verbs)."""

from __future__ import annotations

import random

from hiero.domains.builtin.program import STYLES, program_hash, run_program, sample_program, split_of
from hiero.domains.builtin.writing import solve
from hiero.types import Problem

# (name, pronoun) and (singular, plural) objects: the story varies, the program does not
NAMES = [("Sam", "he"), ("Mia", "she"), ("Leo", "he"), ("Ava", "she"), ("Ben", "he"), ("Zoe", "she"),
         ("Max", "he"), ("Lily", "she"), ("Omar", "he"), ("Nina", "she"), ("Raj", "he"), ("Emma", "she")]
OBJECTS = [("marble", "marbles"), ("sticker", "stickers"), ("apple", "apples"), ("coin", "coins"),
           ("cookie", "cookies"), ("pencil", "pencils"), ("card", "cards"), ("shell", "shells"),
           ("stamp", "stamps"), ("book", "books"), ("toy car", "toy cars"), ("balloon", "balloons")]
OPENINGS = ["{Name} has {n} {objs}.", "{Name} starts the day with {n} {objs}.",
            "There are {n} {objs} in {name}'s box.", "{Name} owns {n} {objs}."]
FIRST_CONNECTORS = ["{Subj}", "Then {subj}"]  # the first event directly follows the opening
CONNECTORS = ["{Subj}", "Then {subj}", "Next, {subj}", "After that, {subj}", "Later, {subj}"]
VERBS = {  # {k_objs}: k with the right noun form; {Subj}: name or pronoun (verbs are 3rd person)
    "+": [
        "{subj} buys {k} more {k_objs}.",
        "{subj} finds {k} more {k_objs}.",
        "{subj} wins {k} {k_objs} in a game.",
        "{subj} gets {k} {k_objs} from a friend.",
    ],
    "-": [
        "{subj} gives away {k} {k_objs}.",
        "{subj} loses {k} {k_objs}.",
        "{subj} sells {k} {k_objs}.",
        "{subj} trades away {k} {k_objs}.",
    ],
    "*2": [
        "{subj} doubles the number of {objs}.",
        "{subj} collects more until {pron} has twice as many {objs}.",
    ],
    "*3": [
        "{subj} triples the number of {objs}.",
        "{subj} collects more until {pron} has three times as many {objs}.",
    ],
    "*": ["{subj} collects more until {pron} has {k} times as many {objs}."],
    "/2": [
        "{subj} gives away half of the {objs}.",
        "{subj} splits the {objs} into 2 equal piles and keeps one pile.",
    ],
    "/3": [
        "{subj} keeps only a third of the {objs}.",
        "{subj} splits the {objs} into 3 equal piles and keeps one pile.",
    ],
    "/": [
        "{subj} splits the {objs} into {k} equal piles and keeps one pile.",
        "{subj} packs the {objs} evenly into {k} bags and keeps one bag.",
    ],
}
QUESTIONS = ["How many {objs} does {name} have now?", "How many {objs} does {name} have in the end?"]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _render_question(rng: random.Random, program: dict, name: str, pron: str, objs: tuple[str, str]) -> str:
    one, many = objs
    fill = {"Name": name, "name": name, "objs": many, "pron": pron}
    parts = [rng.choice(OPENINGS).format(n=program["start"], **fill)]
    parts[0] = _cap(parts[0])
    for i, (op, k) in enumerate(program["ops"]):
        key = op + str(k) if op + str(k) in VERBS else op
        subj = name if i == 0 or rng.random() < 0.4 else pron
        lead = rng.choice(CONNECTORS if i else FIRST_CONNECTORS).format(Subj=subj, subj=subj)
        sentence = rng.choice(VERBS[key]).format(subj=lead, k=k, k_objs=one if k == 1 else many, **fill)
        parts.append(_cap(sentence))
    parts.append(rng.choice(QUESTIONS).format(**fill))
    return " ".join(parts)


def _check_difficulty(min_ops: int, max_ops: int, max_operand: int, max_factor: int, max_value: int) -> None:
    if not 1 <= min_ops <= max_ops:
        raise ValueError(f"need 1 <= min_ops <= max_ops, got min_ops={min_ops}, max_ops={max_ops}")
    if max_operand < 1 or max_factor < 2 or max_value < 3:
        raise ValueError(f"need max_operand >= 1, max_factor >= 2, max_value >= 3; got "
                         f"{max_operand}, {max_factor}, {max_value}")


def generate_problems(n: int, seed: int, split: str = "train", min_ops: int = 2, max_ops: int = 3,
                      max_operand: int = 9, *, max_factor: int = 3, max_value: int = 99,
                      style: str = "plain") -> list[Problem]:
    """`n` distinct problems of `split`, deterministic in all arguments.

    Programs are drawn at random and kept only if they belong to `split` (hash bucket); a question
    text already in the set is drawn again. Programs themselves may repeat under different stories:
    deduplicating programs would starve the small 2-operation space and make the test split (10% of
    the programs) skew towards long problems. ids are "synth-<split>-<seed>-<i>";
    meta["program"] = {"start", "ops"}. `style` changes how the reference steps are written
    (meta["style"], set only for "restate"), never which problems are drawn.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    _check_difficulty(min_ops, max_ops, max_operand, max_factor, max_value)
    # str seeds hash with sha512 inside `random`, so this is stable across runs and machines
    rng = random.Random(
        f"hiero-synth|{seed}|{split}|{min_ops}|{max_ops}|{max_operand}|{max_factor}|{max_value}"
    )
    problems: list[Problem] = []
    seen: set[str] = set()
    misses = 0  # draws in a row that gave nothing new: a long run means the space is used up
    while len(problems) < n:
        if misses > 5000:
            raise ValueError(f"only {len(problems)} distinct {split} problems found for n={n} with "
                             f"{min_ops}-{max_ops} ops, max_operand={max_operand}: widen the settings")
        program = sample_program(rng, rng.randint(min_ops, max_ops), max_operand, max_factor, max_value)
        h = program_hash(program)
        if split_of(h) != split:
            misses += 1
            continue
        name, pron = rng.choice(NAMES)
        objs = rng.choice(OBJECTS)
        question = _render_question(rng, program, name, pron, objs)
        if question in seen:
            misses += 1
            continue
        seen.add(question)
        misses = 0
        values = run_program(program)
        problem = Problem(
            id=f"synth-{split}-{seed}-{len(problems)}",
            question=question,
            answer=str(values[-1]),
            source="synth",
            meta={"program": program, "name": name, "object": objs[1], "hash": h[:16], "split": split,
                  **({"style": style} if style != "plain" else {})},
        )
        problem.steps = solve(problem)
        problems.append(problem)
    return problems
