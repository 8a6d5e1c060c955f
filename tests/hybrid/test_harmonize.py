"""harmonize: the melody stays exactly, the harmony fits it, bad melodies are refused clearly."""
from __future__ import annotations


import numpy as np
import pytest
from music21 import converter, meter, note, stream, tie

from partimento.grammar.errors import InputError, ScoreError
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.hybrid import harmonize
from partimento.hybrid.harmony import propose_plan
from partimento.grammar.plan import ChordEvent, Plan
from partimento.hybrid.melody import read_melody
from partimento.neural.encoding import HOLD, PITCH_OFFSET
from hybrid_fakes import FakeModel


def melody_file(tmp_path, notes, metre="3/4", pickup=1.0, parts=1, name="tune.musicxml"):
    """A MusicXML melody with a real pickup measure; ``notes`` are (midi or None, quarters, tied?)."""
    score = stream.Score()
    for k in range(parts):
        part = stream.Part()
        flat = stream.Stream()
        offset = 0.0
        tied_in = False
        for midi, dur, tied in notes:
            n = note.Rest(quarterLength=dur) if midi is None else note.Note(midi - 12 * k, quarterLength=dur)
            if tied or tied_in:
                n.tie = tie.Tie("continue" if tied and tied_in else "start" if tied else "stop")
            tied_in = tied
            flat.insert(offset, n)
            offset += dur
        flat.insert(0, meter.TimeSignature(metre))
        m = flat.makeMeasures()
        if pickup:
            m = stream.Stream()
            ts = meter.TimeSignature(metre)
            bar = ts.barDuration.quarterLength
            first = stream.Measure(number=0)
            first.insert(0, meter.TimeSignature(metre))
            first.paddingLeft = bar - pickup
            rest = stream.Stream()
            off = 0.0
            for el in flat.notesAndRests:
                if off < pickup:
                    first.insert(off, el)
                else:
                    rest.insert(off - pickup, el)
                off += el.quarterLength
            part.append(first)
            for i, mm in enumerate(rest.makeMeasures()):
                mm.number = i + 1
                part.append(mm)
        else:
            for mm in m:
                part.append(mm)
        part.makeTies(inPlace=True)
        score.insert(0, part)
    path = tmp_path / name
    score.write("musicxml", fp=str(path))
    return path


TUNE = [(67, 1, False), (72, 1, False), (72, 1, False), (74, 1, False), (76, 2, False), (74, 0.5, False),
        (72, 0.5, False), (74, 3, True), (74, 1, False), (76, 1, False), (77, 1, False), (76, 1, False),
        (74, 1, False), (72, 1, False), (72, 2, False)]


def test_melody_is_read_exactly_with_pickup_and_tie(tmp_path):
    mel = read_melody(melody_file(tmp_path, TUNE))
    assert (mel.metre, mel.pickup, mel.key) == ("3/4", 1.0, "C")
    q = STEPS_PER_QUARTER
    assert mel.tokens[0] == PITCH_OFFSET + 67 and (mel.tokens[1:q] == HOLD).all()
    tie_start = int(sum(d for _, d, _ in TUNE[:7]) * q)
    held = mel.tokens[tie_start:tie_start + 4 * q]  # D tied over into the next bar: struck once
    assert held[0] == PITCH_OFFSET + 74 and (held[1:] == HOLD).all()


def test_harmonization_keeps_the_soprano_and_has_no_strict_errors(tmp_path):
    path = melody_file(tmp_path, TUNE[:9] + [(72, 3, False)])
    result = harmonize(path, seed=1)
    mel = read_melody(path)
    assert np.array_equal(result.tokens[:, 0], mel.tokens)
    assert result.plan.pickup == 1.0 and result.plan.metre == "3/4"
    assert result.errors == []
    for c in result.plan.chords:  # the melody note on each chord onset belongs to the chord
        t = int(round(c.onset * STEPS_PER_QUARTER))
        assert mel.pitch[t] < 0 or mel.pitch[t] % 12 in c.spec.members


def test_different_seeds_propose_different_harmonies(tmp_path):
    mel = read_melody(melody_file(tmp_path, TUNE))
    figures = {tuple(c.figure for c in propose_plan(mel, seed=s).chords) for s in range(4)}
    assert len(figures) > 1


def test_several_parts_use_the_top_one_and_say_so(tmp_path):
    mel = read_melody(melody_file(tmp_path, TUNE, parts=2))
    assert any("2 parts" in w for w in mel.warnings)
    assert mel.pitch[0] == 67


def test_a_melody_written_in_another_octave_is_moved_with_a_warning(tmp_path):
    low = [(m - 24 if m else m, d, t) for m, d, t in TUNE]  # written in the bass octave
    mel = read_melody(melody_file(tmp_path, low))
    assert any("transposed up 2 octave" in w for w in mel.warnings)
    assert mel.pitch[0] == 67


