"""CLI sub-commands of the grammar layer: ``plan``, ``parse``, ``grammar fit``, ``grammar check``.

Each handler returns an exit status; user errors are raised as PartimentoError and
turned into one paragraph and exit 2 by :mod:`partimento.hybrid.cli`. Output files are
written atomically, so a failed command never leaves a partial file behind.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import InputError, Location
from .sampler import MAX_BARS, SAMPLING_METRES

__all__ = ["register"]

PLAN_EXAMPLES = """examples:
  partimento plan --grammar chorale --key G --bars 8 --seed 1
  partimento plan --grammar period --key a --bars 8 --seed 3 --format rntxt --out period.rntxt
  partimento plan --count 100 --format jsonl --seed 0 > plans.jsonl
  partimento plan --grammar my.lark --weights weights.json --metre 3/4
"""
PARSE_EXAMPLES = """examples:
  partimento parse analysis.rntxt
  partimento parse a.rntxt b.rntxt --grammar harmony --format json
  partimento parse corpus/*.rntxt --min-coverage 0.9    # exit 1 below 90% of phrases
"""
GRAMMAR_EXAMPLES = """examples:
  partimento grammar check my.lark
  partimento grammar fit harmony corpus/*.rntxt -o weights.json
"""


def register(subparsers, formatter_class=argparse.HelpFormatter) -> None:
    p = subparsers.add_parser("plan", help="sample a plan (form, keys, cadences, harmony) from a grammar",
                              description="Sample plans from a Lark grammar. Same seed, same plan.",
                              epilog=PLAN_EXAMPLES, formatter_class=formatter_class)
    p.add_argument("--grammar", default="harmony", help="shipped grammar name or a .lark file")
    p.add_argument("--weights", default=None,
                   help="weights.json from 'partimento grammar fit' (default: the grammar's own NAME.weights.json "
                        "if it has one; 'none': only the w= annotations of the .lark file)")
    p.add_argument("--key", default="C", help="home key as music21 names it (C, B-, Bb, f#; lowercase = minor)")
    p.add_argument("--bars", type=int, default=16, help=f"number of bars, 1 to {MAX_BARS}")
    p.add_argument("--metre", default="4/4", help="time signature: " + ", ".join(SAMPLING_METRES))
    p.add_argument("--seed", type=int, default=0, help="random seed (plan K of --count uses seed+K)")
    p.add_argument("--count", type=int, default=1, help="number of plans")
    p.add_argument("--format", choices=("json", "jsonl", "rntxt"), default="json", help="output format")
    p.add_argument("--out", default=None, help="output file (default: standard output)")
    p.set_defaults(func=_plan)

    q = subparsers.add_parser("parse", help="parse RomanText analyses phrase by phrase with a grammar",
                              description="Parse RomanText analyses phrase by phrase; report coverage and "
                                          "where each unparsed phrase stops.",
                              epilog=PARSE_EXAMPLES, formatter_class=formatter_class)
    q.add_argument("files", nargs="+", metavar="FILE.rntxt")
    q.add_argument("--grammar", default="harmony", help="shipped grammar name or a .lark file")
    q.add_argument("--format", choices=("text", "json"), default="text")
    q.add_argument("--min-coverage", type=float, default=None, metavar="X",
                   help="exit with status 1 when less than this share of all phrases parses (0 to 1)")
    q.set_defaults(func=_parse)

    g = subparsers.add_parser("grammar", help="check a grammar file or learn its weights from a corpus",
                              epilog=GRAMMAR_EXAMPLES, formatter_class=formatter_class)
    gsub = g.add_subparsers(dest="grammar_command", metavar="ACTION")
    f = gsub.add_parser("fit", help="learn rule weights by counting alternatives in parses of a corpus",
                        epilog=GRAMMAR_EXAMPLES, formatter_class=formatter_class)
    f.add_argument("grammar", help="shipped grammar name or a .lark file")
    f.add_argument("corpus", nargs="+", metavar="CORPUS.rntxt")
    f.add_argument("-o", "--out", required=True, help="weights.json to write")
    f.add_argument("--smoothing", type=float, default=0.5, help="pseudo-count added to every alternative")
    f.set_defaults(func=_fit)
    c = gsub.add_parser("check", help="validate a .lark grammar (syntax, reachability, productivity, numerals)",
                        epilog=GRAMMAR_EXAMPLES, formatter_class=formatter_class)
    c.add_argument("file", metavar="FILE.lark")
    c.set_defaults(func=_check)
    g.set_defaults(func=_grammar_help(g))


def _grammar_help(parser):
    def handler(args) -> int:
        parser.print_help(sys.stderr)
        return 2

    return handler


def _emit(text: str, out: str | None) -> None:
    if out:
        from .fileio import write_text_atomic

        write_text_atomic(out, text)
    else:
        sys.stdout.write(text)


def _plan(args) -> int:
    from .grammar import load

    if args.count <= 0:
        raise InputError(f"--count must be positive, got {args.count}")
    if args.count > 1 and args.format != "jsonl":
        raise InputError("--count above 1 needs --format jsonl (one plan per line)")
    weights = False if args.weights is not None and args.weights.lower() == "none" else args.weights
    grammar = load(args.grammar, weights=weights)
    first = grammar.sample(key=args.key, bars=args.bars, metre=args.metre, seed=args.seed)  # bad requests fail here
    if args.format != "jsonl":
        _emit(first.to_json() + "\n" if args.format == "json" else first.to_rntxt(), args.out)
        return 0

    def lines():
        yield first.to_json(indent=None) + "\n"
        for i in range(1, args.count):
            yield grammar.sample(key=args.key, bars=args.bars, metre=args.metre, seed=args.seed + i).to_json(indent=None) + "\n"

    if args.out:  # written to a temporary file and moved into place: complete or absent
        from .fileio import write_with

        def writer(path: Path) -> None:
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(lines())

        write_with(args.out, writer)
    else:
        sys.stdout.writelines(lines())
    return 0


def _parse(args) -> int:
    from .grammar import load

    if args.min_coverage is not None and not 0.0 <= args.min_coverage <= 1.0:
        raise InputError(f"--min-coverage is a share of phrases from 0 to 1, got {args.min_coverage:g}",
                         expected=["0.9 (90% of the phrases)"])
    grammar = load(args.grammar)
    results = [grammar.parse(Path(f)) if Path(f).suffix else _missing(f) for f in args.files]
    if args.format == "json":
        data = [r.to_dict() for r in results]
        sys.stdout.write(json.dumps(data[0] if len(data) == 1 else data, indent=1) + "\n")
    else:
        for r in results:
            sys.stdout.write(r.describe() + "\n")
    if args.min_coverage is not None:
        phrases = [p for r in results for p in r.phrases]
        coverage = sum(p.parsed for p in phrases) / len(phrases) if phrases else 0.0
        if coverage < args.min_coverage:
            print(f"partimento parse: {sum(p.parsed for p in phrases)} of {len(phrases)} phrases parse with "
                  f"{grammar.name} ({coverage:.1%}), below --min-coverage {args.min_coverage:g}.", file=sys.stderr)
            return 1
    return 0


def _missing(f: str):
    raise InputError("not a RomanText file", Location(file=f), expected=["FILE.rntxt"])


def _fit(args) -> int:
    from .fit import fit_weights
    from .grammar import load
    from .weights import write_weights

    grammar = load(args.grammar)
    result = fit_weights(grammar, [Path(c) for c in args.corpus], smoothing=args.smoothing)
    if result.parsed == 0:
        raise InputError(f"none of the {result.phrases} phrases of the corpus parses with {grammar.name}, so there "
                         f"is nothing to learn weights from; no weights file written",
                         Location(file=args.corpus[0] if len(args.corpus) == 1 else None),
                         hint="Check the analyses with 'partimento parse FILE --grammar "
                              f"{args.grammar}' to see where each phrase stops.")
    write_weights(args.out, grammar.name, result.weights,
                  {"counts": result.counts, "phrases": result.phrases, "parsed": result.parsed,
                   "files": result.files, "smoothing": args.smoothing})
    print(f"parsed {result.parsed}/{result.phrases} phrases of {len(result.files)} files; "
          f"wrote weights for {len(result.weights)} rules to {args.out}", file=sys.stderr)
    return 0


def _check(args) -> int:
    from .validate import check_grammar

    issues = check_grammar(args.file)
    for issue in issues:
        print(str(issue), file=sys.stderr if issue.severity == "error" else sys.stdout)
    errors = sum(i.severity == "error" for i in issues)
    if errors:
        return 2
    print(f"{args.file}: ok ({len(issues)} warning{'s' if len(issues) != 1 else ''})")
    return 0
