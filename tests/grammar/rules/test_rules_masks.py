"""The decoder face agrees with the checker face, for every rule, in both profiles.

For random prefixes whose last sonority has one voice undecided, ``allowed(state, voice)[p]``
must be True exactly when writing ``p`` there makes ``check`` report no violation of that
rule at the last sonority; and holding the previous pitch must be judged like re-striking it.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from partimento.grammar.rules import REST, Context, DecodeState, SonorityArray, get_profile, hard_rules
from partimento.grammar.theory import chord_spec, key_info

KEYS = ["C", "a", "E-", "f#", "G"]
FIGURES = ["I", "i", "V", "V7", "viio7", "ii7", "V/V", "V7/IV", "N6", "It+6", "vi", "IV", "iv", "Cad64", "V65", "iiø7",
           "Ger65", "Fr43", "V7/vi", "V6", "ii"]

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
    if draw(st.booleans()):  # snap notes to chord tones (or the key's leading tone) so tendency rules fire
        lt = key_info(key).leading_tone
        for i in range(n):
            pcs = list(chords[i].members) if chords and chords[i] is not None else [lt, key_info(key).tonic]
            for w in range(4):
                if pitch[i, w] != REST and draw(st.integers(0, 2)):
                    x = int(pitch[i, w])
                    pitch[i, w] = min((x + d for d in range(-6, 7) if (x + d) % 12 in pcs), key=lambda y: abs(y - x))
    return DecodeState(s, Context(keys=keys, chords=chords)), voice


def _at_last(rule, state: DecodeState) -> set:
    return {(v.index, tuple(v.voices), v.message) for v in rule.check(state.sonorities, state.ctx)
            if v.index == state.index}


def _violates_last(rule, state: DecodeState, before: set = frozenset()) -> bool:
    """Writing the voice adds a violation at the last sonority (one already there from
    earlier voices, impossible while decoding under the masks, does not count)."""
    return bool(_at_last(rule, state) - before)


def _at_last_for_every_pitch(rule, state: DecodeState, voice: int) -> list[set]:
    """``_at_last(rule, state.with_pitch(voice, p))`` for p = 0..127, in one ``check`` call.

    The 128 candidate prefixes are laid end to end, each followed by an all-rest row; rests
    break every motion, run and episode exactly as the ends of an array do, so each copy is
    judged as if alone.
    """
    s = state.sonorities
    n = len(s)
    block = n + 1
    pitch = np.full((128 * block, 4), REST, np.int16)
    attack = np.zeros((128 * block, 4), bool)
    for p in range(128):
        pitch[p * block:p * block + n] = s.pitch
        pitch[p * block + n - 1, voice] = p
        attack[p * block:p * block + n] = s.attack
        attack[p * block + n - 1, voice] = True
    total = 128 * block
    big = SonorityArray(pitch, attack, np.arange(total, dtype=float), np.tile(np.append(s.duration, 1.0), 128),
                        np.ones(total, np.int32), np.arange(total) + 1.0, np.zeros(total, bool))
    keys = (list(state.ctx.keys) + [state.ctx.keys[-1]]) * 128
    chords = None if state.ctx.chords is None else (list(state.ctx.chords) + [None]) * 128
    ctx = Context(keys=keys, chords=chords, chords_inferred=state.ctx.chords_inferred)
    out: list[set] = [set() for _ in range(128)]
    for v in rule.check(big, ctx):
        p, local = divmod(v.index, block)
        if local == n - 1:
            out[p].add((n - 1, tuple(v.voices), v.message))
    return out


def _assert_agrees(rule, state: DecodeState, voice: int) -> None:
    mask = rule.allowed(state, voice)
    assert mask.dtype == bool and mask.shape == (128,)
    before = _at_last(rule, state)
    found = _at_last_for_every_pitch(rule, state, voice)
    for p in (0, 64, 127):  # the end-to-end layout judges like separate checks
        assert found[p] == _at_last(rule, state.with_pitch(voice, p))
    for p in range(128):
        bad = bool(found[p] - before)
        assert mask[p] == (not bad), f"{rule.id}: pitch {p} for voice {voice}: mask {mask[p]}, check says violation={bad}"
    prev = int(state.sonorities.pitch[-2, voice]) if len(state.sonorities) > 1 else REST
    if prev != REST:  # holding the previous pitch is judged like re-striking it
        assert _at_last(rule, state.with_pitch(voice, prev, attack=False)) == \
            _at_last(rule, state.with_pitch(voice, prev, attack=True)), rule.id


FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
    assert {"parallel-fifths", "parallel-octaves", "hidden-fifths", "hidden-octaves", "voice-crossing", "voice-overlap",
            "spacing", "range", "doubled-leading-tone", "leading-tone-resolution", "seventh-resolution",
            "augmented-sixth-resolution", "melodic-augmented-interval", "large-leap", "out-of-key", "unprepared-dissonance"} == set(ids)
    assert "unprepared-dissonance" in [r.id for r in hard_rules("chorale")]


_MOVES = [0, 0, 0, 0, -1, 1, -2, 2, -3, 3, -4, 4, 5, -5, 7, -12, 12]  # holds, steps, leaps, octaves


@st.composite
def nct_states(draw):
    """Prefixes rich in non-chord tones: one voice walks by holds, steps and leaps through one to three
    plan chords (so notes are prepared, held into chords they do not belong to, approached and left
    every way), the others sit on chord tones; random metric accents."""
    key = draw(st.sampled_from(KEYS))
    n = draw(st.integers(2, 7))
    figures = [draw(st.sampled_from(FIGURES)) for _ in range(draw(st.integers(1, 3)))]
    cuts = sorted(draw(st.lists(st.integers(1, n - 1), max_size=len(figures) - 1, unique=True))) if n > 1 else []
    rows_chord, j = [], 0
    for i in range(n):
        while j < len(cuts) and i >= cuts[j]:
            j += 1
        rows_chord.append(chord_spec(figures[min(j, len(figures) - 1)], key))
    voice = draw(st.integers(0, 3))
    centre = [72, 64, 57, 48]
    pitch = np.zeros((n, 4), np.int16)
    for w in range(4):
        members = rows_chord[0].members
        x = min((centre[w] + d for d in range(-6, 7) if (centre[w] + d) % 12 in members), key=lambda y: abs(y - centre[w]))
        for i in range(n):
            if w == voice:
                x = x + draw(st.sampled_from(_MOVES)) if i else x
            elif draw(st.integers(0, 3)) == 0:
                ms = rows_chord[i].members
                x = min((x + d for d in range(-6, 7) if (x + d) % 12 in ms), key=lambda y: abs(y - x))
            pitch[i, w] = x
    if n > 2 and draw(st.integers(0, 5)) == 0:  # a rest before the line now and then
        pitch[draw(st.integers(0, n - 3)), voice] = REST
    pitch[-1, voice] = REST
    for w in range(voice + 1, 4):
        if draw(st.booleans()):
            pitch[-1, w] = REST
    attack = np.array([[draw(st.booleans()) for _ in range(4)] for _ in range(n)])
    s = SonorityArray(pitch, attack, np.arange(n, dtype=float), np.ones(n), np.ones(n, np.int32), np.arange(n) + 1.0,
                      np.zeros(n, bool))
    accent = np.array([draw(st.integers(-1, 3)) for _ in range(n)], np.int8)
    chords = [None if draw(st.integers(0, 11)) == 0 else c for c in rows_chord]
    return DecodeState(s, Context(keys=[key_info(key)] * n, chords=chords, accent=accent)), voice


@FAST
@given(nct_states())
def test_non_chord_tone_masks_match_check(sv):
    """unprepared-dissonance in both profiles (errors from the beat / the downbeat): the mask is the
    departures that complete a class, whatever the metric accents."""
    state, voice = sv
    for prof in ("strict", "chorale"):
        for rule in get_profile(prof).rules():
            if rule.id == "unprepared-dissonance":
                _assert_agrees(rule, state, voice)


@st.composite
def suspension_states(draw):
    """Suspensions and their kin: a voice prepares a chord tone, holds it (or re-strikes it) into one to
    three rows of a chord it does not belong to, sometimes into a third chord, and is written next (a
    step down to a chord tone, up, a leap, a rest, ... all judged); the other voices on chord tones."""
    key = draw(st.sampled_from(KEYS))
    a, b = chord_spec(draw(st.sampled_from(FIGURES)), key), chord_spec(draw(st.sampled_from(FIGURES)), key)
    voice = draw(st.integers(0, 3))
    centre = [72, 64, 57, 45][voice] + draw(st.integers(-5, 5))
    prepared = [p for p in range(centre - 6, centre + 7) if p % 12 in a.members and p % 12 not in b.members]
    assume(prepared)
    p = draw(st.sampled_from(prepared))
    held = draw(st.integers(1, 3))
    third = draw(st.one_of(st.none(), st.sampled_from(FIGURES)))
    chords = [a] + [b] * held + [chord_spec(third, key) if third else b]
    n = len(chords)
    pitch = np.zeros((n, 4), np.int16)
    for w in range(4):
        c0 = [72, 64, 57, 45][w]
        for i, ch in enumerate(chords):
            pitch[i, w] = min((c0 + d for d in range(-6, 7) if (c0 + d) % 12 in ch.members), key=lambda y: abs(y - c0))
    pitch[:-1, voice] = p
    pitch[-1, voice] = REST
    for w in range(voice + 1, 4):
        if draw(st.booleans()):
            pitch[-1, w] = REST
    attack = np.ones((n, 4), bool)
    attack[1:-1, voice] = [draw(st.integers(0, 4)) == 0 for _ in range(n - 2)]  # mostly held, now and then re-struck
    s = SonorityArray(pitch, attack, np.arange(n, dtype=float), np.ones(n), np.ones(n, np.int32), np.arange(n) + 1.0,
                      np.zeros(n, bool))
    accent = np.array([draw(st.integers(-1, 3)) for _ in range(n)], np.int8)
    return DecodeState(s, Context(keys=[key_info(key)] * n, chords=chords, accent=accent)), voice


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suspension_states())
def test_suspension_masks_match_check(sv):
    """unprepared-dissonance on suspensions, retardations, chains and unresolved ones, both profiles: its mask
    (the departures completing a class) is exactly what its check accepts; the step down to a chord tone is in it."""
    state, voice = sv
    for prof in ("strict", "chorale"):
        for rule in get_profile(prof).rules():
            if rule.id == "unprepared-dissonance":
                _assert_agrees(rule, state, voice)
    s = state.sonorities
    x = int(s.pitch[-2, voice])
    last = state.ctx.chords[-1]
    mask = next(r for r in get_profile("strict").rules() if r.id == "unprepared-dissonance").allowed(state, voice)
    first_member = int(s.pitch[0, voice]) % 12 in state.ctx.chords[0].members
    if first_member and x % 12 not in last.members:  # still a suspension pending: its resolution is allowed
        for r in (x - 1, x - 2):
            if r % 12 in last.members:
                assert mask[r]


_CADENCES = [("V", None), ("V7", None), ("viio7", None), ("V65", None), ("V/V", "V"), ("V7/IV", "IV"),
             ("viio7/V", "V"), ("V7", "vi")]


@st.composite
def cadence_states(draw):
    """A dominant (leading tone often in the soprano) going to its tonic or elsewhere: the tendency rules' home ground."""
    key = draw(st.sampled_from(KEYS))
    k = key_info(key)
    dom, target = draw(st.sampled_from(_CADENCES))
    target = target or ("i" if k.is_minor else "I")
    c0, c1 = chord_spec(dom, key), chord_spec(target, key)
    def near(pcs, centre):
        return min((centre + d for d in range(-6, 7) if (centre + d) % 12 in pcs), key=lambda y: abs(y - centre))
    row0 = [near(c0.members, c) for c in (draw(st.integers(64, 74)), draw(st.integers(57, 66)), draw(st.integers(50, 60)), draw(st.integers(40, 52)))]
    if draw(st.booleans()):
        row0[0] = near([c0.third if (c0.third - c0.root) % 12 == 4 else c0.root], row0[0])
    row1 = [near(c1.members, c + draw(st.integers(-3, 3))) for c in row0]
    voice = draw(st.integers(0, 3))
    row1[voice] = REST
    for w in range(voice + 1, 4):
        if draw(st.booleans()):
            row1[w] = REST
    pitch = np.array([row0, row1], dtype=np.int16)
    s = SonorityArray(pitch, np.ones((2, 4), bool), np.arange(2.0), np.ones(2), np.ones(2, np.int32), np.arange(2) + 1.0)
    return DecodeState(s, Context(keys=[k, k], chords=[c0, c1])), voice


@FAST
@given(cadence_states())
def test_masks_match_check_on_cadences(sv):
    state, voice = sv
    for rule in hard_rules("strict"):
        _assert_agrees(rule, state, voice)
