"""Speed: our checker vs music21's ``figuredBass.checker`` on the same five rules, side by side.

Both start from the same freshly parsed music21 Score (parsing is not timed): music21 runs
``extractHarmonies`` and its four consecutive-possibility rules plus voice crossing (see
``partimento.grammar.rules.reference``); we run ``parse_score`` (Score -> integer arrays)
and our five rules (parallel fifths/octaves, hidden fifths/octaves, voice crossing). Each
measurement parses a fresh copy first, so neither side profits from the other's caches, and
runs with the garbage collector paused (as ``timeit`` does) after collecting the parser's garbage.
Also printed: our rules alone on arrays, and our whole strict profile (15 rules).

    python benchmarks/checker_speed.py [--chorales 12] [--repeats 7]
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from pathlib import Path

from music21 import corpus

from partimento.grammar.fileio import write_text_atomic
from partimento.grammar.rules import check_arrays, parse_score
from partimento.grammar.rules.crossing import VoiceCrossing
from partimento.grammar.rules.motion import HiddenFifths, HiddenOctaves, ParallelFifths, ParallelOctaves
from partimento.grammar.rules.reference import figured_bass_violations, four_voice_score

RESULTS = Path(__file__).parent / "results" / "checker_speed.json"
DEFAULT = ["bwv66.6", "bwv1.6", "bwv10.7", "bwv101.7", "bwv102.7", "bwv103.6", "bwv104.6", "bwv108.6",
           "bwv11.6", "bwv110.7", "bwv111.6", "bwv113.8"]


def _time(fn, path: str, repeats: int, prepare=lambda s: s) -> list[float]:
    out = []
    for _ in range(repeats):
        score = prepare(corpus.parse(path))  # fresh copy, not timed
        gc.collect()
        gc.disable()  # as timeit does: a collection of the parser's garbage is nobody's check time
        try:
            t = time.perf_counter()
            fn(score)
            out.append(time.perf_counter() - t)
        finally:
            gc.enable()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chorales", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    five = [ParallelFifths(), ParallelOctaves(), HiddenFifths(), HiddenOctaves(), VoiceCrossing()]

    def ours(score):
        ps = parse_score(score)
        return [v for r in five for v in r.check(ps.sonorities, ps.ctx)]

    def ours_strict(score):
        ps = parse_score(score)
        return check_arrays(ps.sonorities, ps.ctx, "strict")

    rows = []
    print(f"{'chorale':<10} {'sonorities':>10} {'music21 ms':>11} {'ours ms':>8} {'speed-up':>8} "
          f"{'rules-only ms':>13} {'strict(15) ms':>13}")
    for name in DEFAULT[: args.chorales]:
        path = str(corpus.getWork(name))
        ps = parse_score(corpus.parse(path))
        corpus.parse(path)
        # music21 gets the four voice parts only (chorales with extra instrument parts), prepared untimed
        theirs = _time(figured_bass_violations, path, args.repeats, lambda sc: four_voice_score(parse_score(sc)))
        mine = _time(ours, path, args.repeats)
        strict = _time(ours_strict, path, args.repeats)
        rules_only = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for r in five:
                r.check(ps.sonorities, ps.ctx)
            rules_only.append(time.perf_counter() - t)
        m21, us = statistics.median(theirs), statistics.median(mine)
        row = {"chorale": name, "sonorities": len(ps.sonorities), "music21_ms": m21 * 1e3, "ours_ms": us * 1e3,
               "speedup": m21 / us, "ours_rules_only_ms": statistics.median(rules_only) * 1e3,
               "ours_strict_all_rules_ms": statistics.median(strict) * 1e3,
               "music21_min_ms": min(theirs) * 1e3, "ours_min_ms": min(mine) * 1e3}
        rows.append(row)
        print(f"{name:<10} {row['sonorities']:>10} {row['music21_ms']:>11.2f} {row['ours_ms']:>8.2f} "
              f"{row['speedup']:>7.1f}x {row['ours_rules_only_ms']:>13.3f} {row['ours_strict_all_rules_ms']:>13.2f}")
    speedups = [r["speedup"] for r in rows]
    summary = {
        "median_speedup_end_to_end": statistics.median(speedups),
        "min_speedup_end_to_end": min(speedups),
        "median_speedup_rules_only": statistics.median(r["music21_ms"] / r["ours_rules_only_ms"] for r in rows),
        "target": 20.0,
    }
    print(f"\nmedian speed-up, both from a parsed Score (our extraction included): {summary['median_speedup_end_to_end']:.1f}x "
          f"(min {summary['min_speedup_end_to_end']:.1f}x; target >= 20x)")
    print(f"median speed-up of our five rules on arrays vs music21's whole check: {summary['median_speedup_rules_only']:.0f}x")
    masks = _mask_timing()
    write_text_atomic(RESULTS, json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                                           "repeats": args.repeats, "rows": rows, "summary": summary,
                                           "allowed_us_per_call": masks}, indent=1))
    print(f"written {RESULTS}")


def _mask_timing(calls: int = 2000) -> dict[str, float]:
    """Microseconds per ``allowed(state, voice)`` call of each hard rule, on decoding prefixes of a
    chorale (its inferred chords standing in for a plan's), the voice being written cycling S, A, T, B."""
    from dataclasses import replace

    from partimento.grammar.rules import REST, DecodeState, SonorityArray, hard_rules
    from partimento.grammar.rules.chords import infer_chords

    ps = parse_score(corpus.parse("bwv66.6"))
    s = ps.sonorities
    ctx = replace(ps.ctx, chords=infer_chords(s, ps.ctx.keys), chords_inferred=False)
    states = []
    for stop in range(2, len(s) + 1):
        for voice in range(4):
            p = s.pitch[:stop].copy()
            p[-1, voice:] = REST
            sub = SonorityArray(p, s.attack[:stop], s.offset[:stop], s.duration[:stop], s.measure[:stop], s.beat[:stop])
            states.append((DecodeState(sub, replace(ctx, keys=ctx.keys[:stop], chords=ctx.chords[:stop])), voice))
    out = {}
    print(f"\nallowed(state, voice): microseconds per call over {len(states)} decoding prefixes of bwv66.6")
    for rule in hard_rules("strict"):
        n = 0
        t = time.perf_counter()
        while n < calls:
            for st, voice in states:
                rule.allowed(st, voice)
            n += len(states)
        out[rule.id] = (time.perf_counter() - t) / n * 1e6
        print(f"  {rule.id:<28} {out[rule.id]:6.1f}")
    print(f"  {'all 14 hard rules together':<28} {sum(out.values()):6.1f}")
    return out


if __name__ == "__main__":
    main()
