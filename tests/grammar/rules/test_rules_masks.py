"""The decoder face agrees with the checker face, for every rule, in both profiles.

For random prefixes whose last sonority has one voice undecided, ``allowed(state, voice)[p]``
must be True exactly when writing ``p`` there makes ``check`` report no violation of that
rule at the last sonority; and holding the previous pitch must be judged like re-striking it.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partimento.grammar.rules import REST, Context, DecodeState, SonorityArray, get_profile, hard_rules
from partimento.grammar.theory import chord_spec, key_info

KEYS = ["C", "a", "E-", "f#", "G"]
FIGURES = ["I", "i", "V", "V7", "viio7", "ii7", "V/V", "V7/IV", "N6", "It+6", "vi", "IV", "iv", "Cad64", "V65", "iiø7"]

ALL_RULES = {(prof, r.id): r for prof in ("strict", "chorale") for r in get_profile(prof).rules()}


@st.composite
def states(draw, with_chords: bool = True):
    n = draw(st.integers(1, 4))
    key = draw(st.sampled_from(KEYS))
    # pitches near each other so that intervals, crossings and leaps all occur
    centre = draw(st.integers(50, 70))
    pitch = np.array([[draw(st.one_of(st.integers(centre - 16, centre + 16), st.just(REST)) if draw(st.integers(0, 15)) == 0
                        else st.integers(centre - 16, centre + 16)) for _ in range(4)] for _ in range(n)], dtype=np.int16)
    voice = draw(st.integers(0, 3))
    pitch[-1, voice] = REST
    for w in range(4):  # later voices are often still undecided, as while decoding
        if w > voice and draw(st.booleans()):
            pitch[-1, w] = REST
    attack = np.array([[draw(st.booleans()) for _ in range(4)] for _ in range(n)])
    s = SonorityArray(pitch, attack, np.arange(n, dtype=float), np.ones(n), np.ones(n, np.int32), np.arange(n) + 1.0,
                      np.zeros(n, bool))
    keys = [key_info(key)] * n
    chords = None
    if with_chords:
        chords = [chord_spec(draw(st.sampled_from(FIGURES)), key) if draw(st.integers(0, 7)) else None for _ in range(n)]
    return DecodeState(s, Context(keys=keys, chords=chords)), voice


def _at_last(rule, state: DecodeState) -> set:
    return {(v.index, tuple(v.voices), v.message) for v in rule.check(state.sonorities, state.ctx)
            if v.index == state.index}


def _violates_last(rule, state: DecodeState, before: set = frozenset()) -> bool:
    """Writing the voice adds a violation at the last sonority (one already there from
    earlier voices, impossible while decoding under the masks, does not count)."""
    return bool(_at_last(rule, state) - before)


def _assert_agrees(rule, state: DecodeState, voice: int) -> None:
    mask = rule.allowed(state, voice)
    assert mask.dtype == bool and mask.shape == (128,)
    before = _at_last(rule, state)
    for p in range(128):
        bad = _violates_last(rule, state.with_pitch(voice, p), before)
        assert mask[p] == (not bad), f"{rule.id}: pitch {p} for voice {voice}: mask {mask[p]}, check says violation={bad}"
    prev = int(state.sonorities.pitch[-2, voice]) if len(state.sonorities) > 1 else REST
    if prev != REST:  # holding the previous pitch is judged like re-striking it
        assert _at_last(rule, state.with_pitch(voice, prev, attack=False)) == \
            _at_last(rule, state.with_pitch(voice, prev, attack=True)), rule.id


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(states(with_chords=True))
def test_every_hard_rule_mask_matches_check_with_plan_chords(sv):
    state, voice = sv
    for rule in hard_rules("strict"):
        _assert_agrees(rule, state, voice)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(with_chords=True))
def test_chorale_profile_and_warning_rules_masks_match_check(sv):
    state, voice = sv
    for (prof, rid), rule in ALL_RULES.items():
        if prof == "chorale" or rid == "unprepared-dissonance":
            _assert_agrees(rule, state, voice)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(with_chords=False))
def test_masks_match_check_when_chords_are_inferred(sv):
    state, voice = sv
    for rule in hard_rules("strict"):
        _assert_agrees(rule, state, voice)


def test_hard_rules_are_the_strict_errors():
    ids = [r.id for r in hard_rules("strict")]
    assert "unprepared-dissonance" not in ids
    assert {"parallel-fifths", "parallel-octaves", "hidden-fifths", "hidden-octaves", "voice-crossing", "voice-overlap",
            "spacing", "range", "doubled-leading-tone", "leading-tone-resolution", "seventh-resolution",
            "melodic-augmented-interval", "large-leap", "out-of-key"} == set(ids)
