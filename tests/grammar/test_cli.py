"""The grammar layer's commands through ``partimento.hybrid.cli.main``: output and bad input."""
from __future__ import annotations

import json

import pytest

from partimento.grammar.plan import Plan
from partimento.hybrid.cli import main

RNTXT = "Time Signature: 4/4\n\nm1 C: I b2 IV b3 V b4 I ||\nm2 I b2 V b3 IV b4 ii ||\n"


def test_plan_json_and_rntxt_and_jsonl(tmp_path, capsys):
    assert main(["plan", "--grammar", "chorale", "--key", "G", "--bars", "8", "--seed", "1"]) == 0
    plan = Plan.from_json(capsys.readouterr().out)
    assert plan.key == "G" and plan.bars == 8 and plan.seed == 1
    assert main(["plan", "--count", "3", "--format", "jsonl", "--seed", "5", "--bars", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line)["seed"] for line in lines] == [5, 6, 7]
    out = tmp_path / "p.rntxt"
    assert main(["plan", "--grammar", "period", "--key", "a", "--bars", "8", "--format", "rntxt",
                 "--out", str(out)]) == 0
    assert out.read_text().startswith("Composer: partimento") and "a:" in out.read_text()


def test_parse_text_and_json(tmp_path, capsys):
    f = tmp_path / "x.rntxt"
    f.write_text(RNTXT)
    assert main(["parse", str(f)]) == 0
    assert "1/2 phrases" in capsys.readouterr().out
    assert main(["parse", str(f), str(f), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and data[0]["coverage"] == 0.5
    err = data[0]["phrases"][1]["error"]
    assert set(err) == {"measure", "beat", "token", "expected"} and err["measure"] == 2


def _fails(argv, capsys, *needles, code=2):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


@pytest.mark.parametrize("argv,needles", [
    (["plan", "--grammar", "nonesuch"], ["unknown grammar", "chorale", "harmony"]),
    (["plan", "--bars", "0"], ["at least one bar"]),
    (["plan", "--key", "X#y"], ["unknown key"]),
    (["plan", "--metre", "4/5"], ["unknown metre"]),
    (["plan", "--count", "2"], ["jsonl"]),
    (["plan", "--grammar", "blues", "--bars", "5"], ["cannot make"]),
])
def test_bad_plan_requests_exit_2_with_one_paragraph(argv, needles, capsys, tmp_path):
    out = tmp_path / "never.json"
    _fails(argv + ["--out", str(out)], capsys, *needles)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_malformed_grammar_reports_line_and_column(tmp_path, capsys):
    bad = tmp_path / "bad.lark"
    bad.write_text('start: phrase\n// @phrase\nphrase: "I" ( "V"\n')
    err = _fails(["plan", "--grammar", str(bad)], capsys, "bad.lark", "line 3")
    assert "column" in err
    _fails(["grammar", "check", str(bad)], capsys, "line 3")


@pytest.mark.parametrize("content,needles", [
    ("", ["empty"]),
    ("Time Signature: 4/4\nm1 C: I ||\nm2 ||\n", ["no chords", "measure 2"]),
    ("this is not romantext at all", ["cannot read"]),
])
def test_bad_romantext_files_exit_2_naming_the_file(tmp_path, capsys, content, needles):
    f = tmp_path / "a.rntxt"
    f.write_text(content)
    _fails(["parse", str(f)], capsys, "a.rntxt", *needles)


def test_missing_file_and_weights(tmp_path, capsys):
    _fails(["parse", str(tmp_path / "missing.rntxt")], capsys, "missing.rntxt")
    w = tmp_path / "w.json"
    w.write_text('{"weights": {"no_such_rule": {"x": 1}}}')
    _fails(["plan", "--weights", str(w)], capsys, "no_such_rule")
    w.write_text("{not json")
    _fails(["plan", "--weights", str(w)], capsys, "w.json", "line 1")


def test_grammar_check_reports_every_problem(tmp_path, capsys):
    g = tmp_path / "g.lark"
    g.write_text('start: phrases\nphrases: phrase\n// @phrase\nphrase: "I" loop | "Q9" "V"\n'
                 'loop: loop "V"\nunused: "I"\n')
    assert main(["grammar", "check", str(g)]) == 2
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "non-productive" in text and "loop" in text and "line 5" in text
    assert "unreachable" in text and "unused" in text
    assert "roman-numeral" in text and "Q9" in text
    assert main(["grammar", "check", "grammar/grammars/harmony.lark"]) == 0


# ---------------------------------------------------------------- issue 16, items 7-9
@pytest.mark.parametrize("argv,needles", [
    (["plan", "--bars", "100000"], ["at most 1000 bars"]),
    (["plan", "--bars", "5000"], ["at most 1000 bars"]),
    (["plan", "--metre", "7/8"], ["7/8", "4/4", "6/8", "12/8"]),
    (["plan", "--metre", "5/4"], ["5/4", "3/4"]),
    (["plan", "--grammar", "binary", "--bars", "500"], ["cannot make", "6, 8, 10"]),
])
def test_limits_and_metres_are_refused_at_once_with_what_is_possible(argv, needles, capsys, tmp_path):
    import time

    t = time.perf_counter()
    err = _fails(argv, capsys, *needles)
    assert "multiple of 4" not in err
    assert time.perf_counter() - t < 30  # no long solve before the refusal


def test_a_plan_of_the_maximum_length_is_made(capsys):
    assert main(["plan", "--bars", "1000", "--format", "rntxt"]) == 0
    assert "m1000 " in capsys.readouterr().out


def test_grammar_fit_with_no_phrase_parsed_is_an_error_and_writes_nothing(tmp_path, capsys):
    corpus = tmp_path / "c.rntxt"
    corpus.write_text("Time Signature: 4/4\n\nm1 C: I b2 V b3 ii b4 IV ||\nm2 V b2 IV b3 ii b4 vi ||\n")
    out = tmp_path / "w.json"
    _fails(["grammar", "fit", "harmony", str(corpus), "-o", str(out)], capsys, "none of the 2 phrases", "c.rntxt")
    assert not out.exists()


def test_parse_min_coverage_sets_the_exit_status(tmp_path, capsys):
    f = tmp_path / "x.rntxt"
    f.write_text(RNTXT)  # one phrase of two parses
    assert main(["parse", str(f), "--min-coverage", "0.5"]) == 0
    assert main(["parse", str(f), "--min-coverage", "0.9"]) == 1
    assert "below --min-coverage 0.9" in capsys.readouterr().err
    _fails(["parse", str(f), "--min-coverage", "90"], capsys, "--min-coverage", "0 to 1")


def test_an_unknown_chord_symbol_is_named_with_file_measure_and_line(tmp_path, capsys):
    f = tmp_path / "bad.rntxt"
    f.write_text("Time Signature: 4/4\n\nm1 C: I b2 IV b3 Xyz7 b4 I ||\nm2 I b2 V b3 IV b4 I ||\n")
    _fails(["parse", str(f)], capsys, "'Xyz7'", "bad.rntxt", "line 3", "measure 1", "beat 3")


@pytest.mark.parametrize("body,needles", [
    ('phrase: "I" "', ["line 3", "column 13", "Unexpected input", 'phrase: "I" "']),
    ('phrase: "I" ( "V"', ["line 3", "column 18", "end of line", ")"]),
    ('phrase: "I" X', ["line 3", "Rule 'X' used but not defined"]),
])
def test_lark_syntax_errors_are_shown_whole_and_located(tmp_path, capsys, body, needles):
    bad = tmp_path / "bad.lark"
    bad.write_text("start: phrase\n// @phrase\n" + body + "\n")
    err = _fails(["plan", "--grammar", str(bad)], capsys, "bad.lark", *needles)
    assert not err.rstrip().endswith(":") and "<string>" not in err


def test_plan_jsonl_to_a_file_is_complete(tmp_path, capsys):
    out = tmp_path / "plans.jsonl"
    assert main(["plan", "--grammar", "chorale", "--count", "25", "--format", "jsonl", "--bars", "8",
                 "--out", str(out)]) == 0
    plans = [Plan.from_json(line) for line in out.read_text().splitlines()]
    assert [p.seed for p in plans] == list(range(25)) and all(p.derivation_path(0) for p in plans)
