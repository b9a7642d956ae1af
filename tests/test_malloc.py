"""`hiero.cli.keep_freed_memory`: a large block freed and allocated again is served from memory already
mapped, instead of being faulted in page by page (glibc only)."""

import json
import os
import platform
import subprocess
import sys

import pytest

CHILD = """
import json, resource, sys
import torch
from hiero.cli import keep_freed_memory
applied = keep_freed_memory()
n = 64 * 2**20 // 4  # a 64 MiB block: above glibc's largest default mmap threshold (32 MiB)
faults = []
for _ in range(12):  # allocated, touched, freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(n)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults}))
"""


def run_child(**env) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc",
    reason=f"keep_freed_memory tunes glibc's malloc (mallopt); this C library is "
    f"{platform.libc_ver()[0] or 'not glibc'} (macOS, musl), where hiero leaves malloc as it is",
)
def test_a_freed_large_block_is_reused_without_page_faults():
    pages = 64 * 2**20 // os.sysconf("SC_PAGE_SIZE")
    kept = run_child()
    system = run_child(HIERO_MALLOC="system")
    assert kept["applied"] and not system["applied"]
    assert min(system["faults"]) > pages // 2, system  # mapped afresh each time: every page faulted in
    # the freed heap memory reused: glibc's heap settles within the first rounds (measured: by the 7th of 12),
    # then a round faults nothing in
    assert sum(f > pages // 20 for f in kept["faults"][-6:]) <= 1, kept


def test_the_hiero_program_sets_it_and_an_in_process_call_does_not(monkeypatch):
    from hiero import cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(1) or True)
    bad = ["eval", "bon", "--n", "0,2", "--problems", "synth:n=2"]  # a quick exit-2 run through the command
    assert cli.main(bad) == 2 and calls == []
    monkeypatch.setattr(sys, "argv", ["hiero", *bad])
    assert cli.main() == 2 and calls == [1]
