"""The ``partimento`` command line.

Each layer registers its own sub-commands (``partimento.grammar.commands``,
``partimento.neural.commands``, ``partimento.hybrid.commands``); this module only
builds the parser and turns a :class:`PartimentoError` into one readable paragraph on
stderr with the error's exit status (2 bad input, 3 unsatisfiable). ``--debug`` (before
or after the sub-command) shows the traceback too. A file the system refuses to write
(read-only folder, a folder's name, full disk) is the user's error as well: one line,
status 2. A closed pipe (``partimento compose | head``) ends the command quietly.
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
    """Examples keep their lines; a default is shown once: not when the help already says it, nor when it is empty."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        empty = action.default is None or action.default is False or action.default is argparse.SUPPRESS
        if "default" in help_text.lower() or empty or not action.option_strings:
            return help_text
        return super()._get_help_string(action)


def _add_debug(parser: argparse.ArgumentParser, top: bool) -> None:
    """``--debug`` on ``parser`` and every sub-command below it, so it works before or after the command."""
    if top:
        parser.add_argument("--debug", action="store_true", help="show the traceback of errors")
    else:
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help="show the traceback of errors")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                _add_debug(sub, top=False)


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # the layer has no commands yet
                continue
            raise
        module.register(sub, _Formatter)
    _add_debug(parser, top=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return int(code or 0)
    except PartimentoError as e:
        return _report(args, e.describe(), e.exit_code)
    except BrokenPipeError:
        _silence_stdout()
        return 141  # as a shell reports a command stopped by SIGPIPE
    except OSError as e:  # the system refused a file the user named (fileio turns most into InputError)
        if e.filename is None:
            raise
        from partimento.grammar.fileio import unwritable

        return _report(args, unwritable(e.filename, e).describe() if e.errno else str(e), 2)
    except KeyboardInterrupt:
        print(f"partimento {args.command}: interrupted", file=sys.stderr)
        return 130


def _report(args: argparse.Namespace, text: str, code: int) -> int:
    if getattr(args, "debug", False):
        traceback.print_exc()
    print(f"partimento {args.command}: error: {text}", file=sys.stderr)
    return code


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
