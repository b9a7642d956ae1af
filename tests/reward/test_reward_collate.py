"""Label placement in marker mode: where each step's marker and label land, edge cases included."""

import pytest
import torch
from transformers import AutoTokenizer

from hiero.reward.base import token_batches
from hiero.reward.collate import (
    MARKER_TOKEN,
    add_marker,
    collate_marker,
    collate_pooled,
    encode_marker,
    marker_prompt,
    per_step_prompt,
    rm_template,
    row_targets,
)
from hiero.reward.model import RMSpec
from hiero.reward.train import encode_rows
from hiero.testing import make_tiny_base
from hiero.types import IGNORE_INDEX

TEXTS = [
    "Sam has 7 apples. He buys 5 more apples. How many apples does Sam have now?",
    "Sam starts with 7 apples.",
    "7 + 5 = 12",
    "The answer is 12",
    "12 * 3 = 36",
    "Check: 7 + 5 = 12, not 13.",
] * 30


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    base = make_tiny_base(tmp_path_factory.mktemp("base"), TEXTS, vocab_size=300)
    t = AutoTokenizer.from_pretrained(base)
    return t, add_marker(t)


def _between(ids, positions):
    """Token spans between consecutive markers (the first after the prompt)."""
    starts = [None] + [p + 1 for p in positions[:-1]]
    return [ids[s:p] for s, p in zip(starts, positions, strict=True)]


def test_marker_is_one_unsplit_token(tok):
    t, mid = tok
    assert t.encode(MARKER_TOKEN, add_special_tokens=False) == [mid]
    # the tokenizer keeps the special token whole inside running text when asked to parse specials
    assert mid in t("a" + MARKER_TOKEN + "b", add_special_tokens=False)["input_ids"]
    assert add_marker(t) == mid  # idempotent: a second call adds nothing
    assert len(t) == mid + 1


def test_marker_after_every_step_and_step_text_round_trips(tok):
    """Multi-token steps: the ids between markers decode to exactly the step text + "\\n"."""
    t, mid = tok
    steps = ["Sam starts with 7 apples.", "7 + 5 = 12", "The answer is 12"]
    ids, pos = encode_marker(t, "How many?", steps, mid, rm_template())
    assert len(pos) == 3 and [ids[p] for p in pos] == [mid] * 3
    assert ids.count(mid) == 3 and pos[-1] == len(ids) - 1
    spans = _between(ids, pos)
    for span, step in zip(spans[1:], steps[1:], strict=True):
        assert len(span) > 1  # really multi-token
        assert t.decode(span) == step + "\n"
    assert t.decode(ids[:pos[0]]).endswith(steps[0] + "\n")
    assert t.decode(ids[:pos[0]]).startswith(marker_prompt("How many?", rm_template()))


def test_prefix_property(tok):
    """The ids of steps[:k] are a prefix of the ids of steps: the basis of one-pass scoring."""
    t, mid = tok
    steps = ["7 + 5 = 12", "12 * 3 = 36", "The answer is 36"]
    full, pos = encode_marker(t, "Q?", steps, mid, rm_template())
    for k in range(1, 4):
        ids, p = encode_marker(t, "Q?", steps[:k], mid, rm_template())
        assert full[:len(ids)] == ids and p == pos[:k]


def test_literal_marker_text_in_a_step_is_not_the_marker(tok):
    t, mid = tok
    steps = [f"I write {MARKER_TOKEN} here", f"{MARKER_TOKEN}", "The answer is 12 <|endoftext|>"]
    ids, pos = encode_marker(t, f"Q {MARKER_TOKEN}?", steps, mid, rm_template())
    assert ids.count(mid) == 3 and [ids[p] for p in pos] == [mid] * 3
    assert t.eos_token_id not in ids  # the eos string in text is text too
    assert t.decode(_between(ids, pos)[1]) == MARKER_TOKEN + "\n"


def test_orm_has_one_marker_after_the_last_step(tok):
    t, mid = tok
    ids, pos = encode_marker(t, "Q?", ["7 + 5 = 12", "The answer is 12"], mid, rm_template(), orm=True)
    assert pos == [len(ids) - 1] and ids.count(mid) == 1


