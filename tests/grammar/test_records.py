"""grammar.records: a record made without the generated __init__ is the same object as one built with it."""
from dataclasses import FrozenInstanceError, dataclass, fields

import pytest

from partimento.grammar.records import record_maker
from partimento.grammar.rules.nct import NoteClass
from partimento.grammar.theory import ChordSpec, chord_spec


def test_a_chord_spec_record_equals_the_constructed_one_and_stays_frozen():
    spec = chord_spec("V65/V", "G")
    made = record_maker(ChordSpec)(*(getattr(spec, f.name) for f in fields(ChordSpec)))
    assert made == spec and hash(made) == hash(spec) and repr(made) == repr(spec)
    with pytest.raises(FrozenInstanceError):
        made.root = 0


def test_a_note_class_record_equals_the_constructed_one():
    values = (1, 4, 6, 62, "passing", "passing (accented)", 4, True, False, "", "", {})
    made = record_maker(NoteClass)(*values)
    assert made == NoteClass(*values) and made.details == {}


def test_classes_whose_init_does_more_are_refused():
    @dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x >= 0

    @dataclass
    class Mutable:
        x: int

    for cls in (Checked, Mutable):
        with pytest.raises(TypeError, match="frozen dataclass"):
            record_maker(cls)
