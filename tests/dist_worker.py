"""One process of a multi-process test run (tests/test_training_distributed.py), started by
`torch.distributed.run` with ACCELERATE_USE_CPU=1 (gloo): runs `hiero` CLI commands in turn.

    python -m torch.distributed.run --nproc_per_node 2 tests/dist_worker.py JOBS.json

JOBS.json: {"jobs": [{"argv": ["rm", "train", ...], "summary": "OUT/rank{rank}.json"}, ...]}; a job with
"kill_at_call": N raises in the N-th training step call of every process (a crash, to test resume);
{"engine": "fsdp" | "deepspeed"} at the top runs every job under that engine, see `force_engine`.
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


def force_engine(engine: str) -> None:
    """Run every job under `engine` ("fsdp" or "deepspeed") on CPU. Accelerate turns either on only for
    GPU-like device types (on CPU `accelerate launch` with an FSDP or DeepSpeed config runs plain
    multi-CPU), yet FSDP version 1 and DeepSpeed's CPU accelerator shard and train with gloo. So the
    test sets the state as Accelerate does on GPUs: the distributed type, and the plugin, which reads
    its settings from the environment that `accelerate launch --config_file recipes/accelerate/...`
    exports (the test passes that of the recipe, tests/test_training_distributed.py)."""
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DeepSpeedPlugin, DistributedType, FullyShardedDataParallelPlugin

    import hiero.training as training

    real = training.make_accelerator

    def make(cfg):
        acc = real(cfg)  # multi-CPU
        shared_states = (PartialState._shared_state, AcceleratorState._shared_state)
        if engine == "fsdp":
            acc.state.fsdp_plugin = FullyShardedDataParallelPlugin()
            kind = DistributedType.FSDP
            for shared in shared_states:  # FSDP's CPU compute device has no index ("cpu:0" fails)
                shared["device"] = torch.device("cpu")
        else:
            if AcceleratorState._shared_state.get("deepspeed_plugins") is None:
                plugin = DeepSpeedPlugin()
                plugin.set_mixed_precision(acc.mixed_precision)
                plugin.select(_from_accelerator_state=True)
                AcceleratorState._shared_state["deepspeed_plugins"] = plugin
            acc.deepspeed_engine_wrapped = None  # what Accelerator.__init__ sets under DeepSpeed
            kind = DistributedType.DEEPSPEED
        for shared in shared_states:  # every later AcceleratorState() copies PartialState's over its own
            shared["distributed_type"] = kind
        training.configure_deepspeed(acc, cfg)
        return acc

    for m in (training, sft, po_train, st_train):  # the stages import it by name
        m.make_accelerator = make


def run(spec: dict) -> int:
    if spec.get("engine"):
        force_engine(spec["engine"])
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