def test_a_melody_partly_out_of_range_is_refused_at_its_first_such_note(tmp_path):
    low = [(m - 12 if m else m, d, t) for m, d, t in TUNE]  # G3 first: one note below the soprano
    with pytest.raises(InputError) as e:
        read_melody(melody_file(tmp_path, low))
    assert (e.value.location.measure, e.value.location.voice) == (0, "soprano") and "G3" in e.value.message


def test_a_melody_no_octave_fits_is_refused(tmp_path):
    wide = [(48, 1, False), (84, 2, False), (60, 3, False)]
    with pytest.raises(InputError) as e:
        read_melody(melody_file(tmp_path, wide, pickup=0))
    assert "soprano range" in e.value.message


def test_a_key_that_contradicts_the_melody_is_refused_with_a_location(tmp_path):
    with pytest.raises(InputError) as e:
        read_melody(melody_file(tmp_path, TUNE), key="F#")
    assert e.value.location.measure is not None and "contradicts" in e.value.message


def test_tuplets_are_refused_with_their_measure(tmp_path):
    tune = converter.parse("tinyNotation: 4/4 c'4 trip{d'8 e'8 f'8} g'2 c'1")
    with pytest.raises(InputError) as e:
        read_melody(tune)
    assert e.value.location.measure == 1


def one_staff(notes_per_voice, metre="4/4", key_sharps=None):
    """A one-part score whose first measure holds the given voices (lists of (midi, quarters)) or chords."""
    from music21 import chord, key

    part = stream.Part()
    m = stream.Measure(number=1)
    m.insert(0, meter.TimeSignature(metre))
    if key_sharps is not None:
        m.insert(0, key.KeySignature(key_sharps))
    if len(notes_per_voice) == 1:
        off = 0.0
        for midi, dur in notes_per_voice[0]:
            el = chord.Chord(midi, quarterLength=dur) if isinstance(midi, tuple) else note.Note(midi, quarterLength=dur)
            m.insert(off, el)
            off += dur
    else:
        for i, line in enumerate(notes_per_voice):
            v = stream.Voice(id=str(i + 1))
            off = 0.0
            for midi, dur in line:
                v.insert(off, note.Note(midi, quarterLength=dur))
                off += dur
            m.insert(0, v)
    part.append(m)
    return part


def test_two_voices_on_one_staff_are_refused_with_the_measure():
    part = one_staff([[(72, 2), (71, 2)], [(64, 2), (62, 2)]])
    with pytest.raises(InputError) as e:
        read_melody(part)
    assert e.value.location.measure == 1 and "2 voices on one staff" in e.value.message


def test_chords_in_a_melody_are_refused_with_their_place():
    part = one_staff([[(72, 1), ((64, 67, 72), 1), (71, 2)]])
    with pytest.raises(InputError) as e:
        read_melody(part)
    assert (e.value.location.measure, e.value.location.beat) == (1, 2.0) and "chord" in e.value.message


def test_a_melody_without_notes_is_refused():
    part = stream.Part()
    m = stream.Measure(number=1)
    m.insert(0, note.Rest(quarterLength=4))
    part.append(m)
    with pytest.raises(ScoreError) as e:
        read_melody(part)
    assert "no notes" in e.value.message


@pytest.mark.parametrize("bad", ["H", "G sharp", "C#b", "c minor major"])
def test_a_key_in_a_wrong_format_names_the_accepted_spellings(tmp_path, bad):
    with pytest.raises(InputError) as e:
        read_melody(melody_file(tmp_path, TUNE), key=bad)
    assert "unknown key" in e.value.message and "B-" in e.value.expected and "c#" in e.value.expected


def test_the_melody_of_a_grand_staff_is_the_top_voice_of_the_top_staff():
    treble = one_staff([[(72, 2), (71, 2)], [(64, 2), (62, 2)]])
    bass = one_staff([[(55, 2), (55, 2)], [(48, 2), (43, 2)]])
    score = stream.Score([treble, bass])
    mel = read_melody(score)
    assert mel.pitch[0] == 72 and mel.pitch[8] == 71
    assert any("top voice of the top" in w for w in mel.warnings)


A5_TUNE = [(72, 1, False), (76, 1, False), (79, 1, False), (81, 1, False), (79, 2, False), (77, 1, False),
           (76, 1, False), (74, 2, False), (72, 2, False)]


def test_a5_is_refused_up_front_in_strict_and_harmonized_in_chorale(tmp_path):
    path = melody_file(tmp_path, A5_TUNE, metre="4/4", pickup=0)
    with pytest.raises(InputError) as e:
        harmonize(path, profile="strict", model=FakeModel(0))
    assert e.value.exit_code == 2 and e.value.location.measure == 1 and e.value.location.beat == 4.0
    assert "--profile chorale" in e.value.hint
    result = harmonize(path, profile="chorale", model=FakeModel(0))
    assert np.array_equal(result.tokens[:, 0], read_melody(path, profile="chorale").tokens)
    assert result.errors == []


