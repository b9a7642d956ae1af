"""Where a command's problems come from, as one spec: a Problem JSONL file, or the built-in domain.

    --problems data/gsm8k_test.jsonl
    --problems synth                                   the built-in domain with the command's defaults
    --problems synth:n=200,seed=2,max_value=30,style=restate

The keys of a `synth:` spec are `n` (how many problems), `seed`, `split` (train | test: the two never
share a program) and the fields of `DomainSettings` (min_ops, max_ops, max_operand, max_factor,
max_value, style); a command that also writes noisy solutions takes its own keys too (`hiero eval
processbench --data synth:p_error=0.4,p_correction=0.2`). Unknown keys and values of the wrong type
are refused with the spec and the key named.

    >>> s = parse_synth("synth:n=3,max_value=30", n=100, seed=1)
    >>> (s.n, s.seed, s.split, s.domain.max_value)
    (3, 1, 'test', 30)
    >>> str(s)
    'synth:n=3,seed=1,split=test,max_value=30'
    >>> parse_synth("synth:n=3,max_vlaue=30", n=100, seed=1)
    Traceback (most recent call last):
    ...
    ValueError: --problems synth:n=3,max_vlaue=30: unknown key 'max_vlaue'; keys: n, seed, split, min_ops, ...
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

from hiero.config import config_from_dict
from hiero.data.io import DataError, read_jsonl
from hiero.domains.builtin import DomainSettings
from hiero.types import Problem

SYNTH = "synth"
_DEFAULT_DOMAIN = DomainSettings()


def is_synth(spec: str) -> bool:
    """Whether a problem-source spec names the built-in domain (`synth` or `synth:k=v,...`)."""
    return spec == SYNTH or spec.startswith(SYNTH + ":")


@dataclass(frozen=True)
class SynthSpec:
    """Built-in problems: `n` of them, drawn with `seed` from `split`, under `domain`'s settings; `extra`
    holds a command's own keys (noise rates of the solutions it writes)."""

    n: int
    seed: int
    split: str = "test"
    domain: DomainSettings = field(default_factory=DomainSettings)
    extra: dict = field(default_factory=dict)

    def problems(self) -> list[Problem]:
        return self.domain.problems(self.n, self.seed, self.split)

    def __str__(self) -> str:
        """The spec back as text, the domain's settings where they differ from the defaults."""
        dom = {k: v for k, v in dataclasses.asdict(self.domain).items() if getattr(_DEFAULT_DOMAIN, k) != v}
        items = {"n": self.n, "seed": self.seed, "split": self.split, **dom, **self.extra}
        return f"{SYNTH}:" + ",".join(f"{k}={v}" for k, v in items.items())


def synth_spec(domain: DomainSettings, n: int, seed: int, split: str = "test", **extra) -> str:
    """The spec of `n` problems of `domain` (the inverse of `parse_synth`)."""
    return str(SynthSpec(n, seed, split, domain, extra))


def parse_synth(spec: str, *, n: int, seed: int, split: str = "test", extra: dict | None = None,
                where: str = "--problems") -> SynthSpec:
    """A `synth[:k=v,...]` spec, with the command's defaults for `n`, `seed`, `split` and its own keys
    `extra` (name -> default)."""
    extra = dict(extra or {})
    hints = typing.get_type_hints(DomainSettings)
    domain_keys = [f.name for f in dataclasses.fields(DomainSettings)]
    # key -> how its text is read (a Literal field is read as text; config_from_dict checks its choices)
    types = {"n": int, "seed": int, "split": str,
             **{k: str if typing.get_origin(hints[k]) is typing.Literal else hints[k] for k in domain_keys},
             **{k: type(v) for k, v in extra.items()}}
    keys = list(types)
    given: dict[str, str] = {}
    body = spec[len(SYNTH) + 1:] if spec.startswith(SYNTH + ":") else ""
    for item in filter(None, (x.strip() for x in body.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"{where} {spec}: {item!r} is not key=value")
        if key not in keys:
            raise ValueError(f"{where} {spec}: unknown key {key!r}; keys: {', '.join(keys)}")
        given[key] = value.strip()
    typed: dict = {}
    for key, text in given.items():
        tp = types[key]
        try:
            typed[key] = tp(text)
        except ValueError:
            raise ValueError(f"{where} {spec}: {key}={text!r}: expected {tp.__name__}") from None
    if typed.get("split", split) not in ("train", "test"):
        raise ValueError(f"{where} {spec}: split={typed['split']!r}: expected train or test")
    domain = config_from_dict(DomainSettings, {k: typed[k] for k in domain_keys if k in typed},
                              source=f"{where} {spec}")
    n_value = typed.get("n", n)
    if n_value < 1:
        raise ValueError(f"{where} {spec}: n={n_value}: must be an integer >= 1")
    return SynthSpec(n_value, typed.get("seed", seed), typed.get("split", split), domain,
                     {k: typed.get(k, v) for k, v in extra.items()})


def read_problems(spec: str, *, n: int = 100, seed: int = 0, split: str = "test",
                  where: str = "--problems") -> list[Problem]:
    """The problems of a spec: a Problem JSONL file (every row checked, errors naming file and line), or
    the built-in domain (`synth[:k=v,...]`, the command's defaults for n / seed / split)."""
    if is_synth(spec):
        return parse_synth(spec, n=n, seed=seed, split=split, where=where).problems()
    problems = list(read_jsonl(spec, Problem))
    if not problems:
        raise DataError(spec, None, "no problems in the file")
    return problems
