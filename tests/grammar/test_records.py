"""grammar.records: a record built without the generated __init__ is the same object as one built with it."""
from dataclasses import FrozenInstanceError, dataclass

import pytest

from partimento.grammar.records import field_names, record
from partimento.grammar.rules.nct import NoteClass
from partimento.grammar.theory import ChordSpec, chord_spec


def test_a_chord_spec_record_equals_the_constructed_one_and_stays_frozen():
    spec = chord_spec("V65/V", "G")
    names = field_names(ChordSpec)
    built = record(ChordSpec, names, tuple(getattr(spec, n) for n in names))
    assert built == spec and hash(built) == hash(spec) and repr(built) == repr(spec)
    with pytest.raises(FrozenInstanceError):
        built.root = 0


def test_a_note_class_record_equals_the_constructed_one():
    names = field_names(NoteClass)
    values = (1, 4, 6, 62, "passing", "passing (accented)", 4, True, False, "", "", {})
    assert record(NoteClass, names, values) == NoteClass(*values)
    assert record(NoteClass, names, values).details == {}


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
            field_names(cls)
