"""music21 scores as file bytes that depend only on the music: the same score, the same bytes.

music21's own writers stamp the day into MusicXML (``<encoding-date>``), give parts without
an instrument a random MD5 id, and zip ``.mxl`` with the current time; two runs with the
same seed would differ byte for byte. Here MusicXML is exported without the date, every
part gets a fixed id (``P1``, ``P2`` ... top to bottom) unless it has one already, ``.mxl``
is zipped with a fixed timestamp, and MIDI goes through music21 (already reproducible).
``tests/hybrid/test_determinism.py`` compares two processes byte for byte.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["fix_part_ids", "musicxml_bytes", "mxl_bytes", "write_score"]

_DATE = re.compile(rb"\s*<encoding-date>[^<]*</encoding-date>")
_CONTAINER = b"""<?xml version="1.0" encoding="UTF-8"?>
<container>
  <rootfiles>
    <rootfile full-path="score.musicxml" media-type="application/vnd.recordare.musicxml+xml"/>
  </rootfiles>
</container>
"""
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def fix_part_ids(score: Any) -> Any:
    """Give each part of ``score`` (in place) an instrument with a fixed id where music21 would draw a random one."""
    from music21 import instrument, stream

    parts = list(score.parts) if isinstance(score, stream.Score) else []
    used: set[str] = set()
    for i, part in enumerate(parts):
        inst = part.getInstrument(returnDefault=False, recurse=True)
        if inst is None:
            inst = instrument.Instrument()
            target = part.getElementsByClass(stream.Measure).first() or part
            target.insert(0, inst)
        if inst.partId is None or getattr(inst, "_partIdIsRandom", False) or inst.partId in used:
            inst.partId = f"P{i + 1}"
        if inst.instrumentId is None or getattr(inst, "_instrumentIdIsRandom", False):
            inst.instrumentId = f"{inst.partId}-I1"
        used.add(inst.partId)
    return score


def musicxml_bytes(score: Any) -> bytes:
    """MusicXML of ``score`` with fixed part ids and no export date (the score's parts get instruments)."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    fix_part_ids(score)
    return _DATE.sub(b"", GeneralObjectExporter(score).parse(), count=1)


def mxl_bytes(score: Any) -> bytes:
    """Compressed MusicXML (.mxl): the MusicXML of :func:`musicxml_bytes` zipped with fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, how in (("mimetype", b"application/vnd.recordare.musicxml", zipfile.ZIP_STORED),
                                ("META-INF/container.xml", _CONTAINER, zipfile.ZIP_DEFLATED),
                                ("score.musicxml", musicxml_bytes(score), zipfile.ZIP_DEFLATED)):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = how
            z.writestr(info, data)
    return buf.getvalue()


_FORMAT_NAMES = {"musicxml": "MusicXML", "mxl": "compressed MusicXML", "midi": "MIDI"}


def write_score(score: Any, fmt: str, path: str | Path) -> None:
    """Write ``score`` to ``path`` as ``fmt`` ("musicxml", "mxl" or "midi"), reproducibly.

    A score music21 cannot export (a duration MusicXML has no note type for, repeat marks
    in a part without measures, a key signature without a number of sharps: all come from
    scores read from odd files) raises
    :class:`~partimento.grammar.errors.ScoreError` naming ``path`` and music21's reason.
    """
    path = Path(path)
    if fmt not in _FORMAT_NAMES:
        raise ValueError(f"unknown score format {fmt!r}")
    try:
        if fmt == "musicxml":
            path.write_bytes(musicxml_bytes(score))
        elif fmt == "mxl":
            path.write_bytes(mxl_bytes(score))
        else:
            score.write("midi", fp=str(path))
    except OSError:
        raise  # (an unwritable path: the caller names it)
    except Exception as exc:  # noqa: BLE001 - music21's writers fail on odd scores with TypeErrors too
        # (a key signature with no number of sharps: "'<' not supported between 'NoneType' and 'int'")
        from .errors import Location, ScoreError

        reason = " ".join(str(exc).split())[:200].rstrip(".") or type(exc).__name__
        raise ScoreError(f"music21 cannot write this score as {_FORMAT_NAMES[fmt]} ({reason})", Location(file=str(path)),
                         hint="The score read from the input holds something this format cannot notate; "
                              "write another format, or open and re-save the input in a notation program.") from None
