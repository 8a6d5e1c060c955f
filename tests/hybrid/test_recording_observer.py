"""Recording is a pure observer: ``record=True`` decodes exactly the tokens ``record=False`` decodes.

Before the fix the recorder changed the search: it skipped the sure shortcut and built
every full mask, so a position the shortcut had left "lazy" (or whose look-ahead was
asked per draw) counted its untried tokens differently, a backtrack resumed elsewhere,
and the piece changed. Measured before the fix with the decoder of commit 3748a42: the
sharp fake model below gave 83 different tokens for ``("d", 2)``, and the shipped model
14 for the 4-bar C-major plan of seed 2 (and 74 and 141 for the 16-bar plans of seeds 2
and 4, ``benchmarks/explain_speed.py``), so ``partimento explain --regenerate`` could not
reproduce a file written without recording.
"""
from __future__ import annotations

import numpy as np
import pytest
from hybrid_fakes import PositionalSession

from partimento.hybrid import compose
from partimento.hybrid.explain_file import explain_file
from partimento.neural.encoding import VOCAB_SIZE


class _SharpSession(PositionalSession):
    """Seeded random logits, peaked (so the sure shortcut fires) and leaning to holds: a search that backtracks."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed

    def next_logits(self) -> np.ndarray:
        z = np.random.default_rng((self.seed, self.n)).normal(size=VOCAB_SIZE) * 6.0
        z[0] += 6.0
        return z


class _SharpModel:
    def __init__(self, seed: int) -> None:
        self.seed = seed

    def session(self, cond, conditioned: bool = True) -> _SharpSession:
        return _SharpSession(self.seed)


@pytest.mark.parametrize("key, seed", [("d", 4), ("C", 4)])  # d 2 no longer backtracks (prefer:no-rocking)
def test_recording_changes_no_token_even_where_the_search_backtracks(key, seed):
    off = compose("chorale", key=key, bars=4, seed=seed, model=_SharpModel(seed), check=False)
    on = compose("chorale", key=key, bars=4, seed=seed, model=_SharpModel(seed), check=False, record=True)
    assert np.array_equal(off.tokens, on.tokens)
    assert off.stats["retries"] == on.stats["retries"] > 0  # the same search, and it did backtrack
    assert off.stats["sure_tokens"] == on.stats["sure_tokens"] > 0  # the shortcut is taken while recording too
    assert len(on.trace.backtracks) == on.stats["retries"]  # every backtrack is in the trace
    for d in on.trace.decisions:  # the record still holds the full legal set and the drawn token in it
        assert d.token in d.legal


def test_regenerate_reproduces_a_file_written_without_recording(tmp_path):
    """The shipped model on a plan whose recorded decoding used to take another path.

    The piece is the first seed whose decoding backtracks with the shipped checkpoint and search (found,
    not fixed: seeds 2, 5 and 3 in turn stopped backtracking as the checkpoint, the bass-line planner and
    the style layer changed). Until the fuzz tests' test double was kept to their own modules, this test
    ran on it in a full run and did not see that its seed no longer backtracked.
    """
    seed, plain = next((s, r) for s in range(40)
                       for r in [compose("chorale", key="C", bars=4, seed=s, check=False)]  # `compose --out`
                       if r.stats["retries"] > 0)
    assert plain.trace is None
    path = tmp_path / "plain.musicxml"
    plain.write(path)
    ex = explain_file(path, 3, 1, "alto", regenerate=True)
    assert ex.source == "decoder"
    assert any("regenerated from" in n for n in ex.notes), ex.notes  # not the fall-back replay
    recorded = compose("chorale", key="C", bars=4, seed=seed, check=False, record=True)
    assert np.array_equal(recorded.tokens, plain.tokens)
    got, want = ex.to_dict(), recorded.explain(3, 1, "alto").to_dict()
    got.pop("notes"), want.pop("notes")
    assert got == want
