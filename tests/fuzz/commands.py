"""Which command lines read each kind of input: every reader and command that accepts it."""
from __future__ import annotations

from pathlib import Path

from harness import Case

#: harmonize and infill write their result and exit 1 when the notes the user gave (the melody,
#: the kept voices) already break a rule, as ``check`` does; 2 bad input, 3 unsatisfiable.
GIVEN_NOTES_CODES = (0, 1, 2, 3)

__all__ = ["KINDS", "TINY_LARK", "cases_for", "write_input"]

TINY_LARK = """// tiny.lark: a two- or four-bar phrase, tonic - dominant - tonic (the fuzz tests' seed grammar).
// @grammar durations=1:1,2:1 final=2:1
start: phrase

// @phrase bars=2:1,4:1
phrase: opening dominant "I"      // cadence=PAC

opening: "I" | "I" "vi" | "I6" "IV"
dominant: "V" | "V7" | "ii6" "V"
"""

#: kind -> file name the malformed input is written as
KINDS = {
    "musicxml": "in.musicxml",
    "two_staves": "in.musicxml",
    "midi": "in.mid",
    "rntxt": "in.rntxt",
    "lark": "in.lark",
    "plan_json": "plan.json",
    "result_json": "result.json",
    "checkpoint": "ckpt.safetensors",  # with ckpt.json beside it
}


def write_input(kind: str, data: bytes | str | tuple, folder: Path) -> Path:
    """Write the input for ``kind`` into ``folder`` (a fresh one per example) and return its path."""
    path = folder / KINDS[kind]
    if kind == "checkpoint":
        weights, config = data
        path.write_bytes(weights)
        path.with_suffix(".json").write_bytes(config if isinstance(config, bytes) else config.encode("utf-8",
                                                                                                    "surrogatepass"))
    elif isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_bytes(data.encode("utf-8", "surrogatepass"))
    if kind in ("rntxt", "musicxml", "two_staves", "midi"):  # the grammar to parse, fit or harmonize with: small,
        (folder / "tiny.lark").write_text(TINY_LARK)  # so that a mutated input that is still valid costs little
    return path


def cases_for(kind: str, path: Path, out: Path) -> list[Case]:
    """Every command line that reads ``path`` (of ``kind``), writing into ``out``."""
    p = str(path)
    if kind in ("musicxml", "two_staves", "midi"):
        return [
            Case(["check", p], codes=(0, 1, 2)),
            Case(["check", p, "--profile", "chorale", "--format", "json", "--annotate", str(out / "a.musicxml")],
                 [out / "a.musicxml"], codes=(0, 1, 2)),
            Case(["render", p, "--svg", str(out / "r.svg"), "--midi", str(out / "r.mid")],
                 [out / "r.svg", out / "r.mid"]),
            Case(["infill", p, "--measures", "1-1", "--voices", "alto", "--out", str(out / "i.json")],
                 [out / "i.json"], codes=GIVEN_NOTES_CODES),
            Case(["harmonize", p, "--grammar", str(path.parent / "tiny.lark"), "--out", str(out / "h.musicxml")],
                 [out / "h.musicxml"], codes=GIVEN_NOTES_CODES),
            Case(["realize", p, "--out", str(out / "x.json")], [out / "x.json"]),
        ]
    if kind == "rntxt":  # the shipped grammars take 0.2-0.7 s to load (in parse, fit, harmonize): a small one stands in
        tiny = str(path.parent / "tiny.lark")
        return [
            Case(["parse", p, "--grammar", tiny], codes=(0, 1, 2)),
            Case(["parse", p, "--grammar", tiny, "--format", "json"], codes=(0, 1, 2)),
            Case(["realize", p, "--out", str(out / "r.json")], [out / "r.json"]),
            Case(["grammar", "fit", tiny, p, "-o", str(out / "w.json")], [out / "w.json"]),
        ]
    if kind == "lark":
        return [
            Case(["grammar", "check", p], codes=(0, 2)),
            Case(["plan", "--grammar", p, "--bars", "4", "--seed", "1", "--out", str(out / "p.json")],
                 [out / "p.json"]),
            Case(["compose", "--grammar", p, "--bars", "2", "--out", str(out / "c.json")], [out / "c.json"]),
        ]
    if kind == "plan_json":
        return [
            Case(["realize", p, "--out", str(out / "r.mid")], [out / "r.mid"]),
            Case(["infill", p, "--measures", "1-1", "--out", str(out / "i.json")], [out / "i.json"],
                 codes=GIVEN_NOTES_CODES),
        ]
    if kind == "result_json":
        return [
            Case(["infill", p, "--measures", "1-1", "--voices", "tenor", "--out", str(out / "i.musicxml")],
                 [out / "i.musicxml"], codes=GIVEN_NOTES_CODES),
            Case(["realize", p, "--out", str(out / "r.json")], [out / "r.json"]),
            Case(["check", p], codes=(0, 1, 2)),
        ]
    if kind == "checkpoint":
        return [
            Case(["compose", "--bars", "1", "--checkpoint", p, "--out", str(out / "c.json")], [out / "c.json"]),
        ]
    raise KeyError(kind)
