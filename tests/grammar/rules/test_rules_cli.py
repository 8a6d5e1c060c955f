"""``partimento check``: text and JSON output, exit codes, annotation, and every bad input."""
from __future__ import annotations

import json
import os

import pytest
from music21 import converter, note, stream

from exercises import build
from partimento.hybrid.cli import main

CLEAN = ["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 D4 G3", "C5 G4 E4 C3"]
FIFTHS = ["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 D4 G3", "C5 G4 G3 C3"]


@pytest.fixture
def files(tmp_path):
    clean = tmp_path / "clean.musicxml"
    bad = tmp_path / "fifths.musicxml"
    build(CLEAN, "C").write("musicxml", fp=str(clean))
    build(FIFTHS, "C").write("musicxml", fp=str(bad))
    return clean, bad


def test_clean_file_exits_0(files, capsys):
    clean, _ = files
    assert main(["check", str(clean)]) == 0
    assert capsys.readouterr().out == ""


def test_text_output_one_line_per_violation_and_exit_1(files, capsys):
    _, bad = files
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"{bad}:1:4 parallel-fifths tenor,bass — parallel fifths between tenor and bass: D4–G3 to G3–C3"]


def test_json_output_shape(files, capsys):
    clean, bad = files
    assert main(["check", str(bad), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data == {"file": str(bad), "profile": "strict", "violations": [
        {"rule": "parallel-fifths", "severity": "error", "measure": 1, "beat": 4.0, "voices": ["tenor", "bass"],
         "message": "parallel fifths between tenor and bass: D4–G3 to G3–C3"}]}
    assert main(["check", str(clean), str(bad), "--format", "json", "--profile", "chorale"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [d["file"] for d in data] == [str(clean), str(bad)]
    assert [len(d["violations"]) for d in data] == [0, 1] and data[0]["profile"] == "chorale"


def test_annotate_marks_the_notes_and_names_the_rule(files, tmp_path, capsys):
    _, bad = files
    out = tmp_path / "annotated.musicxml"
    assert main(["check", str(bad), "--annotate", str(out)]) == 1
    score = converter.parse(str(out))
    coloured = [(p.partName, n.nameWithOctave) for p in score.parts for n in p.flatten().notes if n.style.color]
    assert sorted(coloured) == [("Bass", "C3"), ("Tenor", "G3")]
    texts = [t.content for t in score.recurse().getElementsByClass("TextExpression")]
    assert "parallel-fifths" in texts


def _write_parts(path, parts: list[list]) -> None:
    s = stream.Score()
    for els in parts:
        p = stream.Part()
        for el in els:
            p.append(el)
        s.insert(0, p)
    s.write("musicxml", fp=str(path))


def _bad_inputs(tmp_path):
    three = tmp_path / "three.musicxml"
    _write_parts(three, [[note.Note("C5")], [note.Note("E4")], [note.Note("C3")]])
    rests = tmp_path / "rests.musicxml"
    _write_parts(rests, [[note.Rest()] for _ in range(4)])
    empty = tmp_path / "empty.musicxml"
    empty.write_text('<?xml version="1.0"?>\n<score-partwise version="3.1"><part-list/></score-partwise>\n')
    garbage = tmp_path / "garbage.musicxml"
    garbage.write_text("this is not music\n")
    binary = tmp_path / "noise.mid"
    binary.write_bytes(os.urandom(2048))
    binary2 = tmp_path / "noise.bin"
    binary2.write_bytes(bytes(range(256)) * 4)
    folder = tmp_path / "folder"
    folder.mkdir()
    return [
        (three, "3 parts; expected four voices"),
        (rests, "only rests"),
        (empty, "empty"),
        (garbage, "music21 cannot read"),
        (binary, "music21 cannot read"),
        (binary2, "music21 cannot read"),
        (folder, "is a directory"),
        (tmp_path / "missing.musicxml", "no such file"),
    ]


def test_every_bad_input_exits_2_with_a_message_naming_the_file(tmp_path, capsys):
    for path, words in _bad_inputs(tmp_path):
        assert main(["check", str(path)]) == 2, path
        err = capsys.readouterr().err
        assert str(path) in err and words in err, (path, err)
        assert "Traceback" not in err


def test_one_bad_file_among_good_ones_still_reports_the_good_and_exits_2(files, tmp_path, capsys):
    clean, bad = files
    assert main(["check", str(bad), str(tmp_path / "nope.xml"), "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert [d["file"] for d in json.loads(captured.out)] == [str(bad)]
    assert "nope.xml" in captured.err


def test_unknown_profile_is_refused_by_argparse(files):
    clean, _ = files
    with pytest.raises(SystemExit) as e:
        main(["check", str(clean), "--profile", "lenient"])
    assert e.value.code == 2
