"""One DomainSettings for every stage that draws built-in problems (the policy was once trained on
2-3 operations and evaluated on 2-4)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from hiero.domains import builtin as synth
from hiero.domains.builtin import DomainSettings, settings_of
from hiero.domains.builtin.sets import SynthConfig
from hiero.evaluation.bon import BonConfig, load_problems
from hiero.evaluation.processbench import ProcessBenchConfig, synth_items
from hiero.policy.sft import PolicyTrainConfig
from hiero.selftrain.train import SelfTrainConfig, held_out_problems

CONFIGS = [SynthConfig, PolicyTrainConfig, BonConfig, ProcessBenchConfig, SelfTrainConfig]


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_stage_has_the_same_domain_defaults(cls):
    assert issubclass(cls, DomainSettings)
    assert settings_of(cls()) == DomainSettings()


def test_generate_problems_defaults_are_the_domain_defaults():
    a = synth.generate_problems(30, seed=4, split="test")
    b = DomainSettings().problems(30, 4, "test")
    assert [p.question for p in a] == [p.question for p in b]


def test_stages_draw_from_the_settings_they_are_given():
    narrow = DomainSettings(min_ops=2, max_ops=2, max_value=20)

    def ok(problems):
        progs = [p.meta["program"] for p in problems]
        return all(len(g["ops"]) == 2 and max([g["start"], *synth.run_program(g)]) <= 20 for g in progs)

    assert ok(load_problems(BonConfig(synth_n=20, **asdict(narrow))))
    assert ok(held_out_problems(SelfTrainConfig(eval_n=20, **asdict(narrow))))
    assert ok(synth_items(20, 3, 0.3, 0.3, narrow)[1])
    assert not ok(load_problems(BonConfig(synth_n=40)))  # the defaults are wider: the check can fail
