"""Nothing hiero reads runs code: no pickle in checkpoints (tests/test_training.py plants one there),
the reference log-prob cache is read with weights_only=True, and no reader in hiero/ unpickles."""

import pickle
import re
import sys
from pathlib import Path

import pytest
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
    """Every torch.load passes weights_only=True; nothing calls pickle.load(s), nor Accelerate's
    save_state / load_state (which pickle; FSDP shards and DeepSpeed's ZeRO partitions go through
    hiero.checkpoint: tests/test_training_distributed.py)."""
    for path in HIERO.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"
        assert not re.search(r"pickle\.loads?\(|cloudpickle|dill\.load", text), path
        assert not re.search(r"\.(save|load)_state\(", text), path


def test_a_structured_state_rebuilds_only_its_listed_classes(tmp_path):
    """DeepSpeed's ZeRO state goes through hiero.checkpoint.structure_files: a file naming any other class
    (here one whose construction would run a command) is refused, and the class is never imported."""
    import json

    from hiero import checkpoint

    class Scaler:  # stands for DeepSpeed's loss scaler: a plain object with fields
        pass

    with pytest.raises(TypeError, match="cannot be stored without pickle"):
        checkpoint.structure_files({"scaler": Scaler()})
    state = {"step": 3, "groups": [torch.ones(2), (1.5, None)], 7: {"lr": 0.1}, "dtype": torch.float16}
    checkpoint.write_structure(tmp_path, "engine-0", state)
    back = checkpoint.read_structure(tmp_path, "engine-0")
    assert back.keys() == state.keys() and back[7] == {"lr": 0.1} and back["groups"][1] == (1.5, None)
    assert torch.equal(back["groups"][0], torch.ones(2)) and back["dtype"] is torch.float16
    meta = json.loads((tmp_path / "engine-0.json").read_text())
    meta["$dict"][0][1] = {"$object": "subprocess.Popen", "fields": {"args": "touch pwned"}}
    (tmp_path / "engine-0.json").write_text(json.dumps(meta))
    modules = set(sys.modules)
    with pytest.raises(ValueError, match="'subprocess.Popen', which hiero does not rebuild"):
        checkpoint.read_structure(tmp_path, "engine-0")
    assert not (tmp_path / "pwned").exists() and set(sys.modules) - modules == set()


def test_deepspeeds_fp16_loss_scaler_round_trips(tmp_path):
    """What ZeRO's state_dict holds under fp16: a DynamicLossScaler (with its dtype) and the stage enum."""
    pytest.importorskip("deepspeed", reason="DeepSpeed is in the dev extra")
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum

    from hiero import checkpoint

    scaler = DynamicLossScaler(init_scale=2.0**16, scale_window=1000, min_scale=1, delayed_shift=2,
                               consecutive_hysteresis=False, dtype=torch.half)
    scaler.cur_scale, scaler.cur_iter, scaler.last_overflow_iter = 2.0**15, 7, 5  # as after an overflow
    state = {"loss_scaler": scaler, "zero_stage": ZeroStageEnum.gradients}
    checkpoint.write_structure(tmp_path, "engine-0", state)
    back = checkpoint.read_structure(tmp_path, "engine-0")
    assert type(back["loss_scaler"]) is DynamicLossScaler and vars(back["loss_scaler"]) == vars(scaler)
    assert back["zero_stage"] is ZeroStageEnum.gradients
