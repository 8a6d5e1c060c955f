"""Round trip for every shipped grammar: sample -> RomanText -> music21 -> parse succeeds.

All 200 seeds per grammar go through plan -> RomanText -> plan (our reader) -> parse;
music21's own reader, the slow part, checks every 50th seed.
"""
from __future__ import annotations

import pytest

from partimento.grammar import available_grammars
from partimento.grammar.analysis import plan_from_romantext
from partimento.grammar.parsing import phrase_tokens

SEEDS = range(200)
SETTINGS = {  # (key, bars, metre) cycled over seeds
    "blues": [("C", 12, "4/4"), ("B-", 12, "4/4"), ("g", 24, "4/4")],
}
DEFAULT = [("C", 8, "4/4"), ("a", 8, "3/4"), ("E-", 12, "4/4"), ("f#", 16, "3/4"), ("G", 16, "4/4")]


@pytest.mark.parametrize("name", available_grammars())
def test_sampled_plans_parse_with_their_grammar(grammars, name):
    g = grammars[name]
    settings = SETTINGS.get(name, DEFAULT)
    for seed in SEEDS:
        key, bars, metre = settings[seed % len(settings)]
        plan = g.sample(key=key, bars=bars, metre=metre, seed=seed)
        plan.validate()
        result = g.parse(plan)
        assert result.ok, (seed, result.describe())
        assert len(result.phrases) == len(plan.phrases)


@pytest.mark.parametrize("name", available_grammars())
def test_romantext_written_by_a_plan_reads_back_with_music21_and_parses(grammars, name):
    g = grammars[name]
    settings = SETTINGS.get(name, DEFAULT)
    for seed in SEEDS[::50]:
        key, bars, metre = settings[(seed // 50 + 2) % len(settings)]
        plan = g.sample(key=key, bars=bars, metre=metre, seed=seed)
        back = plan_from_romantext(plan.to_rntxt())
        assert [(c.figure, c.key, c.onset, c.duration) for c in back.chords] == \
            [(c.figure, c.key, c.onset, c.duration) for c in plan.chords]
        assert [phrase_tokens([c for c in back.chords if c.phrase == i]) for i in range(len(back.phrases))] == \
            [phrase_tokens([c for c in plan.chords if c.phrase == i]) for i in range(len(plan.phrases))]
        result = g.parse(back)
        assert result.ok, (seed, result.describe())
