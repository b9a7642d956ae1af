"""The demo's recipes: `recipes/embedded/{micro,quick,full}.yaml` and their variants, read and checked.

    load_recipe("quick", "plain") -> {stage: settings}      check_recipes() -> every size x variant checked

A recipe maps each stage of the pipeline (`STAGES`) to settings that override the defaults of that
stage's config; a few stages also take settings of the demo itself (`DEMO_KEYS`: how many problems to
draw, the pairs' filters). `inherit: FILE` starts from another recipe and merges each stage key by key.
Every setting is checked by the one config parser (`hiero.config.config_from_dict`: names, types,
counts >= 1) before the first stage runs, so a misspelt key fails at start, not after minutes.
"""

from __future__ import annotations

from pathlib import Path

from hiero.config import config_from_dict, load_yaml

RECIPE_DIR = Path(__file__).resolve().parent / "recipes"  # -> recipes/embedded (a link; copied into wheels)
SIZES = ("quick", "full", "micro")

# settings of a stage that are the demo's own (not fields of the stage's config), with their types;
# `problems`:
# how many built-in problems the stage draws (the demo writes its problem-source spec from the domain's
# settings)
DEMO_KEYS: dict[str, dict[str, type]] = {
    "policy": {"preset": str, "problems": int},
    "annotate": {"problems": int},
    "pairs": {"problems": int, "n": int, "rm_threshold": float, "tree_response": str, "by_segment": bool,
              "max_per_problem": int},
    "processbench": {"problems": int},
    "bon": {"problems": int},
    "selftrain": {"problems": int},
    "po_eval": {"problems": int},
}


def stage_configs() -> dict[str, type]:
    """Stage name -> the config class its settings override, in pipeline order (imported here: they pull
    in torch)."""
    from hiero.domains.builtin import DomainSettings
    from hiero.domains.builtin.sets import SynthConfig
    from hiero.evaluation.bon import BonConfig
    from hiero.evaluation.processbench import ProcessBenchConfig
    from hiero.policy.sft import PolicyTrainConfig
    from hiero.preference.evaluate import POEvalConfig
    from hiero.preference.pairs import PairsConfig
    from hiero.preference.train import POTrainConfig
    from hiero.reward.rows import RowsConfig
    from hiero.reward.train import RMTrainConfig
    from hiero.selftrain.train import SelfTrainConfig
    from hiero.trees.annotate import AnnotateConfig

    return {"domain": DomainSettings, "domain_sample": SynthConfig, "policy": PolicyTrainConfig,
            "rm_base": PolicyTrainConfig, "annotate": AnnotateConfig, "rows": RowsConfig, "rm": RMTrainConfig,
            "processbench": ProcessBenchConfig, "bon": BonConfig, "selftrain": SelfTrainConfig,
            "pairs": PairsConfig, "po": POTrainConfig, "po_eval": POEvalConfig}


def read_recipe(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, dict]:
    """One recipe file, its `inherit` chain merged in (stage by stage, key by key)."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ValueError(f"{path}: 'inherit' loops back to itself ({' -> '.join(str(p) for p in _seen)})")
    data = load_yaml(path)
    parent = data.pop("inherit", None)
    for stage, settings in data.items():
        if not isinstance(settings, dict):
            raise ValueError(
                f"{path}: stage '{stage}': expected a mapping of setting: value, got {settings!r}"
            )
    if parent is None:
        return data
    base = read_recipe(path.parent / parent, _seen + (path.resolve(),))
    return {**base, **{stage: {**base.get(stage, {}), **s} for stage, s in data.items()}}


def variants(recipe_dir: Path = RECIPE_DIR) -> dict[str, dict[str, dict]]:
    return load_yaml(Path(recipe_dir) / "variants.yaml")


def load_recipe(
    size_or_file: str | Path, variant: str = "plain", recipe_dir: Path = RECIPE_DIR
) -> dict[str, dict]:
    """The stage settings of a size (`recipes/embedded/SIZE.yaml`) or of a recipe file, with a variant's
    overrides merged in stage by stage, checked (`check_recipe`)."""
    name = str(size_or_file)
    path = Path(recipe_dir) / f"{name}.yaml" if name in SIZES else Path(name)
    if not path.is_file():
        raise ValueError(f"recipe {name!r}: no file {path} (sizes: {', '.join(SIZES)}; or a recipe YAML)")
    stages = read_recipe(path)
    table = variants(recipe_dir)
    if variant not in table:
        raise ValueError(f"unknown variant {variant!r}; choose from {sorted(table)}")
    over = table[variant]
    unknown = sorted(set(over) - set(stages))
    if unknown:
        raise ValueError(f"demo variant {variant!r} overrides stage(s) {unknown} that {path} has not")
    merged = {stage: {**settings, **over.get(stage, {})} for stage, settings in stages.items()}
    check_recipe(merged, str(path) if variant == "plain" else f"{path} + variant {variant}")
    return merged


def check_recipe(stages: dict[str, dict], name: str) -> None:
    """Every stage has settings, and every setting names a field of its stage's config (or a demo key)
    with a value of the field's type (ValueError naming the recipe, stage and key otherwise)."""
    configs = stage_configs()
    missing = sorted(set(configs) - set(stages))
    if missing:
        raise ValueError(f"recipe {name}: no settings for stage(s) {missing}")
    for stage, settings in stages.items():
        if stage not in configs:
            raise ValueError(f"recipe {name}: unknown stage {stage!r}; stages are {list(configs)}")
        own = DEMO_KEYS.get(stage, {})
        for key, tp in own.items():
            value = settings.get(key)
            if key in settings and not (isinstance(value, tp) or tp is float and isinstance(value, int)):
                raise ValueError(
                    f"recipe {name}, stage {stage!r}: '{key}': expected {tp.__name__}, got {value!r}"
                )
        cls = configs[stage]
        try:
            config_from_dict(
                cls, {k: v for k, v in settings.items() if k not in own}, source=f"recipe {name}"
            )
        except ValueError as e:
            raise ValueError(
                f"recipe {name}, stage {stage!r}: {str(e).removeprefix(f'recipe {name}: ')}"
                + (f" (or the demo's own: {sorted(own)})" if own else "")
            ) from None


def check_recipes(recipe_dir: Path = RECIPE_DIR) -> None:
    """Every size under every variant loads and checks."""
    for size in SIZES:
        for variant in variants(recipe_dir):
            load_recipe(size, variant, recipe_dir)
