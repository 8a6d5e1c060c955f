"""Scores, plans and checker reports drawn as SVG with verovio, for notebooks and files.

verovio engraves MusicXML in-process (no MuseScore, no network), so a music21 score
goes out as MusicXML text and comes back as SVG. On top of that this module builds
the HTML that ``Result``, ``Plan`` and ``Report`` show in Jupyter:

* :func:`plan_html` — the plan's Roman numerals realized as block chords (bass plus
  close-position upper voices), figures under the bass, and a compact chord table;
* :func:`result_html` — the composed score with the Roman numerals as lyrics under
  the bass, and any violations coloured;
* :func:`report_html` — a score with each violation's notes coloured (red for errors,
  orange for warnings), the rule's id written above them, and a table of violations.

The objects are read duck-typed (``result.score``, ``result.plan``,
``report.violations``, ``violation.rule`` ...) so this module depends on the data,
not on the classes. PNG output (:func:`svg_to_png`) needs the optional ``resvg-py``.
"""
from __future__ import annotations

import copy
import html
from pathlib import Path
from typing import Any, Iterable

from partimento.grammar.errors import InputError, Location, ScoreError
from partimento.grammar.rules.satb_reader import check_midi_length, check_score_length
from partimento.grammar.theory import VOICES

from .score_events import as_score, voice_events

__all__ = [
    "ERROR_COLOUR",
    "WARNING_COLOUR",
    "score_to_musicxml",
    "tidy_accidentals",
    "read_score",
    "svg_pages",
    "score_svg",
    "svg_to_png",
    "with_roman_numerals",
    "with_violations",
    "plan_score",
    "plan_html",
    "result_html",
    "report_html",
]

ERROR_COLOUR = "#d62728"  # notes of a violation with severity "error"
WARNING_COLOUR = "#ff7f0e"  # notes of a violation with severity "warning"

_MUSICXML_EXTS = (".musicxml", ".xml")
_SCORE_EXTS = (".musicxml", ".xml", ".mxl", ".mid", ".midi", ".krn", ".mei", ".abc")

#: verovio options shared by every rendering: no header/footer, A4-ish width. verovio spaces
#: lyrics (our Roman numerals) by Times metrics with a gap of ``lyricWordSpace``; where the
#: reader's serif font is wider (DejaVu Serif, Linux's usual fallback, is ~16% wider) the
#: default gap of 1.2 lets "V" and "I" touch and read "VI"; 4.0 keeps DejaVu Serif apart (tests/hybrid/test_render.py).
#: ``xmlIdChecksum`` seeds verovio's element ids from the input, so the same score gives the
#: same SVG bytes (random ids otherwise) while different scores on one page keep distinct ids.
_BASE_OPTIONS = {"header": "none", "footer": "none", "scale": 40, "pageWidth": 2100,
                 "pageMarginLeft": 50, "pageMarginRight": 50, "pageMarginTop": 50, "pageMarginBottom": 50,
                 "lyricWordSpace": 4.0, "xmlIdChecksum": True}

#: Rules whose violation involves the move into the flagged sonority, so the notes
#: before it are coloured too (matched as substrings of the rule id).
_MOTION_RULE_WORDS = ("parallel", "hidden", "direct", "leap", "resolution", "resolve", "motion",
                      "overlap", "step", "approach")


