"""Every unique four-voice Bach chorale in music21's corpus, checked in both profiles, beside
music21's ``figuredBass.checker`` on its five rules, with the disagreements explained.

Chorales are the corpus's Bach scores (.mxl/.xml/.krn) from which four voices can be taken
(parts named Soprano/Alto/Tenor/Bass, else exactly four parts); copies with the same notes
are counted once. Timing: the whole pass "parse with music21 + check (strict)" over the
corpus, wall clock. For reference the Humdrum chorale checker's counts over ~370 chorales
are printed beside ours (numbers from the issue, not measured here).

    python benchmarks/checker_corpus.py [--limit N]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from music21 import corpus

from partimento.grammar.errors import ScoreError
from partimento.grammar.fileio import write_text_atomic
from partimento.grammar.rules import RULE_ORDER, REST, Severity, check, check_arrays
from partimento.grammar.rules.reference import FIGURED_BASS_RULES, figured_bass_violations, four_voice_score

RESULTS = Path(__file__).parent / "results" / "checker_corpus.json"
HUMDRUM = {"parallel-fifths": 36, "parallel-octaves": 6, "hidden-fifths": 491, "hidden-octaves": 243,
           "voice-crossing": 647}
FIVE = list(FIGURED_BASS_RULES.values())


def _explain(rule: str, side: str, offset: float, voices: tuple[str, ...], s) -> str:
    """Why one checker reports a moment the other does not (``side`` says who reports it)."""
    names = ("soprano", "alto", "tenor", "bass")
    rows = np.flatnonzero(np.isclose(s.offset, offset))
    if len(rows) == 0:
        return "no new sonority for us here (music21 makes a harmony at a tied continuation or rest start)"
    i = int(rows[0])
    u, l = (names.index(v) for v in voices)
    if rule == "voice-crossing":
        a, b = int(s.pitch[i, u]), int(s.pitch[i, l])
        if REST in (a, b):
            return "a voice rests"
        return "other"
    if i == 0:
        return "first sonority"
    pu0, pl0, pu1, pl1 = (int(x) for x in (s.pitch[i - 1, u], s.pitch[i - 1, l], s.pitch[i, u], s.pitch[i, l]))
    if REST in (pu0, pl0, pu1, pl1):
        return "a voice rests on one side of the motion"
    du, dl = pu1 - pu0, pl1 - pl0
    if rule.startswith("parallel"):
        if side == "ours" and np.sign(du) != np.sign(dl):
            return "contrary motion: we count consecutive perfect intervals by contrary motion, music21 only antiparallel ones of the same size"
        if side == "ours" and 0 in (pu0 - pl0, pu1 - pl1):
            return "a unison on one side: the issue counts parallel unisons as octaves, music21's parallelOctaves does not"
        if side == "ours" and abs(pu0 - pl0) != abs(pu1 - pl1):
            return "compound and simple interval (e.g. 12th to 5th): we count the interval class, music21 the same size"
        return "other"
    if rule.startswith("hidden"):
        quartet = (pu0, pu1, pl0, pl1)
        earlier = any((int(s.pitch[j - 1, u]), int(s.pitch[j, u]), int(s.pitch[j - 1, l]), int(s.pitch[j, l])) == quartet
                      for j in range(1, i))
        if side == "ours" and earlier:
            return ("music21's result cache (figuredBass/checker.py stores False right after finding a hidden "
                    "interval) hides a repeat of the same four pitches earlier in the chorale")
        if side == "music21" and abs(du) <= 2:
            return "the soprano moves by step: the issue's rule (ours) requires a soprano leap"
        if side == "music21" and (abs(pu0 - pl0) % 12) == (abs(pu1 - pl1) % 12):
            return "interval class kept (we report it as parallel, not hidden)"
        return "other"
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="only the first N corpus files (for a quick look)")
    args = ap.parse_args()
    paths = [p for p in corpus.getComposer("bach") if Path(p).suffix in (".mxl", ".xml", ".krn")]
    if args.limit:
        paths = paths[: args.limit]

    # pass 1, timed: parse + check (strict) over the whole corpus
    seen: dict[str, str] = {}
    kept = []
    skipped: Counter = Counter()
    duplicates = 0
    parse_s = check_s = 0.0
    t_all = time.perf_counter()
    for p in paths:
        t0 = time.perf_counter()
        try:
            score = corpus.parse(p)
        except Exception as e:  # a corpus file music21 cannot read
            skipped[f"music21 cannot read: {type(e).__name__}"] += 1
            continue
        t1 = time.perf_counter()
        parse_s += t1 - t0
        try:
            report = check(score, "strict")
        except ScoreError as e:
            skipped[e.message.split(";")[0]] += 1
            check_s += time.perf_counter() - t1
            continue
        check_s += time.perf_counter() - t1
        s = report.sonorities
        digest = hashlib.sha1(s.pitch.tobytes() + np.round(s.offset, 3).tobytes()).hexdigest()
        if digest in seen:
            duplicates += 1
            continue
        seen[digest] = Path(p).name
        kept.append((Path(p).name, score, report))
    wall = time.perf_counter() - t_all
    print(f"{len(paths)} corpus files -> {len(kept)} unique four-voice chorales "
          f"({duplicates} duplicates, skipped: {dict(skipped)})")
    print(f"whole corpus, parse + check (strict): {wall:.1f} s wall (music21 parsing {parse_s:.1f} s, "
          f"our checking incl. extraction {check_s:.1f} s)")

    # pass 2: both profiles and music21's checker
    counts = {"strict": Counter(), "chorale": Counter()}
    severities = {"strict": Counter(), "chorale": Counter()}
    m21_counts: Counter = Counter()
    only_ours: dict[str, Counter] = defaultdict(Counter)
    only_m21: dict[str, Counter] = defaultdict(Counter)
    agree: Counter = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    m21_time = 0.0
    m21_failures: list = []
    for name, score, report in kept:
        parsed = report.parsed
        for prof in ("strict", "chorale"):
            r = report if prof == "strict" else check_arrays(parsed.sonorities, parsed.ctx, prof)
            for v in r.violations:
                counts[prof][v.rule] += 1
                severities[prof][(v.rule, v.severity.value)] += 1
        from music21.figuredBass import checker as m21checker

        for table in (m21checker.parallelFifthsTable, m21checker.parallelOctavesTable,
                      m21checker.hiddenFifthsTable, m21checker.hiddenOctavesTable):
            table.clear()  # its caches leak between chorales (and mis-record repeats): judge each chorale afresh
        t = time.perf_counter()
        theirs = set(figured_bass_violations(four_voice_score(parsed), m21_failures))
        m21_time += time.perf_counter() - t
        ours = {(v.rule, round(v.offset, 4), tuple(v.voices)) for v in report.violations if v.rule in FIVE}
        theirs = {(r, round(o, 4), vs) for r, o, vs in theirs}
        for r, _, _ in theirs:
            m21_counts[r] += 1
        for item in ours & theirs:
            agree[item[0]] += 1
        for side, items in (("ours", ours - theirs), ("music21", theirs - ours)):
            for rule, off, vs in items:
                why = _explain(rule, side, off, vs, parsed.sonorities)
                (only_ours if side == "ours" else only_m21)[rule][why] += 1
                key = f"{rule} / only {side} / {why}"
                if len(examples[key]) < 2:
                    m, b = parsed.sonorities.measure, parsed.sonorities.beat
                    rows = np.flatnonzero(np.isclose(parsed.sonorities.offset, off))
                    where = f"m{int(m[rows[0]])} b{float(b[rows[0]]):g}" if len(rows) else f"offset {off}"
                    examples[key].append(f"{name} {where} {'-'.join(vs)}")

    n = len(kept)
    print(f"\nviolations per rule over {n} chorales (strict errors / chorale errors+warnings; music21 figuredBass; "
          f"Humdrum reference over ~370 chorales)")
    print(f"{'rule':<28} {'strict':>7} {'chorale':>14} {'music21':>8} {'agree':>6} {'Humdrum':>8}")
    for rule in RULE_ORDER:
        ch_e = severities["chorale"][(rule, "error")]
        ch_w = severities["chorale"][(rule, "warning")]
        m21 = m21_counts.get(rule, "") if rule in FIVE else ""
        ag = agree.get(rule, "") if rule in FIVE else ""
        print(f"{rule:<28} {counts['strict'][rule]:>7} {f'{ch_e}+{ch_w}w':>14} {m21!s:>8} {ag!s:>6} "
              f"{HUMDRUM.get(rule, '')!s:>8}")
    print(f"\nmusic21 figuredBass.checker time over the same chorales: {m21_time:.1f} s; it raised an error at "
          f"{len(m21_failures)} moments (a rest in an outer voice), which it therefore did not judge")
    print("\ndisagreements with music21 (five shared rules), by reason:")
    for rule in FIVE:
        for side, table in (("only ours", only_ours), ("only music21", only_m21)):
            for why, c in table[rule].most_common():
                ex = "; ".join(examples[f"{rule} / {side.replace('only ', 'only ')} / {why}"])
                print(f"  {rule:<16} {side:<13} {c:>5}  {why}  [e.g. {ex}]")

    out = {
        "machine": platform.platform(),
        "files": len(paths), "chorales": n, "duplicates": duplicates, "skipped": dict(skipped),
        "timing_s": {"parse_and_check_strict_wall": wall, "music21_parsing": parse_s,
                     "our_check_incl_extraction": check_s, "music21_figured_bass_check": m21_time},
        "counts": {p: dict(counts[p]) for p in counts},
        "by_severity": {p: {f"{r}:{s}": c for (r, s), c in severities[p].items()} for p in severities},
        "music21_figured_bass": dict(m21_counts),
        "agree": dict(agree),
        "music21_failures": len(m21_failures),
        "only_ours": {r: dict(c) for r, c in only_ours.items()},
        "only_music21": {r: dict(c) for r, c in only_m21.items()},
        "examples": dict(examples),
        "humdrum_reference_from_issue": HUMDRUM,
    }
    write_text_atomic(RESULTS, json.dumps(out, indent=1))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
