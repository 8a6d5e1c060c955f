"""Open inversions: a plan chord may leave its bass to the realizer (see ChordEvent.inversion_open)."""
import pytest

from partimento.grammar.errors import InputError
from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.grammar.theory import chord_spec, invert_figure


@pytest.mark.parametrize("figure, expected", [
    ("V", ["V", "V6", "V64"]),
    ("V7", ["V7", "V65", "V43", "V42"]),
    ("V42", ["V7", "V65", "V43", "V42"]),
    ("viio7/V", ["viio7/V", "viio65/V", "viio43/V", "viio42/V"]),
    ("viiø43", ["viiø7", "viiø65", "viiø43", "viiø42"]),
    ("IVmaj7", ["IVmaj7", "IVmaj65", "IVmaj43", "IVmaj42"]),
    ("V53", ["V", "V6", "V64"]),
    ("bVII", ["bVII", "bVII6", "bVII64"]),
])
def test_invert_figure_keeps_the_chord_and_moves_the_bass(figure, expected):
    got = [invert_figure(figure, i) for i in range(len(expected))]
    assert got == expected
    root = chord_spec(figure, "C")
    for i, f in enumerate(got):
        spec = chord_spec(f, "C")
        assert spec.inversion == i
        assert set(spec.members) == set(root.members)


def test_invert_figure_leaves_named_basses_alone_and_refuses_missing_inversions():
    assert invert_figure("It+6", 0) == "It+6"
    assert invert_figure("Cad64", 0) == "Cad64"
    with pytest.raises(InputError, match="no inversion 3"):
        invert_figure("V", 3)


def test_open_inversion_round_trips_through_json():
    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V7", "C", inversion_open=True),
                                         ChordEvent(2, 2, "I", "C", cadence="PAC")],
                phrases=[Phrase(0, 4, "C", "PAC")])
    back = Plan.from_json(plan.to_json())
    assert back.chords[0].inversion_open and not back.chords[1].inversion_open
    fixed = back.chords[0].with_inversion(1)
    assert fixed.figure == "V65" and not fixed.inversion_open
