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

The rest, the *style calibration* (:class:`Style`, on by default, ``style=False`` in the
sampling options turns them all off): training-free controls that pull the shipped model's
rhythm towards Bach's where it holds too much. Each is a constant factor on the model's
odds at one kind of position, so it shifts the model's choice and keeps its ranking
among the tokens it favours:

* ``prefer:motion`` — at an off-beat eighth (the half beat of a quarter-note beat) inside
  a chord, alto, tenor and bass (and the soprano where it is not given, with its own weight,
  below) favour moving on by a step or a third (a passing or
  neighbour note, a chord tone a third away: what the plan layers allow there); holding
  the note, striking it again or leaping a fourth or more is weighed by ``Style.motion``.
  Bach's alto/tenor/bass strike a new note at about a third of these positions
  (``benchmarks/style_vs_bach.py`` prints the decoder's and Bach's rates as
  ``offbeat_eighth_attacks``); the shipped model alone, at about a third of Bach's rate;
* ``prefer:suspension`` — at a chord onset on a beat where an upper voice can hold a
  prepared note over as a suspension (the mask allows it only when its resolution can be
  written, :func:`~partimento.hybrid.masks.suspension_resolutions`), every other token
  is weighed by ``Style.suspension``. Bach suspends on 6-8% of beats;
* ``prefer:bass-restrike`` — at a chord onset or a beat, the bass striking again the note
  it sounds is weighed by ``Style.restrike``; holding it over (a tie), leaving it by an
  octave or for another note is favoured. Bach's basses repeat a note on 2% of their
  moves, the shipped model's on 9-12% (mostly where two chords share a bass: V-V7, I-vi6,
  I64-V), which is most of the gap between the two bass interval histograms;
* ``prefer:bass-sixteenth`` — on a 16th-note position (neither a beat nor a half beat)
  inside a chord, a new bass note is weighed by ``Style.bass_sixteenth``; holding is
  favoured. So is, at an off-beat eighth before a chord onset, a non-chord tone that
  cannot step (1 or 2 semitones) into the next chord's bass: the rules would let it
  go on only through a 16th (B-A-B-C under V6-I6). That includes the next bass itself
  struck early (C-D under IV6 before V6): the model means to hold it into the chord, an
  anticipation the plan does not allow, so it turns back on the 16th (C-D-C-D); until
  this version it counted as "near" the next bass and was favoured. 1-2% of Bach's
  bass notes are 16ths; the previous checkpoint's 11.5% (harmonized, ``valid``) fell to 7.5%
  with that fixed (composed 6.5 -> 4.2%). With the compact checkpoint the model still
  strikes such notes against the weight 0.1 (it wants to hold them into the next chord,
  hold probability 0.999 and more); 0.03 took its harmonized bass 16ths from 8.9 to 6.8%
  and the composed from 5.1 to 2.9% (0.01: 6.1 and 1.9%, the composed bass moving less),
  every target held, so the weight is now 0.03 (``valid``; ``style_sweep_valid/eleventh_next_bass_fix.json``,
  ``eleventh_compact_rocking003.json`` -> ``eleventh_compact_bass16th003.json``).
* ``prefer:bass-fill`` — at an off-beat eighth before a chord onset on the next beat, when
  the next chord's bass lies a third below the bass that sounds (I -> IV6 or I -> vi: C
  to A), the note between (B, a passing note where the plan layers and the rules allow
  one: diatonic, its pitch class free in the upper voices) is favoured; holding, striking
  again and every other note are weighed by ``Style.bass_fill``. Bach fills such a falling third
  with a passing eighth where the shipped model leaps it on the beat: his basses fall by
  step on 31% of their moves, ours fell on 20% (harmonized) and 26% (composed) of theirs,
  and struck a note at 15-18% of the off-beat eighths against his 36%. The model holds
  there so surely that weights of 0.3 and 0.1 moved the bass's interval overlap with
  Bach's by under a point, hence the small default (still a weight, not a rule). Only
  falling thirds: rising ones were as common as his already. The octave is not the
  planner's (it fixes pitch classes): where the next bass could also be reached by a sixth
  up, the passing note commits the line to the third down.
