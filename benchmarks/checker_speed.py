"""Speed: our whole ``strict`` checker vs music21's ``figuredBass.checker`` on its five rules, cold.

The figure that counts is the cold one: a fresh Python process parses N chorales with
music21 (not timed), then checks each one once, side by side: ours is ``check(score,
"strict")`` — reading the Score into sonority arrays, inferring chords, every one of the
strict profile's rules — and music21's is ``extractHarmonies`` plus its four
consecutive-possibility rules and voice crossing (``partimento.grammar.rules.reference``).
Each side gets its own freshly parsed copy of every chorale (music21 caches on a score),
and everything that happens on a first call (lazy imports, caches filling) is in the
cold times. The same process then checks the same chorales again, best of ``--repeats``,
for the warm figure. Chorales with instrument parts besides the four voices are checked
with ``parts=("Soprano", "Alto", "Tenor", "Bass")``.

Both sides start from the same parsed Score (each its own fresh copy) and end with a list
of violations: ours includes reading the voices out of the music21 objects (the SATB
reader), sonority building, key finding, chord inference and every rule; music21's
includes ``extractHarmonies`` and its rules. Not timed on either side: parsing the
MusicXML (``corpus.parse``) and, for music21, picking the four voice parts out of a
score with other parts (``_four_voices``, which runs our reader). Each check is timed
as wall time and as this process's CPU time (``time.process_time``): on a machine
shared with other work the CPU figure is the steadier of the two, and the speedups
are given for both.

The cold figure is taken in ``--processes`` fresh processes (3 by default) and their median
is reported beside each: runs of the same code on the quiet 2-core machine differ by about a
tenth (17.4-19.2x in three runs of one version).

Also printed: our check stage by stage (warm, each stage timed on its own: the reader,
the rest of ``parse_score``, chord inference, each rule), and microseconds per ``allowed(state, voice)`` call of every hard rule (the
decoder's face), on decoding prefixes of bwv66.6.

    python benchmarks/checker_speed.py [--split valid|test] [--chorales 30] [--repeats 3] [--processes 3]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "checker_speed.json"
SPLIT = Path(__file__).resolve().parents[1] / "neural" / "chorale_split.json"
SATB = ("Soprano", "Alto", "Tenor", "Bass")


#: What each side's timed call includes, written into the JSON next to the numbers.
SIDES = {
    "ours": "check(score, 'strict'): the SATB reader over the music21 objects, sonority arrays, keys (key signatures "
            "or key finding), chords inferred per sonority, every rule of the strict profile, violations sorted",
    "music21": "figured_bass_violations(score): figuredBass.checker.extractHarmonies on the four voice parts, then "
               "parallel fifths, parallel octaves, hidden fifths, hidden octaves and voice crossing",
    "not_timed": "corpus.parse of each chorale (each side its own copy); for music21 only, choosing the four voice "
                 "parts of a score with instrument parts",
}


def _load() -> list[float] | None:
    try:
        import os

        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _ours(score):
    from partimento.grammar.errors import ScoreError
    from partimento.grammar.rules import check

    try:
        return check(score, "strict")
    except ScoreError:  # instrument parts besides the four voices: name the voices
        return check(score, "strict", parts=SATB)


def _four_voices(score):
    """The four voice parts music21's checker should see, soprano first (prepared untimed)."""
    from music21 import stream

    from partimento.grammar.errors import ScoreError
    from partimento.grammar.rules.satb_reader import read_satb

    try:
        satb = read_satb(score)
    except ScoreError:
        satb = read_satb(score, parts=SATB)
    parts = list(satb.staves)
    if parts == list(score.parts):
        return score
    out = stream.Score()
    for p in parts:
        out.insert(0, p)
    return out


def worker(names: list[str], repeats: int, cold_only: bool = False) -> dict:
    """Runs in a fresh process: cold pass, then warm passes; returns per-chorale milliseconds.

    ``cold_only``: the cold pass alone (the extra processes of ``--processes``)."""
    import gc

    from music21 import corpus

    from partimento.grammar.rules.reference import figured_bass_violations

    ours_scores = [corpus.parse(n) for n in names]
    theirs_scores = [_four_voices(corpus.parse(n)) for n in names]
    gc.collect()
    rows = []
    for name, mine, theirs in zip(names, ours_scores, theirs_scores):
        gc.disable()  # as timeit does: collecting the parser's garbage is nobody's check time
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            report = _ours(mine)
            t1, c1 = time.perf_counter(), time.process_time()
            found = figured_bass_violations(theirs)
            t2, c2 = time.perf_counter(), time.process_time()
        finally:
            gc.enable()
        rows.append({"chorale": name, "sonorities": len(report.sonorities), "ours_cold_ms": (t1 - t0) * 1e3,
                     "music21_cold_ms": (t2 - t1) * 1e3, "ours_cold_cpu_ms": (c1 - c0) * 1e3,
                     "music21_cold_cpu_ms": (c2 - c1) * 1e3, "ours_violations": len(report.violations),
                     "music21_violations": len(found)})
    if cold_only:
        return {"rows": rows}
    for row in rows:  # warm: fresh copies again (music21 caches on a score), best of ``repeats``
        best_ours, best_theirs = float("inf"), float("inf")
        for _ in range(repeats):
            mine = corpus.parse(row["chorale"])
            theirs = _four_voices(corpus.parse(row["chorale"]))
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                _ours(mine)
                t1 = time.perf_counter()
                figured_bass_violations(theirs)
                t2 = time.perf_counter()
            finally:
                gc.enable()
            best_ours, best_theirs = min(best_ours, t1 - t0), min(best_theirs, t2 - t1)
        row["ours_warm_ms"], row["music21_warm_ms"] = best_ours * 1e3, best_theirs * 1e3
    return {"rows": rows, "masks_us": _mask_timing(), "stages_ms": _stage_timing(names)}


