"""CLI compose / realize / harmonize / infill: outputs, exit codes, no half-written files."""
from __future__ import annotations

import pytest
from hybrid_fakes import cadence_plan
from music21 import converter

from partimento.grammar.plan import ChordEvent, Plan
from partimento.hybrid.cli import main
from partimento.hybrid.commands import parse_measures, parse_voices


def test_compose_writes_musicxml_and_the_plan(tmp_path, capsys):
    out, plan_out = tmp_path / "c.musicxml", tmp_path / "c.rntxt"
    code = main(["compose", "--grammar", "chorale", "--key", "G", "--bars", "4", "--seed", "1",
                 "--out", str(out), "--plan-out", str(plan_out)])
    assert code == 0
    assert "0 strict error(s)" in capsys.readouterr().out
    score = converter.parse(str(out))
    assert [p.partName for p in score.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert Plan.read(plan_out).key == "G"


def test_realize_a_plan_file_and_no_constraints_ablation(tmp_path, capsys):
    plan_path = tmp_path / "p.json"
    cadence_plan(figures=("I", "IV", "V", "I")).write(plan_path)
    assert main(["realize", str(plan_path), "--out", str(tmp_path / "r.mid"), "--seed", "2"]) == 0
    assert (tmp_path / "r.mid").stat().st_size > 0
    assert main(["realize", str(plan_path), "--no-constraints", "--out", str(tmp_path / "u.json")]) == 0
    assert "(unconstrained)" in capsys.readouterr().out


def test_harmonize_and_infill_from_the_command_line(tmp_path, capsys):
    melody = tmp_path / "m.musicxml"
    converter.parse("tinyNotation: 4/4 e'4 d'4 c'4 d'4 e'4 e'4 e'2").write("musicxml", fp=str(melody))
    out = tmp_path / "h.musicxml"
    assert main(["harmonize", str(melody), "--out", str(out), "--seed", "3"]) == 0
    assert main(["infill", str(out), "--measures", "1-1", "--voices", "alto,t", "--out",
                 str(tmp_path / "i.json")]) == 0
    assert (tmp_path / "i.json").is_file()


@pytest.mark.parametrize("argv,words", [
    (["compose", "--key", "H"], "unknown key"),
    (["compose", "--bars", "0"], "bars"),
    (["compose", "--top-p", "0"], "top-p"),
    (["compose", "--grammar", "nosuchgrammar"], "nosuchgrammar"),
    (["infill", "{four}", "--measures", "7-9"], "measure 7"),
    (["infill", "{four}", "--measures", "2-1"], "--measures"),
    (["infill", "{four}", "--voices", "alto,baritone"], "baritone"),
    (["realize", "{bad}"], "Q7"),
    (["compose", "--out", "{dir}/x.pdf"], "cannot write"),
])
def test_bad_input_exits_2_with_a_located_message(tmp_path, capsys, argv, words):
    four = tmp_path / "four.json"
    if any("{four}" in a for a in argv):
        from hybrid_fakes import FakeModel

        from partimento.hybrid import realize

        realize(cadence_plan(figures=("I", "IV", "V", "I") * 2), model=FakeModel()).write(four)
    bad = tmp_path / "bad.json"
    Plan(key="C", bars=1, chords=[ChordEvent(0, 4, "Q7", "C")]).write(bad)
    argv = [a.format(four=four, bad=bad, dir=tmp_path) for a in argv]
    code = main(argv + (["--out", str(tmp_path / "o.musicxml")] if "--out" not in argv else []))
    err = capsys.readouterr().err
    assert code == 2, err
    assert words in err
    assert not (tmp_path / "o.musicxml").exists()


def test_unrealizable_plan_exits_3_and_writes_nothing(tmp_path, capsys):
    plan = tmp_path / "p.json"
    Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V42", "C"), ChordEvent(2, 2, "I", "C")]).write(plan)
    out = tmp_path / "o.musicxml"
    assert main(["realize", str(plan), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "measure 1" in err and "bass" in err and "seventh-resolution" in err
    assert not out.exists()


def test_measure_and_voice_parsing():
    assert parse_measures("3-4") == (3, 4) and parse_measures("5") == (5, 5)
    assert parse_voices("s,Alto,t") == ("soprano", "alto", "tenor")


def test_harmonize_a_c_major_tune_with_a_g_sharp_and_write_the_plan(tmp_path, capsys):
    from music21 import key, stream

    tune = converter.parse("tinyNotation: 4/4 c4 e4 g4 a4 b4 g#4 a2 f4 e4 d4 g4 c1")
    tune.getElementsByClass(stream.Measure)[0].insert(0, key.KeySignature(0))
    melody, out, plan_out = tmp_path / "gis.musicxml", tmp_path / "h.musicxml", tmp_path / "plan.rntxt"
    tune.write("musicxml", fp=str(melody))
    assert main(["harmonize", str(melody), "--out", str(out), "--plan-out", str(plan_out), "--seed", "0"]) == 0
    assert "4 bars in C, 4/4, 0 strict error(s)" in capsys.readouterr().out
    soprano = [n.pitch.nameWithOctave for n in converter.parse(str(out)).parts[0].flatten().notes]
    assert "G#4" in soprano and "A-4" not in soprano
    assert Plan.read(plan_out).key == "C"
    assert main(["harmonize", str(melody), "--plan", str(plan_out), "--out", str(tmp_path / "again.musicxml")]) == 0
