"""``partimento explain FILE --measure M --beat B --voice alto [--format text|json]``.

A score written by partimento replays the decision at the note on the stored notes (or,
with ``--regenerate``, re-runs the decoding, deterministic for the seed stored in the
file; see :mod:`.explain_file`) and explains it with the model's
candidates and the rules that removed them; any other score, or one whose checkpoint
is not the installed model, gets the checker's view. Exit 0 on success, 2 for a bad
file or a spot outside the score (the message names file, measure, beat and voice).
"""
from __future__ import annotations

import argparse

__all__ = ["register"]


def _explain(args: argparse.Namespace) -> int:
    from .explain import voice_index
    from .explain_file import explain_file

    voice_index(args.voice)  # an unknown voice fails before the file is read
    ex = explain_file(args.file, args.measure, args.beat, args.voice, checkpoint=args.checkpoint,
                      profile=args.profile, regenerate=args.regenerate)
    print(ex.to_json() if args.format == "json" else str(ex))
    return 0


def register(subparsers, formatter_class=argparse.HelpFormatter) -> None:
    """Add ``explain`` to the ``partimento`` parser."""
    p = subparsers.add_parser(
        "explain", help="why is this note here? the chord, the rules and the model's alternatives",
        description="Explain one note of a score: the chord and how the grammar derived it, the note's role, "
                    "the model's candidates with the rule that removed each one (for a score partimento wrote), "
                    "or the checker's view (chord in key, role, violations) for any other score.",
        epilog="example:\n  partimento explain chorale.musicxml --measure 3 --beat 2 --voice alto --format json",
        formatter_class=formatter_class)
    p.add_argument("file", help="a four-part score (MusicXML written by partimento, or any score music21 reads)")
    p.add_argument("--measure", type=int, required=True, help="measure number as printed")
    p.add_argument("--beat", type=float, required=True, help="beat within the measure (1-based; 2.5 = halfway)")
    p.add_argument("--voice", required=True, help="soprano, alto, tenor or bass (or s, a, t, b)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--checkpoint", default=None, help="model checkpoint to regenerate with (default: the shipped one)")
    p.add_argument("--profile", default="strict", help="rule profile for the checker's view of plain scores")
    p.add_argument("--regenerate", action="store_true",
                   help="re-run the whole decoding (slower) to add the search's history: tokens tried, backtracks")
    p.set_defaults(func=_explain)
