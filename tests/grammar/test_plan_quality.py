"""Sampled plans sound like chorale plans (issue 15, item 3): 200 plans per form grammar.

* a piece starts on the root-position tonic (or on V as an upbeat, which no shipped grammar writes);
* it ends on the home tonic, on a strong beat, lasting at least two beats or under a fermata;
* a half cadence rests on the dominant triad;
* no V -> ii or V -> IV retrogression inside a phrase, unless a rule names it: the second
  chord's derivation passes through the passing subdominant six-chord, a 6/3 chain or the
  neighbour 6/4 over the tonic pedal (I IV64 I) or the 6/4 the final tonic's bass arrives under (V IV64 I).
"""
from __future__ import annotations

import pytest

from partimento.grammar.metre import parse_metre
from partimento.grammar.theory import chord_spec, key_info

FORMS = ["chorale", "period", "sentence", "binary", "ternary"]
SETTINGS = [("C", 8, "4/4"), ("a", 8, "4/4"), ("E-", 16, "4/4"), ("f#", 8, "3/4"), ("G", 12, "4/4"),
            ("d", 16, "4/4"), ("B-", 8, "3/4"), ("e", 12, "6/8")]
NAMED_RETROGRESSIONS = {"passing_sub", "chain63", "pedal_64", "arrival_64"}  # rules that name a V -> IV motion


def _degree(figure: str, key: str) -> int | None:
    """Scale degree 1..7 of a chord's root in its key (None for an applied chord)."""
    if "/" in figure:
        return None
    spec = chord_spec(figure, key)
    info = key_info(key)
    interval = (spec.root - info.tonic) % 12
    return {0: 1, 2: 2, 3: 3, 4: 3, 5: 4, 7: 5, 8: 6, 9: 6, 10: 7, 11: 7}.get(interval)


def _plans(grammars, name):
    settings = SETTINGS if name != "period" else [s for s in SETTINGS if s[1] % 4 == 0]
    for seed in range(200):
        key, bars, metre = settings[seed % len(settings)]
        yield seed, grammars[name].sample(key=key, bars=bars, metre=metre, seed=seed)


@pytest.mark.parametrize("name", FORMS)
def test_sampled_plans_sound_like_chorale_plans(grammars, name):
    retrogressions_named = 0
    for seed, plan in _plans(grammars, name):
        metre = parse_metre(plan.metre)
        beat = float(metre.beat_quarters)
        first, last = plan.chords[0], plan.chords[-1]
        # starts on the root-position tonic
        assert first.key == plan.key and first.figure in ("I", "i") and not first.inversion_open, (seed, first)
        # ends on the home tonic, root position, on a strong beat, two beats or more or under a fermata
        assert last.key == plan.key and last.figure in ("I", "i") and not last.inversion_open, (seed, last)
        assert plan.phrases[-1].cadence == "PAC"
        _, beat_no = metre.measure_beat(last.onset, plan.pickup)
        assert beat_no in metre.strong_beats, (seed, beat_no, plan.metre)
        assert last.duration >= 2 * beat or last.fermata, (seed, last.duration)
        for i, phrase in enumerate(plan.phrases):
            members = [c for c in plan.chords if c.phrase == i]
            # a half cadence rests on the dominant triad (V, not V7; root position)
            if phrase.cadence == "HC":
                end = members[-1]
                spec = chord_spec(end.figure, end.key)
                assert _degree(end.figure, end.key) == 5 and spec.seventh is None and len(spec.pcs) == 3, \
                    (seed, end.figure)
                assert (spec.third - spec.root) % 12 == 4 and spec.inversion == 0, (seed, end.figure)
            # no V -> ii / V -> IV inside the phrase unless a named rule makes it
            for j in range(len(members) - 1):
                a, b = members[j], members[j + 1]
                if a.key != b.key or _degree(a.figure, a.key) != 5 or _degree(b.figure, b.key) not in (2, 4):
                    continue
                path = plan.derivation_path(plan.chords.index(b))
                assert NAMED_RETROGRESSIONS & set(path.rules), (seed, a.figure, b.figure, path.rules)
                retrogressions_named += 1
    assert retrogressions_named < 200  # rare, and always through a named rule


def test_final_chords_land_on_strong_beats_in_every_metre(grammars):
    for metre in ("2/2", "2/4", "3/4", "4/4", "3/2", "6/8", "9/8", "12/8"):
        m = parse_metre(metre)
        for seed in range(10):
            plan = grammars["chorale"].sample(key="F", bars=8, metre=metre, seed=seed)
            for i in range(len(plan.phrases)):
                end = [c for c in plan.chords if c.phrase == i][-1]
                assert m.measure_beat(end.onset, plan.pickup)[1] in m.strong_beats, (metre, seed)
