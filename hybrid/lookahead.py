"""Look-ahead across chords, read off the rules' own faces: can this voice go on into the next chord?

A seventh that the next plan chord gives no step down to, a leading tone with no tonic
above it, a bass note from which the next chord's bass is a seventh or an augmented
interval away: each is a dead end the decoder would find only at the next onset. Rather
than restate those rules, :class:`Reach` asks them. For chord ``i``, voice ``v`` and a
pitch ``p`` that voice may sound there, it builds the two-row state "``v`` sounds ``p``
at the last step of chord ``i``; the next chord begins" and ANDs every hard rule's
``allowed`` for ``v`` at the second row. The other voices sound there what they are
given (an infill's kept notes, a harmonized melody), and an upper voice meets the next
chord's bass note (the bass has one pitch class per chord, so its note is all but
known); a voice neither given nor the bass is silent, so the rules about it have no
say. ``p`` *reaches* chord ``i + 1`` when that leaves a
note the plan allows ``v`` at its onset (chord tones; the bass's inversion; the tonic in
the soprano at a PAC; a given note as given; for an upper voice, ``p`` itself held over
as a suspension where the next chord leaves room to resolve it). Rules whose verdict depends on how the
voice entered the note (``Rule.reads_entry``: a non-chord tone's class) are not asked:
the state has no past, and those rules steer the note with its real past in the mask. For the bass the target must in turn
reach chord ``i + 2``, and so on to the end (worked out last to first), so a bass line
with no singable path several chords ahead is seen from here; the upper voices, with
three or four chord tones each, look one chord ahead. The constraint forbids a pitch
that does not reach (layer ``look-ahead:reach``), attributed to the rules that closed
every way on.

:meth:`Reach.ok` judges ``p`` as the note sounding *into* the next onset. A note struck
earlier in the chord need not be. Where given notes take part in the judgement (an
infill's kept notes, a harmonized melody), they make it sharper than silent voices do,
and :meth:`Reach.ok_at` also lets ``p`` go on by first moving, within the chord, to a
chord tone that reaches (the soprano's B4–D5 inside a V whose D5 is tied into the kept I
after an infill span), or through a passing note, a step either way to a diatonic
non-chord tone that goes on by a further step the same way (the bass's A–G–F under
vi–IV where a kept alto E4–C4 makes fifths with any A going straight on). With nothing
given at the change it keeps the straight-on demand, with one exception: a chord seventh with no straight way on may fall by step through a
passing note inside its chord (:meth:`Reach._seventh_passes_on`: the blues' IV7 before I,
E♭–D over F7, C on I). The bass chain, the per-token layer and the
up-front refusal all ask ``ok_at``, so the refusal and the masks agree.

The same tables give the preference layer its ways on into the next chord
(:mod:`.preferences`) and the static check that refuses a plan before decoding when a
chord cannot be written at all (:meth:`Reach.conflicts`: ``V42`` going to a
root-position tonic), and they tell the constraint which sevenths cannot be asked for
(the seventh of ``ii65`` going to ``V6``, whose only step down doubles the leading tone
in the bass).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partimento.grammar.rules.base import REST
from partimento.grammar.rules.masks import ALL
from partimento.grammar.theory import VOICES, pc_name
from partimento.neural.encoding import HOLD, PITCH_OFFSET

from .masks import PITCH_PC, PlanTables, resolution_pitches, room_to_suspend, token_name
from .rule_window import RuleWindow, rules_mask

__all__ = ["Reach", "Conflict", "static_masks"]

_BASS = 3


def static_masks(tables: PlanTables, window: RuleWindow) -> list[np.ndarray]:
    """Per chord, (4, 128) bool: what every rule allows each voice at the chord's onset on its own.

    A one-row state with every voice silent: the rules that bound a voice by itself
    (``range``, ``out-of-key``, a profile's own ranges) answer; the rest allow everything.
    """
    out = []
    for ch in tables.chords:
        if not window.rules or not 0 <= ch.onset < tables.steps:
            out.append(np.ones((4, 128), bool))
            continue
        pitch = np.full((1, 4), REST, np.int16)
        state = window._arrays([ch.onset], pitch, np.zeros((1, 4), bool))
        out.append(np.stack([window.combined(state, v) for v in range(4)]))
    return out


@dataclass
class Conflict:
    """A chord whose voice has no note that goes on into the next chord (the plan cannot be realized)."""

    chord: int  # index into plan.chords
    voice: int
    rules: list[str]  # the rules that close every way on
    message: str


class Reach:
    """Whether voice ``v`` sounding ``p`` in chord ``i`` can go on into chord ``i + 1`` (:meth:`ok`).

    Worked out lazily, one (chord, voice, pitch) at a time, and remembered: the decoder
    asks only about the pitches its other layers leave, so most of the table is never
    built. :meth:`moves` gives the notes of chord ``i + 1``'s onset that ``p`` can go on
    to, ``blockers`` the rules that leave it none. The last chord (and a chord whose next
    onset gives the voice nothing to aim at) restricts nothing.
    """

    def __init__(self, tables: PlanTables, window: RuleWindow) -> None:
        self.tables, self.window = tables, window
        #: the rules asked: not those that judge a note by how its voice entered it (the state has no past)
        self.rules = [r for r in window.rules if not r.reads_entry]
        n = len(tables.chords)
        self._ok: list[list[dict[int, bool]]] = [[{} for _ in range(4)] for _ in range(n)]
        self._moves: list[list[dict[int, np.ndarray]]] = [[{} for _ in range(4)] for _ in range(n)]
        self.blockers: list[list[dict[int, list[str]]]] = [[{} for _ in range(4)] for _ in range(n)]
        self._targets: list[list[np.ndarray | None | bool]] = [[False] * 4 for _ in range(n)]  # False: not yet
        self._via: list[list[dict[int, bool]]] = [[{} for _ in range(4)] for _ in range(n)]
        self._passing: list[list[dict[tuple[int, bool], bool]]] = [[{} for _ in range(4)] for _ in range(n)]
        self._states: dict[tuple[int, int], tuple[object, np.ndarray]] = {}
        self.evaluated = 0  # (chord, voice, pitch) triples worked out (diagnostics)

    def ok(self, i: int, v: int, p: int) -> bool:
        """``p`` in ``voice`` at chord ``i`` leaves a way on into chord ``i + 1``."""
        known = self._ok[i][v].get(p)
        if known is None:
            known = self._evaluate(i, v, p)
        return known

    def ok_at(self, t: int, i: int, v: int, p: int) -> bool:
        """``p`` sounding at step ``t`` of chord ``i`` leaves ``voice`` a way on into chord ``i + 1``.

        Straight on (:meth:`ok`); or, where the voice's next note inside the chord is given,
        ``p`` does not sound into the next onset at all; or, where notes are given at the
        chord change (:meth:`_given_at_change`) and the voice is still free to strike a note
        after ``t`` before chord ``i + 1`` begins, by moving first to a chord tone of chord
        ``i`` that goes on (a move the rules allow; :meth:`_moves_on_within`). With nothing
        given there it keeps asking every note for a straight way on, as before, so free
        composition decodes exactly as it did.
        """
        if self.ok(i, v, p):
            return True
        tables = self.tables
        if i + 1 >= len(tables.chords):
            return True
        after = tables.forced[t + 1:tables.chords[i + 1].onset, v]  # the voice's tokens left in chord i (-1: free)
        free = after < 0
        if not free.all() and (after[~free] != HOLD).any():
            return True  # a given note (or rest) takes over before the onset
        if not free.any():
            return False
        if self._given_at_change(i, v) and (self._moves_on_within(i, v, p) or self._passes_on(i, v, p)):
            return True
        return self._seventh_passes_on(i, v, p)

    def _seventh_passes_on(self, i: int, v: int, p: int) -> bool:
        """``p``, the seventh of chord ``i`` in an upper voice, goes on by falling through a passing note inside the chord.

        A seventh whose step down the next chord does not hold (the blues' IV7 going to
        I: E♭ over F7, no D in C) has no straight way on, but it can still fall by step
        while its chord lasts and pass on down into the next: E♭–D over F7, C on I, the
        seventh left downward by step and the passing D resolved as passing notes are.
        Asked only where nothing else lets the seventh sound (free composition keeps its
        straight-on demand for every other note): the step down to a diatonic note that is
        not a chord tone must be one the rules about the voice's own line allow, and that
        note must reach the next chord by a further step down (:meth:`moves`). Without
        this the constraint could only leave such a seventh out (adherence counted the
        blues' IV7 without its seventh as a miss).
        """
        ch = self.tables.chords[i]
        return (v != _BASS and ch.spec.seventh is not None and p % 12 == ch.spec.seventh
                and self._passing_route(i, v, p, down_only=True))

    def _passes_on(self, i: int, v: int, p: int) -> bool:
        """``p`` goes on through a non-chord tone inside chord ``i`` (:meth:`_passing_route`).

        Asked where notes are given at the chord change (:meth:`ok_at`), as the move to a
        chord tone is: under vi -> IV with an infill's kept alto E4 -> C4, the bass's A3
        makes fifths going straight on to F3 and has no other A or chord tone to move to,
        but A3-G3-F3 passes on, as the piece being rewritten did. Without this the span
        was refused up front although its own notes were a legal answer. The step on from
        the non-chord tone may turn back (a neighbour figure, which ``plan:resolution``
        resolves alike): under V6/5 -> i in c♯ with a kept alto B♯3 -> C♯4, the bass's B♯2
        makes octaves going straight on to C♯3, and B♯2-B2-C♯3 goes on, as the composed
        piece did (``tests/hybrid/test_lookahead.py``).
        """
        return self._passing_route(i, v, p, down_only=False)

    def _passing_route(self, i: int, v: int, p: int, down_only: bool) -> bool:
        """From ``p``, a step (1-2 semitones; down only, or either way) to a diatonic note that is not a chord
        tone, that the rules about the voice's own line allow (:meth:`_line_moves`), that reaches chord ``i + 1``
        (:meth:`ok`) and from which a further step is among its moves on (:meth:`moves`): the same way for
        ``down_only`` (a seventh passing down), either way otherwise (passing or neighbour)."""
        key = (p, down_only)
        known = self._passing[i][v].get(key)
        if known is not None:
            return known
        ch = self.tables.chords[i]
        known = False
        step = self._line_moves(i, v, p)
        for d in ((-1, -2) if down_only else (-1, -2, 1, 2)):
            x = p + d
            if not 0 <= x < 128 or ch.members[x % 12] or not ch.scale[x % 12] or not ch.static[v][x] or not step[x]:
                continue
            if not self.ok(i, v, x):
                continue
            onward = self.moves(i, v, x)
            way = 1 if d > 0 else -1
            ways = (x + way, x + 2 * way) if down_only else (x - 2, x - 1, x + 1, x + 2)
            if onward is None or any(onward[y] for y in ways if 0 <= y < 128):
                known = True
                break
        self._passing[i][v][key] = known
        return known

    def _given_at_change(self, i: int, v: int) -> bool:
        """Some note of the look-ahead's two rows is given: ``voice``'s own at chord ``i + 1``'s
        onset, or another voice's at the chord's last step or at that onset."""
        s1 = self.tables.chords[i + 1].onset
        if not 0 < s1 < self.tables.steps:
            return False
        rows = self.tables.forced[[s1 - 1, s1]] >= 0  # (2, 4)
        rows[0, v] = False
        return bool(rows.any())

    def _line_moves(self, i: int, v: int, p: int) -> np.ndarray:
        """bool[128]: the notes ``voice`` may move to from ``p`` inside chord ``i``, by the rules about its own line.

        Asked on a two-row state at the chord's last two steps with the other voices silent
        (what they sound between is not known here), and, as in :meth:`ok`, not of the rules
        that read how a note was entered.
        """
        s1 = self.tables.chords[i + 1].onset
        pitch = np.full((2, 4), REST, np.int16)
        pitch[0, v] = p
        state = self.window._arrays([s1 - 2, s1 - 1], pitch, pitch >= 0)
        prev, cur = pitch.tolist()
        return rules_mask(self.rules, state, v, rows=(prev, cur))

    def _moves_on_within(self, i: int, v: int, p: int) -> bool:
        """Some chord tone of chord ``i`` that the rules let ``voice`` move to from ``p`` (:meth:`_line_moves`)
        reaches chord ``i + 1``."""
        known = self._via[i][v].get(p)
        if known is not None:
            return known
        tones = np.flatnonzero(self.tables.chords[i].inner_tones(v)).tolist()
        tones = sorted((q for q in tones if q != p), key=lambda q: abs(q - p))
        known = False
        if tones:
            step = self._line_moves(i, v, p)
            known = any(step[q] and self.ok(i, v, q) for q in tones)
        self._via[i][v][p] = known
        return known

    def moves(self, i: int, v: int, p: int) -> np.ndarray | None:
        """bool[128]: the notes of chord ``i + 1``'s onset ``p`` can go on to (None: no restriction there)."""
        if p not in self._ok[i][v]:
            self._evaluate(i, v, p)
        return self._moves[i][v].get(p)

    def targets(self, j: int, v: int) -> np.ndarray | None:
        """bool[128]: what ``voice`` may sound at chord ``j``'s onset (the bass: and still go on; None: nothing to aim at)."""
        if self._targets[j][v] is False:
            if v == _BASS:
                last = len(self.tables.chords) - 1
                pending = [k for k in range(j, last + 1) if self._targets[k][v] is False]
                for k in reversed(pending):  # last to first: each needs the chain after it
                    self._targets[k][v] = self._target_notes(k, v)
            else:
                self._targets[j][v] = self._target_notes(j, v)
        return self._targets[j][v]

    def _target_notes(self, j: int, v: int) -> np.ndarray | None:
        tables = self.tables
        ch = tables.chords[j]
        a = ch.onset
        if not 0 <= a < tables.steps:
            return None
        if tables.forced[a, v] >= 0:  # a given note is the only target, as given
            given = int(tables.forced_pitch[a, v])
            if given < 0:
                return None
            out = np.zeros(128, bool)
            out[given] = True
            return out
        tones = ch.onset_tones(v)
        if v == _BASS and j + 1 < len(tables.chords):  # the bass, one pitch class per chord, is chained
            chained = tones.copy()
            for q in np.flatnonzero(tones).tolist():
                chained[q] = self.ok_at(a, j, v, q)
            if chained.any():
                return chained
        return tones if tones.any() else None  # chord j's own conflict is reported at j

    def _given_rows(self, i: int, v: int) -> tuple[np.ndarray, np.ndarray]:
        """(pitch, attack), each (2, 4): what the voices but ``v`` are given at chord ``i``'s last step
        and chord ``i + 1``'s onset (REST where a voice is not given or rests)."""
        tables = self.tables
        s1 = tables.chords[i + 1].onset
        forced = tables.forced[[s1 - 1, s1]]  # (2, 4) tokens, -1 free
        pitch = np.where(forced >= 0, tables.forced_pitch[[s1 - 1, s1]], REST).astype(np.int16)
        attack = forced >= PITCH_OFFSET
        pitch[:, v] = REST
        attack[:, v] = False
        return pitch, attack

    def _state(self, i: int, v: int):
        """(state, given pitch rows): the two-row state (last step of chord ``i``, onset of chord
        ``i + 1``) with the other voices' given notes, ``v`` striking at the first row."""
        st = self._states.get((i, v))
        if st is None:
            s1 = self.tables.chords[i + 1].onset
            given, attack = self._given_rows(i, v)
            attack[0, v] = True
            st = self._states[(i, v)] = (self.window._arrays([s1 - 1, s1], given.copy(), attack), given)
        return st

    def _bass_notes(self, i: int, v: int) -> list[int]:
        """Bass notes chord ``i + 1``'s onset may have, for an upper voice's look-ahead ([REST]: not asked)."""
        if v == _BASS:
            return [REST]
        notes = self.targets(i + 1, _BASS)
        return np.flatnonzero(notes).tolist() or [REST] if notes is not None else [REST]

    def _evaluate(self, i: int, v: int, p: int) -> bool:
        tables, window = self.tables, self.window
        if not window.rules or i + 1 >= len(tables.chords) or not 0 < tables.chords[i + 1].onset < tables.steps:
            self._ok[i][v][p] = True
            return True
        targets = self.targets(i + 1, v)
        if targets is None:
            self._ok[i][v][p] = True
            return True
        if self._suspends(i, v, p):  # held over the onset as a suspension: the note itself is a way on
            targets = targets.copy()
            targets[p] = True
        self.evaluated += 1
        state, given = self._state(i, v)
        pitch = state.sonorities.pitch
        each: list[tuple[str, np.ndarray]] = []
        try:
            for b in self._bass_notes(i, v):  # an upper voice meets the next bass (its one pitch class) there
                pitch[:] = given
                pitch[0, v] = p
                if b != REST:
                    pitch[1, _BASS] = b
                prev, cur = pitch.tolist()
                state.last_rows = (prev, cur)
                left = targets.copy()
                each = []
                for r in self.rules:
                    m = r.allowed(state, v)
                    if m is not ALL:
                        each.append((r.id, m))
                        left &= m
                if np.count_nonzero(left):
                    break
        finally:
            state.last_rows = None
            pitch[:] = given
        self._moves[i][v][p] = left
        ok = bool(np.count_nonzero(left))
        self._ok[i][v][p] = ok
        if not ok:
            blockers = [rid for rid, m in each if not (m & targets).any()]
            self.blockers[i][v][p] = blockers or [rid for rid, m in each if (targets & ~m).any()]
        return ok

    def _suspends(self, i: int, v: int, p: int) -> bool:
        """``p``, a chord tone of chord ``i`` in an upper voice, may be held into chord ``i + 1`` as a suspension.

        What :func:`~partimento.hybrid.masks.suspension_resolutions` lets the decoder hold at
        the onset, less what only the written notes tell (whether ``p`` was itself a non-chord
        tone, another voice sounding the resolution): not a member of the next chord, a
        chord tone a step below it, room to resolve, the voice not given there.
        """
        tables = self.tables
        ch, nxt = tables.chords[i], tables.chords[i + 1]
        if v == _BASS or not ch.members[p % 12] or nxt.members[p % 12] or tables.forced[nxt.onset, v] >= 0:
            return False
        return room_to_suspend(tables, nxt, v) and bool(resolution_pitches(nxt, p, nxt.static[v]))

    def why(self, i: int, v: int, p: int) -> tuple[list[str], str]:
        """(rule ids, message) for a pitch that does not reach the next chord."""
        ch, nxt = self.tables.chords[i], self.tables.chords[i + 1]
        rules = self.blockers[i][v].get(p, [])
        detail = self._violation_text(i, v, p, rules)
        msg = (f"look-ahead: from {token_name(PITCH_OFFSET + p, ch.key)} the {VOICES[v]} could not go on into "
               f"{nxt.figure}" + (f" ({detail})" if detail else ""))
        return rules, msg

    def _violation_text(self, i: int, v: int, p: int, rules: list[str]) -> str:
        """The first blocking rule's own message for the nearest target note (its check face)."""
        targets = self.targets(i + 1, v)
        if targets is None or not rules:
            return ""
        q = np.flatnonzero(targets)
        if not len(q):
            return ""
        nearest = int(q[np.argmin(np.abs(q - p))])
        s1 = self.tables.chords[i + 1].onset
        pitch, attack = self._given_rows(i, v)
        pitch[0, v], pitch[1, v] = p, nearest
        attack[:, v] = True
        if v != _BASS and pitch[1, _BASS] == REST:
            pitch[1, _BASS] = self._bass_notes(i, v)[0]
            attack[1, _BASS] = pitch[1, _BASS] != REST
        state = self.window._arrays([s1 - 1, s1], pitch, attack)
        for k, r in enumerate(self.window.rules):
            if r.id in rules:
                found = self.window.violations(state, k)
                if found:
                    return found[0].message
        return ""

    def conflicts(self) -> list[Conflict]:
        """Chords the plan asks for that no voice can write and still go on: the plan is unrealizable.

        The bass (one pitch class per chord) with no note that goes on, or a pitch class the
        upper voices must supply (``ChordTable.required``: root and third, and the seventh
        unless the constraint dropped it) that no upper voice can take and still go on into
        the next chord.
        """
        out = []
        tables = self.tables
        for i in range(len(tables.chords) - 1):
            ch = tables.chords[i]
            a = ch.onset
            if not 0 <= a < tables.steps:
                continue
            if tables.forced[a, _BASS] < 0:
                tones = np.flatnonzero(ch.onset_tones(_BASS)).tolist()
                if tones and not any(self.ok_at(a, i, _BASS, q) for q in tones):
                    p = tones[0]
                    rules = self.blockers[i][_BASS].get(p, [])
                    detail = self._violation_text(i, _BASS, p, rules)
                    out.append(Conflict(i, _BASS, rules, f"no bass note of {ch.figure} can go on into "
                                                          f"{tables.chords[i + 1].figure}" + (f": {detail}" if detail else "")))
                    continue
            given = {tables.given_pc(a, v) for v in range(_BASS)
                     if tables.forced[a, v] >= 0 and tables.forced_pitch[a, v] >= 0}  # a given suspension: its resolution
            free = [v for v in range(_BASS) if tables.forced[a, v] < 0]
            for pc in ch.required:
                if pc in given or not free:
                    continue
                tried = [(v, q) for v in free for q in np.flatnonzero(ch.onset_tones(v) & (PITCH_PC == pc)).tolist()]
                if not tried or any(self.ok_at(a, i, v, q) for v, q in tried):
                    continue
                v, q = tried[0]
                rules = sorted({r for v2, q2 in tried for r in self.blockers[i][v2].get(q2, [])})
                detail = self._violation_text(i, v, q, self.blockers[i][v].get(q, []))
                role = next((name for name in ("root", "third", "seventh") if getattr(ch.spec, name) == pc), "tone")
                out.append(Conflict(i, v, rules, f"no upper voice can sound the {role} {pc_name(pc)} "
                                                 f"of {ch.figure} and go on into {tables.chords[i + 1].figure}"
                                                 + (f": {detail}" if detail else "")))
                break
        return out
