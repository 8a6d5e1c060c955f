"""Building frozen dataclass records without their generated ``__init__``, where a hot loop makes many.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (its own
``__setattr__`` refuses), about 0.2 µs a field: 2.3 µs for a 10-field
:class:`~partimento.grammar.theory.ChordSpec`, 3 µs for a
:class:`~partimento.grammar.rules.nct.NoteClass`. The checker makes hundreds of them per
chorale (a chord per new sonority on a first check, a class per non-chord tone), where
that is a tenth of its time. :func:`record` fills the instance's ``__dict__`` at once:
the same object (equal, same hash, still frozen against assignment), for classes whose
``__init__`` does nothing else (no ``__post_init__``, no ``InitVar``).
"""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

__all__ = ["record", "field_names"]

T = TypeVar("T")


def field_names(cls: type) -> tuple[str, ...]:
    """The init fields of a frozen dataclass with a plain ``__init__``, in order (checked once per class)."""
    if not (is_dataclass(cls) and cls.__dataclass_params__.frozen) or hasattr(cls, "__post_init__") \
            or hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with a plain __init__ and a __dict__")
    return tuple(f.name for f in fields(cls) if f.init)


def record(cls: type[T], names: tuple[str, ...], values: tuple[Any, ...]) -> T:
    """``cls(*values)`` for ``names = field_names(cls)``, every field given."""
    obj = object.__new__(cls)
    obj.__dict__.update(zip(names, values))
    return obj
