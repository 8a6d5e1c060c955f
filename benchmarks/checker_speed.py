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

What runs just before a check decides much of its cold time: a check that starts right after
music21's checker ran for ~57 ms finds the CPU caches holding music21's code and data, not
ours, and takes about a sixth longer than the same check after one of our own. So the cold
pass is run in several designs (``--designs``), each in fresh processes of its own, and all
are reported; the first named is the headline, compared with the target:

* ``interleaved`` (the headline, and the design of earlier versions of this benchmark): every
  chorale parsed first, then chorale by chorale ours, then music21's; of the three the hardest
  on the faster side, whose check always follows the other's;
* ``after-parse``: chorale by chorale, each side checks right after parsing its own copy, as
  ``partimento check FILE`` runs (parse, then check) and as a script using music21's checker
  runs;
* ``in-turn``: every chorale parsed first, then one side checks all of them, then the other
  (the first side alternating with the process), as each checker runs over a batch of files;
* ``interleaved-prewarmed`` (a diagnosis, not a use): ``interleaved`` with one of our checks
  of another chorale (the first of the train split) run, untimed, between music21's check and
  ours: how much of the gap between the orders is the caches music21 leaves behind.

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
from typing import Any

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


#: How the cold pass orders the two checkers (each design in fresh processes of its own).
DESIGNS = {
    "interleaved": "all chorales parsed first; then, chorale by chorale, ours right after music21 checked the one "
                   "before: each of our checks starts with the CPU caches filled by music21's previous check",
    "after-parse": "chorale by chorale, each side checks right after parsing its own copy, as `partimento check "
                   "FILE` does (parse, then check); music21's side likewise",
    "in-turn": "all chorales parsed first; then one side checks all 30, then the other (which side goes first "
               "alternates with the process number): each checker as it runs over a batch of files",
    "interleaved-prewarmed": "interleaved, with one of our checks of another chorale (the first of the train split, "
                             "a fresh copy each time) run untimed between music21's check and ours: a diagnosis of "
                             "how much the caches music21 leaves behind cost our check",
}


def _time_one(check, score) -> tuple[Any, float, float]:
    """(result, wall ms, CPU ms) of one check with the collector off, as timeit does: collecting the
    parser's garbage is nobody's check time."""
    import gc

    gc.disable()
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        out = check(score)
        t1, c1 = time.perf_counter(), time.process_time()
    finally:
        gc.enable()
    return out, (t1 - t0) * 1e3, (c1 - c0) * 1e3


def _cold_rows(names: list[str], design: str, process: int) -> list[dict]:
    """The cold pass (each chorale checked once by each side) in one of :data:`DESIGNS`."""
    import gc

    from music21 import corpus

    from partimento.grammar.rules.reference import figured_bass_violations

    timed: dict[str, dict[str, tuple]] = {"ours": {}, "music21": {}}
    if design == "after-parse":
        for name in names:
            mine = corpus.parse(name)
            timed["ours"][name] = _time_one(_ours, mine)
            theirs = _four_voices(corpus.parse(name))
            timed["music21"][name] = _time_one(figured_bass_violations, theirs)
    else:
        ours_scores = [corpus.parse(n) for n in names]
        theirs_scores = [_four_voices(corpus.parse(n)) for n in names]
        gc.collect()
        if design in ("interleaved", "interleaved-prewarmed"):
            other = json.loads(SPLIT.read_text())["train"][0]
            warm_ups = [corpus.parse(other) for _ in names] if design == "interleaved-prewarmed" else []
            for k, (name, mine, theirs) in enumerate(zip(names, ours_scores, theirs_scores)):
                if warm_ups:
                    _ours(warm_ups[k])  # untimed: our code and data back in the caches
                timed["ours"][name] = _time_one(_ours, mine)
                timed["music21"][name] = _time_one(figured_bass_violations, theirs)
        elif design == "in-turn":
            sides = [("ours", _ours, ours_scores), ("music21", figured_bass_violations, theirs_scores)]
            for side, check, scores in (sides if process % 2 == 0 else sides[::-1]):
                for name, score in zip(names, scores):
                    timed[side][name] = _time_one(check, score)
        else:
            raise ValueError(f"unknown design {design!r}: one of {', '.join(DESIGNS)}")
    rows = []
    for name in names:
        report, ours_ms, ours_cpu = timed["ours"][name]
        found, m21_ms, m21_cpu = timed["music21"][name]
        rows.append({"chorale": name, "sonorities": len(report.sonorities), "ours_cold_ms": ours_ms,
                     "music21_cold_ms": m21_ms, "ours_cold_cpu_ms": ours_cpu, "music21_cold_cpu_ms": m21_cpu,
                     "ours_violations": len(report.violations), "music21_violations": len(found)})
    return rows


