"""Why this note? One note's explanation, from the decoder's trace or from the checker.

An :class:`Explanation` answers for one note (measure, beat, voice): which note it is and
what it does in its chord (chord tone, or its non-chord-tone class), which chord the plan
put there and how the grammar derived it, which notes the model proposed with their
probabilities and which rule or plan layer removed each one, and the backtracks that
passed through the decision. Two sources:

* the **decoder's view** (:func:`explain_decision`, :func:`explain_result`): the
  :class:`~partimento.hybrid.trace.Decision` recorded by ``decode(..., record=True)`` at
  the step where the note was struck (a held note is explained by its attack);
* the **checker's view** (:func:`explain_report`), for a score partimento did not write
  (or cannot regenerate): the sounding chord in its key (the plan's, or the one the
  checker infers), the note's role, and the violations it takes part in, with the
  rules' own messages.

Plain data with ``to_dict()`` / ``to_json()``, a text form (``str``) and ``_repr_html_``
(the bars around the note with the note highlighted, when a score is at hand, and the
candidates as a table). ``tests/hybrid/test_explain.py`` checks that every token of a
composed piece is explained by a legal choice and that the masks replayed from the
explanation give the same legal set.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from partimento.grammar.errors import InputError, Location
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import Plan
from partimento.grammar.theory import VOICES

__all__ = ["Explanation", "explain_decision", "explain_result", "explain_report", "locate_step", "voice_index",
           "derivation_of", "note_role"]


# ------------------------------------------------------------------------------ the record
@dataclass
class Explanation:
    """Why one note is what it is (see the module docstring for the two views)."""

    measure: int  # as asked (the spot explained)
    beat: float
    voice: str  # "soprano" | "alto" | "tenor" | "bass"
    note: dict[str, Any]  # {"pitch": "F#4" | None, "midi": int | None, "role": "chord tone" | a class | "rest"}
    chord: dict[str, Any]  # {"figure", "key", "derivation": [str], "phrase", "cadence"}
    candidates: list[dict[str, Any]] = field(default_factory=list)  # the model's candidates (decoder's view)
    backtracks: list[dict[str, Any]] = field(default_factory=list)  # dead ends that rewound through the decision
    violations: list[dict[str, Any]] = field(default_factory=list)  # checker violations the note takes part in
    source: str = "decoder"  # "decoder" (a recorded decision) | "checker" (the checker's view)
    onset: dict[str, Any] = field(default_factory=dict)  # {"measure", "beat"} where the note was struck
    decision: dict[str, Any] = field(default_factory=dict)  # {"step", "token", "forced", "legal": [names], "preferences"}
    notes: list[str] = field(default_factory=list)  # remarks: why the checker's view, what was regenerated
    excerpt: Any = field(default=None, repr=False, compare=False)  # music21 score of the bars around the note

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure, "beat": self.beat, "voice": self.voice, "note": dict(self.note),
                "chord": dict(self.chord), "candidates": [dict(c) for c in self.candidates],
                "backtracks": [dict(b) for b in self.backtracks], "violations": [dict(v) for v in self.violations],
                "source": self.source, "onset": dict(self.onset), "decision": dict(self.decision),
                "notes": list(self.notes)}

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __str__(self) -> str:
        n = self.note
        head = f"measure {self.measure}, beat {self.beat:g}, {self.voice}: "
        head += f"{n['pitch']} ({n['role']})" if n.get("midi") is not None else "rest"
        if self.onset and (self.onset.get("measure"), self.onset.get("beat")) != (self.measure, self.beat):
            head += f", struck at measure {self.onset['measure']}, beat {self.onset['beat']:g}"
        lines = [head]
        c = self.chord
        if c.get("figure"):
            where = "".join(f", {k} {c[k]}" for k in ("phrase", "cadence") if c.get(k) is not None)
            lines.append(f"chord: {c['figure']} in {c['key']}{where}")
        for step in c.get("derivation") or []:
            lines.append(f"  {step}")
        if self.candidates:
            lines.append("candidates (p_model, most probable first):")
            for cand in self.candidates:
                mark = "*" if cand["chosen"] else " "
                why = "; ".join(f"{r['rule']}: {r['message']}" for r in cand["removed_by"])
                state = "chosen" if cand["chosen"] else ("legal" if cand.get("legal", not why) else "removed")
                lines.append(f" {mark} {cand['pitch']:<14} {cand['p_model']:6.3f}  {state}" + (f" — {why}" if why else ""))
        for b in self.backtracks:
            lines.append(f"backtrack {b['index']} ({b['kind']}): {b['reason']}")
        for v in self.violations:
            lines.append(f"{v['severity']}: {v['rule']} (measure {v['measure']}, beat {v['beat']:g}): {v['message']}")
            for fx in v.get("fixes", []):
                lines.append(f"    suggested fix: {fx['text']}")
        if self.source == "decoder" and not self.violations:
            lines.append("no rule is broken here")
        lines.extend(f"note: {x}" for x in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .render import score_svg

        parts = [f"<p><b>{html.escape(str(self).splitlines()[0])}</b></p>"]
        if self.excerpt is not None:
            try:
                ex = self.excerpt.build() if hasattr(self.excerpt, "build") else self.excerpt
                if ex is not None:
                    parts.append(f"<div>{score_svg(ex, scale=35)}</div>")
            except Exception as e:  # a drawing problem must not hide the explanation
                parts.append(f"<p><i>(could not draw the bars: {html.escape(str(e))})</i></p>")
        c = self.chord
        if c.get("figure"):
            parts.append(f"<p>chord <b>{html.escape(c['figure'])}</b> in {html.escape(str(c['key']))}</p>")
            if c.get("derivation"):
                parts.append("<pre>" + html.escape("\n".join(c["derivation"])) + "</pre>")
        if self.candidates:
            rows = []
            for cand in self.candidates:
                why = "<br>".join(f"<code>{html.escape(r['rule'])}</code>: {html.escape(r['message'])}"
                                  for r in cand["removed_by"])
                style = ' style="background:#ffe08a"' if cand["chosen"] else ""
                rows.append(f"<tr{style}><td>{html.escape(cand['pitch'])}</td><td>{cand['p_model']:.3f}</td>"
                            f"<td>{'chosen' if cand['chosen'] else ('legal' if cand.get('legal') else 'removed')}</td>"
                            f"<td style='text-align:left'>{why}</td></tr>")
            parts.append("<table><tr><th>candidate</th><th>p model</th><th></th><th>removed by</th></tr>"
                         + "".join(rows) + "</table>")
        rest = [ln for ln in str(self).splitlines() if ln.startswith(("backtrack", "error", "warning", "    suggested", "note:"))]
        if rest:
            parts.append("<pre>" + html.escape("\n".join(rest)) + "</pre>")
        return "\n".join(parts)


# ------------------------------------------------------------------------------ locating
def voice_index(voice: str | int) -> int:
    """0..3 from a voice name, its initial or an index; InputError otherwise."""
    if isinstance(voice, (int, np.integer)) and 0 <= int(voice) < 4:
        return int(voice)
    name = str(voice).strip().lower()
    for i, v in enumerate(VOICES):
        if name in (v, v[0]):
            return i
    raise InputError(f"unknown voice {voice!r}", Location(voice=str(voice)), expected=list(VOICES))


def locate_step(plan: Plan, measure: int, beat: float, voice: str | int, file: str | None = None) -> tuple[int, int]:
    """(sixteenth step, voice index) of measure ``measure``, beat ``beat``; a located InputError outside the score."""
    v = voice_index(voice)
    metre = plan.metre_obj
    first = 0 if plan.pickup else 1
    where = Location(file=file, measure=measure, beat=beat, voice=VOICES[v])
    if not isinstance(measure, (int, np.integer)) or not first <= measure <= plan.bars:
        raise InputError(f"no such measure: the score has measures {first}-{plan.bars}", where)
    beats = float(metre.bar_quarters / metre.beat_quarters)
    if not 1 <= beat < 1 + beats:
        raise InputError(f"no such beat: a {plan.metre} bar has beats 1 to <{1 + beats:g}", where)
    step = float(metre.offset(int(measure), float(beat), plan.pickup)) * STEPS_PER_QUARTER
    if abs(step - round(step)) > 1e-6:
        raise InputError("beat is not on the sixteenth-note grid", where, hint="try a beat like 1, 1.5, 2.25")
    step = int(round(step))
    if not 0 <= step < plan.steps:
        raise InputError("beat lies before the pickup starts", where)
    return step, v


# ------------------------------------------------------------------------------ shared facts
def derivation_of(plan: Plan, chord_index: int) -> dict[str, Any]:
    """The grammar's account of one plan chord: derivation steps, phrase, cadence.

    Uses ``Plan.derivation_path`` where the plan has it (issue 15); otherwise the path in
    the plan's derivation graph from the start symbol to the chord's terminal (when the
    graph's terminals line up with the chords), else no steps.
    """
    if chord_index < 0 or chord_index >= len(plan.chords):
        return {"derivation": [], "phrase": None, "cadence": None}
    path_of = getattr(plan, "derivation_path", None)
    if callable(path_of):
        try:
            path = path_of(chord_index)
        except Exception:  # a plan with no derivation (parsed or hand-built) explains no path
            path = None
        if path is not None:
            return {"derivation": [str(s) for s in getattr(path, "steps", ())],
                    "phrase": getattr(path, "phrase", None), "cadence": getattr(path, "cadence", None)}
    chord = plan.chords[chord_index]
    phrase = next((i for i, p in enumerate(plan.phrases) if p.start <= chord.onset < p.end), None)
    cadence = plan.phrases[phrase].cadence if phrase is not None else None
    return {"derivation": _graph_path(plan, chord_index), "phrase": phrase, "cadence": cadence}


def _graph_path(plan: Plan, chord_index: int) -> list[str]:
    g = plan.derivation
    if g is None or len(g) == 0:
        return []
    try:
        import networkx as nx

        root = next(n for n in g.nodes if g.in_degree(n) == 0)
        order = [n for n in nx.dfs_preorder_nodes(g, root, sort_neighbors=lambda ns: sorted(ns, key=lambda n: g.nodes[n].get("order", 0)))
                 if g.out_degree(n) == 0 and "figure" in g.nodes[n]]
        if len(order) != len(plan.chords):
            return []
        path = nx.shortest_path(g, root, order[chord_index])
    except Exception:  # a graph of another shape: no path rather than a wrong one
        return []
    out = []
    for n in path[:-1]:
        a = g.nodes[n]
        alt = f" (alternative {a['alternative']})" if "alternative" in a else ""
        key = f" in {a['key']}" if a.get("key") else ""
        out.append(f"{a.get('symbol', n)}{alt}{key}")
    out.append(f"-> {plan.chords[chord_index].figure}")
    return out


def _nct_module():
    try:
        from partimento.grammar.rules import nct  # issue 12b: non-chord-tone classes
    except ImportError:
        return None
    return nct


def note_role(sonorities, ctx, row: int, voice: int) -> str:
    """"chord tone", the note's non-chord-tone class (when the checker knows classes) or "non-chord tone"."""
    p = int(sonorities.pitch[row, voice])
    if p < 0:
        return "rest"
    nct = _nct_module()
    if nct is not None:
        nc = nct.class_at(sonorities, ctx, row, voice)
        if nc is not None:
            return "chord tone" if not nc.is_nct else nc.label
    chord = ctx.chord(row)
    if chord is None:
        return "unknown (no chord)"
    return "chord tone" if p % 12 in chord.members else "non-chord tone"


def _row_of_step(sonorities, step: int) -> int:
    """The sonority row sounding at sixteenth ``step``."""
    off = step / STEPS_PER_QUARTER
    return max(0, int(np.searchsorted(sonorities.offset, off + 1e-9, side="right")) - 1)


def _violations_of(report, rows: range, voice: int) -> list[dict[str, Any]]:
    if report is None:
        return []
    name = VOICES[voice]
    out = []
    for v in report.violations:
        if v.index in rows and name in v.voices:
            d = v.to_dict()
            d["severity"] = getattr(v.severity, "value", v.severity)
            out.append(d)
    return out


def _excerpt(score, measure: int, voice: int, onset_beat_offset: float | None):
    """The bars around ``measure`` with the note at ``onset_beat_offset`` (quarters into its bar) coloured."""
    if score is None:
        return None
    import copy

    try:
        part_numbers = [m.number for m in score.parts[0].getElementsByClass("Measure")]
        lo, hi = max(min(part_numbers), measure - 1), min(max(part_numbers), measure + 1)
        ex = copy.deepcopy(score.measures(lo, hi))
        bar = ex.parts[voice].measure(measure)
        if bar is not None and onset_beat_offset is not None:
            for n in bar.recurse().notes:
                if n.offset <= onset_beat_offset + 1e-6 < n.offset + n.quarterLength:
                    n.style.color = "#d6336c"
        return ex
    except Exception:  # no excerpt is better than a failed explanation
        return None


# ------------------------------------------------------------------------------ decoder's view
def explain_decision(trace, step: int, voice: int, *, plan: Plan | None = None, report=None,
                     measure: int | None = None, beat: float | None = None) -> Explanation:
    """The recorded decision at (``step``, ``voice``) as an :class:`Explanation`.

    ``report``: the checker's report of the finished piece (for the note's role and any
    violation); ``measure``/``beat``: the spot asked about (default: the step's own).
    """
    plan = plan or Plan.from_dict(trace.plan)
    d = trace.at(step, voice)
    chosen = d.chosen
    ci = plan.chord_per_step()[step]
    chord_ev = plan.chords[ci] if ci >= 0 else None
    chord = {"figure": chord_ev.figure if chord_ev else None, "key": chord_ev.key if chord_ev else plan.key}
    chord.update(derivation_of(plan, ci))
    midi = chosen.pitch
    note: dict[str, Any] = {"pitch": _pitch_name(chosen.name), "midi": midi, "role": "rest" if midi is None else None}
    rows = range(0)
    if report is not None and midi is not None:
        row = _row_of_step(report.sonorities, step)
        note["role"] = note_role(report.sonorities, report.ctx, row, voice)
        end = row + 1
        while end < len(report.sonorities) and not report.sonorities.attack[end, voice] and \
                int(report.sonorities.pitch[end, voice]) == midi:
            end += 1
        rows = range(row, end)
    elif midi is not None and chord_ev is not None:
        note["role"] = "chord tone" if midi % 12 in chord_ev.spec.members else "non-chord tone"
    cands = [{"pitch": c.name, "midi": c.pitch, "token": c.token, "p_model": c.p_model,
              "p_masked": c.p_masked, "p_final": c.p_final, "legal": c.legal, "chosen": c.chosen,
              "removed_by": [{"rule": r.rule, "layer": r.layer, "message": r.message} for r in c.removed_by]}
             for c in d.candidates]
    backs = [trace.backtracks[i].to_dict() for i in d.backtracks]
    from .masks import token_name

    key = None
    if chord_ev is not None:
        from partimento.grammar.theory import key_info

        key = key_info(chord_ev.key)
    m, b = plan.metre_obj.measure_beat(step / STEPS_PER_QUARTER, plan.pickup)
    return Explanation(
        measure=int(measure if measure is not None else m), beat=float(beat if beat is not None else b),
        voice=VOICES[voice], note=note, chord=chord, candidates=cands, backtracks=backs,
        violations=_violations_of(report, rows, voice), source="decoder",
        onset={"measure": d.measure, "beat": d.beat},
        decision={"step": step, "token": d.token, "forced": d.forced, "tried": list(d.tried),
                  "legal": [token_name(t, key) for t in d.legal], "legal_tokens": list(d.legal),
                  "preferences": list(d.preferences), "rules": list(trace.rules)})


def _pitch_name(name: str) -> str:
    """"hold (F#4)" -> "F#4" for the note field; other names as they are."""
    return name[6:-1] if name.startswith("hold (") and name.endswith(")") else name


def explain_result(result, measure: int, beat: float, voice: str | int) -> Explanation:
    """``Result.explain``: the decision that struck the note sounding at (measure, beat, voice)."""
    step, v = locate_step(result.plan, measure, beat, voice)
    if result.trace is None:
        raise InputError("this result was decoded without recording; decode with record=True to explain its notes",
                         Location(measure=measure, beat=beat, voice=VOICES[v]),
                         hint="e.g. compose(..., record=True)")
    attack_step = step
    if int(result.pitch[step, v]) >= 0:
        while attack_step > 0 and not result.attack[attack_step, v]:
            attack_step -= 1
    report = result.report
    if report is None:
        from .api import report_for

        report = report_for(result.pitch, result.attack, result.plan)
    covers = getattr(result.trace, "covers", None)
    if covers is not None and not covers(attack_step):  # infill decoded only a window around its span
        return explain_report(report, measure, beat, v, notes=[
            "this note was kept from the input score, not decoded (the decoding covered measures "
            f"{_measures_covered(result)}); this is the checker's view"])
    ex = explain_decision(result.trace, attack_step, v, plan=result.plan, report=report, measure=measure, beat=beat)
    into = float(result.plan.metre_obj.offset(int(measure), float(beat)) - result.plan.metre_obj.offset(int(measure), 1.0))
    ex.excerpt = _LazyExcerpt(result, int(measure), v, into)
    return ex


def _measures_covered(result) -> str:
    """"3–7": the measures of the score a (window) trace decoded."""
    first, last = result.trace.decisions[0], result.trace.decisions[-1]
    return f"{first.measure}–{last.measure}"


class _LazyExcerpt:
    """Builds the excerpt only when the explanation is drawn (music21 is slow)."""

    def __init__(self, result, measure: int, voice: int, into: float) -> None:
        self.args = (result, measure, voice, into)

    def build(self):
        result, measure, voice, into = self.args
        return _excerpt(result.score, measure, voice, into)


# ------------------------------------------------------------------------------ checker's view
def explain_report(report, measure: int, beat: float, voice: str | int, *, fixes: bool = True,
                   profile: str | None = None, notes: Sequence[str] = ()) -> Explanation:
    """The checker's view of the note at (measure, beat, voice) of a checked score.

    ``report``: a :class:`~partimento.grammar.rules.Report` (``check(path)``). The chord
    is the plan's where the score carries one, else the checker's inferred chord. With
    ``fixes``, every violation the note takes part in lists the nearest legal alternatives
    (:func:`partimento.grammar.rules.fixes.suggest_fixes`).
    """
    son, ctx = report.sonorities, report.ctx
    v = voice_index(voice)
    where = Location(file=report.file, measure=measure, beat=beat, voice=VOICES[v])
    rows = np.flatnonzero(son.measure == measure)
    if len(rows) == 0:
        have = sorted(set(int(m) for m in son.measure))
        raise InputError(f"no such measure: the score has measures {have[0]}-{have[-1]}" if have else "the score is empty",
                         where)
    in_bar = [r for r in rows if son.beat[r] <= beat + 1e-9]
    if not in_bar:
        raise InputError(f"no note starts by beat {beat:g} in this measure (first onset at beat {son.beat[rows[0]]:g})",
                         where)
    row = int(in_bar[-1])
    if row == rows[-1] and beat >= son.beat[row] + son.duration[row] * _beats_per_quarter(report) + 1e-9:
        raise InputError("no such beat: past the end of the measure", where)
    p = int(son.pitch[row, v])
    start, end = row, row + 1
    if p >= 0:
        while start > 0 and not son.attack[start, v] and int(son.pitch[start - 1, v]) == p:
            start -= 1
        while end < len(son) and not son.attack[end, v] and int(son.pitch[end, v]) == p:
            end += 1
    chord = ctx.chord(row)
    key = ctx.keys[row].name if ctx.keys else None
    name = None
    if p >= 0:
        from .result import spelled_name

        try:
            name = spelled_name(p, chord.figure if chord is not None else None, key)
        except Exception:
            from partimento.grammar.rules.spelling import note_name

            name = note_name(p, ctx.keys[row])
    violations = _violations_of(report, range(start, end), v)
    if fixes and violations:
        from partimento.grammar.rules.fixes import suggest_fixes

        by_key = {(x.rule, x.index, tuple(x.voices), x.message): x for x in report.violations}
        for d in violations:
            match = next((x for k, x in by_key.items() if k[0] == d["rule"] and k[3] == d["message"]
                          and VOICES[v] in k[2]), None)
            d["fixes"] = [f.to_dict() for f in suggest_fixes(report, match, voices=[VOICES[v]], profile=profile)] \
                if match is not None else []
    chord_d = {"figure": chord.figure if chord is not None else None, "key": key, "derivation": [],
               "inferred": bool(ctx.chords_inferred)}
    return Explanation(measure=int(measure), beat=float(beat), voice=VOICES[v],
                       note={"pitch": name, "midi": p if p >= 0 else None, "role": note_role(son, ctx, row, v)},
                       chord=chord_d, violations=violations, source="checker",
                       onset={"measure": int(son.measure[start]), "beat": float(son.beat[start])},
                       notes=list(notes))


def _beats_per_quarter(report) -> float:
    """Counted beats per quarter note in the report's score (1 when unknown)."""
    parsed = getattr(report, "parsed", None)
    try:
        ts = parsed.score.recurse().getElementsByClass("TimeSignature").first()
        return 1.0 / float(ts.beatDuration.quarterLength)
    except Exception:
        return 1.0
