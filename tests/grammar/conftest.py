"""Shared fixtures for the grammar-layer tests: loaded grammars are cached per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from partimento.grammar import available_grammars, load


@pytest.fixture(scope="session")
def grammars():
    """Every shipped grammar, loaded once."""
    return {name: load(name) for name in available_grammars()}


@pytest.fixture(scope="session")
def harmony(grammars):
    return grammars["harmony"]


@pytest.fixture(scope="session")
def chorale_dir() -> Path:
    import music21

    return Path(os.path.dirname(music21.__file__)) / "corpus" / "bach" / "choraleAnalyses"
