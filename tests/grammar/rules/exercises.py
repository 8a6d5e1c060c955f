"""Hand-made four-part exercises for the checker's tests, built as music21 scores.

Each exercise is a list of sonorities (soprano, alto, tenor, bass) as pitch names, one
per quarter note unless written ``"C5:2"`` (a half note; ``"-"`` continues the previous
note with a tie, ``"r"`` rests). ``shift`` transposes by semitones, so one exercise can be
checked in several keys. A note name with an accidental (``"E#4"``) keeps its spelling;
plain names are written from MIDI numbers (spelled as music21 guesses, as MIDI files are).
:func:`two_staves` rewrites a four-part score on a grand staff, as students write it.
"""
from __future__ import annotations

from music21 import key as m21key
from music21 import meter, note, pitch, stream, tie

__all__ = ["build", "rows_of", "two_staves"]


def rows_of(rows: list[str]) -> list[list[str]]:
    return [r.split() for r in rows]


def build(rows: list[str], key: str, metre: str = "4/4", shift: int = 0, names=("Soprano", "Alto", "Tenor", "Bass"),
          with_key: bool = True, spelled: bool = False) -> stream.Score:
    """The exercise as a four-part score; ``spelled``: every note written as named (else only those with an accidental)."""
    score = stream.Score()
    k = m21key.Key(key)
    if shift:
        k = k.transpose(shift)
    grid = rows_of(rows)
    for v in range(4):
        part = stream.Part()
        part.partName = names[v]
        part.id = names[v]
        offset = 0.0
        first = True
        prev = None
        for row in grid:
            token = row[v]
            name, _, dur = token.partition(":")
            ql = float(dur) if dur else 1.0
            if name == "r":
                el = note.Rest(quarterLength=ql)
            elif name == "-":
                el = note.Note(pitch.Pitch(midi=prev.pitch.midi), quarterLength=ql)
                prev.tie = prev.tie or tie.Tie("start")
                if prev.tie.type == "stop":
                    prev.tie = tie.Tie("continue")
                el.tie = tie.Tie("stop")
            elif (spelled or any(ch in name[1:] for ch in "#-")) and not shift:  # keep the spelling
                el = note.Note(pitch.Pitch(name), quarterLength=ql)
            else:
                el = note.Note(pitch.Pitch(midi=pitch.Pitch(name).midi + shift), quarterLength=ql)
            if first:
                part.insert(0, meter.TimeSignature(metre))
                if with_key:
                    part.insert(0, m21key.Key(k.tonic.name, k.mode))
                first = False
            part.insert(offset, el)
            if not el.isRest:
                prev = el
            offset += ql
        score.insert(0, part)
    return score.makeMeasures() if False else _measures(score)


def _measures(score: stream.Score) -> stream.Score:
    out = stream.Score()
    for p in score.parts:
        mp = p.makeMeasures()
        mp.partName, mp.id = p.partName, p.id
        out.insert(0, mp)
    return out


def two_staves(score: stream.Score, layout: str = "voices", grand_staff: bool = False) -> stream.Score:
    """The same four voices on two staves: soprano and alto above (treble), tenor and bass below (bass).

    ``layout="voices"``: two voices per staff, stems up (soprano, tenor) and down (alto,
    bass). ``layout="chords"``: each staff as chords with shared stems (the voices of a
    staff must move in the same rhythm); a unison is a single note. ``grand_staff``: the
    two staves are PartStaffs of one piano-style part (one MusicXML part with two staves).
    """
    import copy

    from music21 import chord, clef, layout as m21layout

    parts = list(score.parts)
    out = stream.Score()
    staves = []
    for upper, lower, cl, vids in ((parts[0], parts[1], clef.TrebleClef, ("1", "2")),
                                   (parts[2], parts[3], clef.BassClef, ("5", "6"))):
        staff = stream.PartStaff() if grand_staff else stream.Part()
        for mu, ml in zip(upper.getElementsByClass(stream.Measure), lower.getElementsByClass(stream.Measure)):
            m = stream.Measure(number=mu.number)
            m.paddingLeft = mu.paddingLeft
            for el in mu.getElementsByClass(("TimeSignature", "KeySignature")):
                m.insert(el.offset, copy.deepcopy(el))
            if mu.number == upper.getElementsByClass(stream.Measure).first().number:
                m.insert(0, cl())
            if layout == "voices":
                for src, vid, stem in ((mu, vids[0], "up"), (ml, vids[1], "down")):
                    v = stream.Voice(id=vid)
                    for n in src.notesAndRests:
                        c = copy.deepcopy(n)
                        if not c.isRest:
                            c.stemDirection = stem
                        v.insert(n.offset, c)
                    m.insert(0, v)
            else:
                ups, lows = list(mu.notesAndRests), list(ml.notesAndRests)
                assert [n.offset for n in ups] == [n.offset for n in lows], "chords need one rhythm per staff"
                for a, b in zip(ups, lows):
                    if a.isRest:
                        el = copy.deepcopy(a)
                    elif a.pitch.ps == b.pitch.ps:
                        el = copy.deepcopy(a)
                    else:
                        el = chord.Chord([copy.deepcopy(b.pitch), copy.deepcopy(a.pitch)], quarterLength=a.quarterLength)
                        if a.tie is not None:
                            el.tie = copy.deepcopy(a.tie)
                        for e in a.expressions:
                            el.expressions.append(copy.deepcopy(e))
                    for ly in b.lyrics:
                        el.lyrics.append(copy.deepcopy(ly))
                    m.insert(a.offset, el)
            staff.append(m)
        staves.append(staff)
        out.insert(0, staff)
    if grand_staff:
        out.insert(0, m21layout.StaffGroup(staves, symbol="brace", barTogether=True))
    return out