def _stage_timing(names: list[str]) -> dict[str, float]:
    """Where our time goes, warm, milliseconds per chorale: each stage of ``check`` timed on its own
    (fresh parsed copies for the stages that read music21 objects; inferred chords once seen)."""
    import gc
    from dataclasses import replace

    from music21 import corpus

    from partimento.grammar.errors import ScoreError
    from partimento.grammar.rules import get_profile, parse_score
    from partimento.grammar.rules.chords import infer_chords
    from partimento.grammar.rules.satb_reader import read_satb

    def satb_parts(f, score):
        try:
            return f(score)
        except ScoreError:
            return f(score, parts=SATB)

    total: dict[str, float] = {}

    def add(key, dt):
        total[key] = total.get(key, 0.0) + dt * 1e3 / len(names)

    for name in names:
        a, b = corpus.parse(name), corpus.parse(name)
        gc.collect()
        gc.disable()
        try:
            t = time.perf_counter()
            satb_parts(read_satb, a)
            add("reading the music21 objects (SATB reader)", time.perf_counter() - t)
            t = time.perf_counter()
            ps = satb_parts(parse_score, b)
            add("sonorities, keys, accents (parse_score less the reader)", time.perf_counter() - t)
            t = time.perf_counter()
            chords = infer_chords(ps.sonorities, ps.ctx.keys)
            add("inferred chords (a second time: cached rows)", time.perf_counter() - t)
            ctx = replace(ps.ctx, chords=chords, chords_inferred=True)
            for rule in get_profile("strict").rules():
                t = time.perf_counter()
                rule.check(ps.sonorities, ctx)
                add(f"rule {rule.id}", time.perf_counter() - t)
        finally:
            gc.enable()
    total["sonorities, keys, accents (parse_score less the reader)"] -= total["reading the music21 objects (SATB reader)"]
    return total


