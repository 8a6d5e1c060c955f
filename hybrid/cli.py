"""The ``partimento`` command line.

Each layer registers its own sub-commands (``partimento.grammar.commands``,
``partimento.neural.commands``, ``partimento.hybrid.commands``); this module only
builds the parser and turns a :class:`PartimentoError` into one readable paragraph on
stderr with the error's exit status (2 bad input, 3 unsatisfiable). ``--debug`` shows
the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from importlib.metadata import PackageNotFoundError, version

from partimento.grammar.errors import PartimentoError

__all__ = ["main", "build_parser"]

EPILOG = """examples:
  partimento compose --grammar chorale --key G --bars 8 --seed 1 --out chorale.musicxml
  partimento plan --grammar period --key a --bars 8 --seed 3 --format rntxt
  partimento check exercise.musicxml --profile strict
  partimento harmonize melody.musicxml --out harmonized.musicxml
  partimento render chorale.musicxml --svg chorale.svg --wav chorale.wav
  partimento explain chorale.musicxml --measure 3 --beat 2 --voice alto
"""

#: Modules that contribute sub-commands through ``register(subparsers)``, in help order.
COMMAND_MODULES = (
    "partimento.hybrid.commands",  # compose, realize, harmonize, infill
    "partimento.hybrid.render_commands",  # render
    "partimento.hybrid.explain_commands",  # explain
    "partimento.grammar.commands",  # plan, parse, grammar fit|check
    "partimento.grammar.rules.commands",  # check
    "partimento.neural.commands",  # data, train, evaluate
)


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _version() -> str:
    try:
        return version("partimento")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partimento",
        description="Neuro-symbolic four-part music: grammars plan, rules check, a transformer writes the voices.",
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"partimento {_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # the layer has no commands yet
                continue
            raise
        module.register(sub, _Formatter)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
        return int(code or 0)
    except PartimentoError as e:
        if args.debug:
            traceback.print_exc()
        print(f"partimento {args.command}: error: {e.describe()}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"partimento {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
