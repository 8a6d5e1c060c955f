"""Hand-made four-part exercises for the checker's tests, built as music21 scores.

Each exercise is a list of sonorities (soprano, alto, tenor, bass) as pitch names, one
per quarter note unless written ``"C5:2"`` (a half note; ``"-"`` continues the previous
note with a tie, ``"r"`` rests). ``shift`` transposes by semitones, so one exercise can be
checked in several keys.
"""
from __future__ import annotations

from music21 import key as m21key
from music21 import meter, note, pitch, stream, tie

__all__ = ["build", "rows_of"]


def rows_of(rows: list[str]) -> list[list[str]]:
    return [r.split() for r in rows]


def build(rows: list[str], key: str, metre: str = "4/4", shift: int = 0, names=("Soprano", "Alto", "Tenor", "Bass"),
          with_key: bool = True) -> stream.Score:
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
