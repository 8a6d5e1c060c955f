"""Every SATB layout a student writes is read, checked and annotated alike (issue 16, items 1, 2, 4).

Four staves, two staves of two voices (stems up and down), two staves of chords, as
separate parts or as one grand-staff part: the same violations at the same places, the
labels on the same notes, and an annotated file whose every bar keeps its length.
"""
from __future__ import annotations

import copy
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from music21 import chord, converter, corpus, note, stream

from exercises import build, two_staves
from partimento.grammar.errors import ScoreError
from partimento.grammar.rules import check, parse_score
from partimento.grammar.rules.annotate import annotate_marks, write_annotated
from partimento.grammar.rules.satb_reader import read_satb
from partimento.hybrid.cli import main

# parallel fifths (bar 1), a doubled leading tone and a leap (bar 2), parallel octaves (bar 3)
ROWS = ["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 D4 G3", "C5 G4 G3 C3",
        "D5 B4 G3 G3", "E5 C5 G3 C3", "D5 B4 B3 G2", "C5 C5 C4 C3",
        "A4 E4 C4 A2", "B4 D4 D4 B2", "C5 E4 C4 A2", "B4 D4 B3 G2"]
LAYOUTS = [("voices", False), ("voices", True), ("chords", False), ("chords", True)]


def _dicts(report):
    return [v.to_dict() for v in report.violations]


