"""compose, realize, harmonize, infill: plans in, rule-abiding four-part music out.

Each function gathers a plan (sampled, given, proposed for a melody, or read from the
score being edited), optional forced tokens (the melody; everything outside an infill
span), opens a model session on the plan's conditioning and runs the constrained
decoder. The checker then judges the result with the same rules that masked it, and
the verdict travels with the :class:`~partimento.hybrid.result.Result`.
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from partimento.grammar.errors import InputError, Location, SearchExhausted, UnsatisfiableError
from partimento.grammar.plan import Plan
from partimento.grammar.theory import key_info

from .decode import Decoded, Sampling, decode
from .result import Result

__all__ = ["compose", "realize", "harmonize", "infill", "load_default_model", "hard_rules_for", "report_for"]

_PLAN_SEED_STRIDE = 100_003  # plan seeds of later draws: seed + stride * draw

_SAMPLING_KEYS = {"temperature", "top_p", "strategy", "beam", "constraints", "max_backtrack_steps", "max_retries", "style"}


@lru_cache(maxsize=4)
def load_default_model(checkpoint: str | None = None):
    """The model for ``checkpoint`` (None: the shipped one), loaded once per process."""
    from partimento.neural.checkpoint import load_model

    return load_model(checkpoint)


def hard_rules_for(profile: str = "strict") -> list:
    """The checker's hard rules for ``profile`` (their decoder faces become masks)."""
    from partimento.grammar.rules import hard_rules

    return list(hard_rules(profile))


def report_for(pitch: np.ndarray, attack: np.ndarray, plan: Plan, profile: str = "strict"):
    """The checker's report on a decoded grid, with the plan's keys and chords as context."""
    from partimento.grammar.rules import check_arrays, sonorities_from_grid
    from partimento.grammar.rules.base import Context

    son = sonorities_from_grid(pitch, attack, plan.metre, plan.pickup)
    chords, keys = [], []
    fermata = np.zeros(len(son), bool)
    for i, off in enumerate(son.offset):
        c = plan.chord_at(float(off))
        chords.append(c.spec if c is not None else None)
        keys.append(key_info(c.key if c is not None else plan.key))
        fermata[i] = bool(c is not None and c.fermata)
    son.fermata = fermata
    from partimento.grammar.rules.nct import accent_levels

    return check_arrays(son, Context(keys=keys, chords=chords, accent=accent_levels(son.beat, plan.metre)), profile)


