"""``partimento render``: a score file to SVG pages, PNG, WAV and MIDI.

Every requested output is computed in memory first and only then written, all or none
(:func:`~partimento.grammar.fileio.write_all`), so a bad input, a failing converter or
one unwritable path leaves no file behind, not even the ones that could be written.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from partimento.grammar.errors import InputError, Location

__all__ = ["register", "render_files", "page_paths"]

EPILOG = """examples:
  partimento render chorale.musicxml --svg chorale.svg --wav chorale.wav
  partimento render chorale.mid --png chorale.png --midi copy.mid --tempo 72

SVG and PNG show the whole score on one page unless --pages is given; then page 2
onwards go to OUT-2.svg, OUT-3.svg ... WAV and MIDI play at --tempo when it is given
(replacing the score's metronome marks), else at the score's marks, else at 80.
PNG needs the resvg-py package. All outputs are written, or none is.
"""


def register(subparsers, formatter_class=argparse.HelpFormatter) -> None:
    p = subparsers.add_parser(
        "render", help="draw a score as SVG/PNG and play it as WAV/MIDI",
        description="Render a MusicXML or MIDI score with verovio (SVG, PNG) and the built-in "
                    "four-voice synthesizer (WAV), or re-write it as MIDI. No external program is needed.",
        epilog=EPILOG, formatter_class=formatter_class)
    p.add_argument("file", metavar="FILE", help="score to render (.musicxml, .xml, .mxl, .mid, .midi)")
    p.add_argument("--svg", metavar="OUT.svg", help="write the engraved score as SVG")
    p.add_argument("--png", metavar="OUT.png", help="write the engraved score as PNG (needs resvg-py)")
    p.add_argument("--wav", metavar="OUT.wav", help="write audio from the built-in synthesizer")
    p.add_argument("--midi", metavar="OUT.mid", help="write the score as a MIDI file")
    p.add_argument("--pages", action="store_true", help="break the engraving into A4-like pages")
    p.add_argument("--tempo", type=float, default=None, metavar="QPM",
                   help="quarter notes per minute for WAV/MIDI, replacing the score's metronome marks "
                        "(default: the score's marks, else 80)")
    p.set_defaults(func=_handle)


def page_paths(out: str | Path, n: int) -> list[Path]:
    """``out`` for page 1, then ``out-2.ext``, ``out-3.ext`` ... for further pages."""
    out = Path(out)
    return [out] + [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(2, n + 1)]


def render_files(file: str | Path, *, svg: str | Path | None = None, png: str | Path | None = None,
                 wav: str | Path | None = None, midi: str | Path | None = None, pages: bool = False,
                 tempo: float | None = None) -> list[Path]:
    """Render ``file`` to each requested output; returns the paths written (all of them, or none).

    ``tempo`` (quarter notes per minute) replaces the score's metronome marks for WAV and
    MIDI; without it the score's marks are used, and 80 where it has none.
    """
    from partimento.grammar.fileio import check_writable, write_all

    from .audio import wav_bytes
    from .render import read_score, svg_pages, svg_to_png
    from .score_events import DEFAULT_QPM

    if not any((svg, png, wav, midi)):
        raise InputError("nothing to render: give at least one of --svg, --png, --wav, --midi")
    if tempo is not None and not (tempo > 0 and tempo < 10_000):
        raise InputError(f"--tempo must be positive (quarter notes per minute), got {tempo:g}")
    targets: dict[Path, str] = {}
    for flag, out, ext in (("--svg", svg, (".svg",)), ("--png", png, (".png",)), ("--wav", wav, (".wav",)),
                           ("--midi", midi, (".mid", ".midi"))):
        if out is None:
            continue
        check_writable(out, flag)
        if Path(out).suffix.lower() not in ext:
            raise InputError(f"{flag} {out}: the file name should end in {' or '.join(ext)}", Location(file=str(out)))
        here = Path(out).resolve()
        if here in targets:
            raise InputError(f"{flag} {out}: the same file as {targets[here]}; give each output its own name")
        targets[here] = flag
    score = read_score(file)
    if tempo is not None:
        score = _with_tempo(score, tempo)
    qpm = tempo or DEFAULT_QPM
    # compute everything first: a failure here writes nothing
    outputs: list[tuple[Path, object]] = []
    if svg or png:
        drawn = svg_pages(score, one_page=not pages)
        if svg:
            outputs += [(p, _text_writer(t)) for p, t in zip(page_paths(svg, len(drawn)), drawn)]
        if png:
            outputs += [(p, _bytes_writer(svg_to_png(t))) for p, t in zip(page_paths(png, len(drawn)), drawn)]
    if wav:
        outputs.append((Path(wav), _bytes_writer(wav_bytes(score, default_qpm=qpm))))
    if midi:
        outputs.append((Path(midi), lambda tmp: _write_midi(score, tmp, qpm)))
    return write_all(outputs)


def _text_writer(text: str):
    return lambda tmp: Path(tmp).write_text(text, encoding="utf-8")


def _bytes_writer(data: bytes):
    return lambda tmp: Path(tmp).write_bytes(data)


def _with_tempo(score, qpm: float):
    """A copy of ``score`` whose only metronome mark is ``qpm`` at the start."""
    import copy

    from music21 import tempo as m21tempo

    score = copy.deepcopy(score)
    for mark in list(score.recurse().getElementsByClass(m21tempo.MetronomeMark)):
        site = mark.activeSite
        if site is not None:
            site.remove(mark)
    target = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
    first = target.getElementsByClass("Measure").first() or target
    first.insert(0, m21tempo.MetronomeMark(number=qpm))
    return score


def _write_midi(score, path: Path, tempo: float) -> None:
    """MIDI through music21, with a metronome mark added when the score has none
    (music21 would otherwise write 120, disagreeing with the WAV)."""
    from music21 import tempo as m21tempo

    from partimento.grammar.score_writer import write_score

    if not score.recurse().getElementsByClass(m21tempo.MetronomeMark):
        score = _with_tempo(score, tempo)
    write_score(score, "midi", path)


def _handle(args: argparse.Namespace) -> int:
    written = render_files(args.file, svg=args.svg, png=args.png, wav=args.wav, midi=args.midi,
                           pages=args.pages, tempo=args.tempo)
    for path in written:
        print(path)
    return 0
