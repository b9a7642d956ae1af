"""One DomainSettings for every stage that draws built-in problems (the policy was once trained on
2-3 operations and evaluated on 2-4): `hiero data synth`, which writes the domain's problem sets, takes
its fields; every other command takes one problem-source spec (`synth:n=..,seed=..,max_value=..`,
hiero.data.problems) instead of inheriting nine flags."""

from __future__ import annotations

import pytest

from hiero.data.problems import parse_synth, read_problems, synth_spec
from hiero.domains import builtin as synth
from hiero.domains.builtin import DomainSettings
from hiero.domains.builtin.sets import SynthConfig
from hiero.evaluation.bon import BonConfig, load_problems
from hiero.evaluation.processbench import ProcessBenchConfig, synth_items
from hiero.policy.sft import PolicyTrainConfig
from hiero.selftrain.train import SelfTrainConfig, held_out_problems

WRITERS = [SynthConfig]  # `hiero data synth` writes the domain's problem sets: it takes the domain's fields
READERS = [BonConfig, ProcessBenchConfig, SelfTrainConfig, PolicyTrainConfig]  # the rest: one problem spec


@pytest.mark.parametrize("cls", WRITERS)
def test_every_stage_that_writes_problems_has_the_domain_defaults(cls):
    assert issubclass(cls, DomainSettings)
    assert (
        DomainSettings(**{f: getattr(cls(), f) for f in DomainSettings.__dataclass_fields__})
        == DomainSettings()
    )


@pytest.mark.parametrize("cls", READERS)
def test_commands_that_read_problems_take_no_domain_flags(cls):
    """A problem source is one field, not the domain's six plus counts and seeds per command."""
    names = set(cls.__dataclass_fields__)
    assert not issubclass(cls, DomainSettings)
    counts = {"synth_n", "synth_seed", "eval_n", "eval_seed", "n_train"}
    assert not names & (set(DomainSettings.__dataclass_fields__) | counts)
    if cls is ProcessBenchConfig:  # its noisy solutions' rates are keys of --data synth:...
        assert not names & {"p_error", "p_correction"}


def test_a_problem_spec_round_trips_and_names_what_is_wrong(tmp_path):
    narrow = DomainSettings(min_ops=2, max_ops=2, max_value=20, style="restate")
    spec = synth_spec(narrow, 7, 3, "train")
    assert spec == "synth:n=7,seed=3,split=train,max_ops=2,max_value=20,style=restate"
    back = parse_synth(spec, n=1, seed=0)
    assert (back.n, back.seed, back.split, back.domain) == (7, 3, "train", narrow)
    assert [p.id for p in read_problems(spec)] == [p.id for p in narrow.problems(7, 3, "train")]
    for bad, says in (
        ("synth:n=x", "n='x': expected int"),
        ("synth:n=0", "n=0: must be an integer >= 1"),
        ("synth:style=fancy", "'style': 'fancy' is not one of"),
        ("synth:split=dev", "expected train or"),
        ("synth:max_value=0", "'max_value' 0: must be an integer >= 1"),
        ("synth:n", "is not key=value"),
    ):
        with pytest.raises(ValueError, match=says):
            parse_synth(bad, n=1, seed=0)
    f = tmp_path / "p.jsonl"
    f.write_text("")
    with pytest.raises(Exception, match="no problems"):
        read_problems(str(f))


def test_generate_problems_defaults_are_the_domain_defaults():
    a = synth.generate_problems(30, seed=4, split="test")
    b = DomainSettings().problems(30, 4, "test")
    assert [p.question for p in a] == [p.question for p in b]


def test_stages_draw_from_the_settings_they_are_given():
    narrow = DomainSettings(min_ops=2, max_ops=2, max_value=20)

    def ok(problems):
        progs = [p.meta["program"] for p in problems]
        return all(len(g["ops"]) == 2 and max([g["start"], *synth.run_program(g)]) <= 20 for g in progs)

    assert ok(load_problems(BonConfig(problems=synth_spec(narrow, 20, 1))))
    assert ok(held_out_problems(SelfTrainConfig(eval_problems=synth_spec(narrow, 20, 1))))
    assert ok(synth_items(20, 3, 0.3, 0.3, narrow)[1])
    assert not ok(
        load_problems(BonConfig(problems="synth:n=40"))
    )  # the defaults are wider: the check can fail
    assert len(load_problems(BonConfig())) == 100  # '' = the built-in domain's 100 test problems