# --------------------------------------------------------------------------- I/O
def score_to_musicxml(score) -> str:
    """MusicXML text of a music21 stream (what verovio reads), accidentals tidied."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    score = tidy_accidentals(score)
    try:
        return GeneralObjectExporter(score).parse().decode("utf-8")
    except Exception as e:  # music21 raises many types for scores it cannot notate
        raise ScoreError(f"music21 could not write this score as MusicXML: {e}") from None


def tidy_accidentals(score):
    """A copy of ``score`` whose accidentals are shown as a musician would write them.

    Notes made from MIDI numbers (``note.Note(62)``: decoded grids, MIDI files) carry a
    natural sign music21 marks as inferred; a score that already has measures is not
    re-notated on export, so every such natural would be engraved. Here inferred
    naturals are dropped and music21 decides per measure, against the key signature
    and earlier notes in the bar, which accidentals to show. A score without inferred
    spellings is returned as it is.
    """
    from music21 import stream
    from music21.stream.makeNotation import makeAccidentalsInMeasureStream

    notes = list(score.recurse().notes)
    if not any(p.spellingIsInferred and p.accidental is not None and p.accidental.name == "natural"
               for n in notes for p in n.pitches):
        return score
    score = copy.deepcopy(score)
    for n in score.recurse().notes:
        for p in n.pitches:
            if p.spellingIsInferred and p.accidental is not None and p.accidental.name == "natural" \
                    and p.accidental.displayStatus is None:
                p.accidental = None
    parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    for part in parts:
        if part.hasMeasures():
            makeAccidentalsInMeasureStream(part)
    return score


def read_score(path: str | Path):
    """A music21 score from MusicXML (.musicxml/.xml/.mxl), MIDI (.mid/.midi) or another
    format music21 reads; :class:`InputError` / :class:`ScoreError` naming the file."""
    from music21 import converter, stream

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", Location(file=str(path)))
    if path.suffix.lower() not in _SCORE_EXTS:
        raise InputError(f"cannot read a score from a {path.suffix or 'file without extension'} file",
                         Location(file=str(path)), expected=list(_SCORE_EXTS))
    check_midi_length(path, str(path))
    try:
        score = converter.parse(str(path))
    except Exception as e:  # music21's parsers raise assorted exception types
        raise ScoreError(f"not a readable score ({type(e).__name__}: {e})", Location(file=str(path))) from None
    if isinstance(score, stream.Opus):
        score = score.scores[0] if score.scores else None
    if score is None or not score.recurse().notes:
        raise ScoreError("the score has no notes", Location(file=str(path)))
    check_score_length(score, str(path))
    return score


def _musicxml_of(source) -> str:
    if isinstance(source, (str, Path)) and not str(source).lstrip().startswith("<"):
        path = Path(source)
        if path.suffix.lower() in _MUSICXML_EXTS and path.is_file():
            return path.read_text(encoding="utf-8")
        return score_to_musicxml(read_score(path))
    if isinstance(source, str):  # MusicXML text already
        return source
    return score_to_musicxml(as_score(source))


def _toolkit(options: dict[str, Any]):
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit()
    tk.setOptions({**_BASE_OPTIONS, **options})
    return tk


def svg_pages(source, *, one_page: bool = False, scale: int = 40, page_width: int = 2100) -> list[str]:
    """SVG pages of a score: a music21 stream, a score file path, or MusicXML text.

    ``one_page=True`` lets the page grow to hold the whole score (verovio's largest
    page height), which is what notebooks and the README want.
    """
    xml = _musicxml_of(source)
    options: dict[str, Any] = {"scale": scale, "pageWidth": page_width}
    if one_page:
        options.update(pageHeight=60000, adjustPageHeight=True)
    tk = _toolkit(options)
    if not tk.loadData(xml):
        raise ScoreError("verovio could not read the MusicXML of this score")
    pages = [tk.renderToSVG(i) for i in range(1, tk.getPageCount() + 1)]
    if not pages:
        raise ScoreError("verovio produced no pages for this score")
    return pages


def score_svg(score, *, scale: int = 40, page_width: int = 2100) -> str:
    """The whole score as one SVG string (one page that grows as tall as needed)."""
    return svg_pages(score, one_page=True, scale=scale, page_width=page_width)[0]


#: SMuFL metronome glyphs verovio writes in its embedded WOFF2 font (which resvg cannot
#: load), and the Unicode music symbols DejaVu draws in their place.
_SMUFL_TEXT = {"\ueca3": "\U0001d15e", "\ueca5": "\u2669", "\ueca7": "\u266a", "\uecb7": "."}


def svg_to_png(svg: str, *, zoom: float = 1.0) -> bytes:
    """PNG bytes of an SVG, rasterized by resvg (the optional ``resvg-py`` package)."""
    try:
        import resvg_py
    except ImportError:
        raise InputError("PNG output needs the resvg-py package, which is not installed",
                         hint="Install it with `pip install resvg-py` (a self-contained wheel, no system "
                              "libraries), or write --svg and convert it yourself.") from None
    # verovio writes text (lyrics, rule names) in "Times, serif" and spaces it by Times
    # metrics; resvg's default serif font is often missing, so point it at the STIX font
    # matplotlib ships (Times metrics), with DejaVu Serif for the glyphs STIX lacks.
    fonts: dict[str, Any] = {}
    try:
        from matplotlib import font_manager

        stix = font_manager.findfont("STIXGeneral", fallback_to_default=True)
        dejavu = font_manager.findfont("DejaVu Serif", fallback_to_default=True)
        fonts = {"font_files": [stix, dejavu], "serif_family": "STIXGeneral", "font_family": "STIXGeneral"}
    except Exception:  # matplotlib missing or broken: render with system fonts only
        pass
    if fonts:
        for glyph, text in _SMUFL_TEXT.items():
            svg = svg.replace(f'font-family="Leipzig" font-size="720px">{glyph}', f'font-size="480px">{text}')
    try:
        return bytes(resvg_py.svg_to_bytes(svg_string=svg, background="#ffffff", zoom=zoom, **fonts))
    except ValueError as e:
        raise ScoreError(f"the SVG could not be rasterized: {e}") from None


# --------------------------------------------------------------------------- annotations
def _attacking(events, onset: float):
    for e in events:
        if abs(e.onset - onset) < 1e-6:
            return e
    return None


def _sounding(events, offset: float):
    for e in events:
        if e.onset - 1e-6 <= offset < e.end - 1e-6:
            return e
    return None


def with_roman_numerals(score, plan) -> Any:
    """A copy of ``score`` with each plan chord's figure as a lyric under the bass.

    The figure goes on the bass note struck at the chord's onset (``A: I`` where the
    key changes); if the bass holds through the change, on the lowest voice that
    strikes there; if no voice strikes, the figure is left out. A score whose lowest
    voice already carries lyrics (a ``Result`` score does) is returned as a plain copy.
    """
    score = copy.deepcopy(score)
    voices = voice_events(score)
    lowest = next((v for v in reversed(voices) if v), [])
    if any(n.lyrics for e in lowest for n in e.notes):
        return score
    current_key = None
    for c in getattr(plan, "chords", []) or []:
        label = c.figure if c.key == current_key else f"{_key_label(c.key)}: {c.figure}"
        current_key = c.key
        for events in reversed(voices):
            e = _attacking(events, float(c.onset))
            if e is not None:
                e.notes[0].addLyric(label)
                break
    return score


def _key_label(key: str) -> str:
    return key.replace("-", "b")


def _violation_offset(v, score) -> float:
    """Quarter-note offset of a violation: its ``offset`` field, else from measure/beat."""
    off = getattr(v, "offset", None)
    measure = getattr(v, "measure", None)
    beat = float(getattr(v, "beat", 1.0) or 1.0)
    if off and off > 0:
        return float(off)
    if measure is None:
        return float(off or 0.0)
    from music21 import meter

    part = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
    m = part.measure(int(measure))
    if m is None:
        return float(off or 0.0)
    ts = m.getContextByClass(meter.TimeSignature)
    beat_q = float(ts.beatDuration.quarterLength) if ts is not None else 1.0
    return float(m.getOffsetInHierarchy(score)) + (beat - 1.0) * beat_q


def _severity_name(v) -> str:
    sev = getattr(v, "severity", "error")
    return str(getattr(sev, "value", sev)).lower()


def with_violations(score, violations: Iterable[Any], *, labels: bool = True) -> Any:
    """A copy of ``score`` with each violation's notes coloured and its rule id above them.

    Errors are red, warnings orange. For rules about motion (parallels, leaps,
    resolutions ...) the notes leading into the flagged sonority are coloured too.
    ``labels=False`` colours without naming (for scores with very many violations).
    """
    from music21 import expressions, stream

    score = copy.deepcopy(score)
    voices = voice_events(score)
    spots: dict[tuple[int, float], tuple[Any, list[str], str]] = {}  # (voice, offset) -> note, rules, colour
    for v in violations:
        colour = WARNING_COLOUR if _severity_name(v) == "warning" else ERROR_COLOUR
        offset = _violation_offset(v, score)
        names = [n.lower() for n in (getattr(v, "voices", None) or [])]
        idx = [VOICES.index(n) for n in names if n in VOICES and VOICES.index(n) < len(voices)]
        if not idx:
            idx = list(range(len(voices)))
        motion = any(w in str(v.rule) for w in _MOTION_RULE_WORDS)
        for i in idx:
            e = _sounding(voices[i], offset)
            if e is None:
                continue
            targets = [e]
            if motion:
                k = voices[i].index(e)
                if k > 0:
                    targets.append(voices[i][k - 1])
            for t in targets:
                for n in t.notes:
                    n.style.color = colour
        top = min(idx)
        e = _sounding(voices[top], offset)
        if e is not None:
            rules = spots.setdefault((top, round(e.onset, 4)), (e.notes[0], [], colour))[1]
            if str(v.rule) not in rules:
                rules.append(str(v.rule))
    # one label per spot, naming every rule broken there
    for note_, rules, colour in (spots.values() if labels else ()):
        text = expressions.TextExpression(", ".join(rules))
        text.style.color = colour
        text.placement = "above"
        measure = note_.getContextByClass(stream.Measure)
        if measure is not None:
            measure.insert(note_.getOffsetInHierarchy(measure), text)
        elif note_.activeSite is not None:
            note_.activeSite.insert(note_.getOffsetBySite(note_.activeSite), text)
    return score


# --------------------------------------------------------------------------- plan as music
def plan_score(plan) -> Any:
    """The plan's chords as block chords on two staves, figures as lyrics under the bass.

    The bass sounds each chord's bass note between G2 and F#3; the upper staff the
    other chord tones in close position from middle C up. A pickup is drawn as a
    rest filling the rest of the first bar, so bar lines fall where the plan's do.
    """
    from music21 import chord, clef, expressions, key as m21key, meter, note, roman, stream

    upper, lower = stream.Part(), stream.Part()
    upper.insert(0, clef.TrebleClef())
    lower.insert(0, clef.BassClef())
    pickup = float(getattr(plan, "pickup", 0.0) or 0.0)
    shift = (float(plan.metre_obj.bar_quarters) - pickup) if pickup > 0 else 0.0
    for p in (upper, lower):
        p.insert(0, meter.TimeSignature(plan.metre))
        if shift:
            p.insert(0, note.Rest(quarterLength=shift))
    current = None
    for c in plan.chords:
        rn = roman.RomanNumeral(c.figure, m21key.Key(c.key))
        at = float(c.onset) + shift
        if c.key != current:
            for p in (upper, lower):
                p.insert(at, m21key.Key(c.key))
        bass = note.Note(_placed(rn.bass().name, 43), quarterLength=c.duration)
        bass.addLyric(c.figure if c.key == current else f"{_key_label(c.key)}: {c.figure}")
        current = c.key
        names = []
        for p in rn.pitches:
            if p.pitchClass != rn.bass().pitchClass and p.name not in names:
                names.append(p.name)
        tops = sorted((_placed(n, 60) for n in names), key=lambda p: p.ps) or [_placed(rn.bass().name, 60)]
        ch = chord.Chord(tops, quarterLength=c.duration)
        if c.fermata:
            ch.expressions.append(expressions.Fermata())
        upper.insert(at, ch)
        lower.insert(at, bass)
    score = stream.Score()
    score.insert(0, upper)
    score.insert(0, lower)
    return score


def _placed(name: str, lowest: int):
    """A pitch spelled ``name`` in the octave that puts it in ``lowest .. lowest+11``."""
    from music21 import pitch

    p = pitch.Pitch(name)
    p.octave = 4
    p.octave += (lowest - int(round(p.ps))) // 12 + (1 if (lowest - int(round(p.ps))) % 12 else 0)
    return p


# --------------------------------------------------------------------------- HTML
def _svg_block(svg: str) -> str:
    return f'<div class="partimento-score" style="overflow-x:auto;background:white">{svg}</div>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th style='text-align:left;padding:0 .6em'>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:0 .6em'>{cell}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table style='font-size:90%'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _violation_table(violations: list[Any], open_up_to: int = 12) -> str:
    """The violations as a table; folded away under a summary line when there are many."""
    table = _table(["measure", "beat", "rule", "severity", "voices", "message"], _violation_rows(violations))
    if len(violations) <= open_up_to:
        return table
    return f"<details><summary>{len(violations)} violations</summary>{table}</details>"


def _violation_rows(violations: list[Any]) -> list[list[str]]:
    rows = []
    for v in violations:
        sev = _severity_name(v)
        colour = WARNING_COLOUR if sev == "warning" else ERROR_COLOUR
        beat = getattr(v, "beat", None)
        rows.append([
            str(getattr(v, "measure", "")),
            f"{beat:g}" if isinstance(beat, (int, float)) else "",
            f"<b style='color:{colour}'>{html.escape(str(v.rule))}</b>",
            html.escape(sev),
            html.escape(", ".join(getattr(v, "voices", []) or [])),
            html.escape(str(getattr(v, "message", ""))),
        ])
    return rows


def plan_html(plan) -> str:
    """HTML for a Plan: its chords engraved as block chords, then a table of events."""
    metre = plan.metre_obj
    rows = []
    for c in plan.chords:
        m, b = metre.measure_beat(c.onset, plan.pickup)
        rows.append([str(m), f"{b:g}", html.escape(c.key), f"<b>{html.escape(c.figure)}</b>",
                     f"{c.duration:g}", html.escape(c.cadence or ""), "𝄐" if c.fermata else ""])
    title = (f"<p><b>Plan</b> in {html.escape(_key_label(plan.key))}, {html.escape(plan.metre)}, "
             f"{plan.bars} bars, {len(plan.chords)} chords"
             + (f", grammar <code>{html.escape(str(plan.grammar))}</code>" if getattr(plan, "grammar", "") else "")
             + (f", seed {plan.seed}" if getattr(plan, "seed", None) is not None else "") + "</p>")
    svg = score_svg(plan_score(plan))
    table = _table(["measure", "beat", "key", "chord", "quarters", "cadence", "fermata"], rows)
    return (title + _svg_block(svg)
            + f"<details><summary>{len(rows)} chord events</summary>{table}</details>")


def result_html(result) -> str:
    """HTML for a Result: the score with Roman numerals under the bass, violations coloured."""
    score = result.score
    plan = getattr(result, "plan", None)
    report = getattr(result, "report", None)
    violations = list(getattr(report, "violations", []) or []) if report is not None else []
    if plan is not None:
        score = with_roman_numerals(score, plan)
    if violations:
        score = with_violations(score, violations)
    svg = score_svg(score)
    parts = [_svg_block(svg)]
    if report is not None:
        parts.append(_report_summary(violations))
        if violations:
            parts.append(_violation_table(violations))
    return "".join(parts)


def _report_summary(violations: list[Any]) -> str:
    errors = sum(1 for v in violations if _severity_name(v) == "error")
    warnings = sum(1 for v in violations if _severity_name(v) == "warning")
    if not violations:
        return "<p>No rule violations.</p>"
    return f"<p><b style='color:{ERROR_COLOUR}'>{errors} error(s)</b>, " \
           f"<b style='color:{WARNING_COLOUR}'>{warnings} warning(s)</b></p>"


def report_html(report, score=None) -> str:
    """HTML for a checker Report: the score with violations coloured, then the list.

    ``score`` defaults to the score the report was parsed from (``report.parsed.score``
    or ``report.score``); without a score only the table is shown.
    """
    if score is None:
        score = getattr(getattr(report, "parsed", None), "score", None) or getattr(report, "score", None)
    violations = list(getattr(report, "violations", []) or [])
    parts = []
    if score is not None:
        parts.append(_svg_block(score_svg(with_violations(score, violations))))
    parts.append(_report_summary(violations))
    if violations:
        parts.append(_violation_table(violations))
    return "".join(parts)
