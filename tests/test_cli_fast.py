"""The command line answers help and --version without importing torch; list flags name a bad item."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hiero.cli import main as cli


def test_help_and_version_import_no_stage():
    code = ("import sys; from hiero.cli import main\n"
            "for argv in (['-h'], ['--version']):\n"
            "    try: main(argv)\n"
            "    except SystemExit: pass\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"
    assert "hiero 0.1.0" in out and "selftrain" in out


def test_a_command_registers_only_its_stage_but_lists_all(capsys):
    with pytest.raises(SystemExit) as e:
        cli(["rm", "score", "-h"])
    assert e.value.code == 0 and "--rm" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli(["nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_list_flags_name_the_bad_item(capsys):
    with pytest.raises(SystemExit):
        cli(["eval", "bon", "--n", "1,2,8a"])
    assert "'8a' in '1,2,8a' is not an int" in capsys.readouterr().err
    assert cli(["eval", "bon", "--n", "0,2", "--problems", "synth:n=2"]) == 2
    assert "every N must be at least 1" in capsys.readouterr().err


def test_a_hub_id_is_explained(tmp_path, capsys):
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "p1", "question": "What is 2+3?", "answer": "5", "source": "synth"}\n')
    assert cli(["policy", "sample", "--policy", "Qwen/Qwen2.5-Math-1.5B", "--problems", str(problems),
                "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "hub id" in capsys.readouterr().err and not (tmp_path / "o.jsonl").exists()
    sols = tmp_path / "s.jsonl"
    sols.write_text('{"problem_id": "p1", "steps": ["2 + 3 = 5"], "question": "What is 2+3?"}\n')
    assert cli(["rm", "score", "--rm", "Qwen/Qwen2.5-Math-PRM-7B", "--input", str(sols),
                "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "local folders only" in capsys.readouterr().err


def test_every_command_takes_threads(monkeypatch):
    import argparse

    import torch

    from hiero.cli import _leaves, build_parser, set_threads

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    leaves = list(_leaves(sub))
    assert len(leaves) > 15
    assert all(any("--threads" in a.option_strings for a in p._actions) for p in leaves)
    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("HIERO_THREADS", "2")
        set_threads(None)
        assert torch.get_num_threads() == 2
        with pytest.raises(ValueError, match="at least 1"):
            set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_default_threads_leave_the_cpus_other_processes_use(monkeypatch):
    """No --threads and no $HIERO_THREADS: the CPUs this process may use less the busy ones (at least 1);
    OMP_NUM_THREADS, when set, is left to torch."""
    import torch

    import hiero.cli as hcli

    before = torch.get_num_threads()
    monkeypatch.delenv("HIERO_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(hcli, "usable_cpus", lambda: 2)
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(hcli, "busy_cpus", lambda: 1)
        hcli.set_threads(None)
        assert torch.get_num_threads() == 1
        monkeypatch.setattr(hcli, "busy_cpus", lambda: 0)
        hcli.set_threads(None)
        assert torch.get_num_threads() == min(2, torch.get_num_threads()) >= 1
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(2)
        monkeypatch.setattr(hcli, "busy_cpus", lambda: 1)
        hcli.set_threads(None)
        assert torch.get_num_threads() == 2  # untouched
    finally:
        torch.set_num_threads(before)


def test_usable_cpus_follow_slurm_and_the_affinity_mask(monkeypatch):
    import os

    from hiero.cli import busy_cpus, usable_cpus

    mask = len(os.sched_getaffinity(0))
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert 1 <= usable_cpus() <= mask
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert usable_cpus() == 1
    assert busy_cpus() >= 0


def test_helps_name_no_source_files_and_list_the_presets():
    import argparse
    import re

    from hiero.cli import _leaves, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for leaf in _leaves(sub):
        assert not re.findall(r"hiero/[\w/]+\.py", leaf.format_help()), leaf.prog
        if leaf.prog == "hiero policy train":
            assert "full: problems=synth:n=50000,max_ops=4" in leaf.format_help()
