"""Bach's non-chord tones by class, and what ``unprepared-dissonance`` makes of his chorales.

Every note of the chorales is classified by :mod:`partimento.grammar.rules.nct` against two
chord sources, reported side by side:

* **analysis**: the When-in-Rome Roman-numeral analyses (``--analyses``, default
  ``/work/shared/data/when-in-rome``; train and valid chorales only, never test). A few
  corpus scores are printed in another key than their analysis; each score is moved by
  the transposition (-6..+5 semitones) under which most of its notes are members of the
  analysed chords, and scores where even then fewer than ``--min-fit`` (85%) are, are left
  out (the analysis and the score disagree; their count is printed);
* **inferred**: chords inferred from the notes (what ``partimento check`` does with a plain
  score), on every train and valid chorale of ``neural/chorale_split.json``.

For the inferred chords it also counts, per metric accent level, the unclassified
non-chord tones (the rule's findings), and what each choice of ``error_accent`` would give
in errors per chorale, beside the chorale profile's errors from every other rule: the
figures behind the severities in :mod:`partimento.grammar.rules.profiles`.

    python benchmarks/nct_bach.py [--limit N]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from partimento.grammar.fileio import write_text_atomic
from partimento.grammar.rules import REST, SonorityArray, check_arrays, parse_score
from partimento.grammar.rules.chords import infer_chords
from partimento.grammar.rules.nct import (BEAT, DOWNBEAT, KINDS, STRONG_BEAT, UNCLASSIFIED, accents,
                                          classify_notes, membership)

RESULTS = Path(__file__).parent / "results" / "nct_bach.json"
SPLIT = Path(__file__).parents[1] / "neural" / "chorale_split.json"
LEVELS = {3: "downbeat", 2: "strong beat", 1: "beat", 0: "half beat", -1: "finer"}


def transposed(s: SonorityArray, k: int) -> SonorityArray:
    """The same sonorities ``k`` semitones higher (rests stay rests)."""
    p = np.where(s.pitch == REST, REST, s.pitch.astype(np.int32) + k).astype(np.int16)
    return SonorityArray(p, s.attack, s.offset, s.duration, s.measure, s.beat, s.fermata)


def aligned_to_analysis(path: str, rntxt: Path):
    """(sonorities moved to the analysis's key, context with its chords, transposition, share of member notes)."""
    from music21 import corpus

    from partimento.grammar.analysis import plan_from_romantext

    plan = plan_from_romantext(rntxt)
    parsed = parse_score(corpus.parse(path), plan=plan)
    s, ctx = parsed.sonorities, parsed.ctx
    sounding = s.pitch != REST
    best = max(((float(membership(transposed(s, k), ctx)[sounding].mean()), k) for k in range(-6, 6)),
               key=lambda t: (t[0], -abs(t[1])))
    return transposed(s, best[1]), ctx, best[1], best[0]


def tally(s: SonorityArray, ctx, kinds: Counter, labels: Counter, reasons: Counter, levels: Counter) -> None:
    acc = accents(s, ctx)
    for nc in classify_notes(s, ctx):
        kinds[nc.kind] += 1
        if nc.kind != "chord tone":
            labels[nc.label] += 1
        if nc.kind == UNCLASSIFIED:
            reasons[f"{nc.reason} (closest: {nc.closest})"] += 1
            at = nc.dissonant_from if nc.dissonant_from is not None else nc.start
            levels[LEVELS[int(acc[at])]] += 1


def summary(kinds: Counter, labels: Counter, reasons: Counter, levels: Counter, pieces: int) -> dict:
    notes = sum(kinds.values())
    ncts = notes - kinds["chord tone"]
    return {
        "pieces": pieces,
        "notes": notes,
        "non_chord_tones": ncts,
        "by_class": {k: kinds[k] for k in KINDS + (UNCLASSIFIED, "pending") if kinds[k]},
        "share_of_non_chord_tones": {k: round(kinds[k] / max(ncts, 1), 4) for k in KINDS[1:] + (UNCLASSIFIED,)},
        "unclassified_per_piece": round(kinds[UNCLASSIFIED] / max(pieces, 1), 3),
        "labels": dict(labels.most_common()),
        "unclassified_by_reason": dict(reasons.most_common()),
        "unclassified_by_accent": dict(levels),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--analyses", default="/work/shared/data/when-in-rome")
    ap.add_argument("--limit", type=int, default=0, help="at most N chorales per source (0: all)")
    ap.add_argument("--min-fit", type=float, default=0.85)
    args = ap.parse_args()
    from music21 import corpus

    t0 = time.time()
    out: dict = {"machine": platform.processor() or platform.machine(), "splits": ["train", "valid"]}

    # ---- analysis chords
    manifest = Path(args.analyses) / "manifest.json"
    if manifest.is_file():
        files = [f for f in json.loads(manifest.read_text())["files"] if f["chorale_split"] in ("train", "valid")]
        if args.limit:
            files = files[:args.limit]
        k, lab, rea, lev = Counter(), Counter(), Counter(), Counter()
        used, shifted, poor, failed = 0, 0, [], []
        for f in files:
            try:
                s, ctx, shift, fit = aligned_to_analysis(f["music21_corpus"][0], Path(args.analyses) / f["file"])
            except Exception as e:  # an analysis or score music21 cannot read: count it, go on
                failed.append(f"{f['file']}: {type(e).__name__}: {str(e)[:80]}")
                continue
            if fit < args.min_fit:
                poor.append(f"{f['file']} ({fit:.2f})")
                continue
            used += 1
            shifted += shift != 0
            tally(s, ctx, k, lab, rea, lev)
        out["analysis"] = summary(k, lab, rea, lev, used)
        out["analysis"].update({"transposed_to_fit": shifted, "left_out_poor_fit": poor, "failed": failed,
                                "min_fit": args.min_fit})
    else:
        out["analysis"] = {"skipped": f"no {manifest}"}

    # ---- inferred chords, every train/valid chorale
    split = json.loads(SPLIT.read_text())
    paths = split["train"] + split["valid"]
    if args.limit:
        paths = paths[:args.limit]
    k, lab, rea, lev = Counter(), Counter(), Counter(), Counter()
    other_errors = 0
    by_level_pieces = Counter()
    used = 0
    for path in paths:
        try:
            parsed = parse_score(corpus.parse(path))
        except Exception:  # scores without four voices are not chorales for this purpose
            continue
        s, ctx = parsed.sonorities, parsed.ctx
        ctx = replace(ctx, chords=infer_chords(s, ctx.keys), chords_inferred=True)
        used += 1
        tally(s, ctx, k, lab, rea, lev)
        rep = check_arrays(s, ctx, "chorale")
        other_errors += sum(1 for v in rep.violations if v.severity.value == "error" and v.rule != "unprepared-dissonance")
    inferred = summary(k, lab, rea, lev, used)
    by_accent = {name: inferred["unclassified_by_accent"].get(name, 0) for name in LEVELS.values()}
    order = [3, 2, 1, 0, -1]
    errors_if = {}
    for name, floor in (("beat (strict)", BEAT), ("strong beat", STRONG_BEAT), ("downbeat", DOWNBEAT)):
        errors_if[name] = round(sum(by_accent[LEVELS[lv]] for lv in order if lv >= floor) / max(used, 1), 3)
    errors_if["never (warnings only)"] = 0.0
    inferred["unprepared_dissonance_errors_per_piece_if_error_from"] = errors_if
    inferred["chorale_profile_errors_per_piece_other_rules"] = round(other_errors / max(used, 1), 3)
    out["inferred"] = inferred
    out["seconds"] = round(time.time() - t0, 1)

    for name in ("analysis", "inferred"):
        r = out[name]
        if "skipped" in r:
            print(f"{name}: {r['skipped']}")
            continue
        print(f"\n{name} chords: {r['pieces']} chorales, {r['notes']} notes, {r['non_chord_tones']} non-chord tones")
        for cls, n in r["by_class"].items():
            print(f"  {cls:22s} {n:6d}  {n / r['notes']:6.2%} of notes")
        print(f"  unclassified per chorale: {r['unclassified_per_piece']}; by accent: {r['unclassified_by_accent']}")
        for reason, n in list(r["unclassified_by_reason"].items())[:8]:
            print(f"    {n:4d}  {reason}")
    print("\nunprepared-dissonance errors per chorale (inferred chords) if errors from:",
          out["inferred"]["unprepared_dissonance_errors_per_piece_if_error_from"])
    print("chorale-profile errors per chorale from every other rule:",
          out["inferred"]["chorale_profile_errors_per_piece_other_rules"])
    write_text_atomic(RESULTS, json.dumps(out, indent=1))
    print(f"wrote {RESULTS} ({out['seconds']} s)")


if __name__ == "__main__":
    main()
