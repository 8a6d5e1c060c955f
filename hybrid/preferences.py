"""The preference layer: soft look-aheads that reweight the distribution and never forbid a token.

On the step before a chord onset some choices make the onset hard to write: an upper
voice whose note has no way on into the next chord between its neighbours, a tenor so
low that the bass cannot get under it, a soprano on the octave of the dominant's bass
just before a perfect authentic cadence. The first decoder forbade such tokens "unless
that left none", a mask that sometimes gave way. Here they are preferences: each names
the tokens it favours, and every token it does not favour has its weight multiplied by
``factor`` (default 0.01). The decoder then samples exactly

    normalize(model ** (1 / T) * preferences * mask), nucleus after

(see :func:`partimento.hybrid.sampling.sample`). A preference that favours no legal
token changes nothing, because every legal token is scaled alike; one that favours some
only shifts mass towards them. Nothing here can make a legal token unreachable, and the
guarantees come from the mask alone.

Preferences (ids as the trace names them), all on the step before an onset:

* ``prefer:way-on`` — an upper voice keeps a move the rules allow (the look-ahead's own
  tables, :class:`~partimento.hybrid.lookahead.Reach`) to a note of the next chord no
  higher than the voice above sounds now and no lower than the voice below (voices not
  yet written on this step are taken to hold);
* ``prefer:bass-room`` — the tenor stays at or above the lowest next bass note the bass
  can reach from where it is;
* ``prefer:room-above`` — a voice stays at or below the highest next-chord note the voice
  above it can take (so that voice need not overlap it);
* ``prefer:cadence-approach`` — before a PAC, the soprano leaves the pitch class that
  would make octaves or fifths with the bass as both move to the tonic.
"""
from __future__ import annotations

import numpy as np

from partimento.neural.encoding import HOLD, PITCH_OFFSET, VOCAB_SIZE

from .grid import GridState
from .lookahead import Reach
from .masks import PlanTables

__all__ = ["Preferences", "PREFERENCE_IDS", "PREFERENCE_FACTOR"]

PREFERENCE_IDS = ("prefer:way-on", "prefer:bass-room", "prefer:room-above", "prefer:cadence-approach")
PREFERENCE_FACTOR = 0.01  # weight of a token a preference does not favour
_BASS = 3


