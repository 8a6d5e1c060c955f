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

from partimento.grammar.errors import InputError, UnsatisfiableError
from partimento.grammar.plan import Plan
from partimento.grammar.theory import key_info

from .decode import Decoded, Sampling, decode
from .result import Result

__all__ = ["compose", "realize", "harmonize", "infill", "load_default_model", "hard_rules_for", "report_for"]

_PLAN_SEED_STRIDE = 100_003  # plan seeds of later draws: seed + stride * draw

_SAMPLING_KEYS = {"temperature", "top_p", "strategy", "beam", "constraints", "max_backtrack_steps", "max_retries"}


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
    return check_arrays(son, Context(keys=keys, chords=chords), profile)


def _split_sampling(kwargs: dict[str, Any]) -> Sampling:
    unknown = set(kwargs) - _SAMPLING_KEYS
    if unknown:
        raise InputError(f"unknown sampling option(s): {', '.join(sorted(unknown))}", expected=sorted(_SAMPLING_KEYS))
    return Sampling(**kwargs)


def _run(plan: Plan, seed: int, sampling: Sampling, *, model=None, checkpoint: str | None = None,
         profile: str = "strict", forced: np.ndarray | None = None, rules: Sequence | None = None,
         check: bool = True, record: bool = False) -> tuple[Decoded, Any, dict]:
    """Decode ``plan``; return the decoding, the checker's report and the provenance that regenerates it."""
    from dataclasses import asdict

    from partimento.neural.conditioning import plan_conditioning

    from .explain_file import checkpoint_id

    plan.validate()
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
    return dec, report, provenance


def realize(plan: Plan | str | Path, seed: int = 0, *, model=None, checkpoint: str | None = None,
            profile: str = "strict", rules: Sequence | None = None, check: bool = True, record: bool = False,
            **sampling: Any) -> Result:
    """Four voices for a given plan (a :class:`Plan`, or a ``.rntxt`` / ``.json`` path).

    ``sampling`` takes the fields of :class:`~partimento.hybrid.decode.Sampling`
    (temperature, top_p, strategy, beam, constraints, ...). ``model`` overrides the
    checkpoint (tests pass a fake). Raises ``UnsatisfiableError`` (exit 3) when the plan
    cannot be realized under the hard rules.
    """
    if not isinstance(plan, Plan):
        plan = Plan.read(plan)
    s = _split_sampling(sampling)
    dec, report, prov = _run(plan, seed, s, model=model, checkpoint=checkpoint, profile=profile, rules=rules,
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
              model=None, checkpoint: str | None = None, profile: str = "strict", check: bool = True,
              max_plan_draws: int = 6, record: bool = False, **sampling: Any) -> Result:
    """Keep ``melody`` (a path or music21 stream) as the soprano and write alto, tenor, bass.

    The melody's pitches, rhythm, pickup and ties are kept exactly (transposed by whole
    octaves only when it lies outside the soprano range, with a warning). A harmony is
    proposed to fit it (:mod:`partimento.hybrid.harmony`) and the lower voices are
    decoded under the rules with the soprano tokens forced. When no lower voices fit a
    proposed harmony, the next proposal (next seed of the harmonizer) is tried, up to
    ``max_plan_draws``.
    """
    from .melody import read_melody
    from .harmony import propose_plan

    mel = read_melody(melody, key)
    for w in mel.warnings:
        warnings.warn(w, stacklevel=2)
    s = _split_sampling(sampling)
    last: UnsatisfiableError | None = None
    for draw in range(max_plan_draws):
        plan = propose_plan(mel, grammar=grammar, seed=seed + _PLAN_SEED_STRIDE * draw)
        forced = np.full((plan.steps, 4), -1, np.int64)
        forced[:, 0] = mel.tokens
        try:
            dec, report, prov = _run(plan, seed, s, model=model, checkpoint=checkpoint, profile=profile,
                                     forced=forced, check=check, record=record)
        except UnsatisfiableError as e:
            last = e
            continue
        return Result(plan, dec.tokens, dec.pitch, dec.attack, report, dict(dec.stats, seed=seed, plan_draws=draw + 1),
                      list(mel.warnings), trace=dec.trace, provenance=prov)
    raise last  # type: ignore[misc]


def infill(score: Any, measures: tuple[int, int] = (3, 4), voices: Sequence[str] = ("alto", "tenor"),
           seed: int = 0, *, model=None, checkpoint: str | None = None, profile: str = "strict",
           check: bool = True, record: bool = False, **sampling: Any) -> Result:
    """Rewrite ``voices`` in ``measures`` (inclusive, as printed), keeping everything else.

    ``score`` is a :class:`Result`, a music21 score or a path (MusicXML, or a result
    ``.json`` written by :meth:`Result.write`). The joins into and out of the span are
    decoded under the same rules.
    """
    from .infill_span import forced_outside, grid_of_score

    grid = grid_of_score(score)
    forced = forced_outside(grid, measures, voices)
    s = _split_sampling(sampling)
    dec, report, prov = _run(grid.plan, seed, s, model=model, checkpoint=checkpoint, profile=profile, forced=forced,
                             check=check, record=record)
    return Result(grid.plan, dec.tokens, dec.pitch, dec.attack, report, dict(dec.stats, seed=seed), grid.warnings,
                  trace=dec.trace, provenance=prov)
