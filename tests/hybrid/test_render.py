"""verovio rendering: SVG validity, notes present, annotations, HTML for notebooks."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
from music21 import corpus

from partimento.grammar.errors import InputError, ScoreError
from partimento.grammar.plan import ChordEvent, Plan
from partimento.grammar.rules.base import Severity, Violation
from partimento.hybrid import render

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def chorale():
    return corpus.parse("bach/bwv66.6")


@pytest.fixture(scope="module")
def plan():
    # the opening of bwv66.6 in A major, pickup of one quarter
    return Plan(key="A", metre="4/4", bars=2, pickup=1.0, chords=[
        ChordEvent(0, 1, "I", "A"), ChordEvent(1, 1, "V6", "A"), ChordEvent(2, 1, "I", "A"),
        ChordEvent(3, 1, "V", "A", fermata=True), ChordEvent(4, 2, "vi", "A"),
        ChordEvent(6, 3, "i", "f#", cadence="PAC")])


def _classes(root, name):
    return [el for el in root.iter() if name in (el.get("class") or "").split()]


def _texts(root):
    return " ".join(t.strip() for el in root.iter() for t in [el.text or ""] if t.strip())


def test_score_svg_is_one_svg_document_with_every_note(chorale):
    svg = render.score_svg(chorale)
    root = ET.fromstring(svg)  # raises on malformed XML
    assert root.tag == f"{SVG_NS}svg"
    assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")
    n_notes = len(list(chorale.recurse().notes))
    assert n_notes == 165
    assert len(_classes(root, "note")) == n_notes
    assert len(_classes(root, "staff")) >= 4


def test_svg_pages_split_into_valid_pages(chorale):
    pages = render.svg_pages(chorale, one_page=False, scale=60)
    assert len(pages) >= 1
    notes = 0
    for page in pages:
        root = ET.fromstring(page)
        assert root.tag == f"{SVG_NS}svg"
        notes += len(_classes(root, "note"))
    assert notes == 165


def test_svg_from_a_musicxml_path(tmp_path, chorale):
    path = tmp_path / "c.musicxml"
    chorale.write("musicxml", fp=str(path))
    root = ET.fromstring(render.score_svg(path))
    assert len(_classes(root, "note")) == 165


def test_read_score_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        render.read_score(tmp_path / "missing.musicxml")
    bad = tmp_path / "bad.musicxml"
    bad.write_text("this is not MusicXML")
    with pytest.raises(ScoreError) as e:
        render.read_score(bad)
    assert "bad.musicxml" in str(e.value)
    other = tmp_path / "notes.txt"
    other.write_text("C D E")
    with pytest.raises(InputError, match="cannot read a score"):
        render.read_score(other)


def test_roman_numerals_become_lyrics_under_the_bass(chorale, plan):
    annotated = render.with_roman_numerals(chorale, plan)
    bass_lyrics = [n.lyric for n in annotated.parts[3].recurse().notes if n.lyric]
    assert bass_lyrics == ["A: I", "V6", "I", "V", "vi", "f#: i"]
    assert not any(n.lyric for n in chorale.parts[3].recurse().notes)  # the original is untouched
    root = ET.fromstring(render.score_svg(annotated))
    assert "V6" in _texts(root) and "f#: i" in _texts(root)


def test_violations_are_coloured_and_named(chorale):
    vs = [Violation("parallel-fifths", Severity.ERROR, 5, 2, 1.0, ["tenor", "bass"], "fifths"),
          Violation("voice-range", Severity.WARNING, 9, 3, 2.0, ["alto"], "too low")]
    marked = render.with_violations(chorale, vs)
    def coloured(part):
        return [(float(n.getOffsetInHierarchy(marked)), n.style.color)
                for n in marked.parts[part].recurse().notes if n.style.color]
    # measure 2 beat 1 is offset 5 (after a one-quarter pickup); the motion rule also
    # colours the notes leading into it
    assert coloured(2) == [(4.0, render.ERROR_COLOUR), (5.0, render.ERROR_COLOUR)]
    assert coloured(3) == [(4.0, render.ERROR_COLOUR), (5.0, render.ERROR_COLOUR)]
    assert coloured(1) == [(10.0, render.WARNING_COLOUR)]
    assert coloured(0) == []
    svg = render.score_svg(marked)
    root = ET.fromstring(svg)
    assert "parallel-fifths" in _texts(root) and "voice-range" in _texts(root)
    assert render.ERROR_COLOUR in svg.lower() and render.WARNING_COLOUR in svg.lower()


def test_plan_score_realizes_each_chord(plan):
    score = render.plan_score(plan)
    bass = [n for n in score.parts[1].recurse().notes]
    assert [n.pitch.name for n in bass] == ["A", "G#", "A", "E", "F#", "F#"]
    assert all(43 <= n.pitch.midi <= 54 for n in bass)
    first = next(iter(score.parts[0].recurse().notes))
    assert sorted(p.name for p in first.pitches) == ["C#", "E"]


def test_html_for_plan_result_and_report(chorale, plan):
    h = render.plan_html(plan)
    assert h.count("<svg") >= 1 and "V6" in h and "PAC" in h
    vs = [Violation("parallel-octaves", Severity.ERROR, 5, 2, 1.0, ["soprano", "bass"], "octaves")]
    result = SimpleNamespace(score=chorale, plan=plan, report=SimpleNamespace(violations=vs))
    h = render.result_html(result)
    assert "<svg" in h and "parallel-octaves" in h and "1 error(s)" in h
    h = render.report_html(SimpleNamespace(violations=[]), chorale)
    assert "<svg" in h and "No rule violations" in h
    h = render.report_html(SimpleNamespace(violations=vs))  # no score: the table alone
    assert "<svg" not in h and "octaves" in h


def test_png_through_resvg(chorale):
    pytest.importorskip("resvg_py")
    png = render.svg_to_png(render.score_svg(chorale))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_png_without_resvg_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "resvg_py", None)
    with pytest.raises(InputError, match="resvg-py"):
        render.svg_to_png("<svg xmlns='http://www.w3.org/2000/svg'/>")


def test_rules_broken_at_one_spot_share_one_label(chorale):
    vs = [Violation("parallel-fifths", Severity.ERROR, 5, 2, 1.0, ["tenor", "bass"], "fifths"),
          Violation("spacing", Severity.ERROR, 5, 2, 1.0, ["tenor", "bass"], "too far apart")]
    marked = render.with_violations(chorale, vs)
    labels = [t.content for t in marked.recurse().getElementsByClass("TextExpression")]
    assert labels == ["parallel-fifths, spacing"]
    quiet = render.with_violations(chorale, vs, labels=False)
    assert not list(quiet.recurse().getElementsByClass("TextExpression"))
    assert any(n.style.color == render.ERROR_COLOUR for n in quiet.parts[2].recurse().notes)


def test_naturals_inferred_from_midi_numbers_are_not_engraved():
    from music21 import key, meter, note, stream

    part = stream.Part()
    m = stream.Measure(number=1)
    m.append([key.Key("C"), meter.TimeSignature("4/4")])
    m.append([note.Note(62), note.Note(61), note.Note(62), note.Note(60)])  # D C# D C
    part.append(m)
    score = stream.Score([part])
    assert list(score.recurse().notes)[0].pitch.accidental.name == "natural"  # music21's inference
    xml = render.score_to_musicxml(score)
    # of D C# D C only the sharp and the natural cancelling it (on the last C) are engraved
    assert xml.count("<accidental>sharp</accidental>") == 1
    assert xml.count("<accidental>natural</accidental>") == 1
    assert list(score.recurse().notes)[0].pitch.accidental.name == "natural"  # the input is untouched


def test_composed_chorale_renders_to_one_svg_with_every_note():
    from hybrid_fakes import FakeModel

    from partimento.hybrid import compose

    result = compose("chorale", key="G", bars=4, seed=3, model=FakeModel(3))
    svg = render.score_svg(result.score)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    # every pitched <note> of the MusicXML is drawn (music21 splits notes of complex
    # durations into tied notes on export, so count there rather than in the stream)
    xml = ET.fromstring(render.score_to_musicxml(result.score).encode())
    pitched = [n for n in xml.iter("note") if n.find("rest") is None]
    assert len(_classes(root, "note")) == len(pitched) >= len(list(result.score.recurse().notes)) > 16
    figures = _texts(root)
    assert all(c.figure in figures for c in result.plan.chords)
    html = render.result_html(result)
    assert "<svg" in html and "No rule violations" in html


def _lyric_gaps(svg: str, font: str) -> list[tuple[float, str, str]]:
    """Space (SVG units) between each Roman numeral and the next on its line, measured in ``font``."""
    import re

    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    face = FT2Font(font_manager.findfont(font))
    rows: dict[int, list[tuple[int, int, str]]] = {}
    for x, y, size, text in re.findall(r'class="syl">.*?<text x="(\d+)" y="(\d+)"[^>]*>.*?'
                                       r'<tspan font-size="(\d+)px">([^<]*)</tspan>', svg, re.S):
        rows.setdefault(int(y), []).append((int(x), int(size), text))
    gaps = []
    for row in rows.values():
        row.sort()
        for (x0, size, t0), (x1, _, t1) in zip(row, row[1:]):
            face.set_size(size, 72)
            face.set_text(t0)
            gaps.append((x1 - x0 - face.get_width_height()[0] / 64, t0, t1))
    return gaps


def test_roman_numerals_never_touch_even_in_a_wide_serif_font():
    """Eighth-note chords with long figures: "V" then "I" must not read "VI" (issue 16, item 10).

    verovio spaces lyrics by Times metrics; DejaVu Serif, the usual serif on Linux and the
    widest common fallback, must still leave a gap between neighbours."""
    from music21 import note, stream

    labels = ["G: V65", "V65", "I6", "V43/vi", "ii65", "I64", "viio6", "iii6", "V", "I", "V64/ii", "V64/ii", "vi",
              "V", "I", "It+6", "Ger65", "Cad64", "V7", "I"]
    score = stream.Score()
    for v, (name, octave) in enumerate((("Soprano", 5), ("Alto", 4), ("Tenor", 4), ("Bass", 3))):
        part = stream.Part()
        part.partName = name
        for i, label in enumerate(labels):
            n = note.Note(f"{'CDEFGAB'[i % 7]}{octave}", quarterLength=0.5)
            if v == 3:
                n.addLyric(label)
            part.append(n)
        score.insert(0, part.makeMeasures())
    svg = render.score_svg(score)
    for font in ("DejaVu Serif", "STIXGeneral"):
        gaps = _lyric_gaps(svg, font)
        assert len(gaps) >= len(labels) - 3  # one line per system, all numerals found
        assert min(g for g, _, _ in gaps) > 0, (font, sorted(gaps)[:3])
