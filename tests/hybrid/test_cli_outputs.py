"""Output paths, seeds, pipes and messages of every command (issue 16, items 5, 6 and 9).

An output the system refuses (a read-only folder, a name that is a folder) is the user's
error: one paragraph naming the file, exit 2, nothing written. Several outputs of one
command are all written or none. When the tests run as root, permissions do not bind,
so the read-only folder is simulated where the package asks the system (``os.access`` and
``tempfile.mkstemp``), which is exactly where a real read-only folder answers.
"""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hybrid_fakes import FakeModel, cadence_plan
from music21 import corpus, tempo

from partimento.hybrid.cli import build_parser, main


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root: make the folder refuse as a real read-only one does
        real_access, real_mkstemp = os.access, tempfile.mkstemp

        def access(path, mode, *a, **k):
            if mode & os.W_OK and Path(path).resolve() == ro.resolve():
                return False
            return real_access(path, mode, *a, **k)

        def mkstemp(*a, dir=None, **k):
            if dir is not None and Path(dir).resolve() == ro.resolve():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(ro))
            return real_mkstemp(*a, dir=dir, **k)

        monkeypatch.setattr(os, "access", access)
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    yield ro
    ro.chmod(0o755)


@pytest.fixture(scope="module")
def score_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "bwv66.6.musicxml"
    corpus.parse("bach/bwv66.6").write("musicxml", fp=str(path))
    return path


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "p.json"
    cadence_plan(figures=("I", "IV", "V", "I")).write(path)
    return path


def _fails_cleanly(argv, capsys, *needles) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for n in needles:
        assert n in err, (n, err)
    return err


def _commands(score_file, plan_file, out: str) -> list[list[str]]:
    """One command line per writer of the package, each writing ``out``."""
    return [
        ["compose", "--bars", "1", "--out", out],
        ["plan", "--bars", "4", "--out", out],
        ["render", str(score_file), "--svg", out],
        ["check", str(score_file), "--annotate", out],
        ["grammar", "fit", "harmony", str(Path(__file__).parent / "data" / "tiny.rntxt"), "-o", out],
        ["realize", str(plan_file), "--out", out],
    ]


def test_a_read_only_folder_is_refused_by_every_writer(read_only, score_file, plan_file, capsys, monkeypatch):
    monkeypatch.setattr("partimento.hybrid.api.load_default_model", lambda checkpoint=None: FakeModel(0))
    names = {"compose": "x.musicxml", "plan": "x.json", "render": "x.svg", "check": "x.musicxml",
             "grammar": "w.json", "realize": "x.musicxml"}
    for argv in _commands(score_file, plan_file, "{out}"):
        out = read_only / names[argv[0]]
        _fails_cleanly([a.format(out=out) for a in argv], capsys, str(out), "not writable")
        assert list(read_only.iterdir()) == [], argv


def test_an_output_naming_a_folder_is_refused_by_every_writer(tmp_path, score_file, plan_file, capsys, monkeypatch):
    monkeypatch.setattr("partimento.hybrid.api.load_default_model", lambda checkpoint=None: FakeModel(0))
    for argv in _commands(score_file, plan_file, "{out}"):
        folder = tmp_path / f"{argv[0]}.out.musicxml"
        folder.mkdir()
        _fails_cleanly([a.format(out=folder) for a in argv], capsys, str(folder), "is a folder")
        assert list(folder.iterdir()) == [], argv


def test_render_outputs_are_all_or_nothing(read_only, score_file, tmp_path, capsys):
    ok = tmp_path / "ok.svg"
    _fails_cleanly(["render", str(score_file), "--svg", str(ok), "--wav", str(read_only / "x.wav")], capsys, "x.wav")
    assert not ok.exists()


def test_all_or_nothing_when_the_last_rename_fails(score_file, tmp_path, capsys, monkeypatch):
    """Even a failure after the first file is in place (the second rename) leaves nothing behind."""
    ok, late = tmp_path / "ok.svg", tmp_path / "late.mid"
    real_replace = os.replace

    def replace(src, dst, *a, **k):
        if Path(dst) == late:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    ok.write_text("an older file")
    _fails_cleanly(["render", str(score_file), "--svg", str(ok), "--midi", str(late)], capsys, "no space left")
    assert ok.read_text() == "an older file" and not late.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.svg"]


