"""Prefix packing: rows that are prefixes of longer rows are scored inside the longer row's pass.

Exactness is checked against the unpacked computation on rows built the way the pipeline builds
them (a tree of noisy solutions -> `hiero rm data` rows), on a real tiny model: the same
step-weighted eval loss and the same score at every labelled step, from fewer sequences.
"""

from __future__ import annotations

import random

import pytest
import torch

from hiero.domains import builtin as synth
from hiero.reward.collate import IGNORE_INDEX, collate_marker, pack_prefixes
from hiero.reward.model import RMSpec, build_reward_model
from hiero.reward.rows import RowsConfig, rows_from_tree
from hiero.reward.train import LOSSES, encode_rows, evaluate
from hiero.testing import make_tiny_base, tree_from_solutions
from hiero.trees.tree import check_tree
from hiero.types import Tree


def solution_tree(problem, n: int, seed: int) -> Tree:
    rng = random.Random(seed)
    tree = tree_from_solutions(
        problem, [synth.render_noisy_solution(problem, rng, 0.4, 0.3) for _ in range(n)]
    )
    check_tree(tree)
    return tree


@pytest.fixture(scope="module")
def rows():
    out, counts = [], {}
    for i, p in enumerate(synth.generate_problems(12, 3, "train")):
        out += rows_from_tree(
            solution_tree(p, 8, i), RowsConfig(kind="hrm", out_dir="x", inputs=["x"]), counts
        )
    return out


@pytest.fixture(scope="module")
def model_and_spec(tmp_path_factory, rows):
    texts = [r["prompt"] for r in rows] + [s for r in rows for s in r["completions"]]
    base = make_tiny_base(tmp_path_factory.mktemp("base"), texts, vocab_size=320)
    torch.manual_seed(0)
    model, tok = build_reward_model(base, RMSpec(kind="hrm", loss="mse", max_length=4096))
    torch.nn.init.normal_(model.head.weight, std=1.0)
    return model.eval(), tok, model.spec


def test_packing_is_exact_on_tree_rows(rows, model_and_spec):
    model, tok, spec = model_and_spec
    examples, _ = encode_rows(rows, tok, spec)
    packed = pack_prefixes(examples)
    assert len(packed) < 0.8 * len(examples)  # tree rows overlap a lot
    n_lab = lambda exs: sum(t != IGNORE_INDEX for e in exs for t in e["targets"])  # noqa: E731
    assert n_lab(packed) == n_lab(examples)
    a = evaluate(model, examples, spec, tok.pad_token_id, 16)
    b = evaluate(model, packed, spec, tok.pad_token_id, 16)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-6) and a["n_steps"] == b["n_steps"]  # fp32 order

    def labelled_scores(exs):  # (ids up to the marker, target) -> score
        out = {}
        with torch.no_grad():
            for e in exs:
                h = model.outputs(collate_marker([e], tok.pad_token_id))[:, 0]
                for p, t, s in zip(e["positions"], e["targets"], h.tolist(), strict=True):
                    if t != IGNORE_INDEX:
                        out[(tuple(e["input_ids"][:p + 1]), t)] = s
        return out

    sa, sb = labelled_scores(examples), labelled_scores(packed)
    assert sa.keys() == sb.keys()
    assert max(abs(sa[k] - sb[k]) for k in sa) < 1e-5


def test_conflicting_labels_and_orm_stay_apart():
    x = {"input_ids": [1, 2, 9, 3, 9], "positions": [2, 4], "targets": [0.25, IGNORE_INDEX]}
    y = {"input_ids": [1, 2, 9], "positions": [2], "targets": [0.75]}  # same marker, other label
    z = {"input_ids": [1, 2, 9, 3, 9], "positions": [4], "targets": [1.0]}  # ORM-style, same ids
    out = pack_prefixes([x, y, z])
    assert len(out) == 2 and sorted(len(e["input_ids"]) for e in out) == [3, 5]
    five = next(e for e in out if len(e["input_ids"]) == 5)
    assert five["targets"] == [0.25, 1.0]  # z's label moved onto x's last marker
    assert x["targets"] == [0.25, IGNORE_INDEX]  # inputs are not modified


def test_loss_names_cover_the_packed_targets():
    assert {"mse", "soft_ce", "hard_ce"} <= set(LOSSES)