* ``prefer:inner-sixteenth`` — alto and tenor change notes on beats and half beats, as
  Bach's do. On a 16th-note position inside a chord, a new note (or a rest) that would
  end a note longer than a 16th (a dotted eighth, a double-dotted quarter) is weighed by
  ``Style.inner_sixteenth``; holding is favoured. On a beat or half beat, holding is
  weighed by it where it makes such a value: after a note struck on the 16th before (a
  16th held on), and for a suspension that the resolution layer would then let resolve
  only on the next 16th (held at the half beat of a chord a quarter long, or started at
  the onset of a chord an eighth long): a resolution on the half beat, or no suspension,
  is favoured. Note values other than Bach's usual ones (16th, eighth, quarter, dotted
  quarter, half, dotted half, whole: the benchmark's "other") are 0.1-0.2% of his alto and
  tenor notes and were 0.9-1.0% of ours, dotted eighths 0.0-0.3% of his and up to 2.1% of
  ours (harmonized alto). Most of the late resolutions were the mask's doing: the model
  holds a suspension over the half beat (p about 0.999) and the resolution layer then makes
  it resolve on the last 16th, hence the small weight: on ``valid`` 0.1 took the "other"
  values of alto/tenor from 1.03/1.03% to 0.85/0.63% (harmonized), 0.01-0.001 is a plateau;
  0.003 took them to 0.43/0.45% (harmonized) and from 0.85/0.95% to 0.32/0.39% (composed),
  the dotted eighths from 2.06/1.12% to 1.18/0.68% and from 0.32/0.05% to 0; the bass
  interval overlap went .890 -> .894 (harmonized) and .884 -> .891 (composed), the alto's
  .866 -> .860 and .921 -> .919, beats with a non-chord tone (plan chords) 7.4 -> 6.4% and
  6.3 -> 6.4%. What is left is mostly the look-aheads' doing: a given soprano or the way
  into the next chord that forces an inner voice off its note on the 16th before a beat.
  Not the soprano (given when harmonizing) and not the bass (``prefer:bass-sixteenth``).
