"""Scores that explain themselves: what a MusicXML file written by partimento carries, and reading it back.

``Result.write("x.musicxml")`` puts into MusicXML's own place for metadata,
``<identification><miscellaneous><miscellaneous-field name="partimento-...">``, what
regenerates the piece exactly: the plan (with its derivation), the seed, the sampling
settings, the rule profile and rule ids, the checkpoint id (sha256 of the weights), the
forced tokens (a harmonized melody, the outside of an infill span) and the final tokens
(run-length coded, to verify the regeneration). We chose MusicXML's own fields over a
sidecar file because the score then travels alone: a copied or mailed file still explains
itself, and any MusicXML reader keeps the fields (music21 reads them back as custom
metadata). The trace itself is not stored: a 16-bar trace is megabytes, and
regenerating it is deterministic for a seed.

:func:`explain_file` reads these fields with the standard library's XML parser (no
music21 on the fast path), checks that the notes written in the file are the stored
tokens and that the installed checkpoint is the one named, and then replays the decision
at the note: the model session and the constraint are fed the stored prefix and the
decoder's own recorder writes the decision (the model's candidates, the legal set, who
removed what). ``regenerate=True`` (``partimento explain --regenerate``) instead re-runs
the whole decoding with recording on and verifies it reproduces the file: slower, and it
adds the search's history at the note (tokens tried before a backtrack, the backtracks).
A file without the fields, a different checkpoint, edited notes or a regeneration that
does not reproduce the file get the checker's view instead, with a note saying why
(never a wrong explanation).
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

from partimento.grammar.errors import InputError, Location, ScoreError

__all__ = ["checkpoint_id", "provenance_fields", "read_provenance", "explain_file", "encode_runs", "decode_runs",
           "FIELD_PREFIX"]

FIELD_PREFIX = "partimento-"
FORMAT = 1  # version of the fields' layout


# ------------------------------------------------------------------------------ checkpoint id
def checkpoint_id(path: str | Path | None = None) -> str | None:
    """``sha256:<hex>`` of the checkpoint's weights file (None: the shipped one); None if it does not exist."""
    from partimento.neural.checkpoint import resolve

    weights, _ = resolve(path)
    try:
        st = weights.stat()
    except OSError:
        return None
    return _sha256(str(weights.resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


# ------------------------------------------------------------------------------ compact tokens
def encode_runs(values: np.ndarray) -> str:
    """Run-length text of an int array (flattened): ``"0*12,62,0*3"``."""
    flat = np.asarray(values, np.int64).reshape(-1).tolist()
    out: list[str] = []
    i = 0
    while i < len(flat):
        j = i
        while j + 1 < len(flat) and flat[j + 1] == flat[i]:
            j += 1
        out.append(f"{flat[i]}*{j - i + 1}" if j > i else str(flat[i]))
        i = j + 1
    return ",".join(out)


def decode_runs(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(",") if text else []:
        v, _, n = part.partition("*")
        out.extend([int(v)] * (int(n) if n else 1))
    return out


# ------------------------------------------------------------------------------ writing
def provenance_fields(result) -> dict[str, str]:
    """The ``partimento-*`` fields for ``result`` (empty when it has no provenance)."""
    prov = getattr(result, "provenance", None) or {}
    if not prov:
        return {}
    forced = prov.get("forced")
    fields = {
        "format": str(FORMAT),
        "plan": result.plan.to_json(indent=None),
        "seed": str(int(prov["seed"])),
        "sampling": json.dumps(prov["sampling"], sort_keys=True),
        "profile": str(prov["profile"]),
        "rules": ",".join(prov["rules"]),
        "checkpoint": str(prov.get("checkpoint") or "none"),
        "tokens": encode_runs(result.tokens),
        "forced": encode_runs(forced) if forced is not None else "",
    }
    return {FIELD_PREFIX + k: v for k, v in fields.items()}


# ------------------------------------------------------------------------------ reading
def _xml_root(path: Path):
    try:
        if path.suffix.lower() == ".mxl":
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if not n.startswith("META-INF") and n.endswith((".xml", ".musicxml"))]
                data = z.read(names[0])
        else:
            data = path.read_bytes()
        return ElementTree.fromstring(data)
    except (OSError, zipfile.BadZipFile, IndexError, ElementTree.ParseError):
        return None


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The decoded ``partimento-*`` fields of a MusicXML file, or None when it has none (or is not MusicXML)."""
    path = Path(path)
    if not path.exists():
        raise ScoreError("no such file", Location(file=str(path)))
    if path.suffix.lower() not in (".musicxml", ".xml", ".mxl"):
        return None
    root = _xml_root(path)
    if root is None:
        return None
    raw = {f.get("name")[len(FIELD_PREFIX):]: (f.text or "") for f in root.iter("miscellaneous-field")
           if (f.get("name") or "").startswith(FIELD_PREFIX)}
    if "plan" not in raw or "tokens" not in raw:
        return None
    try:
        from partimento.grammar.plan import Plan

        plan = Plan.from_json(raw["plan"])
        tokens = np.asarray(decode_runs(raw["tokens"]), np.int64).reshape(-1, 4)
        forced = np.asarray(decode_runs(raw["forced"]), np.int64).reshape(-1, 4) if raw.get("forced") else None
        return {"format": int(raw.get("format", 0)), "plan": plan, "seed": int(raw["seed"]),
                "sampling": json.loads(raw["sampling"]), "profile": raw.get("profile", "strict"),
                "rules": [r for r in raw.get("rules", "").split(",") if r], "checkpoint": raw.get("checkpoint"),
                "tokens": tokens, "forced": forced}
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise ScoreError(f"the partimento fields of this file are damaged ({e})", Location(file=str(path))) from None


# ------------------------------------------------------------------------------ explaining
def _regenerate(prov: dict[str, Any], checkpoint: str | None):
    """The embedded decoding, regenerated with recording on (a Result)."""
    from partimento.grammar.rules.base import RULES

    from .api import _run
    from .decode import Sampling
    from .result import Result

    missing = [r for r in prov["rules"] if r not in RULES]
    if missing:
        raise KeyError(f"rule(s) not installed: {', '.join(missing)}")
    rules = [RULES[r]() for r in prov["rules"]]
    dec, report, plan, p = _run(prov["plan"], prov["seed"], Sampling(**prov["sampling"]), checkpoint=checkpoint,
                                profile=prov["profile"], forced=prov["forced"], rules=rules, record=True)
    return Result(plan, dec.tokens, dec.pitch, dec.attack, report, dict(dec.stats, seed=prov["seed"]),
                  trace=dec.trace, provenance=p)


class _Replayed:
    """The parts of a Trace that :func:`~.explain.explain_decision` reads, for one replayed decision."""

    def __init__(self, decision, rules: list[str]) -> None:
        self.decision, self.rules, self.backtracks = decision, rules, []

    def at(self, step: int, voice: int):
        assert (self.decision.step, self.decision.voice) == (step, voice)
        return self.decision


def _replay(prov: dict[str, Any], step: int, voice: int, checkpoint: str | None):
    """The decision at (step, voice), recorded by the decoder's own code on the stored prefix.

    The model session and the constraint are fed the stored tokens up to the position
    (the same prefix the decoding had when it made its final choice there; the per-step
    model reads it in one batched pass, :meth:`~partimento.neural.step_session.StepSession.prefill`,
    so its probabilities equal the decoder's to float rounding), and the
    search's recorder (``Search._record``) writes the decision. What the stored tokens
    cannot say is the search's history at this position (tokens tried there before a
    backtrack, the backtracks themselves): :func:`explain_file` with ``regenerate=True``
    gives those. Returns a Result with the stored grid and the one-decision trace.
    """
    from partimento.grammar.rules.base import RULES
    from partimento.neural.conditioning import plan_conditioning

    from .api import load_default_model, report_for
    from .constraint import Constraint
    from .decode import Sampling
    from .grid import GridState
    from .preferences import PREFERENCE_FACTOR, Preferences
    from .result import Result
    from .search import Search

    plan, tokens = prov["plan"], prov["tokens"]
    grid = GridState.empty(tokens.shape[0])
    for t in range(tokens.shape[0]):
        for v in range(4):
            grid.write(t, v, int(tokens[t, v]))
    if grid.pitch[step, voice] >= 0:  # a held note is explained by the decision that struck it (as explain_result)
        while step > 0 and not grid.attack[step, voice]:
            step -= 1
    sampling = Sampling(**prov["sampling"])
    on = sampling.constraints
    rules = [RULES[r]() for r in prov["rules"]]
    # as decode() builds them
    c = Constraint(plan, rules if on else [], prov["forced"], plan_layers=None if on else [], lookahead=on)
    prefs = Preferences(c.tables, c.reach, PREFERENCE_FACTOR, style=sampling.style) if on else None
    session = load_default_model(str(checkpoint) if checkpoint else None).session(plan_conditioning(plan))
    pos = step * 4 + voice
    prefix = tokens.reshape(-1)[:pos]
    if hasattr(session, "prefill"):  # the per-step model reads the whole prefix in one batched pass
        session.prefill(prefix)
    else:
        for tok in prefix.tolist():
            session.push(int(tok))
    for tok in prefix.tolist():
        c.push(int(tok))
    search = Search(session, c, sampling, prov["seed"], prefs, record=True)
    node = search._open(pos)
    search._record(pos, node, int(tokens[step, voice]))
    result = Result(plan, tokens, grid.pitch, grid.attack, report_for(grid.pitch, grid.attack, plan, prov["profile"]),
                    {"seed": prov["seed"]}, trace=_Replayed(search.decisions[pos], [r.id for r in c.rules]))
    return result


def _notes_in_file(path: Path) -> list[list[int]] | None:
    """MIDI pitches of the struck notes per part, read from the MusicXML (tie continuations skipped)."""
    root = _xml_root(path)
    if root is None:
        return None
    steps = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    out = []
    for part in root.iter("part"):
        seq = []
        for n in part.iter("note"):
            p = n.find("pitch")
            if p is None or any(t.get("type") == "stop" for t in n.findall("tie")):
                continue
            alter = float(p.findtext("alter") or 0)
            seq.append(12 * (int(p.findtext("octave")) + 1) + steps[p.findtext("step")] + int(round(alter)))
        out.append(seq)
    return out


def _stored_tokens_match_file(prov: dict[str, Any], path: Path) -> bool:
    """The notes written in the file are the stored tokens' attacks (no one edited the score since)."""
    from partimento.neural.encoding import PITCH_OFFSET

    parts = _notes_in_file(path)
    if parts is None or len(parts) != 4:
        return False
    tokens = prov["tokens"]
    return all([int(x) - PITCH_OFFSET for x in tokens[:, v] if x >= PITCH_OFFSET] == parts[v] for v in range(4))


def explain_file(path: str | Path, measure: int, beat: float, voice: str, *, checkpoint: str | None = None,
                 profile: str = "strict", regenerate: bool = False):
    """Explain the note at (measure, beat, voice) of a score file (see the module docstring).

    A score partimento wrote is explained by the decoder's view: by default the decision
    is replayed on the stored prefix (:func:`_replay`, fast); ``regenerate=True``
    regenerates the whole decoding with recording on and verifies it reproduces the file
    (slower; adds the search's history: tokens tried before a backtrack, the backtracks).
    Raises a located :class:`InputError` for a spot outside the score and
    :class:`ScoreError` for a file that cannot be read.
    """
    from partimento.grammar.errors import UnsatisfiableError
    from partimento.grammar.rules.base import RULES

    from .explain import explain_report, explain_result, locate_step

    path = Path(path)
    prov = read_provenance(path)
    notes: list[str] = []
    if prov is not None:
        step, v = locate_step(prov["plan"], measure, beat, voice, file=str(path))  # bad spots fail before decoding
        installed = checkpoint_id(checkpoint)
        missing = [r for r in prov["rules"] if r not in RULES]
        if prov["checkpoint"] != installed:
            notes.append(f"the file was written with checkpoint {prov['checkpoint']}, but the installed model is "
                         f"{installed}: it cannot be regenerated, so this is the checker's view")
        elif missing:
            notes.append(f"the file was decoded under rule(s) not installed here ({', '.join(missing)}); "
                         "this is the checker's view")
        elif not _stored_tokens_match_file(prov, path):
            notes.append("the notes in the file are not the ones partimento wrote (edited since?); "
                         "this is the checker's view")
        elif not regenerate:
            result = _replay(prov, step, v, checkpoint)
            ex = explain_result(result, measure, beat, voice)
            ex.notes.append(f"replayed on the notes stored in {path.name} (checkpoint {installed[:19]}…, seed "
                            f"{prov['seed']}); regenerate for the search's history at this note")
            return ex
        else:
            try:
                result = _regenerate(prov, checkpoint)
            except (KeyError, TypeError, UnsatisfiableError, InputError) as e:
                notes.append(f"regenerating the decoding failed ({e}); this is the checker's view")
            else:
                if np.array_equal(result.tokens, prov["tokens"]):
                    ex = explain_result(result, measure, beat, voice)
                    ex.notes.append(f"regenerated from the plan, seed {prov['seed']} and checkpoint "
                                    f"{installed[:19]}… stored in {path.name}")
                    return ex
                # the notes are verified to be partimento's own: the replay on them is still exact
                ex = explain_result(_replay(prov, step, v, checkpoint), measure, beat, voice)
                ex.notes.append("regenerating with recording on did not reproduce the notes in the file (the search "
                                "took another path), so the decision was replayed on the stored notes instead; "
                                "the search's history at this note is unknown")
                return ex
        profile = prov["profile"]
    from partimento.grammar.rules import check

    # the embedded plan still names the chords and keys (the checker's view of a partimento score)
    report = check(str(path), profile=profile, plan=prov["plan"] if prov is not None else None)
    return explain_report(report, measure, beat, voice, profile=profile, notes=notes)

