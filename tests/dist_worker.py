"""One process of a multi-process test run (tests/test_training_distributed.py), started by
`torch.distributed.run` with ACCELERATE_USE_CPU=1 (gloo): runs `hiero` CLI commands in turn.

    python -m torch.distributed.run --nproc_per_node 2 tests/dist_worker.py JOBS.json

JOBS.json: {"jobs": [{"argv": ["rm", "train", ...], "summary": "OUT/rank{rank}.json"}, ...]}; a job with
"kill_at_call": N raises in the N-th training step call of every process (a crash, to test resume).
Each job seeds torch with 0 first (the RM head is initialised before the loop seeds), and its
stage summary is written per rank to `summary` so the test can check what each process did.
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import hiero.policy.sft as sft  # noqa: E402
import hiero.preference.train as po_train  # noqa: E402
import hiero.reward.train as rm_train  # noqa: E402
import hiero.selftrain.train as st_train  # noqa: E402
from hiero.cli import main as cli  # noqa: E402


def recording(main, path):
    def wrapped(cfg):
        summary = main(cfg)
        with open(path.format(rank=os.environ.get("RANK", "0")), "w") as f:
            json.dump({k: v for k, v in summary.items() if k != "config"}, f, default=str)
        return summary

    return wrapped


def kill_at(n: int) -> None:
    import hiero.training as training

    real, calls = training._StepModule.forward, {"n": 0}

    def forward(self, batch=None, call=None):
        if call is None:
            calls["n"] += 1
            if calls["n"] == n:
                os._exit(9)  # as kill -9: no cleanup at all
        return real(self, batch, call)

    training._StepModule.forward = forward


def run(spec: dict) -> int:
    stages = (rm_train, po_train, sft, st_train)  # the CLI looks `main` up in these at call time
    real = {m: m.main for m in stages}
    for job in spec["jobs"]:
        if job.get("kill_at_call"):
            kill_at(job["kill_at_call"])
        torch.manual_seed(0)
        for m in stages:
            m.main = recording(real[m], job["summary"])
        rc = cli(job["argv"])
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        sys.exit(run(json.load(f)))
