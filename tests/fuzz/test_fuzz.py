"""The fuzzed bad-input suite (issue 16): malformed inputs of every kind, fed to every command that reads them.

Hypothesis mutates valid seeds (``conftest.py``): MusicXML (four parts and grand staff),
MIDI, RomanText, Lark grammars, plan JSON, result JSON, checkpoints, and whole command
lines. One parametrized driver (``test_malformed_input``) breaks each kind of file from
its seed (``MALFORMED``); each input goes to one of the commands that accept it
(``commands.py``; drawn, so every command gets its share), in-process through
``main(argv)``; ``harness.judge`` asserts no traceback, a documented exit status (2 for bad
input, 3 for unsatisfiable) and no partial or temporary output file. A CI run feeds
``sum(EXAMPLES.values())`` inputs (500; ``test_every_kind_of_input_was_fed`` counts them).
The kinds are weighted by what an input costs: a mutated score that is still valid is
checked, annotated, rendered, infilled or harmonized in full (0.2-1.5 s), a broken one is
refused in about 20 ms, so scores and checkpoints get fewer inputs than MIDI, JSON and
command lines. Commands that load a grammar are given the small seed grammar (the shipped
ones take 0.2-0.7 s to load).

Runs are derandomized, so CI sees the same inputs every time; ``PARTIMENTO_FUZZ=explore``
draws new ones (and five times as many) for a hunt, ``PARTIMENTO_FUZZ_SCALE=0.1`` a tenth
for a quick look, and ``PARTIMENTO_FUZZ_SAVE=folder`` keeps each failing input there. Every failure found is kept as a file under
``corpus/`` and replayed by ``test_regression_corpus`` on every run.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from commands import KINDS, cases_for, write_input
from harness import Case, judge
from mutations import NASTY, mutated_bytes, mutated_json, mutated_text, mutated_xml

EXPLORE = os.environ.get("PARTIMENTO_FUZZ") == "explore"
CORPUS = Path(__file__).parent / "corpus"

#: examples per kind in a CI run; together they make the run's input count (500: about 55 s of
#: CPU, 1-2.5 minutes on the 2-core machine depending on its load; ``PARTIMENTO_FUZZ_SCALE=2`` feeds 1,000)
EXAMPLES = {"musicxml": 24, "two_staves": 30, "midi": 80, "rntxt": 30, "lark": 60, "plan_json": 80,
            "result_json": 80, "checkpoint": 6, "argv": 110}
COUNTED: dict[str, int] = {}


def _settings_count(kind: str) -> int:
    scale = float(os.environ.get("PARTIMENTO_FUZZ_SCALE", "1"))
    return max(1, int(EXAMPLES[kind] * (5 if EXPLORE else 1) * scale))


def _settings(kind: str):
    return settings(max_examples=_settings_count(kind), deadline=None, derandomize=not EXPLORE, database=None,
                    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failing input is kept whole
                    suppress_health_check=list(HealthCheck))


def _fresh(work: Path, name: str) -> tuple[Path, Path]:
    """An empty input folder and an empty output folder for one example."""
    base = work / name
    shutil.rmtree(base, ignore_errors=True)
    (base / "in").mkdir(parents=True)
    (base / "out").mkdir()
    return base / "in", base / "out"


def _run_all(kind: str, draw, data, work: Path) -> None:
    """Feed ``data`` to one of the commands that read ``kind`` (drawn, so each command gets its share).

    Every command on every input would be several times slower than the suite's time budget
    allows; the replayed corpus (``test_regression_corpus``) does feed each input to all of them.
    """
    COUNTED[kind] = COUNTED.get(kind, 0) + 1
    folder, out = _fresh(work, kind)
    path = write_input(kind, data, folder)
    cases = cases_for(kind, path, out)
    case = cases[draw(st.integers(0, len(cases) - 1))]
    _keep_current(kind, data, case)
    try:
        judge(case)
    except AssertionError:
        _keep(kind, data)
        raise


def _keep_current(kind: str, data, case: Case) -> None:
    """With ``PARTIMENTO_FUZZ_SAVE=folder``, the input being fed (and its command line) is kept in
    ``folder/current/`` until the next: an input that takes the whole process down (the kernel's
    out-of-memory killer) leaves no failure to save, but this stays behind."""
    target = os.environ.get("PARTIMENTO_FUZZ_SAVE")
    if not target:
        return
    folder = Path(target) / "current" / kind
    shutil.rmtree(folder, ignore_errors=True)
    write_input(kind, data, _mk(folder))
    (folder / "argv.json").write_text(json.dumps(case.argv))


def _keep(kind: str, data) -> None:
    """With ``PARTIMENTO_FUZZ_SAVE=folder``, a failing input is saved there for the regression corpus."""
    target = os.environ.get("PARTIMENTO_FUZZ_SAVE")
    if not target:
        return
    folder = Path(target) / kind
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.iterdir()))
    write_input(kind, data, _mk(folder / f"case{n:03d}"))


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


# ------------------------------------------------------------------ one driver for every kind of input
@st.composite
def _checkpoints(draw, seeds) -> tuple[bytes, str]:
    """A checkpoint with its weights, its JSON config or both broken."""
    which = draw(st.sampled_from(["weights", "config", "both"]))
    weights = draw(mutated_bytes(seeds.weights)) if which != "config" else seeds.weights
    config = draw(mutated_json(seeds.config)) if which != "weights" else seeds.config
    return weights, config


#: how each kind of input is broken, from the valid seeds
MALFORMED = {
    "musicxml": lambda seeds: mutated_xml(seeds.musicxml),
    "two_staves": lambda seeds: mutated_xml(seeds.two_staves),  # grand staff, two voices per staff
    "midi": lambda seeds: mutated_bytes(seeds.midi),
    "rntxt": lambda seeds: mutated_text(seeds.rntxt),
    "lark": lambda seeds: mutated_text(seeds.lark),
    "plan_json": lambda seeds: mutated_json(seeds.plan_json),
    "result_json": lambda seeds: mutated_json(seeds.result_json),
    "checkpoint": _checkpoints,
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_input(seeds, work, kind):
    """Malformed inputs of one kind, each fed to one of the commands that read it (see ``_run_all``)."""
    @_settings(kind)
    @given(data=st.data())
    def feed(data):
        _run_all(kind, data.draw, data.draw(MALFORMED[kind](seeds)), work)

    feed()


# ------------------------------------------------------------------ whole command lines
_VALUES = {
    "--bars": ["1", "2", "0", "-1", "x", "", "2.5"],
    "--key": ["C", "f#", "B-", "H", "", "c minor", "é"],
    "--metre": ["4/4", "3/4", "6/8", "5/4", "0/4", "4/0", "x", ""],
    "--seed": ["0", "7", "-1", "x", "1.5", "", "18446744073709551616"],
    "--temperature": ["0", "1", "-1", "nan", "inf", "x"],
    "--top-p": ["0", "0.5", "1", "2", "-1", "nan"],
    "--strategy": ["sample", "greedy", "beam", "x"],
    "--beam": ["1", "2", "0", "-2"],
    "--profile": ["strict", "chorale", "lenient", ""],
    "--format": ["text", "json", "jsonl", "rntxt", "pdf"],
    "--count": ["1", "2", "0", "-3"],
    "--measures": ["1-1", "1", "0", "2-1", "x", "1-99", "-1"],
    "--voices": ["alto", "s,a", "baritone", "", ","],
    "--tempo": ["60", "0", "-1", "nan", "inf"],
    "--parts": ["1,2,3,4", "S,A,T,B", "1,2", "9,8,7,6", ""],
    "--smoothing": ["0.5", "-1", "nan"],
    "--split": ["test", "valid", "x"],
}
_FILES = ["{score}", "{plan}", "{rntxt}", "{lark}", "{result}", "{missing}", "{folder}", "{empty}", "{ckpt}"]
_OUTS = ["{fresh}", "{folder}", "{nofolder}", "{noext}", "{pdf}"]
_COMMANDS = {
    "compose": (0, ["--grammar", "--key", "--bars", "--metre", "--plan-out", "--seed", "--temperature", "--top-p",
                    "--strategy", "--beam", "--no-constraints", "--checkpoint", "--profile", "--out"]),
    "realize": (1, ["--seed", "--temperature", "--strategy", "--no-constraints", "--profile", "--out"]),
    "harmonize": (1, ["--key", "--grammar", "--seed", "--top-p", "--out"]),
    "infill": (1, ["--measures", "--voices", "--seed", "--profile", "--out"]),
    "plan": (0, ["--grammar", "--weights", "--key", "--bars", "--metre", "--seed", "--count", "--format", "--out"]),
    "parse": (1, ["--grammar", "--format"]),
    "check": (2, ["--profile", "--format", "--key", "--annotate", "--parts"]),
    "render": (1, ["--svg", "--png", "--wav", "--midi", "--pages", "--tempo"]),
    "grammar check": (1, []),
    "grammar fit": (2, ["-o", "--smoothing"]),
}
#: options every line of a command starts with, so a line that happens to be valid finishes in a blink
#: (16 bars of the chorale grammar would take seconds; fuzzing is about bad input, not long music)
_CHEAP = {"compose": ("--bars", "2"), "plan": ("--bars", "2"), "harmonize": ("--grammar", "{lark}")}
_FLAGS = {"--no-constraints", "--pages"}
_PATH_OPTS = {"--out", "--plan-out", "--annotate", "--svg", "--png", "--wav", "--midi", "-o"}
_FILE_OPTS = {"--grammar", "--weights", "--checkpoint"}


@st.composite
def command_lines(draw) -> list[str]:
    name = draw(st.sampled_from(sorted(_COMMANDS)))
    positionals, options = _COMMANDS[name]
    argv = name.split() + list(_CHEAP.get(name, ()))  # drawn options come later and override these
    argv += [draw(st.sampled_from(_FILES)) for _ in range(draw(st.integers(0, positionals + 1)))]
    for opt in draw(st.lists(st.sampled_from(options), unique=True, max_size=5)) if options else []:
        argv.append(opt)
        if opt in _FLAGS:
            continue
        if opt in _PATH_OPTS:
            argv.append(draw(st.sampled_from(_OUTS)).replace("{fresh}", "{fresh}" + opt.strip("-")))
        elif opt in _FILE_OPTS:
            argv.append(draw(st.sampled_from(_FILES + ["chorale", "harmony", "nosuch", "none"])))
        else:
            argv.append(draw(st.sampled_from(_VALUES.get(opt, NASTY))))
    if draw(st.integers(0, 9)) == 0:  # now and then a stray token or --debug anywhere
        argv.insert(draw(st.integers(0, len(argv))), draw(st.sampled_from(["--debug", "--nope", "-x", "--", "é"])))
    return argv


@pytest.fixture(scope="session")
def argv_files(seeds, work) -> dict[str, str]:
    folder = work / "argv-files"
    folder.mkdir(exist_ok=True)
    files = {"score": "s.musicxml", "plan": "p.json", "rntxt": "a.rntxt", "lark": "g.lark", "result": "r.json",
             "empty": "empty.musicxml", "ckpt": "tiny.safetensors"}
    data = {"score": seeds.musicxml, "plan": seeds.plan_json, "rntxt": seeds.rntxt, "lark": seeds.lark,
            "result": seeds.result_json, "empty": b"", "ckpt": seeds.weights}
    out = {k: str(folder / v) for k, v in files.items()}
    for k, v in data.items():
        Path(out[k]).write_bytes(v if isinstance(v, bytes) else v.encode())
    (folder / "tiny.json").write_text(seeds.config)
    (folder / "dir.musicxml").mkdir(exist_ok=True)
    out.update(missing=str(folder / "missing.musicxml"), folder=str(folder / "dir.musicxml"),
               nofolder=str(folder / "no" / "such" / "x.musicxml"), noext=str(work / "argv-out" / "noext"),
               pdf=str(work / "argv-out" / "x.pdf"))
    return out


_EXT = {"out": ".musicxml", "plan-out": ".rntxt", "annotate": ".musicxml", "svg": ".svg", "png": ".png",
        "wav": ".wav", "midi": ".mid", "o": ".json"}


def _argv_case(argv: list[str], argv_files: dict[str, str], work: Path) -> Case:
    """The command line with its placeholders filled in, writing into an emptied ``argv-out`` folder."""
    out = work / "argv-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    fresh: list[Path] = []
    concrete = []
    for a in argv:
        if a.startswith("{fresh}"):
            role = a[len("{fresh}"):]
            path = out / f"fresh-{role}{_EXT[role]}"
            fresh.append(path)
            concrete.append(str(path))
        else:
            concrete.append(a.format(**argv_files))
    case = Case(concrete, fresh if len(set(fresh)) == len(fresh) else [], codes=(0, 1, 2, 3))
    if "--format" in argv and "plan" in argv and argv[argv.index("--format") + 1:][:1] == ["pdf"]:
        case.outputs = []
    return case


@_settings("argv")
@given(argv=command_lines())
def test_fuzzed_command_lines(argv_files, work, argv):
    COUNTED["argv"] = COUNTED.get("argv", 0) + 1
    try:
        judge(_argv_case(argv, argv_files, work))
    except AssertionError:
        _keep_argv(argv)  # with its placeholders, so the corpus file replays anywhere
        raise


def _keep_argv(argv: list[str]) -> None:
    target = os.environ.get("PARTIMENTO_FUZZ_SAVE")
    if target:
        folder = _mk(Path(target) / "argv")
        (folder / f"case{len(list(folder.iterdir())):03d}.json").write_text(json.dumps(argv))


# ------------------------------------------------------------------ the regression corpus
def _corpus() -> list[tuple[str, Path]]:
    out = []
    for kind in sorted(KINDS) + ["argv"]:
        folder = CORPUS / kind
        if folder.is_dir():
            out += [(kind, p) for p in sorted(folder.iterdir())]
    return out


@pytest.mark.parametrize("kind,path", _corpus(), ids=[f"{k}/{p.name}" for k, p in _corpus()])
def test_regression_corpus(seeds, work, argv_files, kind, path):
    """Every input that once broke a command, replayed through every command that reads it."""
    if kind == "argv":
        judge(_argv_case(json.loads(path.read_text()), argv_files, work))
        return
    folder, out = _fresh(work, "corpus")
    if kind == "checkpoint":
        data = ((path / KINDS[kind]).read_bytes(), (path / "ckpt.json").read_bytes())
    else:
        data = (path / KINDS[kind]).read_bytes() if path.is_dir() else path.read_bytes()
    target = write_input(kind, data, folder)
    for case in cases_for(kind, target, out):
        judge(case)


def test_every_kind_of_input_was_fed():
    """Counts the inputs the tests above drew in this run (when they ran before this test)."""
    if not COUNTED:
        pytest.skip("run with the fuzz tests above")
    assert set(COUNTED) == set(EXAMPLES), COUNTED
    assert all(COUNTED[k] >= _settings_count(k) for k in EXAMPLES), COUNTED