def _check_seed(seed: Any) -> int:
    """Seeds are whole numbers from 0 to 2**63 - 1 (what numpy's and torch's generators take)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
        raise InputError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed!r}")
    return int(seed)


def _split_sampling(kwargs: dict[str, Any]) -> Sampling:
    unknown = set(kwargs) - _SAMPLING_KEYS
    if unknown:
        raise InputError(f"unknown sampling option(s): {', '.join(sorted(unknown))}", expected=sorted(_SAMPLING_KEYS))
    return Sampling(**kwargs)


def _run(plan: Plan, seed: int, sampling: Sampling, *, model=None, checkpoint: str | None = None,
         profile: str = "strict", forced: np.ndarray | None = None, rules: Sequence | None = None,
         check: bool = True, record: bool = False) -> tuple[Decoded, Any, Plan, dict]:
    """Decode ``plan`` (its open inversions fixed first by the bass-line planner).

    Returns the decoding, the checker's report, the plan used and the provenance that
    regenerates it (seed, sampling, profile, rules, checkpoint id, given notes).
    """
    from dataclasses import asdict

    from partimento.neural.conditioning import plan_conditioning

    from .bass_line import plan_bass_line, soprano_from_tokens
    from .explain_file import checkpoint_id

    seed = _check_seed(seed)
    plan.validate()
    plan = plan_bass_line(plan, soprano_from_tokens(forced[:, 0]) if forced is not None else None)
    ckpt = getattr(model, "checkpoint_id", None) if model is not None else checkpoint_id(checkpoint)
    if model is None:
        model = load_default_model(str(checkpoint) if checkpoint else None)
    if rules is None:
        rules = hard_rules_for(profile) if sampling.constraints else []
    session = model.session(plan_conditioning(plan))
    dec = decode(session, plan, rules, seed=seed, sampling=sampling, forced=forced, record=record)
    report = report_for(dec.pitch, dec.attack, plan, profile) if check else None
    provenance = {"seed": seed, "sampling": asdict(sampling), "profile": profile, "rules": [r.id for r in rules],
                  "checkpoint": ckpt, "forced": forced}
    return dec, report, plan, provenance


def realize(plan: Plan | str | Path, seed: int = 0, *, model=None, checkpoint: str | None = None,
            profile: str = "strict", rules: Sequence | None = None, check: bool = True, record: bool = False,
            **sampling: Any) -> Result:
    """Four voices for a given plan (a :class:`Plan`, or a ``.rntxt`` / ``.json`` path).

    ``sampling`` takes the fields of :class:`~partimento.hybrid.decode.Sampling`
    (temperature, top_p, strategy, beam, constraints, ...). ``model`` overrides the
    checkpoint (tests pass a fake). Chords whose inversion the plan leaves open are fixed
    first for the bass line (:func:`~partimento.hybrid.bass_line.plan_bass_line`); the
    result's plan shows the figures chosen. Raises ``UnsatisfiableError`` (exit 3) when the
    plan cannot be realized under the hard rules.
    """
    if not isinstance(plan, Plan):
        plan = Plan.read(plan)
    s = _split_sampling(sampling)
    dec, report, plan, prov = _run(plan, seed, s, model=model, checkpoint=checkpoint, profile=profile, rules=rules,
                                   check=check, record=record)
    return Result(plan, dec.tokens, dec.pitch, dec.attack, report, dict(dec.stats, seed=seed), trace=dec.trace,
                  provenance=prov)


def compose(grammar: str = "chorale", key: str = "C", bars: int = 16, seed: int = 0, *,
            metre: str | None = None, model=None, checkpoint: str | None = None, profile: str = "strict",
            check: bool = True, max_plan_draws: int = 10, record: bool = False, **sampling: Any) -> Result:
    """Sample a plan from ``grammar`` (a shipped name or a ``.lark`` path) and realize it.

    A sampled plan the rules cannot realize (an ``UnsatisfiableError``) is replaced by the
    next plan of the same seed's stream, up to ``max_plan_draws``; ``result.stats
    ["plan_draws"]`` says how many were drawn and ``result.warnings`` says so when more
    than one. The same seed always gives the same result.
    """
    from partimento.grammar import load

    if bars <= 0:
        raise InputError(f"bars must be a positive number, got {bars}")
    seed = _check_seed(seed)
    g = load(grammar)
    kwargs = {"key": key, "bars": bars}
    if metre is not None:
        kwargs["metre"] = metre
    last: UnsatisfiableError | None = None
    failures: list[str] = []
    for draw in range(max_plan_draws):
        plan_seed = seed if draw == 0 else seed + _PLAN_SEED_STRIDE * draw
        plan = g.sample(seed=plan_seed, **kwargs)
        try:
            result = realize(plan, seed=seed, model=model, checkpoint=checkpoint, profile=profile, check=check,
                             record=record, **sampling)
        except UnsatisfiableError as e:
            last = e
            failures.append(e.describe())
            continue
        result.stats["plan_draws"] = draw + 1
        result.stats["unrealized_plans"] = failures
        if draw:
            result.warnings.append(f"the first {draw} plan(s) drawn with seed {seed} could not be realized under "
                                   f"the {profile} rules; this is plan draw {draw + 1} (plan seed {plan_seed})")
        return result
    raise last  # type: ignore[misc]


def harmonize(melody: Any, key: str | None = None, grammar: str = "harmony", seed: int = 0, *,
              plan: Plan | str | Path | None = None, model=None, checkpoint: str | None = None,
              profile: str = "strict", check: bool = True, max_plan_draws: int = 12, record: bool = False,
              **sampling: Any) -> Result:
    """Keep ``melody`` (a path or music21 stream) as the soprano and write alto, tenor, bass.

    The melody's pitches, rhythm, pickup and ties are kept exactly (transposed by whole
    octaves only when it lies outside the profile's soprano range, with a warning). Its key
    comes from ``key``, else from its key signature and notes (:mod:`partimento.hybrid.melody`);
    its phrases from fermatas, rests, breath marks or long notes. A plan — local keys,
    chords and inversions per beat or half beat, cadences — is found by the harmonic search
    (:mod:`partimento.hybrid.harmony`), or taken from ``plan`` (a :class:`Plan` or a
    ``.rntxt`` / ``.json`` file, e.g. one written with ``--plan-out`` and edited), and the
    lower voices are decoded under the rules with the soprano tokens forced. When the
    search runs out of its backtracking budget on a plan, it starts again from a seed
    derived from ``seed`` (:data:`HARMONIZE_RESTARTS` times) before the plan is given up;
    when a plan dead-ends, the next-best plan (avoiding the chords around the dead end) is
    tried, up to ``max_plan_draws`` (12: the folk tune dva0#62 of ``hybrid_guarantees.py``
    found its plan at the 9th). ``result.stats["plan_draws"]`` says how many plans
    were drawn, ``["search_restarts"]`` how many fresh starts were made.
    """
    from .harmony import propose_plans
    from .melody import read_melody

    mel = read_melody(melody, key, profile=profile)
    for w in mel.warnings:
        warnings.warn(w, stacklevel=2)
    s = _split_sampling(sampling)
    forced = np.full((mel.steps, 4), -1, np.int64)
    forced[:, 0] = mel.tokens
    if plan is not None:
        given = _plan_for_melody(plan if isinstance(plan, Plan) else Plan.read(plan), mel)
        (dec, report, given, prov), restarts = _run_restarting(
            given, seed, HARMONIZE_RESTARTS, s, model=model, checkpoint=checkpoint, profile=profile, forced=forced,
            check=check, record=record)
        return Result(given, dec.tokens, dec.pitch, dec.attack, report,
                      dict(dec.stats, seed=seed, plan_draws=1, search_restarts=restarts),
                      list(mel.warnings), spellings={(0, t): n for t, n in mel.spellings.items()}, trace=dec.trace,
                      provenance=prov)
    last: UnsatisfiableError | None = None
    failures: list[str] = []
    search_restarts = 0
    for draw, (proposal, feedback) in enumerate(propose_plans(mel, grammar=grammar, seed=seed)):
        if draw >= max_plan_draws:
            break
        try:  # a search out of budget starts again before the plan is given up (HARMONIZE_RESTARTS)
            (dec, report, proposal, prov), restarts = _run_restarting(
                proposal, seed, HARMONIZE_RESTARTS, s, model=model, checkpoint=checkpoint, profile=profile,
                forced=forced, check=check, record=record)
            search_restarts += restarts
        except UnsatisfiableError as e:
            search_restarts += HARMONIZE_RESTARTS if isinstance(e, SearchExhausted) else 0
            last = e
            failures.append(e.describe())
            feedback.failed_at(_step_of(e, proposal), e.location.voice if e.location is not None else None)
            continue
        notes = list(mel.warnings)
        if draw:
            notes.append(f"the first {draw} proposed plan(s) could not be realized under the {profile} rules; "
                         f"this is plan {draw + 1}")
        return Result(proposal, dec.tokens, dec.pitch, dec.attack, report,
                      dict(dec.stats, seed=seed, plan_draws=draw + 1, unrealized_plans=len(failures),
                           search_restarts=search_restarts), notes,
                      spellings={(0, t): n for t, n in mel.spellings.items()}, trace=dec.trace, provenance=prov)
    if last is None:
        raise UnsatisfiableError("the harmonic search found no plan for this melody", Location(file=mel.source))
    raise last


def _step_of(e: UnsatisfiableError, plan: Plan) -> int | None:
    """The grid step of an error's measure and beat (None when it names none)."""
    from partimento.grammar.metre import STEPS_PER_QUARTER

    if e.location.measure is None:
        return None
    off = plan.metre_obj.offset(e.location.measure, e.location.beat or 1.0, plan.pickup)
    return int(round(float(off) * STEPS_PER_QUARTER))


