"""What compose reports and what `partimento check` says of the written file must agree.

The written MusicXML carries the plan's Roman numerals as lyrics under the bass; the checker
reads them back, so it judges the notes against the same chords the decoder obeyed.
"""
from partimento.grammar.rules import check
from partimento.hybrid import compose
from partimento.hybrid.cli import main


def test_written_chorale_checks_clean_against_its_own_numerals(tmp_path):
    result = compose(grammar="chorale", key="F", bars=2, seed=3)
    assert result.report.errors == []
    out = tmp_path / "c.musicxml"
    result.write(out)
    report = check(out)
    assert report.errors == [], [v.message for v in report.errors]
    assert main(["check", str(out)]) == 0


def test_a_minor_key_chorale_spelled_with_sharps_still_checks_clean(tmp_path):
    result = compose(grammar="chorale", key="e", bars=2, seed=0)
    assert result.report.errors == []
    names = {n.pitch.name for n in result.score.recurse().notes}
    assert "D#" in names and "E-" not in names
    out = tmp_path / "e.musicxml"
    result.write(out)
    assert check(out).errors == []


def test_lyrics_that_are_not_numerals_fall_back_to_inferred_chords():
    from music21 import corpus

    plain = check(corpus.parse("bach/bwv66.6"))
    score = corpus.parse("bach/bwv66.6")
    next(iter(score.parts[-1].flatten().notes)).addLyric("Hal-")  # a text lyric, not a Roman numeral
    sung = check(score)
    assert sung.ctx.chords_inferred
    assert [v.to_dict() for v in sung.violations] == [v.to_dict() for v in plain.violations]


def test_composing_leaves_torch_grad_mode_alone():
    """Loading the model for decoding must not switch autograd off for the rest of the process
    (a notebook that composes and then trains would silently stop learning)."""
    import torch

    compose(grammar="chorale", key="C", bars=1, seed=0)
    assert torch.is_grad_enabled()
