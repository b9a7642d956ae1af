"""Fingerprints are stable and sensitive to what matters; stage folders mark completion."""

from dataclasses import dataclass

from hiero.cache import StageCache, fingerprint, path_hash


@dataclass
class Cfg:
    a: int = 1
    b: str = "x"


def test_fingerprint_stable_and_sensitive():
    assert fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1})  # key order irrelevant
    assert fingerprint(Cfg()) == fingerprint({"a": 1, "b": "x"})
    assert fingerprint(Cfg(a=2)) != fingerprint(Cfg())


def test_path_hash_file_and_folder(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_text("one")
    h1 = path_hash(tmp_path / "d")
    (tmp_path / "d" / "f.txt").write_text("two")
    assert path_hash(tmp_path / "d") != h1
    assert path_hash(tmp_path / "d" / "f.txt") == path_hash(tmp_path / "d" / "f.txt")


def test_stage_cache_done_marker(tmp_path):
    cache = StageCache(tmp_path)
    d = cache.dir("annotate", {"seed": 0})
    assert d == cache.dir("annotate", {"seed": 0}) and d != cache.dir("annotate", {"seed": 1})
    assert not cache.is_done(d)
    cache.mark_done(d, {"trees": 3})
    assert cache.is_done(d) and cache.info(d)["trees"] == 3
