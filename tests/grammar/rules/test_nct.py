"""Non-chord-tone classes (rules/nct.py) on hand-written passages, the rule that reports the
notes fitting none, and the decoder's prospective face."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partimento.grammar.rules import REST, Context, DecodeState, Severity, SonorityArray, check_arrays
from partimento.grammar.rules.nct import (BEAT, DOWNBEAT, HALF_BEAT, OFFBEAT, STRONG_BEAT, UNCLASSIFIED,
                                          accent_levels, class_at, classify_notes, departure_mask,
                                          note_prospects, sounding_classes)
from partimento.grammar.theory import chord_spec, key_info

_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi(name: str) -> int:
    """``"F#4" -> 66``, ``"B-3" -> 58``, ``"-" -> REST``."""
    if name == "-":
        return REST
    pc = _LETTER[name[0]] + name[1:-1].count("#") - name[1:-1].count("-")
    return 12 * (int(name[-1]) + 1) + pc


def passage(rows: list[tuple[float, str, str]], key: str = "C", metre: str = "4/4"):
    """(sonorities, context) from rows ``(beat in bar 1.., "S A T B", figure)``; bars follow when beats fall back."""
    pitch = np.array([[midi(x) for x in notes.split()] for _, notes, _ in rows], np.int16)
    attack = np.ones(pitch.shape, bool)
    attack[1:] = pitch[1:] != pitch[:-1]
    beats = np.array([b for b, _, _ in rows], float)
    measure = np.ones(len(rows), np.int32)
    for i in range(1, len(rows)):
        measure[i] = measure[i - 1] + (beats[i] <= beats[i - 1])
    offset = (measure - 1) * 4.0 + beats - 1
    duration = np.diff(np.append(offset, offset[-1] + 1))
    s = SonorityArray(pitch, attack, offset, duration, measure, beats, np.zeros(len(rows), bool))
    ctx = Context(keys=[key_info(key)] * len(rows), chords=[chord_spec(f, key) for _, _, f in rows],
                  accent=accent_levels(beats, metre))
    return s, ctx


def labels(s, ctx, voice: int) -> list[tuple[int, str]]:
    """(start row, label) of the non-chord tones of one voice."""
    return [(nc.start, nc.label) for nc in classify_notes(s, ctx, voices=(voice,)) if nc.kind != "chord tone"]


# ------------------------------------------------------------------------------------------ metre
def test_accent_levels_follow_the_time_signature():
    assert accent_levels([1, 1.5, 2, 2.25, 3, 4], "4/4").tolist() == [DOWNBEAT, HALF_BEAT, BEAT, OFFBEAT, STRONG_BEAT, BEAT]
    assert accent_levels([1, 2, 3, 2.5], "3/4").tolist() == [DOWNBEAT, BEAT, BEAT, HALF_BEAT]
    assert accent_levels([1, 4 / 3, 5 / 3, 2, 1.5], "6/8").tolist() == [DOWNBEAT, HALF_BEAT, HALF_BEAT, BEAT, OFFBEAT]
    # without a metre no beat is singled out as the strong one (beat 3 is a plain beat)
    assert accent_levels([1, 3, 3.5]).tolist() == [DOWNBEAT, BEAT, HALF_BEAT]


# ------------------------------------------------------------------------------------------ classes
def test_passing_tones_unaccented_and_accented_chromatic():
    s, ctx = passage([(1, "E5 G4 C4 C3", "I"), (1.5, "D5 G4 C4 C3", "I"), (2, "C5 G4 C4 C3", "I"),
                      (2.5, "C#5 G4 C4 C3", "I"), (3, "D5 G4 C4 C3", "I"), (4, "E5 G4 C4 C3", "I")])
    assert labels(s, ctx, 0) == [(1, "passing"), (3, "passing (chromatic)"), (4, "passing (accented)")]
    s, ctx = passage([(1, "E5 G4 C4 C3", "I"), (1.5, "E5 G4 C4 C3", "I"), (2, "D#5 G4 C4 C3", "I"),
                      (2.5, "D5 G4 C4 C3", "I"), (3, "C5 G4 C4 C3", "I")])
    assert labels(s, ctx, 0) == [(2, "passing (accented, chromatic)"), (3, "passing")]


def test_upper_and_lower_neighbours():
    s, ctx = passage([(1, "C5 G4 E4 C3", "I"), (1.5, "D5 G4 E4 C3", "I"), (2, "C5 G4 E4 C3", "I"),
                      (2.5, "B4 G4 E4 C3", "I"), (3, "C5 G4 E4 C3", "I")])
    assert labels(s, ctx, 0) == [(1, "neighbour (upper)"), (3, "neighbour (lower)")]


def test_suspension_4_3_prepared_on_the_previous_chord():
    s, ctx = passage([(1, "C5 G4 E4 C3", "I"), (3, "C5 G4 D4 G2", "V"), (4, "B4 G4 D4 G2", "V")])
    (nc,) = [n for n in classify_notes(s, ctx, voices=(0,)) if n.kind != "chord tone"]
    assert (nc.kind, nc.label, nc.start, nc.stop, nc.dissonant_from, nc.accented) == (
        "suspension", "suspension 4-3", 0, 2, 1, True)


def test_a_chain_of_7_6_suspensions_over_a_falling_bass():
    s, ctx = passage([(1, "A4 E4 C4 C3", "vi6"), (3, "A4 D4 G3 B2", "V6"), (4, "G4 D4 G3 B2", "V6"),
                      (1, "G4 C4 F3 A2", "IV6"), (2, "F4 C4 F3 A2", "IV6")])
    assert labels(s, ctx, 0) == [(0, "suspension 7-6"), (2, "suspension 7-6 (chain)")]


def test_9_8_and_the_bass_2_3():
    s, ctx = passage([(1, "D5 B4 G4 G3", "V"), (3, "D5 G4 E4 C3", "I"), (4, "C5 G4 E4 C3", "I")])
    assert labels(s, ctx, 0) == [(0, "suspension 9-8")]
    s, ctx = passage([(1, "E5 G4 E4 C3", "I"), (3, "D5 G4 D4 C3", "V6"), (4, "D5 G4 D4 B2", "V6")])
    assert labels(s, ctx, 3) == [(0, "suspension 2-3 (bass)")]


def test_retardation_rises_by_step():
    s, ctx = passage([(1, "B4 G4 D4 G2", "V"), (3, "B4 G4 E4 C3", "I"), (4, "C5 G4 E4 C3", "I")])
    assert labels(s, ctx, 0) == [(0, "retardation 7-8")]


def test_suspension_with_an_ornamented_resolution():
    # C5 held over V falls a third to A4 and turns up to the resolution B4 (Bach's figure)
    s, ctx = passage([(1, "C5 G4 E4 C3", "I"), (3, "C5 G4 D4 G2", "V"), (3.5, "A4 G4 D4 G2", "V"),
                      (4, "B4 G4 D4 G2", "V")])
    assert labels(s, ctx, 0) == [(0, "suspension 4-3 (ornamented resolution)"), (2, "incomplete neighbour")]


def test_appoggiatura_incomplete_neighbour_escape_tone_anticipation_pedal():
    s, ctx = passage([(1, "G4 E4 C4 C3", "I"), (2, "C5 D4 B3 G2", "V"), (2.5, "B4 D4 B3 G2", "V")])
    assert labels(s, ctx, 0) == [(1, "appoggiatura")]
    s, ctx = passage([(1, "G4 E4 C4 C3", "I"), (1.5, "D5 E4 C4 C3", "I"), (2, "C5 E4 C4 C3", "I")])
    assert labels(s, ctx, 0) == [(1, "incomplete neighbour")]
    s, ctx = passage([(1, "D5 G4 B3 G2", "V"), (1.5, "E5 G4 B3 G2", "V"), (2, "B4 G4 B3 G2", "V")])
    assert labels(s, ctx, 0) == [(1, "escape tone")]
    s, ctx = passage([(1, "D5 G4 B3 G2", "V"), (2.5, "C5 G4 B3 G2", "V"), (3, "C5 G4 E4 C3", "I")])
    assert labels(s, ctx, 0) == [(1, "anticipation")]
    s, ctx = passage([(1, "E5 G4 C4 C3", "I"), (2, "D5 G4 B3 C3", "V7"), (3, "E5 G4 C4 C3", "I")])
    assert labels(s, ctx, 3) == [(0, "pedal")]


def test_sounding_classes_and_class_at_answer_per_row():
    s, ctx = passage([(1, "C5 G4 E4 C3", "I"), (3, "C5 G4 D4 G2", "V"), (4, "B4 G4 D4 G2", "V")])
    grid = sounding_classes(s, ctx)
    assert grid[:, 0].tolist() == ["chord tone", "suspension 4-3", "chord tone"]
    assert grid[1, 1:].tolist() == ["chord tone"] * 3
    assert class_at(s, ctx, 1, 0).label == "suspension 4-3"
    assert class_at(s, ctx, 0, 0).kind == "suspension"  # the same note: prepared at row 0


def test_classes_without_labels_are_the_same_classes():
    """``labels=False`` (the unprepared-dissonance rule's way) skips the figures, never a class."""
    from music21 import corpus

    from partimento.grammar.rules import parse_score
    from partimento.grammar.rules.chords import infer_chords

    for name in ("bwv66.6", "bwv26.6"):
        ps = parse_score(corpus.parse(name))
        ctx = Context(ps.ctx.keys, infer_chords(ps.sonorities, ps.ctx.keys), chords_inferred=True, accent=ps.ctx.accent)
        full = classify_notes(ps.sonorities, ctx, chord_tones=False)
        bare = classify_notes(ps.sonorities, ctx, chord_tones=False, labels=False)
        assert any(nc.label != nc.kind for nc in full)  # figures such as "suspension 4-3" exist here
        assert [(nc.voice, nc.start, nc.stop, nc.kind, nc.reason) for nc in full] == \
               [(nc.voice, nc.start, nc.stop, nc.kind, nc.reason) for nc in bare]
        assert all(nc.label == nc.kind for nc in bare)


# ------------------------------------------------------------------------------------------ the rule
def _unclassified_suspension(beat_of_dissonance: float):
    """C5 held from I into V and left by a leap down to G4: no class (closest: a suspension)."""
    return passage([(1, "C5 G4 E4 C3", "I"), (beat_of_dissonance, "C5 G4 D4 G2", "V"),
                    (beat_of_dissonance + 1, "G4 G4 D4 G2", "V")])


def test_a_suspension_left_by_leap_is_reported_where_it_sounds():
    s, ctx = _unclassified_suspension(3)
    (nc,) = [n for n in classify_notes(s, ctx, voices=(0,)) if n.kind != "chord tone"]
    assert nc.kind == UNCLASSIFIED and nc.closest == "a suspension" and "leap down" in nc.reason
    (v,) = check_arrays(s, ctx, "strict").violations
    assert (v.rule, v.index, v.measure, v.beat, v.voices, v.severity) == (
        "unprepared-dissonance", 2, 1, 3.0, ["soprano"], Severity.ERROR)
    assert "soprano C5 against V fits no non-chord-tone class" in v.message and "closest: a suspension" in v.message


@pytest.mark.parametrize("beat,strict,chorale", [(3, "error", "warning"), (1, "error", "error"),
                                                 (2.5, "warning", "warning")])
def test_severity_follows_the_accent_and_the_profile(beat, strict, chorale):
    if beat == 1:  # dissonant on the downbeat of bar 2
        s, ctx = passage([(3, "C5 G4 E4 C3", "I"), (1, "C5 G4 D4 G2", "V"), (2, "G4 G4 D4 G2", "V")])
    else:
        s, ctx = _unclassified_suspension(beat)
    found = {prof: [v.severity.value for v in check_arrays(s, ctx, prof).violations if v.rule == "unprepared-dissonance"]
             for prof in ("strict", "chorale")}
    assert found == {"strict": [strict], "chorale": [chorale]}


def test_classified_non_chord_tones_are_not_reported():
    s, ctx = passage([(1, "C5 G4 E4 C3", "I"), (3, "C5 G4 D4 G2", "V"), (3.5, "A4 G4 D4 G2", "V"),
                      (4, "B4 G4 D4 G2", "V")])
    assert [v for v in check_arrays(s, ctx, "strict").violations if v.rule == "unprepared-dissonance"] == []


def test_a_non_chord_tone_held_into_a_chord_it_does_not_belong_to_fits_no_class():
    s, ctx = passage([(1, "C5 G4 E4 C3", "I"), (1.5, "D5 G4 E4 C3", "I"), (2, "D5 A4 F4 F3", "IV"),
                      (3, "C5 A4 F4 F3", "IV")])
    (nc,) = [n for n in classify_notes(s, ctx, voices=(0,)) if n.kind != "chord tone"]
    assert nc.kind == UNCLASSIFIED and "held into the next chord" in nc.reason


# ------------------------------------------------------------------------------------------ decoding
def _prefix(rows, key="C"):
    """A decoding state: ``rows`` written, the last one being written (its "-" voices undecided)."""
    s, ctx = passage(rows, key)
    return DecodeState(s, ctx)


def test_departure_mask_allows_exactly_the_resolutions():
    # soprano C5 prepared over I, held over V; being written: the next soprano note, V still sounding
    state = _prefix([(1, "C5 G4 E4 C3", "I"), (3, "C5 G4 D4 G2", "V"), (4, "- - - -", "V")])
    mask, status = departure_mask(state, 0)
    assert status.settled is None and {p.kind for p in status.prospects} == {"suspension", "retardation"}
    # A-flat4 and A4 (a third down: the ornamented resolution); B4 (a step down to a chord tone);
    # holding C5; D5 (a step up to a chord tone: a retardation). Not B-flat4 or C#5: no chord tones
    assert sorted(np.flatnonzero(mask).tolist()) == [68, 69, 71, 72, 74]


def test_note_prospects_say_what_a_candidate_needs_next():
    # the soprano holds C5 into V: a suspension needs B4 or B-flat4 (chord tones) next, or the ornament
    state = _prefix([(1, "C5 G4 E4 C3", "I"), (3, "- G4 D4 G2", "V")])
    st_ = note_prospects(state, 0, 72)
    assert st_.settled is None and st_.dissonant_from == 1
    sus = [p for p in st_.prospects if p.kind == "suspension" and p.chord_tone]
    assert len(sus) == 1 and sus[0].targets(72) == [71, 70] and not sus[0].leave_before_next_chord
    # told that the next chord is I, which contains C: holding it there would make a pedal
    held = note_prospects(state, 0, 72, next_chord=chord_spec("I", "C"))
    assert any(p.kind == "pedal" and p.hold_into_next_chord for p in held.prospects)
    # a new non-chord tone D5 after C5 (a step up): passing on to E5/E-flat5, back to C5/C#5, or escape by leap down
    state = _prefix([(1, "C5 G4 E4 C3", "I"), (1.5, "- G4 E4 C3", "I")])
    st_ = note_prospects(state, 0, 74)
    kinds = {p.kind: p for p in st_.prospects}
    assert set(kinds) == {"passing", "neighbour", "escape tone"}
    assert kinds["passing"].targets(74) == [75, 76] and kinds["passing"].leave_before_next_chord
    assert kinds["escape tone"].chord_tone and min(kinds["escape tone"].moves) < -2
    # an anticipation is offered when the next chord contains the pitch
    st_ = note_prospects(state, 0, 74, next_chord=chord_spec("V", "C"))
    assert any(p.kind == "anticipation" and p.hold_into_next_chord for p in st_.prospects)
    # a chord tone is settled
    assert note_prospects(state, 0, 79).settled == "chord tone"


_MOVES = [0, 0, -1, 1, -2, 2, -3, 3, -4, 4, 5, -5, 7, -12]
_FIGS = ["I", "V", "V7", "IV", "ii", "vi", "viio7"]


@st.composite
def lines(draw):
    """A voice walking through one to three chords, the last row being written, and the pitch it tries."""
    n = draw(st.integers(1, 5))
    figs = [draw(st.sampled_from(_FIGS)) for _ in range(n)]
    chords = []
    for i in range(n):  # chords change now and then
        chords.append(chords[-1] if i and draw(st.booleans()) else chord_spec(figs[i], "C"))
    x = 60 + draw(st.integers(0, 11))
    col = []
    for i in range(n):
        x = x + (draw(st.sampled_from(_MOVES)) if i else 0)
        col.append(x)
    try_pitch = col[-1] + draw(st.sampled_from(_MOVES))
    nxt = try_pitch + draw(st.sampled_from([m for m in _MOVES if m]))
    return chords, col, try_pitch, nxt


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines())
def test_prospects_agree_with_the_classes_the_checker_gives(case):
    """For a candidate pitch, the prospects' moves are exactly the next moves (within the same chord)
    after which the checker finds the note a class."""
    chords, col, p, q = case
    n = len(col)
    rows = np.full((n + 2, 4), REST, np.int16)
    rows[:n, 1] = col
    rows[n, 1] = p
    rows[n + 1, 1] = q
    every = chords + [chords[-1], chords[-1]]
    s = SonorityArray(rows, np.ones(rows.shape, bool), np.arange(n + 2.0), np.ones(n + 2), np.ones(n + 2, np.int32),
                      np.arange(n + 2) + 1.0, np.zeros(n + 2, bool))
    ctx = Context(keys=[key_info("C")] * (n + 2), chords=every)
    state = DecodeState(s.slice(n + 1), Context(keys=ctx.keys[:n + 1], chords=every[:n + 1]))
    status = note_prospects(state.with_pitch(1, REST), 1, p)
    (nc,) = [c for c in classify_notes(s, ctx, voices=(1,)) if c.start <= n < c.stop]
    if status.settled is not None:
        assert nc.classified
        return
    expected = any((q - p) in pr.moves and (not pr.chord_tone or q % 12 in every[-1].members)
                   for pr in status.prospects)
    assert nc.classified == expected, (status, nc)


@settings(max_examples=200, deadline=None)
@given(moves=st.lists(st.integers(-14, 14), max_size=6, unique=True), chord_tone=st.booleans(),
       x=st.integers(0, 127), members=st.integers(0, 4095))
def test_the_decoder_s_departure_table_is_the_checker_s_test(moves, chord_tone, x, members):
    """The decoder's table lookup (``_departures_from``) gives, pitch by pitch, exactly what the
    checker's one-note test (``_departure_ok`` on ints) says about leaving ``x`` for that pitch."""
    from partimento.grammar.rules.nct import Prospect, _departure_ok, _departures_from

    p = Prospect("passing tone", tuple(moves), chord_tone=chord_tone)
    member = np.array([(members >> (q % 12)) & 1 for q in range(128)], bool)
    fast = _departures_from(p, x, member)
    assert fast.tolist() == [bool(_departure_ok(p, q - x, bool(member[q]))) for q in range(128)]
