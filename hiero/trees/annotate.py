"""`hiero annotate`: reasoning trees with Monte-Carlo step labels, resumable and shardable.

    hiero annotate --policy SPEC --problems problems.jsonl -o trees.jsonl [--mode bfs|mcts]
                   [--children 5 --depth 5 --temperature 0.1] [--shard 0/4] [--batch-problems 8]
    python: main(AnnotateConfig(policy=..., problems=..., out=...)) -> summary dict

`--policy` is any spec `hiero.policy.load_generator` understands (a Hugging Face model directory,
an OpenAI-compatible server, ...). Each finished tree is one JSONL line (`types.Tree`: every node
has step, depth, terminal / answer / correct, n_correct / n_total, mc_score and, for built-in-domain
problems, the ground truth `step_correct`); `tree.meta` records how it was built.

Batching: problems go through in fixed consecutive chunks of `batch_problems` (of this shard, in
file order); the search runs on the whole chunk at once, so every `generate` call carries the whole
BFS frontier (or every MCTS selection / rollout) of every tree in the chunk.

Seeds: the seed of a `generate` call is derived from (seed, level or round) only; the backend
seeds each sample from that, its own prompt and its index (the `hf` backend does), so a tree's
samples do not depend on the other problems in its chunk, up to floating-point differences
between batch shapes (a different padding width can flip a near-tie in sampling).

Own output only: annotate modifies (repairs, appends to) only an -o it recognises as its own: empty,
or every complete line a tree row and a torn last line the beginning of one; anything else is refused
untouched. One writer per output: a lock beside it (`.NAME.lock`, fcntl.flock) makes a second run on
the same -o refuse at once.

Resume: a tree is appended (one fsync'ed line) as soon as its chunk is done. On start the output is
repaired (a torn last line from a crash is cut) and the problems already in it are skipped. A chunk
is always searched whole, even when some of its trees were already written before a crash, so the
rerun sees exactly the batch shapes of the first run and reproduces the same trees bit for bit;
only the missing ones are appended. So a run killed at any point (kill -9) and restarted with the
same command yields the same file as an uninterrupted run. The settings that shape the trees
(including `batch_problems`, for the reason above) are recorded in every tree's meta and a resume
with different ones is refused.

Sharding: `--shard i/n` keeps the problems whose position in the file is i mod n; shards of one
file partition it and each writes its own output.

Ray: `--backend ray --workers N` searches the chunks on N Ray actors, one generator each, and
appends each chunk's trees as it arrives (hiero/trees/ray_runner.py): the same trees, in arrival
order, with the same resume.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from hiero.data.io import DataError, append_jsonl, read_appended, read_jsonl, repair_appended
from hiero.policy.backend import Generator
from hiero.runs import output_lock
from hiero.trees.growers import ChunkSearch
from hiero.trees.tree import tree_stats
from hiero.types import Problem, Tree

log = logging.getLogger(__name__)

# settings that shape the trees: a resume must use the same ones (recorded in every tree's meta)
TREE_SETTINGS = ("mode", "children", "depth", "temperature", "top_p", "step_tokens", "c_puct", "rollouts",
                 "simulations", "samples", "seed", "batch_problems", "shard", "policy")


@dataclass
class AnnotateConfig:
    """Settings of `hiero annotate` (flat; every field is a flag)."""

    policy: str = field(default="", metadata={"help": "policy spec for hiero.policy.load_generator "
                                                      "(e.g. a Hugging Face model directory)"})
    problems: str = field(default="", metadata={"help": "problems JSONL (hiero.types.Problem rows)"})
    out: str = field(default="trees.jsonl", metadata={"help": "output trees JSONL (appended; resumable)"})
    mode: Literal["bfs", "mcts", "bsearch"] = field(default="bfs", metadata={
        "help": "bfs: full tree as in the official HRM code; mcts: PUCT search with rollouts; "
                "bsearch: sampled solutions + OmegaPRM binary search of each wrong one's first error"})
    children: int = field(default=5, metadata={"help": "samples per expanded node (official: 5)"})
    depth: int = field(default=5, metadata={"help": "maximum steps below the root (official: 5)"})
    temperature: float = field(default=0.1, metadata={"help": "sampling temperature (official: 0.1)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    step_tokens: int = field(
        default=128, metadata={"help": "max new tokens per step (rollouts: x steps left)"}
    )
    c_puct: float = field(default=0.125, metadata={"help": "mcts: exploration constant (OmegaPRM: 0.125)"})
    rollouts: int = field(
        default=4, metadata={"help": "mcts: rollouts per new node; bsearch: per checked step (k)"}
    )
    samples: int = field(default=8, metadata={"help": "bsearch: full solutions sampled per problem"})
    simulations: int = field(default=8, metadata={"help": "mcts: select/expand/rollout rounds per tree"})
    batch_problems: int = field(
        default=8, metadata={"help": "problems searched together (one call per level)"}
    )
    seed: int = field(default=0, metadata={"help": "sampling seed (same seed, same trees)"})
    shard: str = field(default="0/1", metadata={"help": "i/n: annotate only problems at positions i mod n"})
    limit: int | None = field(default=None, metadata={"help": "only the first N problems of the file"})
    backend: Literal["local", "ray"] = field(default="local", metadata={
        "help": "local: this process; ray: chunks as tasks on Ray actors, one generator each (extra `ray`)"})
    workers: int = field(
        default=0, metadata={"help": "ray: generator actors (0: as many as the cluster holds)"}
    )
    ray_address: str = field(default="", metadata={
        "help": "ray: cluster to join ('auto', 'ray://HOST:PORT'; '': start a local one)"})
    worker_cpus: float = field(default=1.0, metadata={"help": "ray: CPUs per actor (also its torch threads)"})
    worker_gpus: float = field(default=0.0, metadata={"help": "ray: GPUs per actor (1 for a GPU generator)"})

    def check(self) -> None:
        if not self.problems:
            raise ValueError("annotate: --problems is required")
        if self.children < 1 or self.depth < 1 or self.batch_problems < 1:
            raise ValueError("annotate: --children, --depth and --batch-problems must be >= 1")
        if self.mode == "mcts" and (self.rollouts < 1 or self.simulations < 1):
            raise ValueError("annotate: mcts needs --rollouts >= 1 and --simulations >= 1")
        if self.mode == "bsearch" and (self.rollouts < 1 or self.samples < 1):
            raise ValueError("annotate: bsearch needs --rollouts >= 1 and --samples >= 1")
        if self.step_tokens < 1:
            raise ValueError("annotate: --step-tokens must be >= 1")
        if (
            self.workers < 0
            or self.worker_cpus < 0
            or self.worker_gpus < 0
            or (self.worker_cpus == 0 == self.worker_gpus)
        ):
            raise ValueError(
                "annotate: --workers, --worker-cpus, --worker-gpus must be >= 0 (and one of the last two > 0)"
            )
        parse_shard(self.shard)


def parse_shard(text: str) -> tuple[int, int]:
    """"i/n" -> (i, n) with 0 <= i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard {text}: need 0 <= i < n")
    return i, n


