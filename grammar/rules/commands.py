"""``partimento check FILE… [--profile strict|chorale] [--format text|json] [--annotate OUT.musicxml] [--parts S,A,T,B] [--explain]``.

``--explain`` adds to every violation the nearest legal alternatives for the offending
note, verified to remove it and add none (:mod:`.fixes`).

Exit status: 0 when no errors were found (warnings allowed), 1 when there were errors,
2 when a file could not be checked (its message names the file and what is wrong).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError, PartimentoError
from .profiles import PROFILES

__all__ = ["register", "run_check"]


EPILOG = """examples:
  partimento check exercise.musicxml
  partimento check exercise.musicxml --annotate marked.musicxml
  partimento check chorale.musicxml --profile chorale --format json
  partimento check score.musicxml --parts 2,3,4,5
"""


def register(subparsers, formatter_class=argparse.HelpFormatter) -> None:
    p = subparsers.add_parser(
        "check",
        help="check four-part scores for voice-leading and key errors",
        description="Check four-voice scores (MusicXML, MIDI, anything music21 reads) and locate every "
                    "violation. The voices may be four parts, or two staves (soprano and alto on the upper, "
                    "tenor and bass on the lower) written as two voices or as two-note chords. "
                    "Exit 0: no errors; 1: errors found; 2: a file could not be checked.",
        epilog=EPILOG,
        formatter_class=formatter_class,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="score files to check")
    p.add_argument("--profile", choices=sorted(PROFILES), default="strict", help="rule set and severities")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--key", default=None, help="force one key for the whole score (e.g. G, f#)")
    p.add_argument("--annotate", metavar="OUT.musicxml", default=None,
                   help="write the (single) checked score with violations coloured and named")
    p.add_argument("--parts", metavar="S,A,T,B", default=None, type=_parts,
                   help="the four parts to check, soprano first, by name or number (1 = top), in a score "
                        "that has other parts too")
    p.add_argument("--explain", action="store_true",
                   help="suggest fixes: the nearest notes the rules allow for each offending note")
    p.set_defaults(func=run_check)


def _parts(text: str) -> list[str]:
    names = [t.strip() for t in str(text).split(",") if t.strip()]
    if len(names) != 4:
        raise argparse.ArgumentTypeError(f"name four parts, soprano first (e.g. 1,2,3,4 or S,A,T,B), got {text!r}")
    return names


def run_check(args: argparse.Namespace) -> int:
    from ..fileio import check_writable
    from .annotate import write_annotated
    from .checker import check

    if args.annotate and len(args.files) != 1:
        raise InputError(f"--annotate takes exactly one input file, got {len(args.files)}.")
    if args.annotate:
        check_writable(args.annotate, "--annotate")
    reports = []
    bad = False
    for f in args.files:
        try:
            reports.append(check(f, profile=args.profile, key=args.key, parts=args.parts))
        except PartimentoError as e:
            bad = True
            print(f"partimento check: error: {e.describe()}", file=sys.stderr)
    fixes = [_fixes(r, args.profile) for r in reports] if getattr(args, "explain", False) else None
    if args.format == "json":
        data = [r.to_dict() for r in reports]
        for i, d in enumerate(data if fixes else []):
            for v, fx in zip(d["violations"], fixes[i]):
                v["fixes"] = [f.to_dict() for f in fx]
        print(json.dumps(data[0] if len(args.files) == 1 and data else data, indent=1, ensure_ascii=False))
    else:
        for i, r in enumerate(reports):
            for k, line in enumerate(r.text_lines()):
                print(line)
                for f in fixes[i][k] if fixes else ():
                    print(f"    suggested fix: {f.text}")
        for r in reports:
            print(f"{r.file}: {len(r.errors)} error(s), {len(r.warnings)} warning(s) ({r.profile})", file=sys.stderr)
    if args.annotate and reports:
        done = write_annotated(reports[0], Path(args.annotate))
        print(f"annotated score written to {args.annotate} ({done.labels} label(s) for "
              f"{len(reports[0].violations)} violation(s))", file=sys.stderr)
        for v in done.unmarked:
            print(f"partimento check: warning: measure {v.measure}, beat {v.beat:g}: {v.rule} could not be marked "
                  f"(no note sounds in {', '.join(v.voices)} there)", file=sys.stderr)
    if bad:
        return 2
    return 1 if any(r.errors for r in reports) else 0


def _fixes(report, profile: str) -> list[list]:
    """Suggested fixes per violation of ``report`` (``--explain``)."""
    from .fixes import suggest_fixes

    return [suggest_fixes(report, v, profile=profile) for v in report.violations]
