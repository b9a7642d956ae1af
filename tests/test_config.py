"""The one config parser: dataclass fields -> flags, YAML -> dataclass, precedence and errors."""

import argparse
from dataclasses import dataclass, field
from typing import Literal

import pytest

from hiero.config import add_config_args, config_from_args, config_from_dict


@dataclass
class Demo:
    p: float = field(default=0.5, metadata={"help": "merge probability"})
    mode: Literal["bfs", "mcts"] = field(default="bfs", metadata={"help": "search mode"})
    n: list[int] = field(default_factory=lambda: [1, 2], metadata={"help": "values of N"})
    flag: bool = field(default=False, metadata={"help": "a switch"})
    name: str | None = field(default=None, metadata={"help": "optional"})


def parse(argv):
    parser = argparse.ArgumentParser()
    add_config_args(parser, Demo)
    return config_from_args(Demo, parser.parse_args(argv))


def test_defaults_flags_and_types():
    assert parse([]) == Demo()
    cfg = parse(["--p", "0.25", "--mode", "mcts", "--n", "1,4,16", "--flag", "true", "--name", "x"])
    assert cfg == Demo(p=0.25, mode="mcts", n=[1, 4, 16], flag=True, name="x")


def test_yaml_then_flags_precedence(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("p: 0.1\nmode: mcts\nn: [8]\n")
    assert parse(["--config", str(y)]) == Demo(p=0.1, mode="mcts", n=[8])
    # an explicit flag beats the file, the file beats the default
    assert parse(["--config", str(y), "--p", "0.9"]) == Demo(p=0.9, mode="mcts", n=[8])


def test_bad_values_are_named(tmp_path):
    with pytest.raises(SystemExit):
        parse(["--mode", "dfs"])  # argparse rejects choices outside the Literal
    y = tmp_path / "bad.yaml"
    y.write_text("mode: dfs\n")
    with pytest.raises(ValueError, match="field 'mode'"):
        parse(["--config", str(y)])
    with pytest.raises(ValueError, match="unknown setting"):
        config_from_dict(Demo, {"q": 1})
    with pytest.raises(ValueError, match="field 'p': expected float, got str"):
        config_from_dict(Demo, {"p": "high"})
    assert config_from_dict(Demo, {"p": 1}).p == 1.0  # YAML ints are fine for float fields


def test_counts_below_one_are_refused_where_they_enter(capsys):
    """`rm score --batch-size 0` (and every other count a run needs one of) is a one-line error naming
    the flag, exit 2, before any work; a count's 0 that means "auto" (intermediate, workers) stays allowed."""
    from hiero.cli import main as cli
    from hiero.config import POSITIVE_COUNTS

    for argv in (["rm", "score", "--rm", "x", "--input", "y", "-o", "z", "--batch-size", "0"],
                 ["policy", "sample", "--policy", "x", "--problems", "y", "-o", "z", "--max-new-tokens", "0"],
                 ["annotate", "--policy", "x", "--problems", "y", "-o", "z", "--children", "-1"],
                 ["eval", "bon", "--policy", "x", "--beam-width", "0", "-o", "z"]):
        assert cli(argv) == 2, argv
        err = capsys.readouterr().err
        flag = next(a for a in argv if a.startswith("--") and argv[argv.index(a) + 1] in ("0", "-1"))
        assert f"{flag} " in err and "must be an integer >= 1" in err, err
    assert not {"intermediate", "workers", "n_max", "limit", "max_steps", "seed"} & POSITIVE_COUNTS
