"""``partimento render``: outputs, exit codes, and no partial files on errors."""
from __future__ import annotations

import sys
import wave
import xml.etree.ElementTree as ET

import pytest
from music21 import corpus

from partimento.hybrid.cli import main
from partimento.hybrid.render import read_score
from partimento.hybrid.render_commands import page_paths


@pytest.fixture(scope="module")
def chorale_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "bwv66.6.musicxml"
    corpus.parse("bach/bwv66.6").write("musicxml", fp=str(path))
    return path


def test_render_writes_svg_wav_midi_and_png(chorale_file, tmp_path, capsys):
    pytest.importorskip("resvg_py")
    out = {ext: tmp_path / f"c.{ext}" for ext in ("svg", "png", "wav", "mid")}
    rc = main(["render", str(chorale_file), "--svg", str(out["svg"]), "--png", str(out["png"]),
               "--wav", str(out["wav"]), "--midi", str(out["mid"])])
    assert rc == 0
    assert ET.parse(out["svg"]).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert out["png"].read_bytes()[:4] == b"\x89PNG"
    with wave.open(str(out["wav"])) as w:
        # music21 pads the final short bar with a rest when writing: 37 quarters at 96
        quarters = float(read_score(chorale_file).highestTime)
        assert quarters == 37.0
        assert w.getnframes() / w.getframerate() == pytest.approx(quarters * 60 / 96, rel=0.01)
    assert out["mid"].read_bytes()[:4] == b"MThd"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mid", "c.png", "c.svg", "c.wav"]
    assert capsys.readouterr().out.split() == [str(out[e]) for e in ("svg", "png", "wav", "mid")]


def test_render_reads_midi(chorale_file, tmp_path):
    mid = tmp_path / "c.mid"
    assert main(["render", str(chorale_file), "--midi", str(mid)]) == 0
    svg = tmp_path / "from-midi.svg"
    assert main(["render", str(mid), "--svg", str(svg), "--pages"]) == 0
    assert ET.parse(svg).getroot().tag.endswith("svg")


def test_pages_are_numbered_after_the_first():
    assert [p.name for p in page_paths("out/c.svg", 3)] == ["c.svg", "c-2.svg", "c-3.svg"]


@pytest.mark.parametrize("make_input,args,message", [
    (lambda d: d / "missing.musicxml", ["--svg", "x.svg"], "no such file"),
    (lambda d: (d / "bad.musicxml").write_text("<not music") and d / "bad.musicxml", ["--svg", "x.svg"],
     "not a readable score"),
    (lambda d: d / "any.musicxml", [], "nothing to render"),
    (lambda d: d / "any.musicxml", ["--svg", "x.png"], "should end in .svg"),
    (lambda d: d / "any.musicxml", ["--wav", "x.wav", "--tempo", "0"], "--tempo must be positive"),
])
def test_bad_input_exits_2_with_one_paragraph_and_no_files(tmp_path, capsys, make_input, args, message):
    src = make_input(tmp_path)
    before = set(tmp_path.iterdir())
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    assert main(["render", str(src), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert set(tmp_path.iterdir()) == before


def test_missing_png_dependency_writes_nothing(chorale_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "resvg_py", None)
    rc = main(["render", str(chorale_file), "--svg", str(tmp_path / "c.svg"), "--png", str(tmp_path / "c.png")])
    assert rc == 2
    assert "pip install resvg-py" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_help_shows_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    assert "partimento render chorale.musicxml --svg" in capsys.readouterr().out
