"""Tendency tones: the leading tone of a dominant, the seventh of a chord, an augmented sixth.

These rules read the chord at each sonority: the plan's chord while decoding (or when a
plan is given), else the chord inferred from the notes (see :mod:`.chords`). Without
chords in the context the mask falls back to trying each pitch, because the inferred
chord of the row being written depends on the pitch tried.

An augmented-sixth chord (It+6, Ger+6, Fr+6) has no chord seventh: its tendency tones
are the two notes of the augmented sixth, which expand outward by semitone to the
octave on the dominant. Where a chord is only guessed from the notes, the spelling
decides: in C, A♭–C–E♭–F♯ is a German sixth (F♯ rises), A♭–C–E♭–G♭ a dominant seventh
(G♭ falls); see :mod:`.spelling` for how an unwritten note is spelled.
"""
from __future__ import annotations

import numpy as np

from ..theory import VOICES, ChordSpec, KeyInfo, pc_name
from .base import REST, Context, DecodeState, Rule, Severity, SonorityArray, Violation, register
from .chords import augmented_sixth, chords_for, leading_tone_of, same_harmony, tonic_letter
from .masks import ALL, NOT_PC, ONLY, last_two
from .spelling import cell_position, note_name, position_name

__all__ = ["DoubledLeadingTone", "LeadingToneResolution", "SeventhResolution", "AugmentedSixthResolution"]

_INNER = (1, 2)


def _name(s: SonorityArray, ctx: Context, i: int, v: int) -> str:
    """The note voice ``v`` sounds at row ``i``, named as written (or as partimento writes it)."""
    return position_name(int(s.pitch[i, v]), cell_position(s, ctx, i, v))


def _written_as_flat_fifth(s: SonorityArray, ctx: Context, i: int, v: int, key: KeyInfo) -> bool:
    """The note at (i, v), the key's ♯4 by pitch, is written as its ♭5 (G♭ in C, not F♯)."""
    return cell_position(s, ctx, i, v) % 7 == (tonic_letter(key) + 4) % 7


def _inferred(ctx: Context) -> bool:
    return ctx.chords is None or ctx.chords_inferred


def _harmony_changes(chords: list[ChordSpec | None]) -> list[int]:
    """Rows ``i`` whose chord and the one before are both known and have different roots (:func:`same_harmony` false).

    The tendency rules judge a note only where the harmony changes; a chord usually lasts
    several rows, so the rows in between are left out here at once, not one by one.
    """
    roots = [-1 if ch is None else ch.root for ch in chords]
    return [i for i in range(1, len(roots)) if roots[i] != roots[i - 1] and roots[i] >= 0 and roots[i - 1] >= 0]