def worker(names: list[str], repeats: int, cold_only: bool = False, design: str = "interleaved",
           process: int = 0) -> dict:
    """Runs in a fresh process: the cold pass in ``design``, then warm passes; returns per-chorale milliseconds.

    ``cold_only``: the cold pass alone (the extra processes of ``--processes``)."""
    import gc

    from music21 import corpus

    from partimento.grammar.rules.reference import figured_bass_violations

    rows = _cold_rows(names, design, process)
    if cold_only:
        return {"rows": rows}
    for row in rows:  # warm: fresh copies again (music21 caches on a score), best of ``repeats``
        best_ours, best_theirs = float("inf"), float("inf")
        for _ in range(repeats):
            mine = corpus.parse(row["chorale"])
            theirs = _four_voices(corpus.parse(row["chorale"]))
            gc.collect()
            best_ours = min(best_ours, _time_one(_ours, mine)[1])
            best_theirs = min(best_theirs, _time_one(figured_bass_violations, theirs)[1])
        row["ours_warm_ms"], row["music21_warm_ms"] = best_ours, best_theirs
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
    ap.add_argument("--designs", default=",".join(DESIGNS),
                    help="cold designs to run, comma-separated, the first the headline (default: all three: "
                         + "; ".join(f"{k}: {v}" for k, v in DESIGNS.items()) + ")")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cold-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--design", default="interleaved", help=argparse.SUPPRESS)
    ap.add_argument("--process", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = json.loads(SPLIT.read_text())[args.split][: args.chorales]
    if args.worker:
        print(json.dumps(worker(names, args.repeats, args.cold_only, args.design, args.process)))
        return
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    unknown = [d for d in designs if d not in DESIGNS]
    if unknown or not designs:
        ap.error(f"unknown design(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(DESIGNS)}")
    load_before = _load()
    t = time.perf_counter()
    by_design: dict[str, list[dict]] = {}
    data = None
    for design in designs:
        for k in range(max(args.processes, 1)):
            full = data is None  # the first process also times warm, the stages and the masks
            done = subprocess.run([sys.executable, __file__, "--worker", "--split", args.split, "--chorales",
                                   str(args.chorales), "--repeats", str(args.repeats), "--design", design,
                                   "--process", str(k)] + ([] if full else ["--cold-only"]),
                                  check=True, capture_output=True, text=True)
            run = json.loads(done.stdout)
            if full:
                data = run
            by_design.setdefault(design, []).append(run)
    wall = time.perf_counter() - t
    rows = data["rows"]

    def cold_run(run: dict) -> dict:
        n = len(run["rows"])
        ours = sum(r["ours_cold_ms"] for r in run["rows"]) / n
        theirs = sum(r["music21_cold_ms"] for r in run["rows"]) / n
        return {"ours_ms": ours, "music21_ms": theirs, "speedup": theirs / ours}

    design_summary = {}
    for design, runs in by_design.items():
        cold = [cold_run(run) for run in runs]
        design_summary[design] = {"description": DESIGNS[design], "runs": cold,
                                  "median_speedup": statistics.median(c["speedup"] for c in cold),
                                  "median_ours_ms": statistics.median(c["ours_ms"] for c in cold),
                                  "median_music21_ms": statistics.median(c["music21_ms"] for c in cold)}
    cold_runs = design_summary[designs[0]]["runs"]
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
        "headline_design": designs[0],
        "cold_runs": cold_runs,  # the headline design's, one per fresh process; the rows above are its first's
        "cold_speedup_median_of_runs": statistics.median(run["speedup"] for run in cold_runs),
        "designs": design_summary,
    }
    print(f"\ncold, {designs[0]}, first process (fresh process, each chorale checked once): ours {summary['cold_ours_ms_per_chorale']:.2f} ms, "
          f"music21 {summary['cold_music21_ms_per_chorale']:.2f} ms per chorale: "
          f"{summary['cold_speedup_total']:.1f}x on the totals (median per chorale {summary['cold_speedup_median']:.1f}x; "
          f"target >= 20x, stretch >= 50x)")
    for design, d in design_summary.items():
        print(f"cold, {design}, {len(d['runs'])} fresh processes: " + ", ".join(
            f"{run['speedup']:.1f}x ({run['ours_ms']:.2f} vs {run['music21_ms']:.2f} ms)" for run in d["runs"])
              + f"; median {d['median_speedup']:.1f}x" + ("  <- headline" if design == designs[0] else ""))
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

    from environment import environment

    write_text_atomic(RESULTS, json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                                           "environment": environment(),
                                           "command": " ".join(["python", "benchmarks/checker_speed.py", *sys.argv[1:]]),
                                           "load_average": {"before": load_before, "after": _load()}, "wall_s": wall,
                                           "sides": SIDES, "summary": summary, "rows": rows,
                                           "allowed_us_per_call": data["masks_us"],
                                           "stages_warm_ms_per_chorale": data["stages_ms"]}, indent=1))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