def _marks(path) -> tuple[set, Counter]:
    """(coloured noteheads as (staff, onset, midi), labels as (text, onset)) of an annotated file, any layout.

    Staff 0 holds soprano and alto, staff 1 tenor and bass, as on a grand staff; a unison
    written as one notehead (chord layout) is one mark for both voices.
    """
    satb = read_satb(str(path))
    coloured = set()
    for vi, ev in enumerate(satb.voices):
        for (el, k, _), start, midi in zip(ev.sources, ev.starts, ev.midis):
            target = el.notes[k] if k >= 0 else el
            if midi >= 0 and target.style.color:
                coloured.add((vi // 2, float(start), int(midi)))
    labels = Counter()
    for t in satb.score.recurse().getElementsByClass("TextExpression"):
        if not t.content:  # music21 writes empty words for tempo marks and reads them back as text
            continue
        labels[(t.content, float(t.getOffsetInHierarchy(satb.score)))] += 1
    return coloured, labels


def _bar_lengths_ok(original_path, annotated_path) -> None:
    """Every measure of the annotated file is as long as the same measure of the original."""
    before = converter.parse(str(original_path))
    after = converter.parse(str(annotated_path))
    assert len(before.parts) == len(after.parts)
    for pb, pa in zip(before.parts, after.parts):
        mb, ma = list(pb.getElementsByClass(stream.Measure)), list(pa.getElementsByClass(stream.Measure))
        assert len(mb) == len(ma)
        for x, y in zip(mb, ma):
            assert y.duration.quarterLength == x.duration.quarterLength, (pa.partName, y.number)
            ts = y.getContextByClass("TimeSignature")
            full = Fraction(ts.barDuration.quarterLength) if ts else Fraction(4)
            assert Fraction(y.duration.quarterLength) == full - Fraction(y.paddingLeft or 0), (pa.partName, y.number)


@pytest.fixture(scope="module")
def exercise(tmp_path_factory):
    path = tmp_path_factory.mktemp("ex") / "four.musicxml"
    build(ROWS, "C").write("musicxml", fp=str(path))
    return path


def test_the_exercise_has_violations_in_several_bars(exercise):
    report = check(exercise)
    assert {v.measure for v in report.violations} >= {1, 2, 3}


@pytest.mark.parametrize("layout,grand", LAYOUTS)
def test_two_staves_check_and_annotate_exactly_as_four_parts(exercise, tmp_path, layout, grand):
    four = check(exercise)
    written = tmp_path / f"two-{layout}.musicxml"
    two_staves(converter.parse(str(exercise)), layout, grand).write("musicxml", fp=str(written))
    two = check(written)
    assert two.parsed.layout == "two staves"
    assert len(converter.parse(str(written)).parts) == 2
    assert _dicts(two) == _dicts(four)
    np.testing.assert_array_equal(two.sonorities.pitch, four.sonorities.pitch)
    np.testing.assert_array_equal(two.sonorities.attack, four.sonorities.attack)
    a4, a2 = tmp_path / "a4.musicxml", tmp_path / "a2.musicxml"
    d4, d2 = write_annotated(four, a4), write_annotated(two, a2)
    assert d2.labels == d4.labels > 0 and d2.unmarked == d4.unmarked == []
    assert _marks(a2) == _marks(a4)
    _bar_lengths_ok(written, a2)
    _bar_lengths_ok(exercise, a4)
    assert _dicts(check(a2)) == _dicts(four)  # the annotated file re-opens and reads the same


def test_annotated_chorale_bars_keep_their_length_and_labels_sit_on_their_notes(tmp_path):
    """The bug: labels after bar 1 went in at score offsets, stretching 4/4 bars to 5-28 beats."""
    src = tmp_path / "bwv66.musicxml"
    corpus.parse("bach/bwv66.6").write("musicxml", fp=str(src))
    report = check(src)
    assert max(v.measure for v in report.violations) >= 5
    out = tmp_path / "marked.musicxml"
    done = write_annotated(report, out)
    _bar_lengths_ok(src, out)
    coloured, labels = _marks(out)
    labels -= _marks(src)[1]  # text the chorale had already
    satb = report.parsed.satb

    def note_start(v, name):  # a label sits at the start of the note sounding at the violation
        ev = satb.voices[("soprano", "alto", "tenor", "bass").index(name)]
        return float(ev.starts[ev.sounding_at(v.offset)])

    assert set(labels) == {(v.rule, note_start(v, name)) for v in report.violations for name in v.voices}
    assert sum(labels.values()) == done.labels
    voices = ("soprano", "alto", "tenor", "bass")
    for v in report.violations:
        for name in v.voices:
            vi = voices.index(name)
            i = int(np.flatnonzero(report.sonorities.offset == v.offset)[0])
            assert any(key[0] == vi // 2 and key[2] == int(report.sonorities.pitch[i, vi]) for key in coloured), v


def test_two_staff_chorale_reads_like_its_four_parts():
    score = corpus.parse("bach/bwv66.6")
    four = check(score)
    two = check(two_staves(score, "voices", grand_staff=True))
    assert _dicts(two) == _dicts(four) and len(four.violations) > 0


def test_a_chord_of_three_notes_on_a_two_voice_staff_is_refused_with_its_place(exercise):
    score = two_staves(converter.parse(str(exercise)), "chords")
    m = score.parts[0].getElementsByClass(stream.Measure)[1]
    first = m.notes[1]
    m.replace(first, chord.Chord(["E4", "G4", "C5"], quarterLength=first.quarterLength))
    with pytest.raises(ScoreError) as e:
        check(score)
    assert "chord of 3 notes on the upper staff" in e.value.message
    assert (e.value.location.measure, e.value.location.beat) == (2, 2.0)


def test_two_staves_holding_one_line_each_are_not_satb():
    s = stream.Score()
    for pitches in (["C5", "D5", "E5", "C5"], ["C3", "G2", "C3", "C3"]):
        p = stream.Part()
        for n in pitches:
            p.append(note.Note(n))
        s.insert(0, p.makeMeasures())
    with pytest.raises(ScoreError, match="holds one line, not two voices"):
        check(s)


def _five_parts(extra_name="Continuo") -> stream.Score:
    score = build(ROWS[:4], "C")
    extra = copy.deepcopy(score.parts[3])
    extra.partName, extra.id = extra_name, extra_name
    score.insert(0, extra)
    return score


def test_a_fifth_part_is_refused_unless_the_four_are_named(tmp_path, capsys):
    path = tmp_path / "five.musicxml"
    _five_parts().write("musicxml", fp=str(path))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "5 parts" in err and "Continuo" in err and "--parts" in err and "Traceback" not in err
    assert main(["check", str(path), "--parts", "Soprano,Alto,Tenor,Bass"]) == 1
    out = capsys.readouterr().out
    assert "parallel-fifths tenor,bass" in out
    assert main(["check", str(path), "--parts", "1,2,3,4"]) == 1
    assert main(["check", str(path), "--parts", "1,2,3,9"]) == 2
    assert "there is no part '9'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # argparse: four names needed
        main(["check", str(path), "--parts", "1,2,3"])
    assert e.value.code == 2


def test_five_unnamed_parts_are_refused():
    score = _five_parts()
    for p in score.parts:
        p.partName, p.id = None, None
    with pytest.raises(ScoreError, match="has 5 parts"):
        parse_score(score)
    assert len(parse_score(score, parts=[1, 2, 3, 4]).sonorities) == 4


def test_written_spelling_travels_with_the_sonorities():
    score = build(["C#5 E4 A3 A2", "D5 F4 A3 D3"], "d")
    s = parse_score(score).sonorities
    assert s.letter is not None and s.letter[0, 0] == 0  # C#, written on the letter C
    midi = build(["C5 E4 A3 A2", "D5 F4 A3 D3"], "d")  # spelled from MIDI numbers: no written letters
    assert parse_score(midi).sonorities.letter is None


@pytest.mark.parametrize("name", ["bwv66.6", "bwv26.6", "bwv10.7"])
def test_the_fast_note_reader_reads_what_the_public_properties_say(name, monkeypatch):
    """The reader takes plain notes from music21's fields (satb_reader._one_voice_measure):
    it must read every event, lyric and fermata exactly as music21's public properties do."""
    from partimento.grammar.rules import satb_reader

    satb_reader._M21.load()
    assert satb_reader._FAST, "this music21 lost a field the fast reader reads: it falls back (slower, still right)"
    score = corpus.parse(name)
    parts = ("Soprano", "Alto", "Tenor", "Bass") if len(score.parts) > 4 else None
    fast = read_satb(score, parts)
    monkeypatch.setattr(satb_reader, "_FAST", False)
    slow = read_satb(corpus.parse(name), parts)
    for a, b in zip(fast.voices, slow.voices):
        for field in ("starts", "ends", "midis", "attacks", "letters"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert a.fermatas == b.fermatas and a.lyrics == b.lyrics
        assert a.end == b.end == float(a.ends.max())  # (kept from the reader's floats: the last row's duration reads it)
        assert [(x[0].offset, x[0].measureNumber, x[1]) for x in a.sources] == \
               [(x[0].offset, x[0].measureNumber, x[1]) for x in b.sources]
    assert _dicts(check(score, "strict", parts=parts)) == _dicts(check(corpus.parse(name), "strict", parts=parts))


def test_beats_and_accents_follow_a_change_of_metre():
    """A bar of 4/4 and then a bar of 6/8: each onset's beat and metric accent counted in its own bar's metre."""
    from music21 import meter

    from partimento.grammar.rules.nct import BEAT, DOWNBEAT, HALF_BEAT, STRONG_BEAT

    score = stream.Score()
    for name, midi in (("Soprano", 72), ("Alto", 67), ("Tenor", 64), ("Bass", 48)):
        part = stream.Part(id=name)
        part.partName = name
        first = stream.Measure(number=1)
        first.append(meter.TimeSignature("4/4"))
        for _ in range(4):
            first.append(note.Note(midi, quarterLength=1))
        second = stream.Measure(number=2)
        second.append(meter.TimeSignature("6/8"))
        for ql in (1.0, 0.5, 1.5):
            second.append(note.Note(midi, quarterLength=ql))
        part.append([first, second])
        score.insert(0, part)
    parsed = parse_score(score, key="C")
    s = parsed.sonorities
    assert s.offset.tolist() == [0, 1, 2, 3, 4, 5, 5.5]
    assert s.measure.tolist() == [1, 1, 1, 1, 2, 2, 2]
    assert s.beat.tolist() == [1, 2, 3, 4, 1, 1.6667, 2]  # 6/8 counts dotted quarters (beats kept to 4 places)
    assert parsed.ctx.accent.tolist() == [DOWNBEAT, BEAT, STRONG_BEAT, BEAT, DOWNBEAT, HALF_BEAT, BEAT]