def load_problems(path: str, shard: str = "0/1", limit: int | None = None) -> list[Problem]:
    """This shard's problems, in file order; duplicate ids are an error (they key the resume)."""
    problems = list(read_jsonl(path, Problem))
    if not problems:
        raise DataError(path, None, "no problems in the file (give a Problem JSONL with at least one row)")
    seen: dict[str, int] = {}
    for lineno, p in enumerate(problems, start=1):
        if p.id in seen:
            raise DataError(
                path, lineno, f"field 'id': duplicate problem id {p.id!r} (first on line {seen[p.id]})"
            )
        seen[p.id] = lineno
    if limit is not None:
        problems = problems[:limit]
    i, n = parse_shard(shard)
    return [p for k, p in enumerate(problems) if k % n == i]


def tree_meta(cfg: AnnotateConfig) -> dict:
    d = asdict(cfg)
    return {k: d[k] for k in TREE_SETTINGS}


class WatchedGenerator:
    """A generator that reports every `generate` call (completions returned) to `on_call`: a chunk's trees
    are written only when its whole search ends, so the progress bar says what the search is doing
    meanwhile (calls, completions, completions/s) instead of sitting at 0 for minutes."""

    def __init__(self, gen: Generator, on_call: Callable[[int], None]):
        self._gen, self._on_call = gen, on_call

    def __getattr__(self, name):  # prompt_format, tokenizer, ...: the wrapped generator's
        return getattr(self._gen, name)

    def generate(self, prompts, **kw):
        out = self._gen.generate(prompts, **kw)
        self._on_call(sum(len(o) for o in out))
        return out


def chunk_search(cfg: AnnotateConfig) -> ChunkSearch:
    """The picklable search of one chunk that every engine runs (hiero.trees.growers)."""
    return ChunkSearch.of(cfg.mode, asdict(cfg), cfg.seed, tree_meta(cfg))


TREE_PREFIX = b'{"problem": {'  # how every line annotate writes begins (Tree.to_dict order)


def _is_tree_row(row) -> bool:
    return (isinstance(row, dict) and isinstance(row.get("problem"), dict) and "id" in row["problem"]
            and isinstance(row.get("nodes"), list) and isinstance(row.get("meta"), dict))


