"""Running one command line on one (malformed) input, and judging the outcome.

Every command runs in-process through the CLI's ``main(argv)`` (fast: no interpreter start,
music21 and torch imported once). The verdict, for any input whatsoever:

* no traceback escapes and none is printed: the CLI answers with its own words (with
  ``--debug`` the traceback it asks for comes first, the one line still last);
* the exit status is one the command documents (2 for bad input, 3 for unsatisfiable;
  0 when the mutated input happens to be valid, 1 for ``check`` finding errors);
* no output file is left behind by a failed command, and no temporary file by any
  command; a command that succeeds leaves every output it was asked for.

``Case`` holds what to run; :func:`judge` runs it and raises ``AssertionError`` with the
command line, the exit status and the captured stderr when any of that is broken.
"""
from __future__ import annotations

import contextlib
import io
import signal
import traceback
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Case", "judge", "TIME_LIMIT_S"]

#: One command on one input may take this long; more is a finding too (a hang on bad input).
TIME_LIMIT_S = 30


@dataclass
class Case:
    argv: list[str]
    outputs: list[Path] = field(default_factory=list)  # files the command is asked to write
    codes: tuple[int, ...] = (0, 2, 3)  # exit statuses the command may give


class _TooSlow(BaseException):  # (not Exception: music21 catches those and carries on)
    pass


def _alarm(signum, frame):  # pragma: no cover - only on a hang
    # Raised where the command happens to be; inside a gc callback (hypothesis has one) Python
    # swallows it, so the alarm is set again: a command that runs on is stopped a second later.
    signal.alarm(1)
    raise _TooSlow()


def judge(case: Case) -> tuple[int, str]:
    """Run ``case`` through ``main`` and assert the verdict above; returns the exit status and stderr."""
    from partimento.hybrid.cli import main

    out, err = io.StringIO(), io.StringIO()
    folders = {p.parent for p in case.outputs}
    before = {f: set(f.iterdir()) for f in folders if f.is_dir()}
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT_S)
    crash = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(case.argv)
            except SystemExit as e:  # argparse: usage errors are status 2, --help 0
                code = e.code if isinstance(e.code, int) else 2
    except _TooSlow:
        crash = f"took longer than {TIME_LIMIT_S} s"
        code = -1
    except BaseException:  # noqa: BLE001 - any escaping exception is the finding
        crash = traceback.format_exc()
        code = -1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    text = err.getvalue()
    where = f"\n  argv: {case.argv}\n  exit: {code}\n  stderr: {text[-2000:]}"
    assert crash is None, f"exception escaped main():{where}\n{crash}"
    if "--debug" in case.argv and "--" not in case.argv[:case.argv.index("--debug")]:
        # --debug asks for the traceback; the user's one line still ends the output
        assert "Traceback" not in text or text.rstrip().splitlines()[-1].startswith("partimento "), \
            f"traceback without the error line:{where}"
    else:
        assert "Traceback" not in text, f"traceback printed:{where}"
    assert code in case.codes, f"unexpected exit status:{where}"
    for f, files in before.items():
        left = {p.name for p in set(f.iterdir()) - files if p.name.startswith(".")}
        assert not left, f"temporary files left behind {sorted(left)}:{where}"
    for p in case.outputs:
        if code in (0, 1):
            assert p.exists() and p.stat().st_size > 0, f"{p.name} missing after success:{where}"
        else:
            assert not p.exists(), f"{p.name} written although the command failed:{where}"
    for p in case.outputs:  # each case starts from a clean folder
        p.unlink(missing_ok=True)
    return code, text