@register
class DoubledLeadingTone(Rule):
    """Two or more voices sound the leading tone of a dominant-function chord.

    Mask (plan chord known): if a written voice already holds the chord's leading tone,
    forbid that pitch class.
    """

    id = "doubled-leading-tone"
    description = "two voices hold the leading tone in a dominant-function chord"

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        chords, _ = chords_for(s, ctx)
        p = s.pitch
        on_lt = (p != REST) & (p % 12 == _leading_tone_array(chords, ctx)[:, None])  # (N, 4); no leading tone: -1
        for i in (np.add.reduce(on_lt, axis=1) >= 2).nonzero()[0].tolist():
            vs = on_lt[i].nonzero()[0].tolist()
            out.append(self.violation(s, i, vs, (
                f"the leading tone {pc_name(int(p[i, vs[0]]) % 12)} of {chords[i].figure} is doubled "
                f"({', '.join(VOICES[v] for v in vs)})"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        if state.ctx.chords is None:
            return super().allowed(state, voice)
        i = state.index
        lt = leading_tone_of(state.ctx.chord(i), state.ctx.keys[i])
        _, cur = last_two(state)
        if lt is None or not any(cur[w] != REST and cur[w] % 12 == lt for w in range(4) if w != voice):
            return ALL
        return NOT_PC[lt]


def _leading_tone_array(chords: list[ChordSpec | None], ctx: Context) -> np.ndarray:
    """(N,) :func:`leading_tone_of` each row's chord in its key, -1 for none: once per check for both
    leading-tone rules."""
    def make() -> np.ndarray:
        out, last_chord, last_key, lt = [], None, None, -1
        for ch, k in zip(chords, ctx.keys):
            if ch is not last_chord or k is not last_key:  # a chord lasts several rows as one object: asked once
                last_chord, last_key = ch, k
                x = leading_tone_of(ch, k)
                lt = -1 if x is None else x
            out.append(lt)
        return np.asarray(out, np.int64)

    return ctx.shared("leading tones", make)


def _root_array(chords: list[ChordSpec | None], ctx: Context) -> np.ndarray:
    """(N,) the root of each row's chord, -1 where none is known."""
    return ctx.shared("chord roots", lambda: np.asarray([-1 if ch is None else ch.root for ch in chords], np.int64))


def _augmented_sixths_left(ctx: Context, chords: list[ChordSpec | None], inferred: bool,
                           changes: list[int]) -> list[tuple[int, int] | None]:
    """:func:`augmented_sixth` of the chord each harmony change leaves (row ``i - 1`` for each ``i`` of
    ``changes``, in its key), aligned with ``changes``: once per check for both tendency rules."""
    keys = ctx.keys
    return ctx.shared("augmented sixths left",
                      lambda: [augmented_sixth(chords[i - 1], keys[i - 1], inferred) for i in changes])


def _complete(ch: ChordSpec, row) -> bool:
    """The sonority ``row`` sounds the chord's root, third and fifth (undecided voices count as absent)."""
    pcs = {int(x) % 12 for x in row if x != REST}
    return all(m is None or m in pcs for m in (ch.root, ch.third, ch.fifth))


@register
class LeadingToneResolution(Rule):
    """The leading tone of a dominant (V, vii°, applied dominants) going to its tonic rises a semitone.

    Judged at the tonic chord, in every voice that held the leading tone:

    * an outer voice (soprano, bass) must rise to the tonic;
    * an inner voice (alto, tenor) must rise too, or may fall a major third to the fifth
      of the tonic when the tonic chord is complete (root, third and fifth sound): the
      textbook licence, in every profile. A voice still undecided while decoding does not
      count towards a complete tonic, so the decoder lets an inner voice fall only when
      the chord is complete without it.

    ``relaxed`` voices are reported at ``relaxed_severity``: the ``chorale`` profile keeps
    the soprano an error and makes the others warnings (Bach leads an inner voice's or
    the bass's leading tone elsewhere about once in three chorales). Mask (plan chords
    known): a voice that held the leading tone may only take the semitone above (and,
    inner, the third below when that completes the tonic).
    """

    id = "leading-tone-resolution"
    description = ("the leading tone of a dominant going to its tonic does not rise "
                   "(an inner voice may fall to the fifth of a complete tonic)")

    def __init__(self, severity: Severity | None = None, relaxed: tuple[str, ...] = (),
                 relaxed_severity: Severity = Severity.WARNING) -> None:
        super().__init__(severity)
        self.relaxed = tuple(VOICES.index(v) for v in relaxed)
        self.relaxed_severity = Severity(relaxed_severity)

    @staticmethod
    def _lt(ch0, ch1, key0) -> int | None:
        """The leading tone of ``ch0`` when the harmony goes from it to its tonic ``ch1``, else None."""
        lt = leading_tone_of(ch0, key0)
        if lt is None or ch1 is None or ch1.root != (lt + 1) % 12:
            return None
        return lt

    def _ok(self, v: int, p0: int, p1: int, ch1: ChordSpec, row) -> bool:
        if p1 == p0 + 1:
            return True
        return v in _INNER and p1 == p0 - 4 and ch1.fifth is not None and p1 % 12 == ch1.fifth and _complete(ch1, row)

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        chords, _ = chords_for(s, ctx)
        p = s.pitch
        if len(s) < 2:
            return out
        # what _lt asks, for all rows at once: the chord before has a leading tone and this chord is its tonic
        lt0 = _leading_tone_array(chords, ctx)[:-1]  # (N-1,) -1: none
        to_tonic = (lt0 >= 0) & (_root_array(chords, ctx)[1:] == (lt0 + 1) % 12)
        prev, cur = p[:-1], p[1:]
        held = to_tonic[:, None] & (prev != REST) & (cur != REST) & (prev % 12 == lt0[:, None])  # (N-1, 4)
        for r, v in zip(*(held & (cur != prev + 1)).nonzero()):  # rows in order, voices in order
            i, v = int(r) + 1, int(v)
            p0, p1 = int(p[i - 1, v]), int(p[i, v])
            if self._ok(v, p0, p1, chords[i], p[i]):
                continue
            how = "stays" if p1 == p0 else f"goes to {note_name(p1, ctx.keys[i])}"
            licence = " or, in an inner voice, falling to the fifth of a complete tonic" if v in _INNER else ""
            out.append(self.violation(s, i, [v], (
                f"the leading tone {_name(s, ctx, i - 1, v)} of {chords[i - 1].figure} {how} on "
                f"{chords[i].figure} instead of rising to {note_name(p0 + 1, ctx.keys[i])}{licence}"),
                severity=self.relaxed_severity if v in self.relaxed else None, ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        if state.ctx.chords is None:  # the inferred chords depend on every voice written
            return super().allowed(state, voice)
        i = state.index
        prev, cur = last_two(state)
        if prev is None or prev[voice] == REST:
            return ALL
        ch1 = state.ctx.chord(i)
        lt = self._lt(state.ctx.chord(i - 1), ch1, state.ctx.keys[i - 1])
        p0 = prev[voice]
        if lt is None or p0 % 12 != lt:
            return ALL
        up = ONLY[min(p0 + 1, 128)]  # ONLY[128]: no pitch
        if voice not in _INNER or p0 < 4 or ch1.fifth is None or (p0 - 4) % 12 != ch1.fifth:
            return up
        row = list(cur)
        row[voice] = p0 - 4
        if not _complete(ch1, row):
            return up
        mask = up.copy()
        mask[p0 - 4] = True
        return mask


def _seventh_at(s: SonorityArray, ctx: Context, i: int, v: int, ch: ChordSpec | None, key: KeyInfo,
                inferred: bool) -> int | None:
    """Pitch class of the chord seventh that voice ``v`` could hold at row ``i`` (None: the chord has none).

    An augmented-sixth chord has no seventh, unless (a chord guessed from the notes) its
    ♯4 is written as a ♭5: then it is the seventh of a dominant-seventh sound on ♭6.
    """
    if ch is None:
        return None
    aug = augmented_sixth(ch, key, inferred)
    if aug is None:
        return ch.seventh
    if inferred and s.pitch.item(i, v) % 12 == aug[1] and _written_as_flat_fifth(s, ctx, i, v, key):
        return aug[1]
    return None


class _TendencyTone(Rule):
    """A note that must move on by one of a few intervals where the harmony changes (a tendency tone).

    A subclass says, in :meth:`moves`, which intervals the note voice ``v`` holds at row
    ``i`` may move by into row ``i + 1`` (None: no tendency there). Both faces share one
    walk over the changes of harmony: ``check`` reports every voice that moves otherwise
    (where it arrives, :meth:`message` says how), ``allowed`` (plan chords known) is
    exactly the pitches those intervals reach.
    """

    def moves(self, s: SonorityArray, ctx: Context, i: int, v: int, ch0: ChordSpec, ch1: ChordSpec,
              inferred: bool) -> tuple[int, ...] | None:  # pragma: no cover
        raise NotImplementedError

    def tendency_pcs(self, ctx: Context, i: int, ch0: ChordSpec, ch1: ChordSpec, inferred: bool) -> tuple[int, ...]:
        """The pitch classes that can have a tendency at row ``i`` going to ``ch1`` (a superset: :meth:`moves`
        decides). ``check`` asks :meth:`moves` only about voices sounding one of them, once per change of harmony
        rather than once per voice (the per-voice walk was one of the checker's largest costs in a profile)."""
        return tuple(range(12))

    def message(self, s: SonorityArray, ctx: Context, i: int, v: int, ch0: ChordSpec, ch1: ChordSpec,
                moves: tuple[int, ...]) -> str:  # pragma: no cover
        raise NotImplementedError

    def changes_to_judge(self, ctx: Context, chords: list[ChordSpec | None], inferred: bool,
                         changes: list[int]) -> list[int]:
        """The rows of ``changes`` (harmony changes, in order) where :meth:`tendency_pcs` may find a tendency:
        a superset, so that ``check`` need not ask about the many changes from a chord without one."""
        return changes

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        chords, inferred = chords_for(s, ctx)
        rows = ctx.shared("pitch rows", s.pitch.tolist)
        changes = ctx.shared("harmony changes", lambda: _harmony_changes(chords))
        for i in self.changes_to_judge(ctx, chords, inferred, changes):
            ch0, ch1 = chords[i - 1], chords[i]
            prev, cur = rows[i - 1], rows[i]
            pcs = self.tendency_pcs(ctx, i - 1, ch0, ch1, inferred)
            if not pcs:
                continue
            for v in range(4):
                if prev[v] == REST or cur[v] == REST or prev[v] % 12 not in pcs:
                    continue
                moves = self.moves(s, ctx, i - 1, v, ch0, ch1, inferred)
                if moves is None or cur[v] - prev[v] in moves:
                    continue
                out.append(self.violation(s, i, [v], self.message(s, ctx, i, v, ch0, ch1, moves), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        if state.ctx.chords is None:  # the inferred chords depend on every voice written
            return super().allowed(state, voice)
        i = state.index
        prev, _ = last_two(state)
        if prev is None or prev[voice] == REST:
            return ALL
        ctx = state.ctx
        ch0, ch1 = ctx.chord(i - 1), ctx.chord(i)
        if ch0 is None or ch1 is None or same_harmony(ch0, ch1):
            return ALL
        moves = self.moves(state.sonorities, ctx, i - 1, voice, ch0, ch1, ctx.chords_inferred)
        if moves is None:
            return ALL
        mask = np.zeros(128, dtype=bool)
        mask[[q for q in (prev[voice] + d for d in moves) if 0 <= q <= 127]] = True
        return mask


@register
class SeventhResolution(_TendencyTone):
    """A chord seventh must resolve down by step when the harmony changes.

    Judged where the voice holding the previous chord's seventh arrives at a chord with
    another root: a step down (1 or 2 semitones) is fine, and so is holding it when it
    belongs to the new chord; within one harmony (same root) the seventh may stay or move.
    Augmented-sixth chords have no seventh (see :class:`AugmentedSixthResolution`).
    Mask (plan chords known): only p0-1, p0-2 (and p0 if a member of the new chord).
    """

    id = "seventh-resolution"
    description = "a chord seventh does not resolve down by step"

    def changes_to_judge(self, ctx, chords, inferred, changes):
        aug = _augmented_sixths_left(ctx, chords, inferred, changes)
        return [i for i, a in zip(changes, aug) if a is not None or chords[i - 1].seventh is not None]

    def tendency_pcs(self, ctx, i, ch0, ch1, inferred):
        if ch0.seventh is None and not inferred:
            return ()
        aug = augmented_sixth(ch0, ctx.keys[i], inferred)
        if aug is None:
            return () if ch0.seventh is None else (ch0.seventh,)
        return (aug[1],) if inferred else ()  # a ♯4 written as ♭5 (see _seventh_at)

    def moves(self, s, ctx, i, v, ch0, ch1, inferred):
        if ch0.seventh is None and not inferred:  # a plan's chord without a seventh (augmented sixths included)
            return None
        p0 = s.pitch.item(i, v)
        if p0 % 12 != _seventh_at(s, ctx, i, v, ch0, ctx.keys[i], inferred):
            return None
        return (-1, -2, 0) if p0 % 12 in ch1.members else (-1, -2)

    def message(self, s, ctx, i, v, ch0, ch1, moves):
        p0, p1 = int(s.pitch[i - 1, v]), int(s.pitch[i, v])
        how = "is held" if p1 == p0 else f"goes to {note_name(p1, ctx.keys[i])}"
        return (f"the seventh {_name(s, ctx, i - 1, v)} of {ch0.figure} {how} on {ch1.figure} "
                f"instead of resolving down by step")


@register
class AugmentedSixthResolution(_TendencyTone):
    """The augmented sixth of an It+6, Ger+6 or Fr+6 expands by semitones to the octave.

    Judged where the harmony moves from the augmented-sixth chord to a chord holding the
    note both tones lead to (the dominant, or the cadential 6/4 above it): the voice
    holding the lower note (♭6) must fall a semitone and the voice holding the upper (♯4)
    must rise one. A ♯4 written as ♭5 under a chord guessed from the notes is a chord
    seventh instead (see :class:`SeventhResolution`). Mask (plan chords known): the one
    pitch a semitone away.
    """

    id = "augmented-sixth-resolution"
    description = "the augmented sixth of an augmented-sixth chord does not expand by semitones to the octave"

    def changes_to_judge(self, ctx, chords, inferred, changes):
        aug = _augmented_sixths_left(ctx, chords, inferred, changes)
        return [i for i, a in zip(changes, aug) if a is not None]

    def tendency_pcs(self, ctx, i, ch0, ch1, inferred):
        aug = augmented_sixth(ch0, ctx.keys[i], inferred)
        if aug is None or (aug[0] - 1) % 12 not in ch1.members:
            return ()
        return aug

    def moves(self, s, ctx, i, v, ch0, ch1, inferred):
        """(-1,) / (+1,): the note voice ``v`` holds at row ``i`` is the lower / upper note of an
        augmented sixth that must resolve at row ``i + 1``; None otherwise."""
        key0 = ctx.keys[i]
        aug = augmented_sixth(ch0, key0, inferred)
        if aug is None:
            return None
        lo, up = aug
        if (lo - 1) % 12 not in ch1.members:  # not going to the chord of its resolution
            return None
        pc = s.pitch.item(i, v) % 12
        if pc == lo:
            return (-1,)
        if pc == up and not (inferred and _written_as_flat_fifth(s, ctx, i, v, key0)):
            return (1,)
        return None

    def message(self, s, ctx, i, v, ch0, ch1, moves):
        p0, p1 = int(s.pitch[i - 1, v]), int(s.pitch[i, v])
        d = moves[0]
        k = ctx.keys[i]
        which, way = ("lower", "falling") if d < 0 else ("upper", "rising")
        how = "stays" if p1 == p0 else f"goes to {note_name(p1, k)}"
        return (f"the {which} note {_name(s, ctx, i - 1, v)} of the augmented sixth of {ch0.figure} {how} on "
                f"{ch1.figure} instead of {way} a semitone to {note_name(p0 + d, k)}")
