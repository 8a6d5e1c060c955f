"""infill records its window's decisions, and a note tied over the span's end stays tied."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from hybrid_fakes import FakeModel, PositionalSession, cadence_plan

from partimento.hybrid import infill, realize
from partimento.hybrid.infill_span import span_steps, window_plan
from partimento.neural.encoding import HOLD, PITCH_OFFSET, VOCAB_SIZE

FIGURES = ("I", "vi", "IV", "V", "I", "ii6", "V7", "vi", "IV", "I64", "V", "I")


@pytest.fixture(scope="module")
def original():
    return realize(cadence_plan(figures=FIGURES), seed=0, model=FakeModel(0))


@pytest.fixture(scope="module")
def recorded(original):
    return infill(original, measures=(2, 2), voices=("alto", "tenor"), seed=1, model=FakeModel(7), record=True)


def test_infill_records_the_decisions_of_its_span_in_the_score_s_measures(original, recorded):
    new = recorded
    plain = infill(original, measures=(2, 2), voices=("alto", "tenor"), seed=1, model=FakeModel(7))
    assert np.array_equal(new.tokens, plain.tokens)  # recording changes nothing
    step = next(t for t in range(16, 32) if new.attack[t, 1])  # a rewritten alto note in measure 2
    m, beat = new.plan.metre_obj.measure_beat(step / 4, new.plan.pickup)
    ex = new.explain(m, beat, "alto")
    assert ex.source == "decoder" and ex.measure == 2 == m
    assert ex.note["midi"] == int(new.pitch[step, 1])
    assert ex.decision["forced"] is False and ex.decision["step"] == step
    assert PITCH_OFFSET + int(new.pitch[step, 1]) in ex.decision["legal_tokens"]
    chosen = [c for c in ex.candidates if c["chosen"]]
    assert len(chosen) == 1 and chosen[0]["midi"] == int(new.pitch[step, 1])
    d = new.trace.at(step, 1)
    assert (d.measure, d.beat) == (2, float(beat))
    # the masks rebuild from the trace alone (the window's plan and given notes)
    assert np.flatnonzero(new.trace.constraint_at(step, 1).mask()).tolist() == d.legal


def test_a_kept_note_inside_the_window_is_given_and_one_outside_gets_the_checker_s_view(recorded):
    new = recorded
    kept = new.explain(2, 1, "soprano")  # inside the decoded window, not rewritten
    assert kept.source == "decoder" and kept.decision["forced"] is True
    far = new.explain(3, 4, "bass")  # measure 3 is the window's bar after the span: still decoded
    assert far.source == "decoder"
    longer = infill(realize(cadence_plan(figures=FIGURES * 2), seed=0, model=FakeModel(0)), measures=(5, 5),
                    voices=("tenor",), seed=0, model=FakeModel(3), record=True)
    assert not longer.trace.covers(0)
    outside = longer.explain(1, 1, "tenor")  # measure 1 lies before the window (measures 3-6)
    assert outside.source != "decoder" and any("kept from the input" in n for n in outside.notes)


class _CopySession(PositionalSession):
    """Logits that favour the given tokens one position after another (a model that would write them again)."""

    def __init__(self, tokens: np.ndarray) -> None:
        super().__init__()
        self.tokens = tokens.reshape(-1)

    def next_logits(self) -> np.ndarray:
        z = np.zeros(VOCAB_SIZE)
        z[self.tokens[self.n]] = 12.0
        return z


class _CopyModel:
    def __init__(self, tokens: np.ndarray) -> None:
        self.tokens = tokens

    def session(self, cond, conditioned: bool = True) -> _CopySession:
        return _CopySession(self.tokens)


def _held_over_a_bar_line(o, n_voices: int):
    """(measure, voices): the first bar (not the last) where ``n_voices`` voices hold a note over its end."""
    names = ("soprano", "alto", "tenor", "bass")
    for measure in range(1, o.plan.bars):
        _, stop = span_steps(o.plan, (measure, measure))
        held = [names[v] for v in range(4) if o.tokens[stop, v] == HOLD]
        if len(held) >= n_voices:
            return measure, tuple(held[:n_voices])
    return None


def _pieces_holding_over_a_bar_line(n_voices: int, wanted: int, seeds: int = 40) -> list:
    """The first ``wanted`` fixture pieces (seed, piece, (measure, voices)) where ``n_voices`` voices hold a note
    over a bar line.

    Found, not fixed: every change to the style layer rewrites the fixture pieces, and a hard-coded seed
    list had to be replaced six times as pieces stopped holding notes over bar lines (the last: the
    bass-sixteenth preference no longer favouring the next chord's bass struck a half beat early).
    """
    out = []
    for seed in range(seeds):
        o = realize(cadence_plan(figures=FIGURES), seed=seed, model=FakeModel(seed))
        found = _held_over_a_bar_line(o, n_voices)
        if found is not None:
            out.append((seed, o, found))
            if len(out) == wanted:
                break
    return out


@pytest.mark.parametrize("n_voices, wanted", [(1, 3), (2, 2)])
def test_a_note_tied_over_the_span_s_end_stays_tied(n_voices, wanted):
    """Rewriting with a model that writes the same notes again gives the score back exactly, ties included.

    Before the fix the kept note after the span became a fresh attack of the same pitch. The bar and
    voices are found in the piece (voices that hold a note over the bar line), and so are the pieces
    (:func:`_pieces_holding_over_a_bar_line`), so the test does not depend on where the decoder happens to
    write ties. (Seed 2 was refused up front, "no upper voice can sound the third B of V and go on into I",
    until the look-ahead let the soprano's B4 move on to D5 inside the V before the D5 tied into the kept I.)
    """
    pieces = _pieces_holding_over_a_bar_line(n_voices, wanted)
    assert len(pieces) == wanted, f"only {len(pieces)} fixture pieces hold {n_voices} voice(s) over a bar line"
    for seed, o, (measure, voices) in pieces:
        start, stop = span_steps(o.plan, (measure, measure))
        _, w0, _ = window_plan(o.plan, start, stop)
        new = infill(o, measures=(measure, measure), voices=voices, seed=0, model=_CopyModel(o.tokens[w0:]))
        assert np.array_equal(new.tokens, o.tokens), f"seed {seed}"
        assert new.stats["ties_kept"] == list(voices)
        assert new.errors == []


_VOICE_SETS = (("soprano",), ("alto",), ("tenor",), ("bass",), ("alto", "tenor"), ("soprano", "alto"),
               ("tenor", "bass"), ("soprano", "alto", "tenor"))


@functools.lru_cache(maxsize=None)
def _piece(seed: int):
    return realize(cadence_plan(figures=FIGURES), seed=seed, model=FakeModel(seed))


# Cases 1, 20, 29, 32 and 35 were refused up front ("no upper voice can sound the third B of V
# and go on into I") or rewritten before the reach look-ahead read the given notes and let a
# voice move on inside its chord. Reading the given notes without that move (towards a free
# next onset) refused 27 and rewrote 12; without a suspension as a way on, 81 and 97 were refused.
@pytest.mark.parametrize("case", [0, 1, 12, 20, 27, 29, 32, 35, 81, 97])
def test_a_span_whose_own_notes_are_a_legal_answer_is_never_refused(case):
    """Any bar and voices of a decoded piece: the masks leave its own notes legal at every position.

    The piece was decoded under the same hard rules, so its notes in the span are a legal
    answer; a model that writes them again must get the score back exactly, never an
    ``UnsatisfiableError`` and never another note. The piece, bar and voices are drawn
    from ``case`` (a seed).
    """
    rng = np.random.default_rng(case)
    o = _piece(int(rng.integers(0, 8)))
    measure = int(rng.integers(1, o.plan.bars + 1))
    voices = _VOICE_SETS[int(rng.integers(len(_VOICE_SETS)))]
    start, stop = span_steps(o.plan, (measure, measure))
    _, w0, _ = window_plan(o.plan, start, stop)
    new = infill(o, measures=(measure, measure), voices=voices, seed=0, model=_CopyModel(o.tokens[w0:]))
    assert np.array_equal(new.tokens, o.tokens), (measure, voices)
    assert new.errors == []


def _tiled(piece, times: int):
    """``piece`` played ``times`` times in a row, as one score with one plan (a long piece made cheaply)."""
    from dataclasses import replace

    from partimento.grammar.plan import Phrase, Plan
    from partimento.hybrid.result import Result
    from partimento.neural.encoding import sounding_pitches

    plan, length = piece.plan, piece.plan.length
    chords = [replace(c, onset=c.onset + k * length, phrase=c.phrase + k * len(plan.phrases))
              for k in range(times) for c in plan.chords]
    phrases = [Phrase(p.start + k * length, p.end + k * length, p.key, p.cadence, p.label)
               for k in range(times) for p in plan.phrases]
    long_plan = Plan(key=plan.key, metre=plan.metre, bars=plan.bars * times, chords=chords, phrases=phrases).validate()
    tokens = np.concatenate([piece.tokens] * times)
    pitch = sounding_pitches(tokens).astype(np.int16)
    return Result(long_plan, tokens, pitch, tokens >= PITCH_OFFSET)


def test_two_bars_of_a_64_bar_piece_change_nothing_else_and_add_no_error(tmp_path):
    """The issue's 64-bar case, from a written file: only the window is decoded, nothing outside the span
    changes, and the whole piece re-checks with no error it did not have (it had none)."""
    from partimento.grammar.rules import check

    for seed in range(8):  # a realization whose 16 copies join without an error at the seams (most do)
        four = realize(cadence_plan(key="E-", figures=FIGURES + ("vi", "IV", "V", "I")), seed=seed, model=FakeModel(0))
        long = _tiled(four, 16)
        path = long.write(tmp_path / "long.musicxml")
        if check(str(path)).errors == []:
            break
    assert long.plan.bars == 64
    assert check(str(path)).errors == [], "no seed in 0..7 tiles cleanly"
    new = infill(path, measures=(31, 32), voices=("alto", "tenor"), seed=0, model=FakeModel(3))
    assert new.stats["plan_source"] == "plan under the bass"
    w0, w1 = new.stats["window"]
    assert w1 - w0 <= 5 * 16  # two bars before, the span, one bar after
    keep = np.ones(long.pitch.shape, bool)
    keep[30 * 16:32 * 16, 1:3] = False
    assert np.array_equal(new.tokens[keep], long.tokens[keep])
    assert not np.array_equal(new.pitch[~keep], long.pitch[~keep])
    assert new.errors == []  # the whole piece re-checked
