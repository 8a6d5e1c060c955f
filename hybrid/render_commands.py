"""``partimento render``: a score file to SVG pages, PNG, WAV and MIDI.

Every requested output is computed in memory first and only then written, each file
atomically, so a bad input or a failing converter leaves no partial files behind.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from partimento.grammar.errors import InputError, Location
from partimento.grammar.fileio import write_bytes_atomic, write_text_atomic, write_with

__all__ = ["register", "render_files", "page_paths"]

EPILOG = """examples:
  partimento render chorale.musicxml --svg chorale.svg --wav chorale.wav
  partimento render chorale.mid --png chorale.png --midi copy.mid --tempo 72

SVG and PNG show the whole score on one page unless --pages is given; then page 2
onwards go to OUT-2.svg, OUT-3.svg ... WAV uses the score's metronome mark, else
--tempo. PNG needs the resvg-py package.
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
    p.add_argument("--tempo", type=float, default=80.0, metavar="QPM",
                   help="quarter notes per minute for WAV/MIDI when the score has no metronome mark")
    p.set_defaults(func=_handle)


def page_paths(out: str | Path, n: int) -> list[Path]:
    """``out`` for page 1, then ``out-2.ext``, ``out-3.ext`` ... for further pages."""
    out = Path(out)
    return [out] + [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(2, n + 1)]


def render_files(file: str | Path, *, svg: str | Path | None = None, png: str | Path | None = None,
                 wav: str | Path | None = None, midi: str | Path | None = None, pages: bool = False,
                 tempo: float = 80.0) -> list[Path]:
    """Render ``file`` to each requested output; returns the paths written."""
    from .audio import wav_bytes
    from .render import read_score, svg_pages, svg_to_png

    if not any((svg, png, wav, midi)):
        raise InputError("nothing to render: give at least one of --svg, --png, --wav, --midi")
    if not tempo or tempo <= 0:
        raise InputError(f"--tempo must be positive, got {tempo}")
    for out, ext in ((svg, (".svg",)), (png, (".png",)), (wav, (".wav",)), (midi, (".mid", ".midi"))):
        if out is not None and Path(out).suffix.lower() not in ext:
            raise InputError(f"output {out} should end in {' or '.join(ext)}", Location(file=str(out)))
        if out is not None and not Path(out).resolve().parent.is_dir():
            raise InputError("the output folder does not exist", Location(file=str(out)))
    score = read_score(file)
    # compute everything first: a failure here writes nothing
    texts: dict[Path, str] = {}
    blobs: dict[Path, bytes] = {}
    if svg or png:
        drawn = svg_pages(score, one_page=not pages)
        if svg:
            texts.update(zip(page_paths(svg, len(drawn)), drawn))
        if png:
            blobs.update(zip(page_paths(png, len(drawn)), (svg_to_png(s) for s in drawn)))
    if wav:
        blobs[Path(wav)] = wav_bytes(score, default_qpm=tempo)
    written: list[Path] = []
    for path, text in texts.items():
        written.append(write_text_atomic(path, text))
    for path, data in blobs.items():
        written.append(write_bytes_atomic(path, data))
    if midi:
        written.append(write_with(midi, lambda tmp: _write_midi(score, tmp, tempo)))
    return written


def _write_midi(score, path: Path, tempo: float) -> None:
    """MIDI through music21, with a metronome mark added when the score has none
    (music21 would otherwise write 120, disagreeing with the WAV)."""
    import copy

    from music21 import tempo as m21tempo

    if not score.flatten().getElementsByClass(m21tempo.MetronomeMark):
        score = copy.deepcopy(score)
        target = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
        first = target.getElementsByClass("Measure").first() or target
        first.insert(0, m21tempo.MetronomeMark(number=tempo))
    score.write("midi", fp=str(path))


def _handle(args: argparse.Namespace) -> int:
    written = render_files(args.file, svg=args.svg, png=args.png, wav=args.wav, midi=args.midi,
                           pages=args.pages, tempo=args.tempo)
    for path in written:
        print(path)
    return 0