* ``prefer:no-rocking`` — where alto or tenor have sounded a, b, a (a != b), striking b
  again (a-b-a-b) or striking a again is weighed by ``Style.rocking``; holding a, stepping on
  or leaping are favoured (:func:`rocking_pitch`). Bach's alto and tenor alternate a-b-a-b in
  about 10% of their notes (notes inside such a run, ``rocking`` in
  ``benchmarks/style_vs_bach.py``), the shipped model's 26-28% of theirs in composed chorales:
  the inner voices rocking between two notes. After a, b, a his alto goes back to b 19% of the
  time and steps on past a 47%; the model went back 43% of the time and stepped on 23%.
  Weighing b alone moved the mass to a struck again (the alto's repeated notes rose, its
  interval overlap with Bach's fell from .883 to .854, harmonized), hence both. Chosen on
  ``valid`` (``benchmarks/results/style_sweep_valid/``, 35 harmonized and 60 composed): with
  0.1 the composed alto/tenor rock on 20/18% of their notes (28/26% without), the harmonized
  on 13/13% (18/16%), every interval overlap stays at .86 or more and the composed ones as
  they were. With the smaller ``chorale-compact`` checkpoint, 0.03 took the composed alto's runs
  from 24 to 19% and its harmonized ones from 16 to 14% with every overlap at .88 or more (the
  same direction with a second checkpoint; 0.01 mixed), so the weight is now 0.03
  (``style_sweep_valid/eleventh_compact_rocking01.json`` -> ``eleventh_compact_rocking003.json``). Not the
  bass: its alternations are mostly the plan's (I-V6-I-V6 fixes its pitch classes), and
  weighing them moved its overlap with Bach's the wrong way; weighing them only inside a chord
  changed little (``style_sweep_valid/README.md``, eleventh session). The soprano, where it is
  not given (composing, infilling), with its own weight ``Style.soprano_rocking`` (0.3 from the
  twelfth session, 0.15 since the fifteenth): the composed soprano rocked on 16% of its notes
  against Bach's 9% (see ``prefer:soprano-motion``), and its passing eighths (``prefer:motion``)
  brought more neighbour figures back.
* ``prefer:soprano-motion`` — where the soprano is not given, at a chord onset: striking its
  note again, holding it over (a tie or a suspension), or leaping a fourth or more is weighed
  by ``Style.soprano_motion`` (0.3); a step or a third on is favoured. Bach's sopranos move by
  step on 72% of their notes and repeat 14%; the composed soprano stepped on 60%, repeated 22%
  and rocked a-b-a-b on 16% (60 composed chorales, ``valid``), its interval histogram the
  furthest from Bach's of the four voices (overlap .867). With this weight and
  ``soprano_rocking`` 0.3: repeats 22 -> 18%, steps 60 -> 62%, rocking 16 -> 13%, overlap
  .867 -> .888, its note values' overlap unchanged (.880 -> .882); weighing only repeats and
  leaps made the soprano hold over instead (note-value overlap .880 -> .850), hence holds too.
  Suspensions in the soprano stayed where they were (1.3% of its notes), the inner voices'
  overlaps moved by at most .02 (``style_sweep_valid/README.md``, twelfth session).
* ``prefer:inner-step`` — alto and tenor at a chord onset: a move of a third or more is weighed
  by ``Style.inner_step`` (0.15); the common tone (held or struck again) and a step are
  favoured, the textbook's "keep common tones, move the others by the shortest way". Onto a
  beat, Bach's tenor in the ``valid`` chorales repeats / steps / moves a third / leaps in
  23 / 56 / 7 / 13% of its notes (alto 25 / 58 / 8 / 9), the harmonized tenor with the
  distilled checkpoint in 19 / 49 / 19 / 13%: thirds where Bach steps, its interval histogram
  the furthest from his of the lower voices (overlap .865). Chosen on ``valid`` from a move of a
  fourth or more / a third or more at 0.5, 0.3, 0.15, 0.08, with a second run (harmonizing
  seed 1, 60 composed pieces) for the best two: with 0.15 the lower voices' mean interval
  overlap rose in all four runs (harmonized .891 -> .896 and .893 -> .900, composed .914 -> .919
  and .917 -> .919), the harmonized tenor's .865 -> .883 and .881 -> .906, the alto's fell a
  little (.901 -> .896, .897 -> .886), the composed soprano's stayed (.865 / .864 -> .864 / .871).
  The thirds do not go away: most are forced by the voices already written at that onset
  (even at 0.08 the harmonized tenor takes a third onto 17% of its beats), so the weight is
  a nudge (``style_sweep_valid/README.md``, fourteenth session).
* ``prefer:motion`` for the soprano (where it is not given): at an off-beat eighth, holding,
  striking again or leaping a fourth or more is weighed by ``Style.soprano_eighth`` (0.35), as
  for the lower voices. Bach's ``valid`` sopranos strike 8.3% of their off-beat eighths and
  move by step on 72% of their notes; the composed soprano struck 3.9-4.1% and stepped on 58%.
  With 0.35 (and ``soprano_rocking`` 0.15), two samples of 60 composed chorales: off-beat
  eighths 3.9 / 4.1 -> 8.2%, steps 59 / 58 -> 64 / 65%, interval overlap with Bach's .863 / .839
  -> .899 / .901, note values' overlap .874 / .877 -> .886 / .875, a-b-a-b runs 12 / 13 -> 16 /
  15% (0.35 alone: 17 / 18%). The thirds onto a beat stay (15 / 17 -> 15 / 15%, Bach 8%): they
  come from the chord tones the plan offers at the onset, not from the eighths. ``Style.soprano_step`` (``prefer:soprano-step``, off):
  a move of a third or more at a chord onset weighed 0.6 made the soprano repeat and rock
  instead (steps 59 -> 60%, repeats 19 -> 21%, overlap .863 -> .856), since a step to a chord
  tone is often not there (``style_sweep_valid/README.md``, fifteenth session).

The strengths were chosen on the ``valid`` split (``benchmarks/results/style_vs_bach_valid.json``
records the run with the defaults; ``benchmarks/results/style_sweep_valid/`` the strengths tried);
like every preference they never forbid a token.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partimento.grammar.rules.masks import PITCH_PC, STEP_OR_MORE, STEP_OR_THIRD
from partimento.grammar.rules.nct import BEAT, HALF_BEAT, OFFBEAT, accent_levels
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST, VOCAB_SIZE

from .grid import GridState
from .lookahead import Reach
from .masks import SUSPENSION_STEPS, PlanTables, all_tokens, suspension_resolutions

__all__ = ["Preferences", "PREFERENCE_IDS", "STYLE_IDS", "PREFERENCE_FACTOR", "Style", "STYLE", "NO_STYLE"]

PREFERENCE_IDS = ("prefer:way-on", "prefer:bass-room", "prefer:room-above", "prefer:cadence-approach",
                  "prefer:motion", "prefer:suspension", "prefer:bass-restrike",
                  "prefer:bass-sixteenth", "prefer:bass-fill", "prefer:inner-sixteenth", "prefer:no-rocking",
                  "prefer:soprano-motion", "prefer:inner-step", "prefer:soprano-step")
STYLE_IDS = ("prefer:motion", "prefer:suspension", "prefer:bass-restrike", "prefer:bass-sixteenth",
             "prefer:bass-fill", "prefer:inner-sixteenth", "prefer:no-rocking", "prefer:soprano-motion",
             "prefer:inner-step", "prefer:soprano-step")  # the calibration
PREFERENCE_FACTOR = 0.01  # weight of a token a preference does not favour
_BASS = 3
_INNER = (1, 2)  # alto, tenor
_ONE = np.ones(VOCAB_SIZE)


@dataclass(frozen=True)
class Style:
    """The style calibration's strengths: weights in (0, 1] of the tokens each does not favour (1: off)."""

    motion: float = 0.15  # a hold, a re-strike or a leap of a fourth or more at an off-beat eighth in alto, tenor, bass
    suspension: float = 0.6  # every token but the suspending hold where a suspension can start on a beat
    restrike: float = 0.02  # the bass striking its sounding note again at a chord onset or a beat
    bass_sixteenth: float = 0.03  # a new bass note on a 16th position; a half-beat note that goes on only in 16ths
    bass_fill: float = 0.005  # anything but the passing note at a half beat before a bass a third below
    inner_sixteenth: float = 0.003  # alto, tenor: a note ended on a 16th position unless it is a 16th; the hold at a
    # beat or half beat of a note struck on the 16th before, or of a suspension that could then resolve only on the 16th
    rocking: float = 0.03  # alto, tenor after a, b, a: b again (a-b-a-b) or a struck again
    bass_motion: float | None = None  # ``prefer:motion`` for the bass alone; None: ``motion``, as for alto and tenor
    soprano_rocking: float = 0.15  # ``rocking`` for the soprano (where it is not given: composing, infilling)
    soprano_motion: float = 0.3  # the soprano at a chord onset: striking its note again, holding it over, a leap of a
    # fourth or more (where it is not given)
    inner_step: float = 0.15  # alto, tenor at a chord onset: a move of a third or more (a common tone held or struck
    # again, or a step, is favoured)
    soprano_step: float = 1.0  # the soprano at a chord onset: a move of a third or more (where it is not given; off:
    # tried on valid, it made the soprano repeat and rock instead)
    soprano_eighth: float = 0.35  # ``prefer:motion`` for the soprano (where it is not given)

    def __post_init__(self) -> None:
        for name in ("motion", "suspension", "restrike", "bass_sixteenth", "bass_fill", "inner_sixteenth", "rocking",
                     "bass_motion", "soprano_rocking", "soprano_motion", "inner_step",
                     "soprano_step", "soprano_eighth"):
            x = getattr(self, name)
            if x is None and name == "bass_motion":
                continue
            if not 0 < x <= 1:
                raise ValueError(f"a style weight must lie in (0, 1], got {name}={x}")

    def motion_of(self, voice: int) -> float:
        """``prefer:motion``'s weight for ``voice`` (the soprano has its own, the bass may have)."""
        if voice == 0:
            return self.soprano_eighth
        return self.bass_motion if voice == _BASS and self.bass_motion is not None else self.motion


STYLE = Style()  #: the default calibration (chosen on the valid split)
NO_STYLE = Style(motion=1.0, suspension=1.0, restrike=1.0, bass_sixteenth=1.0, bass_fill=1.0, inner_sixteenth=1.0,
                 rocking=1.0, soprano_rocking=1.0, soprano_motion=1.0, inner_step=1.0, soprano_step=1.0,
                 soprano_eighth=1.0)  #: the model as it is


def _moving_on(candidates: np.ndarray, prev: int) -> np.ndarray:
    """bool[V]: False for the candidates that do not move on from ``prev`` by a step or a third (holding it,
    striking it again, leaping a fourth or more): ``prefer:motion``'s and ``prefer:soprano-motion``'s shape."""
    fav = all_tokens()
    fav[PITCH_OFFSET:] = ~candidates[PITCH_OFFSET:] | STEP_OR_THIRD[prev]
    fav[HOLD] = not candidates[HOLD]
    return fav


class Preferences:
    """Per position: a float[V] of weights (1 favoured, ``factor`` not), or None where no preference speaks."""

    def __init__(self, tables: PlanTables, reach: Reach | None, factor: float = PREFERENCE_FACTOR,
                 style: Style | bool = True) -> None:
        if not 0 < factor <= 1:
            raise ValueError(f"a preference factor must lie in (0, 1], got {factor}")
        self.tables, self.reach, self.factor = tables, reach, factor
        self.style = STYLE if style is True else NO_STYLE if style is False else style
        self._before = np.zeros(tables.steps, bool)  # the step before an onset (inside a chord)
        self._before[:-1] = tables.onset[1:] & (tables.chord_index[:-1] >= 0) & (tables.chord_index[1:] >= 0)
        self._barred = self._cadence_bars()
        metre = self._metre()
        self._offbeat_eighth, self._beat_onset, self._bass_beat, self._sixteenth = self._metric_positions(*metre)
        self._inner_sixteenth, self._inner_even, self._struck_sixteenth = self._inner_positions(*metre)
        self._eighth_to_onset = np.zeros(tables.steps, bool)  # an off-beat eighth whose next beat is a chord onset
        self._eighth_to_onset[:-2] = self._offbeat_eighth[:-2] & tables.onset[2:] & (tables.chord_index[2:] >= 0)

    def _metre(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(inside, accent, quarter_beats): bool[T] steps inside a chord (not a fermata's hold), int8[T] the
        metric accent of each step, and whether the metre's beat is a quarter note."""
        tables = self.tables
        plan = tables.plan
        inside = (tables.chord_index >= 0) & ~tables.fermata_hold
        beat = plan.metre_obj.grid_positions(tables.steps, plan.pickup)[1]
        acc = accent_levels(beat, plan.metre_obj) if tables.steps else np.zeros(0, np.int8)
        return inside, acc, plan.metre_obj.beat_quarters == 1

    def _metric_positions(self, inside: np.ndarray, acc: np.ndarray,
                          quarter_beats: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bool[T] x 4): off-beat eighths inside a chord (quarter-note beats only), chord onsets on a beat,
        chord onsets or beats inside a chord (``prefer:bass-restrike``), 16th-note positions inside a chord."""
        tables = self.tables
        offbeat = inside & ~tables.onset & (acc == HALF_BEAT) & quarter_beats
        onset = inside & tables.onset & (acc >= BEAT)
        bass_beat = inside & (tables.onset | (acc >= BEAT))
        sixteenth = inside & ~tables.onset & (acc == OFFBEAT)
        return offbeat, onset, bass_beat, sixteenth

    def _inner_positions(self, inside: np.ndarray, acc: np.ndarray,
                         quarter_beats: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bool[T] x 3) for ``prefer:inner-sixteenth`` (quarter-note beats only): 16th positions inside a chord,
        beats and half beats inside a chord whose previous step is a 16th position, and the 16th positions
        themselves (chord or none: where a note struck makes an odd value unless it lasts one step)."""
        tables = self.tables
        sixteenth = (acc == OFFBEAT) & quarter_beats
        after = np.zeros(tables.steps, bool)
        after[1:] = sixteenth[:-1]
        return inside & ~tables.onset & sixteenth, inside & ~sixteenth & after, sixteenth

    def active(self, g: GridState, t: int, v: int) -> bool:
        """Whether any preference may speak at (t, v) (cheap: the decoder's sure-hold shortcut reads it)."""
        return ((bool(self._before[t]) and self.reach is not None)
                or (self._rocking_of(v) < 1 and v < _BASS and rocking_pitch(g, t, v) >= 0)
                or (v == 0 and self.style.soprano_motion < 1 and bool(self.tables.onset[t]) and t > 0)
                or (self._step_of(v) < 1 and bool(self.tables.onset[t]) and t > 0)
                or (self.style.motion_of(v) < 1 and bool(self._offbeat_eighth[t]))
                or (self.style.suspension < 1 and v < _BASS and bool(self._beat_onset[t]))
                or (v == _BASS and ((self.style.restrike < 1 and bool(self._bass_beat[t]))
                                    or (self.style.bass_sixteenth < 1
                                        and bool(self._sixteenth[t] or self._eighth_to_onset[t]))
                                    or (self.style.bass_fill < 1 and bool(self._eighth_to_onset[t]))))
                or (self.style.inner_sixteenth < 1 and v in _INNER
                    and bool(self._inner_sixteenth[t] or self._inner_even[t])))

    def _rocking_of(self, v: int) -> float:
        return self.style.soprano_rocking if v == 0 else self.style.rocking

    def _step_of(self, v: int) -> float:
        """``prefer:inner-step``'s weight for alto and tenor, ``prefer:soprano-step``'s for the soprano (1: the bass)."""
        return self.style.inner_step if v in _INNER else self.style.soprano_step if v == 0 else 1.0

    def favoured(self, g: GridState, t: int, v: int, candidates: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(id, bool[V]) for each preference that speaks at (t, v): False where it does not favour a candidate.

        Only the ``candidates`` (bool[V], the legal tokens) are judged; a preference's
        word on a token the mask removes would change nothing, so it is left at True.
        """
        return [(name, fav) for name, fav, _ in self._spoken(g, t, v, candidates)]

    def _spoken(self, g: GridState, t: int, v: int, candidates: np.ndarray) -> list[tuple[str, np.ndarray, float]]:
        """(id, favoured bool[V], weight of the tokens it does not favour) per preference that speaks."""
        if not self.active(g, t, v):
            return []
        out = self._style(g, t, v, candidates)
        if not (self._before[t] and self.reach is not None):
            return out
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
            fav = all_tokens()
            for p in pitches:
                if not judge(p):
                    if candidates[PITCH_OFFSET + p]:
                        fav[PITCH_OFFSET + p] = False
                    if p == prev and candidates[HOLD]:
                        fav[HOLD] = False
            out.append((name, fav, self.factor))
        return out

    def _style(self, g: GridState, t: int, v: int, candidates: np.ndarray) -> list[tuple[str, np.ndarray, float]]:
        """The style calibration at (t, v): ``prefer:motion``, ``prefer:suspension``, the bass's three, the inner voices'.

        A token's weight depends on the position alone, never on which other tokens are
        candidates (so :meth:`weight_of` of one token is its weight in the full mask, as the
        decoder's sure shortcut needs); a preference speaks where it disfavours a candidate.
        """
        out = []
        if self.style.motion_of(v) < 1 and self._offbeat_eighth[t]:
            prev = g.previous(t, v)
            if prev >= 0:
                fav = _moving_on(candidates, prev)
                if not fav.all():
                    out.append(("prefer:motion", fav, self.style.motion_of(v)))
        if self.style.suspension < 1 and v < _BASS and self._beat_onset[t] and t > 0:
            fav = ~candidates
            fav[HOLD] = True
            if not fav.all() and suspension_resolutions(self.tables, g, t, v):
                out.append(("prefer:suspension", fav, self.style.suspension))
        if self.style.restrike < 1 and v == _BASS and self._bass_beat[t] and t > 0:
            prev = g.previous(t, v)
            if prev >= 0 and candidates[PITCH_OFFSET + prev]:
                fav = all_tokens()
                fav[PITCH_OFFSET + prev] = False
                out.append(("prefer:bass-restrike", fav, self.style.restrike))
        if self.style.bass_sixteenth < 1 and v == _BASS and (self._sixteenth[t] or self._eighth_to_onset[t]):
            fav = all_tokens()
            if self._sixteenth[t]:  # any new note
                fav[PITCH_OFFSET:] = ~candidates[PITCH_OFFSET:]
            else:  # a non-chord tone that cannot step into the next chord's bass on the beat
                ch = self.tables.chords[int(self.tables.chord_index[t])]
                nxt = self.tables.chords[int(self.tables.chord_index[t + 2])]
                at = PITCH_PC == nxt.spec.bass  # the next bass struck early turns back on the 16th (see above)
                near = (np.convolve(at, np.ones(5), mode="same") > 0) & ~at  # a step (1 or 2 semitones) from it
                fav[PITCH_OFFSET:] = ~candidates[PITCH_OFFSET:] | ch.members[PITCH_PC] | near
            if not fav.all():
                out.append(("prefer:bass-sixteenth", fav, self.style.bass_sixteenth))
        if self.style.bass_fill < 1 and v == _BASS and self._eighth_to_onset[t]:
            between = self._fill(g, t)
            if between is not None:
                fav = ~candidates
                fav[PITCH_OFFSET:] |= between
                if not fav.all():
                    out.append(("prefer:bass-fill", fav, self.style.bass_fill))
        if self.style.inner_sixteenth < 1 and v in _INNER and t > 0 and g.previous(t, v) >= 0:
            start = int(g.start[t - 1, v])  # where the sounding note was struck
            fav = None
            if self._inner_sixteenth[t] and start != t - 1:  # it would end on a 16th and not be a 16th
                fav = all_tokens()
                fav[REST:] = ~candidates[REST:]
            elif self._inner_even[t] and ((start == t - 1 and self._struck_sixteenth[start])  # a 16th going on
                                          or self._late_resolution(g, t, v, start)):
                fav = all_tokens()
                fav[HOLD] = not candidates[HOLD]
            if fav is not None and not fav.all():
                out.append(("prefer:inner-sixteenth", fav, self.style.inner_sixteenth))
        if v == 0 and self.style.soprano_motion < 1 and self.tables.onset[t] and t > 0:
            prev = g.previous(t, v)
            if prev >= 0:
                fav = _moving_on(candidates, prev)  # as prefer:motion's, at the chord onset
                if not fav.all():
                    out.append(("prefer:soprano-motion", fav, self.style.soprano_motion))
        step_weight = self._step_of(v)
        if step_weight < 1 and self.tables.onset[t] and t > 0:
            prev = g.previous(t, v)
            if prev >= 0:
                fav = all_tokens()
                fav[PITCH_OFFSET:] = ~candidates[PITCH_OFFSET:] | ~STEP_OR_MORE[prev]  # the common tone again, a step
                if not fav.all():
                    out.append(("prefer:inner-step" if v else "prefer:soprano-step", fav, step_weight))
        if self._rocking_of(v) < 1 and v < _BASS:
            back = rocking_pitch(g, t, v)
            if back >= 0:
                fav = all_tokens()
                for pitch in (back, g.previous(t, v)):  # b again, or a struck again: step on, leap, or hold a
                    fav[PITCH_OFFSET + pitch] = not candidates[PITCH_OFFSET + pitch]
                if not fav.all():
                    out.append(("prefer:no-rocking", fav, self._rocking_of(v)))
        return out

    def _late_resolution(self, g: GridState, t: int, v: int, start: int) -> bool:
        """Holding voice ``v`` at ``t`` (a beat or half beat) commits it to resolve a suspension on the next 16th.

        The plan's resolution layer holds a suspension at most :data:`~partimento.hybrid.masks.SUSPENSION_STEPS`
        sixteenths into its chord and never to its last step. So a suspension that starts at
        the onset of a chord an eighth long resolves on its 16th, and one still held at the
        half beat of a chord that ends on the next beat resolves on the last 16th (the dotted
        eighth; the double-dotted quarter after a half-note preparation): Bach resolves on a
        beat or half beat.
        """
        if t + 1 >= self.tables.steps or not self._inner_sixteenth[t + 1]:
            return False
        ch = self.tables.chord_at(t)
        if ch is None:
            return False
        if t == ch.onset:  # a suspension would start in a chord an eighth long
            return ch.end - t == 2 and bool(suspension_resolutions(self.tables, g, t, v))
        if not g.nct[t - 1, v] or not start < ch.onset:  # no suspension held over from the chord before
            return False
        return not (t + 1 - ch.onset < SUSPENSION_STEPS and t + 2 < ch.end)  # the hold at t + 1 not allowed

    def _fill(self, g: GridState, t: int) -> np.ndarray | None:
        """bool[128]: the notes that fill a falling third from the sounding bass to the next chord's (None: no third).

        At ``t`` (an off-beat eighth whose next beat is a chord onset): the pitches strictly
        between the bass now and the next chord's bass pitch class a third (3-4 semitones)
        below it, each a step (1-2 semitones) from that note.
        """
        prev = g.previous(t, _BASS)
        if prev < 0:
            return None
        nxt = self.tables.chords[int(self.tables.chord_index[t + 2])]
        gap = (prev - nxt.spec.bass) % 12
        if gap not in (3, 4):
            return None
        target = prev - gap
        out = np.zeros(128, bool)
        for p in range(max(target + 1, prev - 2), prev):
            out[p] = p - target <= 2
        return out

    def weights(self, g: GridState, t: int, v: int, candidates: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
        """(float[V] weights or None, ids of the preferences that spoke) over the ``candidates``."""
        spoke = self._spoken(g, t, v, candidates)
        if not spoke:
            return None, []
        w = _ONE.copy()
        for _, fav, factor in spoke:
            w[~fav] *= factor
        return w, [name for name, _, _ in spoke]

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


def rocking_pitch(g: GridState, t: int, v: int) -> int:
    """The pitch whose attack at (t, v) would alternate a fourth time between two pitches (-1: none).

    Voice ``v``'s last three notes before step ``t`` (rests end the history) read a, b, a
    with a != b: striking b now makes a-b-a-b. Read from the grid's note starts, so a
    re-struck note counts as a note of its own (a-a-b-a is no alternation).
    """
    if t == 0:
        return -1
    a, s1 = int(g.pitch[t - 1, v]), int(g.start[t - 1, v])
    if a < 0 or s1 <= 0:
        return -1
    b, s2 = int(g.pitch[s1 - 1, v]), int(g.start[s1 - 1, v])
    if b < 0 or b == a or s2 <= 0:
        return -1
    return b if int(g.pitch[s2 - 1, v]) == a else -1