def test_compose_with_out_and_plan_out_writes_both_or_neither(read_only, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("partimento.hybrid.api.load_default_model", lambda checkpoint=None: FakeModel(0))
    out = tmp_path / "c.musicxml"
    _fails_cleanly(["compose", "--bars", "1", "--out", str(out), "--plan-out", str(read_only / "p.rntxt")], capsys,
                   "p.rntxt")
    assert not out.exists()
    same = tmp_path / "both.json"
    _fails_cleanly(["compose", "--bars", "1", "--out", str(same), "--plan-out", str(same)], capsys, "same file")


@pytest.mark.parametrize("argv", [
    ["compose", "--bars", "1", "--seed", "-1"],
    ["realize", "{plan}", "--seed", "-1"],
    ["harmonize", "{score}", "--seed", "-1"],
    ["compose", "--bars", "1", "--seed", str(2**63)],
    ["compose", "--bars", "1", "--seed", "1.5"],
])
def test_a_negative_or_huge_seed_is_a_usage_error(argv, plan_file, score_file, capsys):
    with pytest.raises(SystemExit) as e:
        main([a.format(plan=plan_file, score=score_file) for a in argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--seed" in err and "whole number from 0" in err and "Traceback" not in err


def test_the_api_refuses_a_negative_seed_too():
    from partimento.grammar.errors import InputError
    from partimento.hybrid import compose, realize

    with pytest.raises(InputError, match="seed"):
        realize(cadence_plan(figures=("I", "V", "I", "I")), seed=-1, model=FakeModel())
    with pytest.raises(InputError, match="seed"):
        compose(bars=1, seed=-3, model=FakeModel())


def test_a_closed_pipe_ends_compose_quietly(tmp_path):
    """``partimento compose --bars 4 | true``: no BrokenPipeError traceback."""
    script = f"{sys.executable} -m partimento.hybrid.cli compose --bars 4 --seed 0 2> {tmp_path / 'err.txt'} | true"
    subprocess.run(["bash", "-c", script], check=True, timeout=300)
    err = (tmp_path / "err.txt").read_text()
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_debug_works_after_the_sub_command(capsys):
    assert main(["compose", "--key", "H", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "unknown key 'H'" in err
    assert main(["--debug", "compose", "--key", "H"]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert main(["compose", "--key", "H"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["grammar", "check", "nosuch.lark", "--debug"]) == 2


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from _subparsers(sub)


def test_help_shows_each_default_once_and_check_has_examples():
    parser = build_parser()
    seen = 0
    for name, sub in _subparsers(parser):
        text = " ".join(sub.format_help().split())
        for part in text.split("--")[1:]:
            assert part.count("(default:") <= 1 and part.lower().count("default") <= 1, (name, part)
        seen += 1
    assert seen >= 10
    check_help = dict(_subparsers(parser))["check"].format_help()
    assert "examples:" in check_help and "partimento check exercise.musicxml --annotate" in check_help
    for name, sub in _subparsers(parser):  # the README promises an example in every sub-command's --help
        assert "example" in sub.format_help().lower() and "partimento " in sub.format_help(), name


def test_messages_are_sentences_that_never_run_together():
    from partimento.grammar.errors import InputError, Location, UnsatisfiableError

    text = UnsatisfiableError("no legal note for the bass within 32 sixteenths of backtracking",
                              Location(measure=2, beat=1.0), rules=["parallel-fifths"],
                              hint="Try another seed").describe()
    assert text == ("measure 2, beat 1: no legal note for the bass within 32 sixteenths of backtracking. "
                    "Try another seed. Conflicting rules: parallel-fifths.")
    assert InputError("unknown metre '5/4'", expected=["4/4", "3/4"]).describe() == \
        "unknown metre '5/4'. Expected one of: 4/4, 3/4."


def test_realize_of_a_score_names_the_mistake_without_the_file_text(score_file, tmp_path, capsys):
    err = _fails_cleanly(["realize", str(score_file)], capsys, "is a score, not a plan", "partimento check")
    assert "<" not in err and len(err) < 400
    disguised = tmp_path / "plan.rntxt"
    disguised.write_bytes(score_file.read_bytes())
    err = _fails_cleanly(["realize", str(disguised)], capsys, "is a score, not a plan")
    assert "<" not in err


def test_tempo_replaces_the_scores_metronome_mark(score_file, tmp_path):
    import wave

    from partimento.hybrid.render import read_score

    marks = read_score(score_file).recurse().getElementsByClass(tempo.MetronomeMark)
    assert {m.getQuarterBPM() for m in marks} == {96}  # the chorale has its own mark
    quarters = float(read_score(score_file).highestTime)
    for qpm, argv in ((96, []), (60, ["--tempo", "60"])):
        out = tmp_path / f"t{qpm}.wav"
        assert main(["render", str(score_file), "--wav", str(out), *argv]) == 0
        with wave.open(str(out)) as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(quarters * 60 / qpm, rel=0.01)
    mid = tmp_path / "t.mid"
    assert main(["render", str(score_file), "--midi", str(mid), "--tempo", "60"]) == 0
    from music21 import converter

    assert {m.getQuarterBPM() for m in converter.parse(str(mid)).recurse().getElementsByClass(tempo.MetronomeMark)} == {60}
