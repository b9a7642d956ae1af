"""What `rm train` learns from is what `rm score` reads: identical token ids and label positions.

Rows are built the way the pipeline builds them: OmegaPRM-style binary-search trees grown by the
test oracle generator (`hiero annotate --mode bsearch`), then `hiero rm data` rows, PRM and HRM
(merged pairs, HNC copies), one row per node ("buckets") and one per sampled solution
("solutions"). For every row, the training encoding (`encode_rows`, the reward model built from
the base folder) must equal, byte for byte, the encoding of the scorer loaded back from the saved
folder (`load_scorer`, the `from_pretrained` path users take) for the same question and steps; in
marker and per-step mode. With prefix packing (marker mode) every labelled target must sit at the
end of exactly the ids the scorer builds for that step, and the model's output there must equal
the scorer's score of that step.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from hiero.domains import builtin as synth
from hiero.reward.collate import IGNORE_INDEX, collate_marker, pack_prefixes
from hiero.reward.model import RMSpec, build_reward_model, save_reward_model
from hiero.reward.rows import RowsConfig, rows_from_tree
from hiero.reward.scorer import load_scorer
from hiero.reward.train import encode_rows
from hiero.testing import make_tiny_base
from hiero.trees.bsearch import BSearchSettings, grow_bsearch
from hiero.trees.tree import check_tree, new_tree

PROBLEMS = synth.generate_problems(6, seed=21, split="train")


@pytest.fixture(scope="module")
def trees(synth_oracle):
    gen = synth_oracle(PROBLEMS, p_slip=0.35, seed=3)
    out = [new_tree(p) for p in PROBLEMS]
    grow_bsearch(out, gen, BSearchSettings(depth=8, step_tokens=64, samples=6, rollouts=2), seed=0)
    for t in out:
        check_tree(t)
    return out


def tree_rows(trees, kind: str, nodes: str) -> list[dict]:
    cfg = RowsConfig(kind=kind, out_dir="x", inputs=["x"], nodes=nodes, hard_label="any-correct")
    rows, counts = [], {}
    for t in trees:
        rows += rows_from_tree(t, cfg, counts)
    return rows


@pytest.fixture(scope="module")
def base(tmp_path_factory, trees):
    rows = tree_rows(trees, "hrm", "buckets")
    texts = [r["prompt"] for r in rows] + [s for r in rows for s in r["completions"]]
    return make_tiny_base(tmp_path_factory.mktemp("base"), texts, vocab_size=320)


def saved(base, tmp_path, spec: RMSpec):
    """(model + tokenizer as `rm train` builds them, the scorer loaded back from the saved folder)."""
    torch.manual_seed(0)
    model, tok = build_reward_model(base, spec)
    torch.nn.init.normal_(model.head.weight, std=1.0)  # scores that differ from step to step
    save_reward_model(model, tok, tmp_path / "rm")
    return model.eval(), tok, load_scorer(tmp_path / "rm", batch_size=7)


CASES = [("prm", "buckets"), ("hrm", "buckets"), ("prm", "solutions"), ("hrm", "solutions")]


@pytest.mark.parametrize("kind,nodes", CASES)
def test_marker_ids_and_positions_are_identical(trees, base, tmp_path, kind, nodes):
    rows = tree_rows(trees, kind, nodes)
    assert any(any(r["merged"]) for r in rows) == (kind == "hrm")
    model, tok, scorer = saved(base, tmp_path, RMSpec(kind=kind, scoring="marker", max_length=4096))
    train, counts = encode_rows(rows, tok, model.spec)
    assert counts["dropped_too_long"] == counts["dropped_unlabelled"] == 0 and len(train) == len(rows)
    score = scorer._encode_all([r["prompt"] for r in rows], [r["completions"] for r in rows], None)[0]
    for r, a, b in zip(rows, train, score, strict=True):
        assert a["input_ids"] == b["input_ids"], r["completions"]
        assert a["positions"] == b["positions"]
        assert len(a["positions"]) == len(r["completions"])
        assert all(a["input_ids"][p] == scorer.spec.marker_id for p in a["positions"])


@pytest.mark.parametrize("kind,nodes", CASES)
def test_per_step_ids_are_identical(trees, base, tmp_path, kind, nodes):
    rows = tree_rows(trees, kind, nodes)
    model, tok, scorer = saved(base, tmp_path, RMSpec(kind=kind, scoring="per-step", max_length=4096))
    train, counts = encode_rows(rows, tok, model.spec)
    assert counts["dropped_too_long"] == 0
    score = scorer._encode_all([r["prompt"] for r in rows], [r["completions"] for r in rows], None)[0]
    # the scorer encodes every step; training keeps the labelled ones, in row and step order
    labelled = []
    it = iter(score)
    for r in rows:
        for mask in r["label_mask"]:
            e = next(it)
            if mask:
                labelled.append(e["input_ids"])
    assert [e["input_ids"] for e in train] == labelled
    assert counts["labelled_steps"] == len(labelled) == sum(sum(r["label_mask"]) for r in rows)


@pytest.mark.parametrize("kind,nodes", [("hrm", "buckets"), ("prm", "buckets")])
def test_packed_targets_sit_where_the_scorer_scores_them(trees, base, tmp_path, kind, nodes):
    rows = tree_rows(trees, kind, nodes)
    model, tok, scorer = saved(base, tmp_path, RMSpec(kind=kind, scoring="marker", max_length=4096))
    train, _ = encode_rows(rows, tok, model.spec)
    packed = pack_prefixes(train)
    assert len(packed) < len(train)  # bucket rows of a tree share prefixes: packing does something

    # scorer side: for every labelled step of every row, (its ids up to its marker, target, score)
    prompts, sols = [r["prompt"] for r in rows], [r["completions"] for r in rows]
    enc = scorer._encode_all(prompts, sols, None)[0]
    scores = scorer.score(prompts, sols)
    want, want_score = Counter(), {}
    for e, ex, sc in zip(enc, train, scores, strict=True):
        for p, t, s in zip(e["positions"], ex["targets"], sc, strict=True):
            if t != IGNORE_INDEX:
                key = (tuple(e["input_ids"][:p + 1]), t)
                want[key] += 1
                want_score[key[0]] = s

    got = Counter()
    with torch.no_grad():
        for e in packed:
            out = model.outputs(collate_marker([e], tok.pad_token_id))[:, 0].tolist()
            for p, t, s in zip(e["positions"], e["targets"], out, strict=True):
                if t != IGNORE_INDEX:
                    key = (tuple(e["input_ids"][:p + 1]), t)
                    got[key] += 1
                    assert s == pytest.approx(
                        want_score[key[0]], abs=1e-5
                    )  # sigmoid/identity of the same head
    assert got == want


@pytest.mark.parametrize("marker", ["", "<|step_score|>"])
@pytest.mark.parametrize("kind,nodes", [("prm", "solutions"), ("hrm", "buckets")])
def test_likelihood_feature_tokens_are_identical(trees, base, tmp_path, kind, nodes, marker):
    """With --lm-features the step tokens each score reads (positions, predicting positions, owning
    marker) are built alike by `rm train` and `rm score`, and survive prefix packing."""
    rows = tree_rows(trees, kind, nodes)
    spec = RMSpec(kind=kind, scoring="marker", max_length=4096, lm_features=True, marker_token=marker)
    model, tok, scorer = saved(base, tmp_path, spec)
    train, _ = encode_rows(rows, tok, model.spec)
    score = scorer._encode_all([r["prompt"] for r in rows], [r["completions"] for r in rows], None)[0]
    keys = ("input_ids", "positions", "tok_pos", "tok_prev", "tok_step")
    for a, b in zip(train, score, strict=True):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    # a carrier holds its own tokens (packing moves targets only), and every row rides on a carrier
    # with the same steps: without a marker a merged step has the ids of the two it merges
    own = {(tuple(e["input_ids"]), tuple(e["positions"])): e for e in train}
    packed = pack_prefixes(train)
    for e in packed:
        assert {k: e[k] for k in keys} == {
            k: own[(tuple(e["input_ids"]), tuple(e["positions"]))][k] for k in keys
        }
    for e in train:
        n = len(e["input_ids"])
        assert any(
            c["input_ids"][:n] == e["input_ids"]
            and c["positions"][: len(e["positions"])] == e["positions"]
            and [t for t, s in zip(c["tok_pos"], c["tok_step"]) if s < len(e["positions"])] == e["tok_pos"]
            for c in packed
        )
