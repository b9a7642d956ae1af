"""recipes/accelerate/*.yaml: each one is read by Accelerate's own config loader and turned by its
own launcher code into the environment `accelerate launch` would give the processes (no GPU needed)."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils import DistributedType
from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "accelerate"

# file -> (distributed type, what the launcher must export for it)
EXPECTED = {
    "multi_gpu.yaml": (DistributedType.MULTI_GPU, {}),
    "deepspeed_zero2.yaml": (
        DistributedType.DEEPSPEED,
        {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"},
    ),
    "deepspeed_zero3.yaml": (
        DistributedType.DEEPSPEED,
        {
            "ACCELERATE_USE_DEEPSPEED": "true",
            "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3",
            "ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL": "true",
        },
    ),
    "fsdp.yaml": (
        DistributedType.FSDP,
        {
            "ACCELERATE_USE_FSDP": "true",
            "FSDP_VERSION": "1",
            "FSDP_SHARDING_STRATEGY": "FULL_SHARD",
            "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
        },
    ),
}


def test_every_recipe_is_covered():
    assert sorted(p.name for p in RECIPES.glob("*.yaml")) == sorted(EXPECTED)


def launch_env(path: Path) -> dict:
    """The environment `accelerate launch --config_file PATH -m hiero.cli ...` prepares (launch.py's path)."""
    args = launch_command_parser().parse_args(["--config_file", str(path), "-m", "hiero.cli", "rm", "train"])
    args, defaults, mp_from_config = _validate_launch_command(args)
    if args.use_deepspeed:
        fields = list(defaults.deepspeed_config) + (["mixed_precision"] if mp_from_config else [])
        args.deepspeed_fields_from_accelerate_config = ",".join(fields)
        return prepare_deepspeed_cmd_env(args)[1]
    return prepare_multi_gpu_env(args)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recipe_loads_with_accelerates_loader(name):
    path = RECIPES / name
    cfg = load_config_from_file(str(path))  # unknown or misspelt keys raise here
    kind, exported = EXPECTED[name]
    assert cfg.distributed_type == kind, path
    assert cfg.num_processes > 1 and cfg.mixed_precision == "bf16" and cfg.use_cpu is False, path
    first = path.read_text().splitlines()[0]
    assert first.startswith(f"# accelerate launch --config_file recipes/accelerate/{name}"), (
        path
    )  # usage line
    env = launch_env(path)
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    for key, value in exported.items():
        assert env.get(key) == value, (path, key, env.get(key))
