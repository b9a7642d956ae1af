"""One way to name a reward model, wherever one is taken: `--rm SPEC` -> `load_scorer(SPEC)` -> a `Scorer`.

    DIR                       a model folder; its format is read from the folder (hiero.reward.public)
    FORMAT:DIR                the format forced (checked against the folder): hiero | qwen-prm |
                              token-classification | trl | math-shepherd | rlhflow | skywork
    FORMAT:DIR#k=v,k=v        with options: sep (separator / step tag), good, bad (the causal-LM formats'
                              tokens), join (rlhflow: question-to-first-step text), system (qwen-prm), and
                              the loading options dtype, device_map, max_tokens (as the flags below)
    scores:FILE               precomputed per-step scores (hiero.reward.precomputed); FILE may be a folder
                              of *.jsonl files (e.g. one per ProcessBench split), ids unique across them
    oracle                    the built-in domain's ground truth (synth problems only)

Used by `hiero rm score`, `eval processbench`, `eval prmbench`, `eval steps`, `eval bon` (as NAME=SPEC),
`po pairs` and `selftrain`. The loading flags every one of them has (`ScorerFlags`): --dtype
fp32|bf16|fp16|auto, --device-map '' | auto (accelerate's placement over every visible device, for a
72B PRM), --max-tokens (padded tokens per forward pass; 0 = --batch-size rows alone).

    >>> parse_spec("qwen-prm:/m/prm#dtype=bf16")
    ScorerSpec(kind='model', path='/m/prm', fmt='qwen-prm', options={'dtype': 'bf16'})
    >>> parse_spec("scores:pb.jsonl").kind, parse_spec("runs/hrm").fmt
    ('scores', 'auto')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hiero.data.io import DataError
from hiero.reward.base import Scored
from hiero.reward.precomputed import ScoreTable, read_scores
from hiero.reward.public import ALIASES, FORMAT_LIST, RM_FORMATS, canonical

LAYOUT_OPTIONS = {
    "sep": "separator",
    "good": "good_token",
    "bad": "bad_token",
    "join": "join",
    "system": "system",
}
LOAD_OPTIONS = ("dtype", "device_map", "max_tokens")
SPEC_HELP = ("reward model: DIR, FORMAT:DIR[#k=v,...] (FORMAT: " + FORMAT_LIST + "), scores:FILE or oracle")


@dataclass
class ScorerFlags:
    """How a reward model is loaded: the flags of every command that takes --rm."""

    dtype: Literal["fp32", "bf16", "fp16", "auto"] = field(default="fp32", metadata={
        "help": "reward-model weights dtype (auto: the checkpoint's)"})
    device_map: str = field(default="", metadata={
        "help": "'auto': spread the reward model over every visible device (accelerate); '' = --device"})
    max_tokens: int = field(default=16384, metadata={
        "help": "padded tokens per reward-model forward pass (bounds memory on long items; 0: rows alone)"})


@dataclass(frozen=True)
class ScorerSpec:
    kind: Literal["model", "scores", "oracle"]
    path: str = ""
    fmt: str = "auto"
    options: dict = field(default_factory=dict)


def parse_spec(text: str) -> ScorerSpec:
    """SPEC text -> ScorerSpec; ValueError naming what is wrong (see the module docstring)."""
    text = text.strip()
    if not text:
        raise ValueError(f"empty reward-model spec; expected {SPEC_HELP}")
    if text == "oracle":
        return ScorerSpec("oracle")
    head, colon, rest = text.partition(":")
    if colon and head == "scores":
        if not rest:
            raise ValueError("scores: needs a file, e.g. scores:SCORES.jsonl")
        return ScorerSpec("scores", rest)
    fmt, path = ("auto", text)
    if colon and (head in RM_FORMATS or head in ALIASES):
        fmt, path = canonical(head), rest
    path, hash_, opts = path.partition("#")
    options = {}
    if hash_:
        for item in opts.split(","):
            k, eq, v = item.partition("=")
            if not eq or (k not in LAYOUT_OPTIONS and k not in LOAD_OPTIONS):
                known = ", ".join([*LAYOUT_OPTIONS, *LOAD_OPTIONS])
                raise ValueError(
                    f"reward-model spec {text!r}: option {item!r} is not KEY=VALUE with KEY one of {known}"
                )
            options[k] = v
    if not path:
        raise ValueError(f"reward-model spec {text!r} names no folder")
    return ScorerSpec("model", path, fmt, options)


class PrecomputedScorer:
    """Scores read from a file (or a folder of files) and looked up by item id: a `Scorer` for `score_items`.

    A missing id or a row of the wrong length is a DataError naming the file, line, id and field: a
    precomputed file that does not match the data is an input error, not an unscorable item.
    """

    precomputed = True

    def __init__(self, path: str):
        self.path = path
        p = Path(path)
        files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
        if p.is_dir() and not files:
            raise DataError(path, None, "a scores folder needs *.jsonl files")
        self.table = ScoreTable(path)
        kinds = {}
        for f in files:
            t = read_scores(f)
            kinds[str(f)] = t.kind
            for rid, row in t.rows.items():
                if rid in self.table.rows:
                    raise DataError(f, row[0], f"field 'id': {rid!r} is also in another file of {path}")
                self.table.rows[rid] = row
        if len(set(kinds.values())) > 1:
            raise DataError(path, None, f"files of different kinds: {kinds}")
        self.kind = self.table.kind = next(iter(kinds.values()), "prm")
        # a file says nothing of its scores' meaning: probabilities if every value lies in [0, 1]
        values = [x for _, sc in self.table.rows.values() if sc for x in sc]
        self.probability = all(0.0 <= x <= 1.0 for x in values)
        self.scale = ("values in [0, 1], read as P(step right)" if self.probability else
                      f"values in [{min(values):.4g}, {max(values):.4g}] in {path}, not probabilities")

    def score(self, questions, solutions):
        raise ValueError(f"{self.path}: precomputed scores are looked up by item id; this use gives none")

    def score_items(self, questions, solutions, ids) -> Scored:
        scores = self.table.lookup(list(ids), [len(s) for s in solutions], data="the data")
        return Scored(
            scores, {str(i): f"marked skipped in {self.path}" for i, s in zip(ids, scores) if s is None}
        )


def load_scorer(
    spec: str,
    *,
    batch_size: int = 32,
    device: str = "auto",
    dtype: str = "fp32",
    device_map: str = "",
    max_tokens: int = 0,
    progress: bool = False,
    problems: list | None = None,
):
    """SPEC -> a Scorer: hiero's own reward model, a public PRM, precomputed scores or the oracle."""
    from hiero.reward.public import load_public_scorer
    from hiero.reward.rm_scorer import RMScorer, resolve_device

    s = parse_spec(str(spec))
    if s.kind == "oracle":
        from hiero.reward.oracle import OracleScorer

        return OracleScorer(problems or [])
    if s.kind == "scores":
        return PrecomputedScorer(s.path)
    if not Path(s.path).is_dir():
        hint = (
            " (a hub id? hiero loads local folders only: download it first)" if s.path.count("/") == 1 else ""
        )
        raise FileNotFoundError(f"{s.path}: reward-model folder not found{hint}")
    opts = dict(s.options)
    dtype, device_map = opts.pop("dtype", dtype), opts.pop("device_map", device_map)
    max_tokens = int(opts.pop("max_tokens", max_tokens))
    from hiero.reward.model import SPEC_FILE, load_reward_model

    own = (Path(s.path) / SPEC_FILE).exists()
    fmt = (
        ("hiero" if own else "auto") if s.fmt == "auto" else s.fmt
    )  # a public folder is read once, by its loader
    if fmt == "hiero":
        if not own:
            raise ValueError(
                f"{s.path}: hiero:DIR needs a folder `hiero rm train` wrote ({SPEC_FILE} missing)"
            )
        if opts:
            raise ValueError(f"{spec}: options {sorted(opts)} apply to public formats only")
        model, tokenizer, rspec = load_reward_model(s.path, device=resolve_device(device))
        return RMScorer(
            model, tokenizer, rspec, batch_size=batch_size, max_tokens=max_tokens, progress=progress
        )
    layout = {LAYOUT_OPTIONS[k]: v for k, v in opts.items()}
    return load_public_scorer(s.path, fmt, **layout, batch_size=batch_size, max_tokens=max_tokens,
                              device=resolve_device(device), dtype=dtype, device_map=device_map or None,
                              progress=progress)


def load_named(specs: list[str], reserved: tuple[str, ...] = (), **kw) -> dict:
    """NAME=SPEC items (`eval bon --rm`) -> {name: Scorer}; a bare SPEC is named after its folder or file."""
    out: dict = {}
    for item in specs:
        name, eq, spec = item.partition("=")
        if not eq or not re.fullmatch(r"[\w.+-]+", name):  # "=" inside a spec's options is no name
            s = parse_spec(item)
            name, spec = ("oracle" if s.kind == "oracle" else Path(s.path.rstrip("/")).stem), item
        if not name or not spec:
            raise ValueError(f"--rm expects NAME=SPEC or SPEC, got {item!r}")
        if name in out or name in reserved:
            raise ValueError(f"--rm name {name!r} is used twice or reserved")
        out[name] = load_scorer(spec, **kw)
    return out
