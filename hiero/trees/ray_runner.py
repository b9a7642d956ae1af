"""`hiero annotate --backend ray`: tree annotation spread over a Ray cluster, one actor per generator.

    hiero annotate --policy runs/policy --problems problems.jsonl -o trees.jsonl --backend ray --workers 8
    hiero annotate ... --backend ray --ray-address auto --workers 16 --worker-gpus 1   # a running cluster
    python: annotate.main(AnnotateConfig(..., backend="ray", workers=8))
    annotate_on_ray(cfg, search, chunks, write)   # search: a growers.ChunkSearch (picklable)

(extra `ray`: pip install 'hiero[ray]')

Work split: each actor loads the policy once (`load_generator(--policy)`: a model folder, `vllm:DIR`
on a GPU with --worker-gpus 1, or an OpenAI-compatible server) and takes tasks; a task is one
chunk of `--batch-problems` problems, exactly the chunks the single-process run searches (same
problems, same order inside the chunk, same settings). A tree's samples depend only on (seed, level
or round, prompt, sample index) (see annotate.py), and the chunk fixes the batch shapes, so every
tree equals the single-process one for the same seed, whichever actor searches it and whenever it
arrives (given the same floating-point setup: CPU actors get `--worker-cpus` torch threads).

Output: only the driver writes. Each finished chunk's trees are appended (one fsync'ed line each,
`append_jsonl`) as the chunk arrives, so the file is in arrival order, not problem order; compare
runs as sets keyed by problem id. Resume is annotate.py's: a rerun repairs a torn last line, skips
the problems already written and searches every chunk with a missing tree whole again, so a driver
killed at any point (kill -9; its actors die with it) and restarted with the same command ends
with the same set of trees as an uninterrupted run. An actor that dies (e.g. out of memory) is
restarted and its task retried (twice); a task that raises stops the run naming its problems,
keeping everything written so far.

Scheduling: every actor holds up to `inflight` queued chunks (2: the next one is ready while the
driver writes), and a chunk goes to the actor that just finished one. `--shard i/n` still works on
top (each shard a separate driver), for clusters without Ray.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from hiero.trees.growers import ChunkSearch
from hiero.types import Problem, Tree

log = logging.getLogger(__name__)


def _ray():
    try:
        import ray
    except ImportError:
        raise ImportError(
            "annotate --backend ray needs Ray: pip install 'hiero[ray]' (or pip install ray)"
        ) from None
    return ray


class Annotator:
    """What one Ray actor runs: a generator loaded once and the chunk search it was handed (a picklable
    `growers.ChunkSearch`, the same one the single-process run calls)."""

    def __init__(self, policy: str, search: ChunkSearch, threads: int = 0):
        if threads > 0:
            import torch

            torch.set_num_threads(threads)
        from hiero.policy import load_generator

        self.gen, self.search = load_generator(policy), search

    def annotate(self, index: int, problems: list[Problem]) -> tuple[int, list[Tree], int]:
        trees, tokens = self.search(problems, self.gen)
        return index, trees, tokens


def connect(cfg) -> bool:
    """Make sure Ray is initialised; True when this call started it (and so should shut it down).

    An already initialised Ray (e.g. `ray.init(num_cpus=2)` by the caller) is used as it is;
    `--ray-address` connects to a running cluster; otherwise a local instance is started, sized to
    the workers asked for (or to the machine with --workers 0).
    """
    ray = _ray()
    if ray.is_initialized():
        return False
    kw: dict = {"include_dashboard": False, "logging_level": logging.WARNING}
    if cfg.ray_address:
        kw["address"] = cfg.ray_address
    elif cfg.workers > 0:
        kw["num_cpus"] = max(1, math.ceil(cfg.workers * cfg.worker_cpus))
    ray.init(**kw)
    return True


def n_workers(cfg) -> int:
    """--workers, or with 0 as many actors as the cluster's GPUs (--worker-gpus > 0) or CPUs hold."""
    if cfg.workers > 0:
        return cfg.workers
    res = _ray().cluster_resources()
    n = (
        res.get("GPU", 0) / cfg.worker_gpus
        if cfg.worker_gpus > 0
        else res.get("CPU", 0) / max(cfg.worker_cpus, 1e-9)
    )
    if int(n) < 1:
        raise RuntimeError(f"annotate --backend ray: the cluster ({res}) has no room for one worker with "
                           f"--worker-cpus {cfg.worker_cpus} --worker-gpus {cfg.worker_gpus}")
    return int(n)


def annotate_on_ray(
    cfg,
    search: ChunkSearch,
    chunks: list[list[Problem]],
    write: Callable[[list[Tree]], None],
    on_progress: Callable[[int], None] | None = None,
    inflight: int = 2,
) -> dict:
    """Search `chunks` with `search` on Ray actors; `write(trees)` is called on the driver as each chunk
    arrives. `cfg` gives the engine's settings: policy, workers, worker_cpus / _gpus, ray_address.

    Returns {"generated_tokens", "workers"}. `on_progress(tokens so far)` follows every chunk.
    """
    ray = _ray()
    if not chunks:
        return {"generated_tokens": 0, "workers": 0}
    started = connect(cfg)
    actors = []
    try:
        n = min(n_workers(cfg), len(chunks))
        remote = ray.remote(num_cpus=cfg.worker_cpus, num_gpus=cfg.worker_gpus, max_restarts=2,
                            max_task_retries=2)(Annotator)
        threads = max(1, int(cfg.worker_cpus)) if cfg.worker_gpus == 0 else 0
        actors = [remote.remote(cfg.policy, search, threads) for _ in range(n)]
        log.info("annotate on ray: %d chunks over %d actors", len(chunks), n)
        queue = list(range(len(chunks)))[::-1]  # pop() takes them in file order
        pending: dict = {}  # object ref -> (actor, chunk index)

        def submit(a: int) -> None:
            i = queue.pop()
            pending[actors[a].annotate.remote(i, chunks[i])] = (a, i)

        for _ in range(inflight):
            for a in range(n):
                if queue:
                    submit(a)
        tokens = 0
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            a, i = pending.pop(ref)
            try:
                _, trees, n_tok = ray.get(ref)
            except ray.exceptions.RayError as e:
                ids = [p.id for p in chunks[i]]
                raise RuntimeError(
                    f"annotate --backend ray: chunk {i} (problems {ids}) failed on worker {a}: {e}"
                ) from e
            write(trees)
            tokens += n_tok
            if on_progress:
                on_progress(tokens)
            if queue:
                submit(a)
        return {"generated_tokens": tokens, "workers": n}
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