def test_the_melody_keeps_its_spelling(tmp_path):
    from music21 import key

    score = converter.parse("tinyNotation: 4/4 c4 e4 g4 a4 b4 g#4 a2 f4 e4 d4 g4 c1")
    score.getElementsByClass(stream.Measure)[0].insert(0, key.KeySignature(0))
    path = tmp_path / "gis.musicxml"
    score.write("musicxml", fp=str(path))
    result = harmonize(path, seed=0, model=FakeModel(1))
    assert result.plan.key == "C"
    written = [n.pitch.nameWithOctave for n in result.score.parts[0].flatten().notes]
    assert "G#4" in written and "A-4" not in written
    assert result.errors == []


def test_an_edited_plan_is_realized_under_the_melody(tmp_path):
    path = melody_file(tmp_path, TUNE[:9] + [(72, 3, False)])
    mel = read_melody(path)
    plan = propose_plan(mel)
    plan.write(tmp_path / "plan.rntxt")
    text = (tmp_path / "plan.rntxt").read_text()
    first = plan.chords[-1]
    result = harmonize(path, plan=tmp_path / "plan.rntxt", model=FakeModel(2))
    assert [(c.figure, c.key) for c in result.plan.chords] == [(c.figure, c.key) for c in plan.chords]
    assert first.figure in text and np.array_equal(result.tokens[:, 0], mel.tokens)
    short = Plan(key="C", metre="4/4", bars=1, chords=[ChordEvent(0, 4, "I", "C")])
    with pytest.raises(InputError) as e:
        harmonize(path, plan=short, model=FakeModel(2))
    assert "does not fit the melody" in e.value.message


LEAPS = [(67, 1, False), (72, 1, False), (64, 1, False), (69, 1, False), (74, 2, False), (67, 2, False),
         (76, 1, False), (72, 1, False), (77, 1, False), (71, 1, False), (72, 4, False)]


@pytest.mark.parametrize("seed", [0, 3])
def test_a_singable_leaping_tune_is_harmonized_without_errors(tmp_path, seed):
    path = melody_file(tmp_path, LEAPS, metre="4/4", pickup=0)
    result = harmonize(path, key="C", seed=seed)
    assert result.errors == []
    assert np.array_equal(result.tokens[:, 0], read_melody(path, key="C").tokens)


def test_a_given_note_that_breaks_one_rule_on_its_own_is_not_excused_from_the_others():
    """bwv288 (valid split), bar 11: the given soprano leaves an unclassified A4 by a leap to E4
    (the melody's own unprepared dissonance). That excused the E4 from every rule, so the alto
    held G#4 over it and the soprano overlapped it; only the rules the melody breaks alone are
    excused now, and the alto gets out of the way."""
    import warnings

    from music21 import corpus

    from partimento.hybrid.api import report_for

    score = corpus.parse("bach/bwv288")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = harmonize(score.parts[0], key="d", seed=0)
    report = report_for(res.pitch, res.attack, res.plan, "strict")
    errors = [v for v in report.violations if v.severity.value == "error"]
    assert all(v.voices == ["soprano"] for v in errors), [(v.rule, v.measure, v.beat, v.voices) for v in errors]


def test_a_plan_whose_search_runs_out_is_tried_again_from_a_derived_seed_before_the_next_plan(tmp_path, monkeypatch):
    """A search out of backtracking budget (SearchExhausted) says nothing against the plan: harmonize
    starts it again from a seed derived from the caller's before it draws the next-best plan. Same
    seed, same attempts, same notes."""
    from partimento.grammar.errors import SearchExhausted, UnsatisfiableError
    from partimento.hybrid import api

    real = api._run
    seen: list[int] = []

    def flaky(plan, seed, *args, **kwargs):
        seen.append(seed)
        if len(seen) % 2:  # every first attempt runs out of budget
            raise SearchExhausted("no legal note for the tenor over V7 within 32 sixteenths of backtracking")
        return real(plan, seed, *args, **kwargs)

    monkeypatch.setattr(api, "_run", flaky)
    path = melody_file(tmp_path, TUNE[:9] + [(72, 3, False)])
    a = harmonize(path, seed=1, model=FakeModel(0))
    b = harmonize(path, seed=1, model=FakeModel(0))
    assert a.stats["plan_draws"] == 1 and a.stats["search_restarts"] == 1
    assert seen[:2] == api._restart_seeds(1, api.HARMONIZE_RESTARTS) and seen[2:] == seen[:2]
    assert np.array_equal(a.tokens, b.tokens)

    # a plan the rules refuse outright is not started again: the next plan is drawn at once
    seen.clear()

    def refused_once(plan, seed, *args, **kwargs):
        seen.append(seed)
        if len(seen) == 1:
            raise UnsatisfiableError("no bass note of iv6 can go on into V")
        return real(plan, seed, *args, **kwargs)

    monkeypatch.setattr(api, "_run", refused_once)
    c = harmonize(path, seed=1, model=FakeModel(0))
    assert c.stats["plan_draws"] == 2 and c.stats["search_restarts"] == 0 and seen == [1, 1]
