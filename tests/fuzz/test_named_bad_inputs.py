"""The bad inputs a student or teacher really makes, one of each, through the CLI (issue 16).

Each gives exit 2, one line of stderr naming the file (and the place where the reader
knows it), no traceback and no output file: ``harness.judge`` checks the last three,
these tests the words.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import Case, judge


def _three_parts(seeds_xml: bytes) -> bytes:
    from music21 import converter

    from partimento.grammar.score_writer import musicxml_bytes

    score = converter.parseData(seeds_xml, format="musicxml")
    score.remove(score.parts[1])
    return musicxml_bytes(score)


def _inputs(seeds, folder: Path) -> dict[str, Path]:
    plan = json.loads(seeds.plan_json)
    plan["chords"][1]["duration"] = "long"
    files = {
        "broken.musicxml": seeds.musicxml[: len(seeds.musicxml) // 2],
        "three.musicxml": _three_parts(seeds.musicxml),
        "bad.lark": seeds.lark.replace('opening: "I"', 'opening: ("I"'),
        "plan.json": json.dumps(plan),
        "garbled.json": "{\"key\": \"C\",\n  \"bars\": 2,,\n}",
    }
    corpus = Path(__file__).parent / "corpus"
    files["endless.mid"] = (corpus / "midi" / "case000" / "in.mid").read_bytes()
    files["repeats.mid"] = (corpus / "midi" / "case001" / "in.mid").read_bytes()
    files["huge.mid"] = (corpus / "midi" / "case002" / "in.mid").read_bytes()
    files["untyped.musicxml"] = (corpus / "musicxml" / "case001" / "in.musicxml").read_bytes()
    files["numbered.musicxml"] = (corpus / "musicxml" / "case000" / "in.musicxml").read_bytes()
    out = {}
    for name, data in files.items():
        out[name] = folder / name
        out[name].write_bytes(data if isinstance(data, bytes) else data.encode())
    return out


@pytest.fixture(scope="module")
def bad(seeds, tmp_path_factory) -> tuple[dict[str, Path], Path]:
    folder = tmp_path_factory.mktemp("named-bad")
    (folder / "out").mkdir()
    (folder / "a-folder.musicxml").mkdir()
    return _inputs(seeds, folder), folder


@pytest.mark.parametrize("argv,words", [
    (["check", "{broken.musicxml}", "--annotate", "{out}/a.musicxml"], ["broken.musicxml"]),
    (["check", "{three.musicxml}"], ["three.musicxml", "3"]),
    (["infill", "{three.musicxml}", "--measures", "1-1", "--out", "{out}/i.musicxml"], ["three.musicxml"]),
    (["grammar", "check", "{bad.lark}"], ["bad.lark", "line"]),
    (["plan", "--grammar", "{bad.lark}", "--bars", "2", "--out", "{out}/p.json"], ["bad.lark", "line"]),
    (["realize", "{plan.json}", "--out", "{out}/r.musicxml"], ["plan.json", "duration of chord 2"]),
    (["realize", "{garbled.json}", "--out", "{out}/r.musicxml"], ["garbled.json", "line 2"]),
    (["compose", "--grammar", "nosuch", "--bars", "2", "--out", "{out}/c.musicxml"], ["nosuch"]),
    (["compose", "--key", "H", "--bars", "2", "--out", "{out}/c.musicxml"], ["H"]),
    (["compose", "--bars", "2", "--out", "{folder}/a-folder.musicxml"], ["a-folder.musicxml"]),
    (["compose", "--bars", "2", "--out", "{folder}/no/such/c.musicxml"], ["c.musicxml"]),
    (["check", "{folder}/missing.musicxml"], ["missing.musicxml"]),
    (["check", "{endless.mid}"], ["endless.mid", "11,423 quarter notes", "2,048"]),  # one note 2,856 bars long
    (["render", "{endless.mid}", "--midi", "{out}/e.mid"], ["endless.mid", "11,423"]),
    (["harmonize", "{endless.mid}", "--out", "{out}/h.musicxml"], ["endless.mid", "11,423"]),
    # music21 reads these files but cannot write what it read: the output file is named, with music21's reason
    (["check", "{untyped.musicxml}", "--format", "json", "--annotate", "{out}/a.musicxml"], ["a.musicxml", "cannot write", "MusicXML"]),
    (["render", "{repeats.mid}", "--svg", "{out}/r.svg", "--midi", "{out}/r.mid"], ["r.mid", "cannot write", "MIDI"]),
    # one note of 200,000 quarters in 37 bytes: refused from the MIDI's delta times, before music21 builds its bars
    (["check", "{huge.mid}"], ["huge.mid", "200,000 quarter notes", "2,048"]),
    (["harmonize", "{huge.mid}", "--out", "{out}/h.musicxml"], ["huge.mid", "200,000"]),
    (["render", "{huge.mid}", "--svg", "{out}/h.svg"], ["huge.mid", "200,000"]),
    (["check", "{numbered.musicxml}"], ["numbered.musicxml", "after measure 1", "99999999999999999999"]),
])
def test_bad_input_exits_2_naming_the_file(bad, argv, words):
    files, folder = bad
    names = {**{k: str(v) for k, v in files.items()}, "out": str(folder / "out"), "folder": str(folder)}
    concrete = []
    for a in argv:
        for k, v in names.items():
            a = a.replace("{" + k + "}", v)
        concrete.append(a)
    outputs = [Path(a) for a in concrete if a.startswith(names["out"])]
    code, stderr = judge(Case(concrete, outputs, codes=(2,)))
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for w in words:
        assert w in stderr, f"{w!r} not named in: {stderr}"
    assert not re.search(r"[a-z0-9] [A-Z][a-z]+ the ", stderr), f"sentences run together: {stderr}"
