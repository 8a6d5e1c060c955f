"""CLI sub-commands compose, realize, harmonize and infill (registered by ``hybrid/cli.py``).

Handlers parse options into the API's arguments, write the outputs atomically (an
output file is complete or absent) and print one summary line. Bad input raises a
:class:`~partimento.grammar.errors.PartimentoError` that the CLI turns into exit 2;
an unrealizable plan raises ``UnsatisfiableError``, exit 3. Heavy imports (torch,
music21) happen inside the handlers so ``partimento --help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from partimento.grammar.errors import InputError

__all__ = ["register", "parse_measures", "parse_voices", "seed_arg"]

_VOICE_NAMES = ("soprano", "alto", "tenor", "bass")


def parse_measures(text: str) -> tuple[int, int]:
    """``"3-4"`` -> (3, 4); ``"5"`` -> (5, 5)."""
    parts = str(text).replace("–", "-").split("-")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (1, 2) or nums[0] < 0 or nums[-1] < nums[0]:
        raise InputError(f"--measures must look like 3-4 or 5 (first <= last), got {text!r}")
    return nums[0], nums[-1]


def parse_voices(text: str) -> tuple[str, ...]:
    """``"alto,tenor"`` -> ("alto", "tenor"); names or initials (s, a, t, b)."""
    out = []
    for raw in str(text).split(","):
        name = raw.strip().lower()
        full = next((v for v in _VOICE_NAMES if v == name or v[0] == name), None)
        if full is None:
            raise InputError(f"unknown voice {raw.strip()!r}", expected=list(_VOICE_NAMES))
        if full not in out:
            out.append(full)
    if not out:
        raise InputError("--voices needs at least one voice", expected=list(_VOICE_NAMES))
    return tuple(out)


def seed_arg(text: str) -> int:
    """``--seed``: a whole number from 0 to 2**63 - 1 (argparse reports anything else, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**63 - 1, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**63 - 1, got {value}")
    return value


def _add_sampling(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("decoding")
    g.add_argument("--seed", type=seed_arg, default=0, help="random seed, 0 or more (same seed, same music)")
    g.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (0 = greedy)")
    g.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass")
    g.add_argument("--strategy", choices=("sample", "greedy", "beam"), default="sample", help="how tokens are chosen")
    g.add_argument("--beam", type=int, default=4, help="beam width for --strategy beam")
    g.add_argument("--no-constraints", action="store_true",
                   help="turn every rule and plan mask off (ablation: the bare model)")
    g.add_argument("--checkpoint", default=None, help="model checkpoint (.safetensors); default: the shipped one")
    g.add_argument("--profile", default="strict", help="rule profile whose hard rules become masks")
    g.add_argument("--out", default=None,
                   help="output file: .musicxml, .mxl, .mid, .json (default: MusicXML on stdout)")


def _sampling(args: argparse.Namespace) -> dict:
    return {"temperature": args.temperature, "top_p": args.top_p, "strategy": args.strategy,
            "beam": args.beam, "constraints": not args.no_constraints}


def _finish(result, args: argparse.Namespace, what: str, errors_fail: bool = False) -> int:
    """Write the outputs (each atomically) and print a one-line summary.

    ``errors_fail`` (harmonize, infill): errors can only lie in the notes the user gave,
    so each is printed with its place and the exit status is 1, as ``check`` does.
    """
    from partimento.grammar.fileio import write_all

    outputs = []
    if args.out:
        outputs.append((args.out, lambda tmp: result.write(tmp)))
    plan_out = getattr(args, "plan_out", None)
    if plan_out:
        outputs.append((plan_out, lambda tmp: result.plan.write(tmp)))
    write_all(outputs)
    errors = result.errors
    summary = (f"{what}: {result.plan.bars} bars in {result.plan.key}, {result.plan.metre}, "
               f"{len(errors)} {args.profile} error(s)")
    if args.no_constraints:
        summary += " (unconstrained)"
    for w in result.warnings:
        print(f"partimento {args.command}: warning: {w}", file=sys.stderr)
    if errors_fail:
        for v in errors:
            print(f"partimento {args.command}: error in the given notes: measure {v.measure}, beat {v.beat:g}, "
                  f"{', '.join(v.voices)}: {v.rule}: {v.message}", file=sys.stderr)
    if args.out:
        print(f"wrote {args.out} — {summary}")
    else:
        sys.stdout.write(result.musicxml())
        print(summary, file=sys.stderr)
    return 1 if errors_fail and errors else 0


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an unwritable output before spending time on decoding."""
    from partimento.grammar.fileio import check_writable

    from .result import WRITE_FORMATS

    seen: dict[Path, str] = {}
    for opt, allowed in (("out", WRITE_FORMATS), ("plan_out", (".rntxt", ".json"))):
        path = getattr(args, opt, None)
        if not path:
            continue
        flag = f"--{opt.replace('_', '-')}"
        check_writable(path, flag)
        ext = Path(path).suffix.lower()
        if ext not in allowed:
            raise InputError(f"{flag} {path}: cannot write {ext or 'a file without extension'}",
                             expected=list(allowed))
        here = Path(path).resolve()
        if here in seen:
            raise InputError(f"{flag} {path}: the same file as {seen[here]}; give two file names")
        seen[here] = flag


def _compose(args: argparse.Namespace) -> int:
    from .api import compose

    _check_out(args)
    result = compose(args.grammar, key=args.key, bars=args.bars, seed=args.seed, metre=args.metre,
                     checkpoint=args.checkpoint, profile=args.profile, **_sampling(args))
    return _finish(result, args, "composed")


_SCORE_EXTS = (".musicxml", ".xml", ".mxl", ".mid", ".midi", ".krn", ".mei", ".abc")


def _refuse_score_as_plan(path: str) -> None:
    """``realize`` reads plans; a score given instead gets a sentence saying so (never the file's text)."""
    p = Path(path)
    head = b""
    if p.is_file():
        with open(p, "rb") as f:
            head = f.read(256).lstrip()
    if p.suffix.lower() in _SCORE_EXTS or head.startswith((b"<?xml", b"<score-", b"MThd", b"PK\x03\x04")):
        raise InputError(
            f"{path}: this is a score, not a plan; realize reads a plan (.rntxt RomanText or a plan .json).",
            hint="To check a score use 'partimento check'; to rewrite voices of it use 'partimento infill'; "
                 "to harmonize its melody use 'partimento harmonize'.")


def _realize(args: argparse.Namespace) -> int:
    from .api import realize

    _check_out(args)
    _refuse_score_as_plan(args.plan)
    result = realize(args.plan, seed=args.seed, checkpoint=args.checkpoint, profile=args.profile, **_sampling(args))
    return _finish(result, args, "realized")


def _harmonize(args: argparse.Namespace) -> int:
    from .api import harmonize

    _check_out(args)
    if args.plan_only:
        return _harmonize_plan_only(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warnings travel in result.warnings and are printed once
        result = harmonize(args.melody, key=args.key, seed=args.seed, plan=args.plan,
                           checkpoint=args.checkpoint, profile=args.profile, **_sampling(args))
    return _finish(result, args, "harmonized", errors_fail=True)


def _harmonize_plan_only(args: argparse.Namespace) -> int:
    """--plan-only: the proposed plan (RomanText or JSON) to --plan-out or stdout; no voices are written."""
    from .harmony import propose_plan
    from .melody import read_melody

    if args.out:
        raise InputError("--plan-only writes the plan only; give --plan-out PLAN.rntxt instead of --out")
    mel = read_melody(args.melody, args.key, profile=args.profile)
    for w in mel.warnings:
        print(f"partimento harmonize: warning: {w}", file=sys.stderr)
    plan = propose_plan(mel, seed=args.seed)
    summary = (f"plan: {plan.bars} bars in {plan.key} ({mel.key_source}), {plan.metre}, {len(plan.chords)} chords, "
               f"{len(plan.phrases)} phrases, keys {' '.join(k for _, k in plan.keys)}")
    if args.plan_out:
        plan.write(args.plan_out)
        print(f"wrote {args.plan_out} — {summary}")
    else:
        sys.stdout.write(plan.to_rntxt())
        print(summary, file=sys.stderr)
    return 0


def _infill(args: argparse.Namespace) -> int:
    from .api import infill

    _check_out(args)
    result = infill(args.score, measures=parse_measures(args.measures), voices=parse_voices(args.voices),
                    seed=args.seed, checkpoint=args.checkpoint, profile=args.profile, **_sampling(args))
    return _finish(result, args, "infilled", errors_fail=True)


def register(subparsers, formatter_class=argparse.HelpFormatter) -> None:
    """Add compose, realize, harmonize and infill to the ``partimento`` parser."""
    p = subparsers.add_parser(
        "compose", help="sample a plan from a grammar and write it in four voices",
        description="Sample a plan (form, keys, cadences, chords) from a grammar and realize it as SATB "
                    "with the model under the hard rules' masks.",
        epilog="example:\n  partimento compose --grammar chorale --key G --bars 8 --seed 1 --out chorale.musicxml",
        formatter_class=formatter_class)
    p.add_argument("--grammar", default="chorale", help="shipped grammar name or a .lark file")
    p.add_argument("--key", default="C", help="home key (C, G, B-, f#, 'D minor')")
    p.add_argument("--bars", type=int, default=16, help="number of bars")
    p.add_argument("--metre", default=None, help="time signature (omit for the grammar's own)")
    p.add_argument("--plan-out", default=None, help="also write the plan (.rntxt or .json)")
    _add_sampling(p)
    p.set_defaults(func=_compose)

    p = subparsers.add_parser(
        "realize", help="write a given plan (RomanText or JSON) in four voices",
        description="Realize a plan (.rntxt RomanText or a plan .json) as SATB under the hard rules.",
        epilog="example:\n  partimento realize plan.rntxt --out plan.musicxml", formatter_class=formatter_class)
    p.add_argument("plan", help="PLAN.rntxt or PLAN.json")
    _add_sampling(p)
    p.set_defaults(func=_realize)

    p = subparsers.add_parser(
        "harmonize", help="add alto, tenor and bass under a melody",
        description="Keep the melody exactly as the soprano (pitches, rhythm, pickup, ties), find its key, phrases, "
                    "local keys and a harmony that fits it (a plan you can write, edit and pass back), and write the "
                    "lower voices under the rules. Exit 1 when the given melody itself breaks a rule (each is named).",
        epilog="examples:\n  partimento harmonize melody.musicxml --out harmonized.musicxml --seed 2\n"
               "  partimento harmonize melody.musicxml --plan-only --plan-out plan.rntxt\n"
               "  partimento harmonize melody.musicxml --plan plan.rntxt --out harmonized.musicxml",
        formatter_class=formatter_class)
    p.add_argument("melody", help="melody file (MusicXML, MIDI, ABC, ... anything music21 reads); of a score with "
                                  "several staves, the top voice of the top staff")
    p.add_argument("--key", default=None, help="key of the melody, e.g. G, B-, Bb, f#, 'D minor' (default: read "
                                               "from the key signature and the melody)")
    p.add_argument("--plan", default=None, help="realize this plan (.rntxt or .json, e.g. written with --plan-out "
                                                "and edited) instead of proposing one")
    p.add_argument("--plan-out", default=None, help="also write the plan (.rntxt or .json)")
    p.add_argument("--plan-only", action="store_true",
                   help="propose the plan and stop: write it to --plan-out (or print it) to read and edit")
    _add_sampling(p)
    p.set_defaults(func=_harmonize)

    p = subparsers.add_parser(
        "infill", help="rewrite some voices in some measures, keeping the rest",
        description="Rewrite the chosen voices in the chosen measures; everything else stays note for note (spelling "
                    "included), and the joins obey the rules. The harmony is the score's own plan, or an analysis of "
                    "its four voices. Exit 1 when notes kept from the input break a rule (each is named).",
        epilog="example:\n  partimento infill chorale.musicxml --measures 3-4 --voices alto,tenor --out new.musicxml",
        formatter_class=formatter_class)
    p.add_argument("score", help="a four-part score (MusicXML, or a result .json)")
    p.add_argument("--measures", default="3-4", help="measure span as printed, e.g. 3-4")
    p.add_argument("--voices", default="alto,tenor", help="comma-separated voices to rewrite")
    _add_sampling(p)
    p.set_defaults(func=_infill)
