"""Same seed and inputs, same bytes: MusicXML, compressed MusicXML, MIDI and JSON, across processes.

music21 writes the day into MusicXML and random part ids; partimento's writers leave both
out (``grammar/score_writer.py``), and result JSON leaves out timings. Two fresh processes
run the same commands; every file they write must be byte-identical.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    from partimento.hybrid.cli import main
    out = sys.argv[1]
    runs = [
        ["compose", "--grammar", "chorale", "--key", "e", "--bars", "2", "--seed", "7", "--out", f"{out}/c.musicxml",
         "--plan-out", f"{out}/c.plan.json"],
        ["compose", "--grammar", "chorale", "--key", "e", "--bars", "2", "--seed", "7", "--out", f"{out}/c.json"],
        ["realize", f"{out}/c.plan.json", "--seed", "7", "--out", f"{out}/r.mid"],
        ["realize", f"{out}/c.plan.json", "--seed", "7", "--out", f"{out}/r.mxl"],
        ["check", f"{out}/c.musicxml", "--annotate", f"{out}/marked.musicxml"],
        ["render", f"{out}/c.musicxml", "--midi", f"{out}/render.mid", "--svg", f"{out}/c.svg"],
        ["plan", "--grammar", "period", "--key", "F", "--bars", "8", "--seed", "3", "--out", f"{out}/plan.json"],
    ]
    for argv in runs:
        code = main(argv)
        assert code in (0, 1), (argv, code)
""")


def test_two_processes_write_byte_identical_files(tmp_path):
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        out.mkdir()
        subprocess.run([sys.executable, "-c", SCRIPT, str(out)], check=True, timeout=600, capture_output=True)
        outs.append(out)
    a, b = outs
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {"c.musicxml", "c.json", "r.mid", "r.mxl", "marked.musicxml", "render.mid", "plan.json", "c.svg"} <= set(names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert b"encoding-date" not in (a / "c.musicxml").read_bytes()