def _plan_for_melody(plan: Plan, mel) -> Plan:
    """A given plan checked against the melody (same metre, pickup and length); fermatas follow the melody."""
    from partimento.grammar.metre import STEPS_PER_QUARTER

    plan.validate()
    where = Location(file=mel.source)
    if plan.metre == mel.metre and abs(plan.pickup - mel.pickup) < 1e-9 and plan.steps < mel.steps:
        plan.bars = mel.bars  # RomanText does not say how long the last chord lasts: to the end of the melody
        plan.chords[-1].duration = plan.length - plan.chords[-1].onset
        if plan.phrases:
            plan.phrases[-1].end = plan.length
    if plan.metre != mel.metre or abs(plan.pickup - mel.pickup) > 1e-9 or plan.steps != mel.steps:
        raise InputError(f"the plan ({plan.bars} bars of {plan.metre}, pickup {plan.pickup:g}) does not fit the "
                         f"melody ({mel.bars} bars of {mel.metre}, pickup {mel.pickup:g})", where,
                         hint="Write the plan for this melody with --plan-out, edit it, and pass it back with --plan.")
    if plan.chords[0].onset > 1e-9 or abs(plan.chords[-1].end - plan.length) > 1e-6:
        raise InputError("the plan's chords must cover the melody from its first to its last beat", where)
    q = STEPS_PER_QUARTER
    for c in plan.chords:
        a, b = int(round(c.onset * q)), int(round(c.end * q))
        c.fermata = any(a <= f < b for f in mel.fermata_steps) or c.fermata
    return plan