def check_own_output(out: Path) -> None:
    """Refuse to touch `out` unless it is empty or a trees file annotate wrote: every complete line a
    tree row, and a torn last line (a crash mid-append) the beginning of one. Nothing is modified."""
    if out.is_dir():
        raise DataError(out, None, "is a folder; -o names the trees JSONL file to write")
    if not out.exists():
        return
    data = out.read_bytes()
    end = data.rfind(b"\n") + 1
    refuse = "not a trees file written by hiero annotate, so it is left as it is; choose another -o"
    for i, line in enumerate(data[:end].split(b"\n")[:-1], start=1):
        try:
            row = json.loads(line)
        except ValueError:
            raise DataError(out, i, refuse) from None
        if line.strip() and not _is_tree_row(row):
            raise DataError(out, i, refuse)
    tail = data[end:]
    if tail and not tail.startswith(TREE_PREFIX[:len(tail)]):
        raise DataError(out, data.count(b"\n") + 1, refuse)


def _done_ids(out: Path, meta: dict) -> set[str]:
    """Ids already in `out` (after cutting a torn last line); refuse a file made with other settings.
    Call `check_own_output` first: only a file recognised as annotate's own is repaired."""
    if repair_appended(out):
        log.warning("%s: cut a torn last line left by an interrupted run", out)
    done = set()
    for i, row in enumerate(read_appended(out), start=1):
        try:
            pid, old = str(row["problem"]["id"]), row.get("meta", {})
        except (KeyError, TypeError):
            raise DataError(out, i, "field 'problem.id': not a tree row") from None
        diff = {k: (old.get(k), v) for k, v in meta.items() if old.get(k) != v}
        if diff:
            raise ValueError(f"{out}:{i}: made with other settings {diff} (old, new); write to a new -o")
        done.add(pid)
    return done


def main(cfg: AnnotateConfig, generator: Generator | None = None) -> dict:
    """Annotate every not-yet-done problem of this shard; returns measured figures.

    `generator` overrides `cfg.policy` (for callers that already hold a loaded model).
    """
    cfg.check()
    problems = load_problems(cfg.problems, cfg.shard, cfg.limit)
    out = Path(cfg.out)
    check_own_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # one writer per output: a second run on the same -o refuses instead of appending every tree twice
    with output_lock(out.parent / f".{out.name}.lock", str(out)):
        return _annotate(cfg, problems, out, generator)


def _annotate(cfg: AnnotateConfig, problems: list[Problem], out: Path, generator: Generator | None) -> dict:
    check_own_output(out)  # again, now that no other run can be writing it
    done = _done_ids(out, tree_meta(cfg))
    chunks = [problems[i:i + cfg.batch_problems] for i in range(0, len(problems), cfg.batch_problems)]
    todo = [c for c in chunks if any(p.id not in done for p in c)]
    n_todo = sum(p.id not in done for c in todo for p in c)
    if cfg.backend == "ray" and generator is not None:
        raise ValueError(
            "annotate --backend ray: every worker loads --policy itself; do not pass a generator"
        )
    if generator is None and todo and cfg.backend == "local":
        from hiero.policy import load_generator

        generator = load_generator(cfg.policy)
    t0, tokens, written, workers = time.perf_counter(), 0, 0, 1
    with tqdm(total=n_todo, unit="tree", desc=f"annotate {cfg.mode}", dynamic_ncols=True) as bar:
        def write(trees: list[Tree]) -> None:  # the chunk's trees not in the file yet, one line each
            nonlocal written
            for tree in trees:
                if tree.problem.id not in done:
                    append_jsonl(out, tree)
                    done.add(tree.problem.id)
                    written += 1
                    bar.update(1)

        def progress(tokens: int) -> None:
            elapsed = max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(tok_s=f"{tokens / elapsed:.0f}", trees_s=f"{written / elapsed:.2f}")

        calls = {"n": 0, "completions": 0}

        def on_call(completions: int) -> None:  # inside a chunk: the search's own progress
            calls["n"] += 1
            calls["completions"] += completions
            elapsed = max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(generate_calls=calls["n"], completions=calls["completions"],
                            completions_s=f"{calls['completions'] / elapsed:.1f}")

        if cfg.backend == "ray":
            from hiero.trees.ray_runner import annotate_on_ray

            ran = annotate_on_ray(cfg, chunk_search(cfg), todo, write, progress)
            tokens, workers = ran["generated_tokens"], ran["workers"]
        else:
            search, watched = chunk_search(cfg), WatchedGenerator(generator, on_call)
            for chunk in todo:
                trees, n_tok = search(chunk, watched)
                tokens += n_tok
                write(trees)
                progress(tokens)
    seconds = time.perf_counter() - t0
    trees = [Tree.from_dict(r) for r in read_appended(out)]
    return {
        "out": str(out),
        "mode": cfg.mode,
        "shard": cfg.shard,
        "backend": cfg.backend,
        "workers": workers,
        "problems": len(problems),
        "written": written,
        "skipped": len(problems) - n_todo,
        "generated_tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 and tokens else 0.0,
        "trees_per_s": round(written / seconds, 3) if seconds > 0 and written else 0.0,
        **tree_stats(trees),
    }
