"""One parser for every stage's typed config: dataclass fields -> argparse flags, YAML -> dataclass.

A stage declares a flat dataclass whose fields carry their help text:

    @dataclass
    class HNCConfig:
        p: float = field(default=0.5, metadata={"help": "merge probability"})
        mode: Literal["bfs", "mcts"] = field(default="bfs", metadata={"help": "..."})

`add_config_args(parser, HNCConfig)` adds `--p`, `--mode {bfs,mcts}`, … (underscores become dashes)
plus `--config FILE.yaml`; `config_from_args(HNCConfig, args)` builds the config: dataclass
defaults < YAML file < flags given on the command line. Python users build the dataclass directly.
Supported field types: str, int, float, bool, Literal[...], Optional[...] of those, and list[int |
float | str] (comma-separated on the command line).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

C = TypeVar("C")
_UNSET = object()


def _unwrap_optional(tp):
    if get_origin(tp) in (Union, getattr(__import__("types"), "UnionType", Union)):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean, got {text!r}")


def _list_of(inner: type):
    """argparse type for a comma-separated list, with an error that names the bad item.

    >>> _list_of(int)("1,2, 4")
    [1, 2, 4]
    >>> _list_of(int)("1,2,8a")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: '8a' in '1,2,8a' is not an int (expected a comma-separated list of int)
    """
    def parse(text: str) -> list:
        out = []
        for item in (x.strip() for x in text.split(",")):
            if not item:
                continue
            try:
                out.append(inner(item))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{item!r} in {text!r} is not an {inner.__name__} "
                    f"(expected a comma-separated list of {inner.__name__})"
                ) from None
        return out
    parse.__name__ = f"list of {inner.__name__}"
    return parse


def _converter(tp) -> tuple[Any, dict]:
    """argparse `type=` and extra kwargs for a field type."""
    tp, _ = _unwrap_optional(tp)
    if get_origin(tp) is Literal:
        choices = get_args(tp)
        return type(choices[0]), {"choices": choices}
    if get_origin(tp) in (list, tuple):
        (inner,) = get_args(tp)[:1]
        return _list_of(inner), {}
    if tp is bool:
        return _parse_bool, {}
    if tp in (int, float, str):
        return tp, {}
    raise TypeError(f"unsupported config field type {tp!r}")


def add_config_args(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """Add one flag per field of dataclass `cls` (default unset so YAML values are not overridden)."""
    hints = typing.get_type_hints(cls)
    if not any(a.dest == "config" for a in parser._actions):
        parser.add_argument("--config", type=Path, default=None, help="YAML file with any of these settings")
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        conv, extra = _converter(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse formats help with %
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=conv,
            default=_UNSET,
            help=f"{help_text} (default: {str(default).replace('%', '%%')})",
            metavar=None if "choices" in extra else f.name.upper(),
            **extra,
        )


# int settings that count something a run needs at least one of, by name, in every stage's config: a
# value below 1 is refused where it enters (`--batch-size 0` used to reach a raw ZeroDivisionError)
POSITIVE_COUNTS = frozenset({
    "batch_size", "eval_batch_size", "ref_batch_size", "score_batch", "batch", "gen_batch", "batch_problems",
    "chunk_size", "pool_chunk", "grad_accum", "max_new_tokens", "step_tokens", "max_length", "max_len",
    "max_tokens_limit", "max_request_tokens", "max_concurrency", "n", "samples",
    "rollouts", "simulations", "children", "depth", "beam_width", "max_per_problem",
    "solutions_per_problem", "n_layers", "hidden", "heads", "vocab_size", "n_train", "n_test",
    "min_ops", "max_ops", "max_operand", "max_value", "min_children", "hnc_min_children",
})


def config_from_dict(cls: type[C], values: dict, *, source: str = "<dict>") -> C:
    """Build `cls` from a dict, rejecting unknown keys, values of the wrong type and counts below 1
    (`POSITIVE_COUNTS`)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{source}: unknown setting(s) {unknown} for {cls.__name__}; known: {sorted(names)}")
    checked = {}
    for key, value in values.items():
        tp, optional = _unwrap_optional(hints[key])
        if value is None and optional:
            checked[key] = None
            continue
        if get_origin(tp) is Literal and value not in get_args(tp):
            raise ValueError(f"{source}: field '{key}': {value!r} is not one of {list(get_args(tp))}")
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if (
            tp in (int, float, str, bool)
            and not isinstance(value, tp)
            or (tp is int and isinstance(value, bool))
        ):
            raise ValueError(f"{source}: field '{key}': expected {tp.__name__}, got {type(value).__name__}")
        if get_origin(tp) is list and isinstance(value, str):
            value = _converter(tp)[0](value)
        if tp is int and key in POSITIVE_COUNTS and value < 1:
            flag = "--" + key.replace("_", "-") if source == "command line" else f"field '{key}'"
            raise ValueError(f"{source}: {flag} {value}: must be an integer >= 1")
        checked[key] = value
    return cls(**checked)


def load_yaml(path: str | Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ValueError(
            f"{where}: YAML syntax error ({getattr(e, 'problem', None) or e}); fix the file"
        ) from None
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the file as UTF-8"
        ) from None
    except OSError as e:
        raise ValueError(f"--config {path}: {e.strerror}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of setting: value at the top level")
    return data


def given_values(cls: type, args: argparse.Namespace) -> dict:
    """The settings the user gave: --config YAML, then explicit flags over it (no defaults)."""
    cfg_path = getattr(args, "config", None)
    values: dict = load_yaml(cfg_path) if cfg_path is not None else {}
    for f in dataclasses.fields(cls):
        v = getattr(args, f.name, _UNSET)
        if v is not _UNSET:
            values[f.name] = v
    return values


def config_from_args(cls: type[C], args: argparse.Namespace) -> C:
    """dataclass defaults < --config YAML < explicit flags."""
    cfg_path = getattr(args, "config", None)
    return config_from_dict(
        cls, given_values(cls, args), source=str(cfg_path) if cfg_path else "command line"
    )