class Preferences:
    """Per position: a float[V] of weights (1 favoured, ``factor`` not), or None where no preference speaks."""

    def __init__(self, tables: PlanTables, reach: Reach | None, factor: float = PREFERENCE_FACTOR) -> None:
        if not 0 < factor <= 1:
            raise ValueError(f"a preference factor must lie in (0, 1], got {factor}")
        self.tables, self.reach, self.factor = tables, reach, factor
        self._before = np.zeros(tables.steps, bool)  # the step before an onset (inside a chord)
        self._before[:-1] = tables.onset[1:] & (tables.chord_index[:-1] >= 0) & (tables.chord_index[1:] >= 0)
        self._barred = self._cadence_bars()

    def active(self, t: int, v: int) -> bool:
        """Whether any preference may speak at (t, v) (cheap: the decoder's sure-hold shortcut reads it)."""
        return bool(self._before[t]) and self.reach is not None

    def favoured(self, g: GridState, t: int, v: int, candidates: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(id, bool[V]) for each preference that speaks at (t, v): False where it does not favour a candidate.

        Only the ``candidates`` (bool[V], the legal tokens) are judged; a preference's
        word on a token the mask removes would change nothing, so it is left at True.
        """
        if not self.active(t, v):
            return []
        out = []
        ci = int(self.tables.chord_index[t])
        prev = g.previous(t, v)
        pitches = np.flatnonzero(candidates[PITCH_OFFSET:]).tolist()
        if candidates[HOLD] and prev >= 0:
            pitches.append(prev)
        for name, judge in (("prefer:way-on", self._way_on(g, t, v, ci)),
                            ("prefer:bass-room", self._bass_room(g, t, v, ci)),
                            ("prefer:room-above", self._room_above(g, t, v, ci)),
                            ("prefer:cadence-approach", self._cadence(t, v))):
            if judge is None:
                continue
            fav = np.ones(VOCAB_SIZE, bool)
            for p in pitches:
                if not judge(p):
                    if candidates[PITCH_OFFSET + p]:
                        fav[PITCH_OFFSET + p] = False
                    if p == prev and candidates[HOLD]:
                        fav[HOLD] = False
            out.append((name, fav))
        return out

    def weights(self, g: GridState, t: int, v: int, candidates: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
        """(float[V] weights or None, ids of the preferences that spoke) over the ``candidates``."""
        spoke = self.favoured(g, t, v, candidates)
        if not spoke:
            return None, []
        w = np.ones(VOCAB_SIZE)
        for _, fav in spoke:
            w[~fav] *= self.factor
        return w, [name for name, _ in spoke]

    def weight_of(self, g: GridState, t: int, v: int, token: int) -> float:
        """The weight of one token (1.0: favoured by every preference that speaks, or none speaks)."""
        one = np.zeros(VOCAB_SIZE, bool)
        one[token] = True
        w, _ = self.weights(g, t, v, one)
        return 1.0 if w is None else float(w[token])

    # ------------------------------------------------------------------ the preferences
    def _way_on(self, g: GridState, t: int, v: int, ci: int):
        if v == _BASS or ci + 1 >= len(self.tables.chords):
            return None
        above = g.sounding(t, v - 1) if v > 0 else -1
        below = g.sounding(t, v + 1)
        window = np.ones(128, bool)
        if above >= 0:
            window[above + 1:] = False
        if below >= 0:
            window[:below] = False
        reach = self.reach

        def judge(p: int) -> bool:
            moves = reach.moves(ci, v, p)
            return moves is None or bool((moves & window).any())
        return judge

    def _bass_room(self, g: GridState, t: int, v: int, ci: int):
        if v != 2 or ci + 1 >= len(self.tables.chords):
            return None
        b = g.sounding(t, _BASS)
        targets = self.reach.moves(ci, _BASS, b) if b >= 0 else None
        if targets is None or not targets.any():
            return None
        floor = int(np.argmax(targets))
        return lambda p: p >= floor

    def _room_above(self, g: GridState, t: int, v: int, ci: int):
        if v == 0 or not g.decided[t, v - 1]:
            return None
        u = v - 1
        nxt = self.tables.chords[ci + 1] if ci + 1 < len(self.tables.chords) else None
        if nxt is None:
            return None
        tones = nxt.onset_tones(u)
        top = int(g.pitch[t, u - 1]) if u >= 1 and g.decided[t, u - 1] else -1
        if top >= 0:
            tones = tones & (np.arange(128) <= top)
        if not tones.any():
            return None
        ceiling = int(np.flatnonzero(tones)[-1])
        return lambda p: p <= ceiling

    def _cadence(self, t: int, v: int):
        barred = int(self._barred[t])
        if v != 0 or barred < 0:
            return None
        return lambda p: p % 12 != barred

    def _cadence_bars(self) -> np.ndarray:
        """Per step: the soprano pitch class disfavoured there because a PAC onset follows (-1: none).

        A PAC fixes both outer voices of its tonic (root in soprano and bass), so a
        soprano that sounds, just before, the same perfect interval class above the
        dominant's bass can only go on in parallel or contrary octaves or fifths.
        """
        tables = self.tables
        barred = np.full(tables.steps, -1, np.int16)
        for ch in tables.chords:
            a = ch.onset
            if not ch.pac or not 0 < a < tables.steps or tables.chord_index[a - 1] < 0:
                continue
            here = tables.chords[int(tables.chord_index[a - 1])].spec
            ic = (ch.spec.root - ch.spec.bass) % 12
            if ic in (0, 7) and here.bass != ch.spec.bass:
                barred[a - 1] = (here.bass + ic) % 12
        return barred
