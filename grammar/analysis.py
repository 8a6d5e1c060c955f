"""RomanText analyses (and music21 streams of RomanNumerals) as plans.

music21's RomanText reader is the authority on what a ``.rntxt`` file means; it drops
the phrase boundaries (``||``), so this module re-reads them from music21's own
RomanText tokens and maps them to chord onsets. Phrase ends come from ``||``, from
the end of a repeated section (``:||``), from fermatas on RomanNumerals, or (when a file marks neither) the whole piece is one
phrase. Cadences are labelled from the last two chords of each phrase.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import Location, PlanError
from .plan import ChordEvent, Phrase, Plan
from .theory import normalize_key

__all__ = ["plan_from_romantext", "plan_from_stream", "normalize_figure", "label_cadence"]

_FIGBASS_SLASH = re.compile(r"(\d)/(\d)")


def normalize_figure(figure: str) -> str:
    """``V6/5`` -> ``V65``, ``I6/4`` -> ``I64`` (figured-bass slashes only; ``V/V`` stays)."""
    return _FIGBASS_SLASH.sub(r"\1\2", figure.strip())


def label_cadence(prev: str | None, last: str) -> str:
    """A cadence label from a phrase's last two figures (major or minor, any local key).

    V(7) -> I in root position is PAC, to an inverted tonic IAC; ending on V (or a
    cadential 6/4) is HC; V -> vi/VI is DC; IV/iv -> I is PC.
    """
    head = last.split("/")[0]
    prev_head = (prev or "").split("/")[0]
    is_tonic = head.upper() in ("I", "I6", "I64")
    if "/" in last:  # an applied chord at a phrase end (a tonicization) acts as a half cadence
        return "HC"
    if head.upper().startswith("V") and not head.upper().startswith("VI"):
        return "HC"
    if head.startswith("Cad"):
        return "HC"
    if is_tonic and prev_head.upper().startswith("V") and not prev_head.upper().startswith("VI"):
        return "PAC" if head.upper() == "I" and prev_head.upper() in ("V", "V7") else "IAC"
    if is_tonic and prev_head.upper().startswith(("VII", "VIIO")):
        return "IAC"
    if head.upper() in ("VI", "VI6") and prev_head.upper().startswith("V") and not prev_head.upper().startswith("VI"):
        return "DC"
    if is_tonic and prev_head.upper().startswith("IV"):
        return "PC"
    if is_tonic:
        return "IAC"
    return "HC"


def _boundaries_from_text(text: str) -> tuple[set[tuple[int, float]], dict[tuple[int, float], tuple[str, int]]]:
    """(measure, beat) of the chord that starts each new phrase, and of every written chord with
    its symbol as written and its line (so an unreadable chord is named where it is).

    Raises :class:`PlanError` for a phrase with no chords (``||`` twice in a row).
    """
    from music21.romanText import rtObjects

    handler = rtObjects.RTFile().readstr(text)
    starts: set[tuple[int, float]] = set()
    written: dict[tuple[int, float], tuple[str, int]] = {}
    pending = False
    last: tuple[int, float] | None = None  # where the last chord was written
    closed_at: tuple[int, float] | None = None  # where the chord that closed the pending phrase sits
    for tok in handler.tokens:
        if not isinstance(tok, rtObjects.RTMeasure) or tok.variantNumber or tok.variantLetter:
            continue
        beat = 1.0
        for measure in tok.number:
            for atom in tok.atoms:
                if isinstance(atom, rtObjects.RTBeat):
                    try:
                        beat = float(atom.src.lstrip("b"))
                    except ValueError:
                        pass
                elif isinstance(atom, rtObjects.RTRepeatStop):
                    # the end of a repeated section (':||', a chorale's Stollen) closes a phrase
                    if not pending and last is not None:
                        pending = True
                        closed_at = last
                elif isinstance(atom, rtObjects.RTPhraseBoundary):
                    if pending:
                        raise PlanError("a phrase with no chords (two phrase ends '||' with no chord between)",
                                        Location(line=tok.lineNumber, measure=measure, beat=beat))
                    pending = True
                    closed_at = last
                elif isinstance(atom, rtObjects.RTChord):
                    pos = (measure, round(beat, 3))
                    written[pos] = (atom.src, tok.lineNumber)
                    # a chord written after '||' without a beat of its own ("I || d: V") sits on the
                    # closing chord's beat, where music21 keeps only one of them: the phrase starts
                    # at the next chord with a beat of its own, not on the chord that closed it
                    if pending and pos != closed_at:
                        starts.add(pos)
                        pending = False
                    last = pos
            break  # only the first number of a repeated-measure range carries atoms
    return starts, written


def plan_from_stream(stream: Any, *, source: str | None = None, phrase_starts: set | None = None,
                     written: dict | None = None) -> Plan:
    """A plan from a music21 stream holding RomanNumerals (keys, metre, phrases, cadences).

    ``written`` maps (measure, beat) of each chord written in RomanText to its symbol and line.
    Raises :class:`PlanError` naming the symbol, file, line, measure and beat of a chord music21
    could not read.
    """
    from music21 import expressions, meter, roman

    flat = list(stream.recurse().getElementsByClass(roman.RomanNumeral))
    if not flat:
        raise PlanError("no Roman numerals found (an empty analysis?)", Location(file=source))
    ts = next(iter(stream.recurse().getElementsByClass(meter.TimeSignature)), None)
    metre = ts.ratioString if ts is not None else "4/4"
    chords: list[ChordEvent] = []
    starts_at: list[bool] = []
    fermata_end: list[bool] = []
    first_measure = None
    for rn in flat:
        onset = float(rn.getOffsetInHierarchy(stream))
        measure = rn.measureNumber if rn.measureNumber is not None else 1
        beat = round(float(rn.beat), 3) if rn.measureNumber is not None else 1.0
        if first_measure is None:
            first_measure = measure
        key = normalize_key(rn.key.tonicPitchNameWithCase) if rn.key is not None else "C"
        if not rn.figure or not rn.pitches:  # music21 keeps a chord it cannot read as an empty figure
            symbol, line = (written or {}).get((measure, beat), (None, None))
            raise PlanError(f"unknown chord symbol {symbol!r}" if symbol else "a chord music21 cannot read",
                            Location(file=source, line=line, measure=measure, beat=beat),
                            hint="Chords are Roman numerals as music21 reads them, e.g. I, V65, viio7/V, It6, N6, "
                                 "Cad64.")
        figure = normalize_figure(rn.figure)
        has_fermata = any(isinstance(e, expressions.Fermata) for e in rn.expressions)
        continuation = written is not None and (measure, beat) not in written
        if chords and continuation and chords[-1].figure == figure and chords[-1].key == key:
            chords[-1].duration = onset + float(rn.quarterLength) - chords[-1].onset
            fermata_end[-1] = fermata_end[-1] or has_fermata
            continue
        chords.append(ChordEvent(onset=onset, duration=float(rn.quarterLength), figure=figure, key=key,
                                 fermata=has_fermata))
        starts_at.append(bool(phrase_starts and (measure, beat) in phrase_starts))
        fermata_end.append(has_fermata)
    # phrase segmentation: a new phrase after a fermata or at a `||` boundary
    groups: list[list[int]] = [[]]
    for i in range(len(chords)):
        if groups[-1] and (starts_at[i] or fermata_end[i - 1]):
            groups.append([])
        groups[-1].append(i)
    home = chords[0].key
    pickup = 0.0
    if first_measure == 0:
        m1 = [c.onset for c, rn in zip(chords, flat) if rn.measureNumber == 1]
        pickup = min(m1) if m1 else 0.0
    plan = Plan(key=home, metre=metre, pickup=pickup, grammar="", seed=None)
    bar = float(plan.metre_obj.bar_quarters)
    end = max(c.end for c in chords)
    plan.bars = max(1, int(round((end - pickup) / bar + 0.49)))
    for p, idx in enumerate(groups):
        members = [chords[i] for i in idx]
        for c in members:
            c.phrase = p
        last = members[-1]
        prev = members[-2].figure if len(members) > 1 else None
        last.cadence = label_cadence(prev, last.figure)
        plan.phrases.append(Phrase(start=members[0].onset, end=last.end, key=members[0].key, cadence=last.cadence))
    plan.chords = chords
    plan.grammar = source or ""
    return plan


def plan_from_romantext(source: Any) -> Plan:
    """Read a RomanText file, RomanText text, or a music21 stream into a :class:`Plan`.

    Raises :class:`PlanError` naming the file for an empty file, text music21 cannot
    read, or an analysis without chords.
    """
    from music21 import converter, stream as m21stream

    if isinstance(source, m21stream.Stream):
        return plan_from_stream(source)
    name: str | None = None
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith((".rntxt", ".txt"))):
        path = Path(source)
        name = str(path)
        if not path.is_file():
            raise PlanError("no such RomanText file", Location(file=name))
        text = path.read_text(encoding="utf-8", errors="replace")
    else:
        text = str(source)
    if not text.strip():
        raise PlanError("the RomanText file is empty", Location(file=name),
                        hint="A RomanText analysis needs a 'Time Signature:' line and measures such as 'm1 C: I b3 V'.")
    try:
        starts, written = _boundaries_from_text(text)
        score = converter.parse(text, format="romanText")
    except PlanError as e:
        raise PlanError(e.message, Location(file=name, line=e.location.line, measure=e.location.measure,
                                            beat=e.location.beat), hint=e.hint) from None
    except Exception as exc:  # music21 raises many types for unreadable RomanText
        line = getattr(exc, "lineNumber", None)
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PlanError(f"music21 cannot read this RomanText: {msg}", Location(file=name, line=line),
                        hint="Check the measure lines (m1 ...), beats (b2, b3.5) and key labels (C:, f#:).") from None
    try:
        return plan_from_stream(score, source=name, phrase_starts=starts, written=written)
    except PlanError as e:
        raise PlanError(e.message, Location(file=name, line=e.location.line, measure=e.location.measure,
                                            beat=e.location.beat), hint=e.hint) from None