def _mask_timing(calls: int = 2000) -> dict[str, float]:
    """Microseconds per ``allowed(state, voice)`` call of each hard rule, on decoding prefixes of a
    chorale (its inferred chords standing in for a plan's), the voice being written cycling S, A, T, B."""
    from dataclasses import replace

    from music21 import corpus

    from partimento.grammar.rules import REST, DecodeState, SonorityArray, hard_rules, parse_score
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
    for rule in hard_rules("strict"):
        n = 0
        t = time.perf_counter()
        while n < calls:
            for st, voice in states:
                rule.allowed(st, voice)
            n += len(states)
        out[rule.id] = (time.perf_counter() - t) / n * 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="valid", choices=("valid", "test", "train"))
    ap.add_argument("--chorales", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3, help="warm passes per chorale (best of)")
    ap.add_argument("--processes", type=int, default=3,
                    help="fresh processes for the cold figure (the first also times warm, stages and masks); "
                         "separate runs of the same code differ by a tenth on this machine, so the median is reported")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cold-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = json.loads(SPLIT.read_text())[args.split][: args.chorales]
    if args.worker:
        print(json.dumps(worker(names, args.repeats, args.cold_only)))
        return
    load_before = _load()
    t = time.perf_counter()
    runs = []
    for k in range(max(args.processes, 1)):
        done = subprocess.run([sys.executable, __file__, "--worker", "--split", args.split, "--chorales",
                               str(args.chorales), "--repeats", str(args.repeats)] + (["--cold-only"] if k else []),
                              check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout))
    wall = time.perf_counter() - t
    data = runs[0]
    rows = data["rows"]
    cold_runs = [{"ours_ms": sum(r["ours_cold_ms"] for r in run["rows"]) / len(run["rows"]),
                  "music21_ms": sum(r["music21_cold_ms"] for r in run["rows"]) / len(run["rows"])} for run in runs]
    for run in cold_runs:
        run["speedup"] = run["music21_ms"] / run["ours_ms"]
    print(f"{'chorale':<14} {'rows':>5} {'ours cold':>10} {'m21 cold':>9} {'x':>6}  {'ours warm':>10} {'m21 warm':>9} {'x':>6}")
    for r in rows:
        print(f"{r['chorale']:<14} {r['sonorities']:>5} {r['ours_cold_ms']:>10.2f} {r['music21_cold_ms']:>9.2f} "
              f"{r['music21_cold_ms'] / r['ours_cold_ms']:>6.1f}  {r['ours_warm_ms']:>10.2f} "
              f"{r['music21_warm_ms']:>9.2f} {r['music21_warm_ms'] / r['ours_warm_ms']:>6.1f}")

    def total(key):
        return sum(r[key] for r in rows)

    summary = {
        "split": args.split, "chorales": len(rows),
        "cold_ours_ms_per_chorale": total("ours_cold_ms") / len(rows),
        "cold_music21_ms_per_chorale": total("music21_cold_ms") / len(rows),
        "cold_speedup_total": total("music21_cold_ms") / total("ours_cold_ms"),
        "cold_speedup_median": statistics.median(r["music21_cold_ms"] / r["ours_cold_ms"] for r in rows),
        "cold_first_chorale_ours_ms": rows[0]["ours_cold_ms"],
        "cold_cpu_ours_ms_per_chorale": total("ours_cold_cpu_ms") / len(rows),
        "cold_cpu_music21_ms_per_chorale": total("music21_cold_cpu_ms") / len(rows),
        "cold_cpu_speedup_total": total("music21_cold_cpu_ms") / total("ours_cold_cpu_ms"),
        "warm_ours_ms_per_chorale": total("ours_warm_ms") / len(rows),
        "warm_music21_ms_per_chorale": total("music21_warm_ms") / len(rows),
        "warm_speedup_total": total("music21_warm_ms") / total("ours_warm_ms"),
        "target_cold": 20.0, "stretch_cold": 50.0,
        "cold_runs": cold_runs,  # one per fresh process; the rows above are the first's
        "cold_speedup_median_of_runs": statistics.median(run["speedup"] for run in cold_runs),
    }
    print(f"\ncold (fresh process, each chorale checked once): ours {summary['cold_ours_ms_per_chorale']:.2f} ms, "
          f"music21 {summary['cold_music21_ms_per_chorale']:.2f} ms per chorale: "
          f"{summary['cold_speedup_total']:.1f}x on the totals (median per chorale {summary['cold_speedup_median']:.1f}x; "
          f"target >= 20x, stretch >= 50x)")
    print(f"cold, {len(cold_runs)} fresh processes: " + ", ".join(
        f"{run['speedup']:.1f}x ({run['ours_ms']:.2f} vs {run['music21_ms']:.2f} ms)" for run in cold_runs)
          + f"; median {summary['cold_speedup_median_of_runs']:.1f}x")
    print(f"cold, CPU time of this process: ours {summary['cold_cpu_ours_ms_per_chorale']:.2f} ms, music21 "
          f"{summary['cold_cpu_music21_ms_per_chorale']:.2f} ms per chorale: {summary['cold_cpu_speedup_total']:.1f}x")
    print(f"warm (best of {args.repeats}): ours {summary['warm_ours_ms_per_chorale']:.2f} ms, "
          f"music21 {summary['warm_music21_ms_per_chorale']:.2f} ms: {summary['warm_speedup_total']:.1f}x")
    print(f"\nallowed(state, voice), microseconds per call:")
    for rid, us in data["masks_us"].items():
        print(f"  {rid:<28} {us:6.1f}")
    print(f"  {'all hard rules together':<28} {sum(data['masks_us'].values()):6.1f}")
    stages = data["stages_ms"]
    rules = sum(v for k, v in stages.items() if k.startswith("rule "))
    print("\nour check by stage, warm, ms per chorale:")
    for k, v in stages.items():
        if not k.startswith("rule "):
            print(f"  {k:<58} {v:6.3f}")
    print(f"  {'the 16 rules together':<58} {rules:6.3f}")
    for k, v in sorted(((k, v) for k, v in stages.items() if k.startswith("rule ")), key=lambda kv: -kv[1])[:3]:
        print(f"    {k:<56} {v:6.3f}")
    from partimento.grammar.fileio import write_text_atomic

    write_text_atomic(RESULTS, json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                                           "command": " ".join(["python", "benchmarks/checker_speed.py", *sys.argv[1:]]),
                                           "load_average": {"before": load_before, "after": _load()}, "wall_s": wall,
                                           "sides": SIDES, "summary": summary, "rows": rows,
                                           "allowed_us_per_call": data["masks_us"],
                                           "stages_warm_ms_per_chorale": data["stages_ms"]}, indent=1))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
