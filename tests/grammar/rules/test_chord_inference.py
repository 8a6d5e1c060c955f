"""Chord inference ranks candidates as its docstring says, and its per-row cache changes nothing.

The ranking (``chords._best_candidates``) is one integer per candidate summed from
tables; here it is checked against the criteria compared one by one, as a tuple, on a
seeded sample of (pitch-class set, bass, key) cases, and ``infer_chords`` (which keeps
the chord of every row it has ranked) against ``infer_chord`` row by row.
"""
from __future__ import annotations

import numpy as np
from music21 import corpus

from partimento.grammar.rules import chords
from partimento.grammar.rules.chords import infer_chord, infer_chords
from partimento.grammar.rules.sonority import parse_score
from partimento.grammar.theory import key_info

_KEYS = [n for t in ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B") for n in (t, t.lower())]


def _by_criteria(mask: int, bass: int, key) -> int:
    """Index of the best candidate, the criteria compared in turn (the first best in candidate order)."""
    best, best_rank = -1, None
    for c, (root, t) in enumerate(zip(chords._CAND_ROOT.tolist(), chords._CAND_TEMPLATE.tolist())):
        if not mask >> root & 1:  # the root must sound
            continue
        suffix, ivs = chords._TEMPLATES[t]
        pcs = {(root + iv) % 12 for iv in ivs}
        covered = sum(1 for pc in pcs if mask >> pc & 1)
        rank = (covered, -(len(ivs) - covered), suffix in chords._DIM_FAMILY and root == key.leading_tone,
                root == bass, root in key.scale, -len(ivs))
        if best_rank is None or rank > best_rank:
            best, best_rank = c, rank
    return best


def test_the_ranking_compares_the_criteria_in_turn():
    rng = np.random.default_rng(16)
    masks = rng.integers(1, 4096, 600)
    keys = [key_info(_KEYS[i]) for i in rng.integers(0, len(_KEYS), 600)]
    basses = []
    for m in masks.tolist():  # the bass is one of the sounding pitch classes
        sounding = [pc for pc in range(12) if m >> pc & 1]
        basses.append(sounding[int(rng.integers(0, len(sounding)))])
    got = chords._best_candidates(masks, np.asarray(basses), keys).tolist()
    want = [_by_criteria(m, b, k) for m, b, k in zip(masks.tolist(), basses, keys)]
    assert got == want


def test_cached_rows_give_the_chord_of_each_row_alone():
    parsed = parse_score(corpus.parse("bach/bwv66.6"))
    s, keys = parsed.sonorities, parsed.ctx.keys
    chords._ROW_CHORDS.clear()
    first = infer_chords(s, keys)
    again = infer_chords(s, keys)  # every row cached now
    assert again == first
    for i, ch in enumerate(first):
        sounding = [int(p) for p in s.pitch[i] if p >= 0]
        mask = 0
        for p in sounding:
            mask |= 1 << (p % 12)
        alone = infer_chord(mask, min(sounding) % 12, keys[i].name) if sounding else None
        assert ch == alone, i


def test_the_function_of_a_candidate_read_from_the_tonic_is_the_function_read_in_the_key():
    """_function_of works the function out once per interval above the tonic and mode; in every key it
    must equal _degree_function asked in that key directly."""
    for name in _KEYS:
        for cand in range(12 * len(chords._TEMPLATES)):
            _, suffix, members, root, *_ = chords._PARTS[cand]
            assert chords._function_of(cand, name) == chords._degree_function(root, suffix, members, key_info(name))