#: Fresh starts an infill makes, each from a seed derived from the caller's, when the search runs out of budget.
INFILL_RESTARTS = 3
#: Fresh starts harmonize makes on one proposed plan when the search runs out of budget, before the next plan.
HARMONIZE_RESTARTS = 1


def _restart_seeds(seed: int, restarts: int = INFILL_RESTARTS) -> list[int]:
    """The caller's seed, then ``restarts`` seeds derived from it (deterministic)."""
    seed = _check_seed(seed)
    return [seed] + [(seed + 1_000_003 * k) % 2**63 for k in range(1, restarts + 1)]


def _run_restarting(plan: Plan, seed: int, restarts: int, sampling: Sampling, **kw: Any
                    ) -> tuple[tuple[Decoded, Any, Plan, dict], int]:
    """:func:`_run`, started again from seeds derived from ``seed`` when the search runs out of its
    backtracking budget (:class:`SearchExhausted`: the plan may still be realizable, the walk was
    unlucky); (what ``_run`` returns, fresh starts used). Raises the last SearchExhausted, and any other
    UnsatisfiableError at once (a plan the rules cannot realize stays so whatever the seed)."""
    last: SearchExhausted | None = None
    for attempt, attempt_seed in enumerate(_restart_seeds(seed, restarts)):
        try:
            return _run(plan, attempt_seed, sampling, **kw), attempt
        except SearchExhausted as e:
            last = e
    assert last is not None
    raise last


def infill(score: Any, measures: tuple[int, int] = (3, 4), voices: Sequence[str] = ("alto", "tenor"),
           seed: int = 0, *, model=None, checkpoint: str | None = None, profile: str = "strict",
           check: bool = True, record: bool = False, **sampling: Any) -> Result:
    """Rewrite ``voices`` in ``measures`` (inclusive, as printed), keeping everything else note for note.

    ``score`` is a :class:`Result`, a music21 score or a path (MusicXML and anything the
    checker reads, or a result ``.json``). Its harmony is its own plan when it carries one
    (a Result, or partimento's Roman numerals under the bass), else the harmonizer's
    analysis of its four voices (:mod:`partimento.hybrid.infill_span`). Only a window
    around the span is decoded; the joins into and out of the span obey the same rules.
    The whole result is checked: ``result.errors`` can only hold violations the kept notes
    already make (they are named in ``result.warnings``).
    """
    from .infill_span import decode_window, forced_outside, grid_of_score, kept_spellings, span_steps

    grid = grid_of_score(score)
    for v in voices:
        if v not in ("soprano", "alto", "tenor", "bass"):
            raise InputError(f"unknown voice {v!r}", expected=["soprano", "alto", "tenor", "bass"])
    forced = forced_outside(grid, measures, voices)
    start, stop = span_steps(grid.plan, measures, grid.file)
    s = _split_sampling(sampling)

    def run(win: Plan, wf: np.ndarray) -> Decoded:
        # The kept notes fix the plan, so a search that runs out of budget cannot redraw it as compose
        # does: it starts again from seeds derived from the caller's (the same seed, the same attempts).
        try:
            (dec, *_), attempt = _run_restarting(win, seed, INFILL_RESTARTS, s, model=model, checkpoint=checkpoint,
                                                 profile=profile, forced=wf, check=False, record=record)
        except SearchExhausted as e:
            raise SearchExhausted(e.message, e.location, rules=e.rules,
                                  hint=f"infill started again from {INFILL_RESTARTS} seeds derived from seed {seed} "
                                       f"as well. Try another span, other voices, or a looser rule profile.") from None
        dec.stats["search_restarts"] = attempt
        return dec

    tokens, stats, trace = decode_window(grid.plan, forced, start, stop, run, original=grid.tokens, profile=profile)
    from partimento.neural.encoding import PITCH_OFFSET, sounding_pitches

    pitch = sounding_pitches(tokens).astype(np.int16)
    attack = tokens >= PITCH_OFFSET
    report = report_for(pitch, attack, grid.plan, profile) if check else None
    notes = list(grid.warnings)
    if report is not None:
        errors = [v for v in report.violations if getattr(v.severity, "value", v.severity) == "error"]
        if errors:
            notes.append(f"{len(errors)} {profile} error(s) lie in the notes kept from the input: "
                         + "; ".join(f"measure {v.measure}, beat {v.beat:g} ({', '.join(v.voices)}): {v.rule}"
                                     for v in errors[:10]) + (" …" if len(errors) > 10 else ""))
    return Result(grid.plan, tokens, pitch, attack, report, dict(stats, seed=seed, plan_source=grid.plan_source),
                  notes, spellings=kept_spellings(grid, tokens, start, stop, voices), trace=trace)
