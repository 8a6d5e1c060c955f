"""Building frozen dataclass records without their generated ``__init__``, where a hot loop makes many.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (its own
``__setattr__`` refuses), about 0.2 µs a field: 2.3 µs for a 10-field
:class:`~partimento.grammar.theory.ChordSpec`, 3 µs for a
:class:`~partimento.grammar.rules.nct.NoteClass`. The checker makes hundreds of them per
chorale (a chord per new sonority on a first check, a class per non-chord tone), where
that is a tenth of its time. :func:`record_maker` writes, once per class, a function that
fills a new instance's ``__dict__`` directly (0.7 µs for a ChordSpec), as ``dataclasses``
itself writes ``__init__``: the same object (equal, same hash, still frozen against
assignment), for classes whose ``__init__`` does nothing else (no ``__post_init__``, no
``__slots__``).
"""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, Callable, TypeVar

__all__ = ["record_maker"]

T = TypeVar("T")


def record_maker(cls: type[T]) -> Callable[..., T]:
    """``make(*values)``, equal to ``cls(*values)`` with every init field given in order."""
    if not (is_dataclass(cls) and cls.__dataclass_params__.frozen) or hasattr(cls, "__post_init__") \
            or hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with a plain __init__ and a __dict__")
    names = [f.name for f in fields(cls) if f.init]
    for name in names:
        if not name.isidentifier():  # (dataclass fields always are: the generated source below relies on it)
            raise TypeError(f"field {name!r} of {cls.__name__} is not an identifier")
    source = (f"def make({', '.join(names)}):\n    obj = new(cls)\n    d = obj.__dict__\n"
              + "".join(f"    d[{name!r}] = {name}\n" for name in names) + "    return obj\n")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    exec(source, namespace)  # noqa: S102 - source built from the class's own field names
    make = namespace["make"]
    make.__qualname__ = f"record_maker({cls.__name__})"
    return make