def test_truncation_drops_the_row_and_counts_it(tok):
    t, mid = tok
    steps = ["7 + 5 = 12", "The answer is 12"]
    ids, _ = encode_marker(t, "Q?", steps, mid, rm_template())
    assert encode_marker(t, "Q?", steps, mid, rm_template(), max_length=len(ids)) is not None
    assert (
        encode_marker(t, "Q?", steps, mid, rm_template(), max_length=len(ids) - 1) is None
    )  # last marker cut
    spec = RMSpec(scoring="marker", marker_id=mid, max_length=len(ids), template=rm_template())
    rows = [{"prompt": "Q?", "completions": steps, "labels": [True, False]},
            {"prompt": "Q?", "completions": steps + ["12 * 3 = 36"], "labels": [True, False, True]}]
    examples, counts = encode_rows(rows, t, spec)
    assert counts["dropped_too_long"] == 1 and counts["examples"] == 1 and len(examples) == 1


def test_merged_steps_and_label_mask_keep_ignore_index(tok):
    """An HRM row: the merged step s1 ⊕ s2 is one step with one marker carrying its own label;
    steps outside label_mask get -100 (a float, never a bool that would read as label 1)."""
    t, mid = tok
    row = {
        "prompt": "Q?",
        "completions": ["7 + 5 = 12", "12 * 3 = 36\nThe answer is 36"],
        "labels": [True, False],
        "soft_labels": [1.0, 0.25],
        "merged": [False, True],
        "label_mask": [False, True],
    }
    assert row_targets(row, "soft") == [-100.0, 0.25]
    assert row_targets(row, "hard") == [-100.0, 0.0]
    spec = RMSpec(scoring="marker", marker_id=mid, max_length=512, template=rm_template())
    examples, counts = encode_rows([row], t, spec)
    ex = examples[0]
    assert len(ex["positions"]) == 2 and ex["targets"] == [-100.0, 0.25] and counts["labelled_steps"] == 1
    assert t.decode(_between(ex["input_ids"], ex["positions"])[1]) == "12 * 3 = 36\nThe answer is 36\n"
    batch = collate_marker(examples, t.pad_token_id)
    assert batch["targets"].dtype == torch.float32 and batch["targets"].tolist() == [-100.0, 0.25]
    assert (batch["targets"] == IGNORE_INDEX).sum() == 1


def test_orm_rows_use_the_last_label_and_unlabelled_rows_are_counted(tok):
    t, mid = tok
    spec = RMSpec(kind="orm", scoring="marker", marker_id=mid, template=rm_template())
    rows = [{"prompt": "Q?", "completions": ["a", "b"], "labels": [True, False]},
            {"prompt": "Q?", "completions": ["a", "b"], "labels": [True, True], "label_mask": [True, False]}]
    examples, counts = encode_rows(rows, t, spec)
    assert [e["targets"] for e in examples] == [[0.0]] and counts["dropped_unlabelled"] == 1


def test_collate_right_pads_and_indexes_markers():
    ex = [{"input_ids": [5, 6, 9], "positions": [2], "targets": [1.0]},
          {"input_ids": [5, 9, 7, 9], "positions": [1, 3], "targets": [0.0, -100.0]}]
    b = collate_marker(ex, pad_id=0)
    assert b["input_ids"].tolist() == [[5, 6, 9, 0], [5, 9, 7, 9]]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert b["batch_idx"].tolist() == [0, 1, 1] and b["pos_idx"].tolist() == [2, 1, 3]
    p = collate_pooled([{"input_ids": [1], "target": 0.5}, {"input_ids": [1, 2], "target": 1.0}], pad_id=0)
    assert p["input_ids"].tolist() == [[1, 0], [1, 2]] and p["targets"].tolist() == [0.5, 1.0]
    assert token_batches([3, 9, 1, 7], 3) == [[1, 3, 0], [2]]


def test_official_per_step_prompt():
    t = rm_template()
    first = per_step_prompt("What is 2+3?", ["2 + 3 = 5", "The answer is 5"], 0, t)
    assert (
        first
        == "Question:\nWhat is 2+3?\n\nLet's break it down step by step!\n\nNow, let's focus on the current "
           "step:\n2 + 3 = 5"
    )
    second = per_step_prompt("What is 2+3?", ["2 + 3 = 5", "The answer is 5"], 1, t)
    assert (
        "Previous reasoning:\n2 + 3 = 5\n\nNow, let's focus on the current step:\nThe answer is 5" in second
    )
