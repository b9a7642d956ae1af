"""Nothing hiero reads runs code: no pickle in checkpoints (tests/test_training.py plants one there),
the reference log-prob cache is read with weights_only=True, and no reader in hiero/ unpickles."""

import pickle
import re
import sys
from pathlib import Path

import torch

from hiero.cache import StageCache
from hiero.data.io import write_jsonl
from hiero.preference import train as po
from hiero.preference.train import POTrainConfig

sys.path.insert(0, str(Path(__file__).parent / "preference"))
import po_helpers as H  # noqa: E402

HIERO = Path(__file__).resolve().parents[1] / "hiero"


class Planted:
    """Unpickling this creates a file (it stands for any command a planted pickle could run)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_planted_reference_cache_is_refused_and_recomputed(tmp_path):
    tok = H.make_tokenizer(tmp_path / "tok")
    H.make_model(tmp_path / "policy", tok, seed=0)
    write_jsonl(tmp_path / "pairs.jsonl", H.synth_pairs(4))
    cfg = POTrainConfig(
        model=str(tmp_path / "policy"),
        pairs=str(tmp_path / "pairs.jsonl"),
        out=str(tmp_path / "a"),
        max_steps=1,
        batch_size=2,
        ref_cache_dir=str(tmp_path / "cache"),
    )
    first = po.main(cfg)
    assert first["ref_cache"] == "miss"
    cache = StageCache(cfg.ref_cache_dir).dir("ref_logps", po.ref_cache_key(cfg))
    good = torch.load(cache / "ref_logps.pt", weights_only=True)
    sentinel = tmp_path / "pwned"
    (cache / "ref_logps.pt").write_bytes(pickle.dumps({"ids": good["ids"], "logps": Planted(sentinel)}))
    second = po.main(POTrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "b")}))
    assert not sentinel.exists()
    assert second["ref_cache"] == "miss"  # refused, recomputed and rewritten
    torch.testing.assert_close(torch.load(cache / "ref_logps.pt", weights_only=True)["logps"], good["logps"])


def test_no_reader_in_hiero_unpickles():
    """Every torch.load passes weights_only=True; nothing calls pickle.load(s). (Accelerate's load_state is
    called only under DeepSpeed / FSDP, for the engine's own shards: hiero/checkpoint.py.)"""
    for path in HIERO.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"
        assert not re.search(r"pickle\.loads?\(|cloudpickle|dill\.load", text), path
