"""Where a cold check spends its time: our check split into its stages, cold and warm.

``checker_speed.py`` gives the headline (our whole check against music21's, cold); this
diagnosis splits our side into the SATB reader (``read_satb``: the music21 objects read
into note events), the rest of ``parse_score`` (sonorities, keys, accents) and the rest of
``check`` (inferred chords and the 16 rules), timed by wrapping those two functions, in
the ``interleaved`` order (every chorale parsed first, then chorale by chorale our check
right after music21's) and the ``in-turn`` order (ours over all 30, then music21's), each
in ``--processes`` fresh processes. Then, in the last process, the same stages warm (best
of ``--repeats`` passes over the 30) and each rule on its own, warm; and, as a floor for
any reader, a bare walk that only fetches every note's offset, length, pitch and tie
(through music21's public API, and through its private attributes).

    python benchmarks/checker_cold_stages.py [--processes 3] [--repeats 20] [--out PATH]

Run with another environment's Python (another music21) and ``--out`` to compare libraries.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from checker_speed import SPLIT, _four_voices, _ours

RESULTS = Path(__file__).parent / "results" / "checker_cold_stages.json"
ORDERS = ("interleaved", "in-turn")


def _timers():
    """Wrap read_satb and parse_score where check calls them; return the accumulating seconds."""
    import partimento.grammar.rules.checker as checker
    import partimento.grammar.rules.sonority as sonority

    acc = {"read": 0.0, "parse": 0.0}

    def timed(fn, key):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[key] += time.perf_counter() - t0
        return wrapper

    sonority.read_satb = timed(sonority.read_satb, "read")
    checker.parse_score = timed(checker.parse_score, "parse")
    return acc


def _stages(acc: dict, total: float, n: int) -> dict:
    return {"reader_ms": acc["read"] / n * 1e3, "parse_rest_ms": (acc["parse"] - acc["read"]) / n * 1e3,
            "chords_and_rules_ms": (total - acc["parse"]) / n * 1e3, "total_ms": total / n * 1e3}


def worker(order: str, warm_repeats: int) -> dict:
    """One fresh process: the cold pass in ``order``, then (if ``warm_repeats``) the warm stages."""
    import gc

    from music21 import corpus

    from partimento.grammar.rules.reference import figured_bass_violations

    names = json.loads(SPLIT.read_text())["valid"][:30]
    acc = _timers()
    mine = [corpus.parse(n) for n in names]
    theirs = [_four_voices(corpus.parse(n)) for n in names]
    gc.collect()
    gc.disable()
    ours_s = m21_s = 0.0
    if order == "interleaved":
        for a, b in zip(mine, theirs):
            t0 = time.perf_counter()
            _ours(a)
            t1 = time.perf_counter()
            figured_bass_violations(b)
            ours_s, m21_s = ours_s + t1 - t0, m21_s + time.perf_counter() - t1
    elif order == "in-turn":
        t0 = time.perf_counter()
        for a in mine:
            _ours(a)
        t1 = time.perf_counter()
        for b in theirs:
            figured_bass_violations(b)
        ours_s, m21_s = t1 - t0, time.perf_counter() - t1
    else:
        raise ValueError(f"unknown order {order!r}: one of {', '.join(ORDERS)}")
    out = {"order": order, "cold": _stages(acc, ours_s, len(names)), "music21_ms": m21_s / len(names) * 1e3}
    out["cold"]["speedup"] = m21_s / ours_s
    if warm_repeats:
        out["warm"] = _warm(mine, acc, warm_repeats)
    gc.enable()
    return out


def _warm(scores: list, acc: dict, repeats: int) -> dict:
    from dataclasses import replace

    from partimento.grammar.rules.checker import _rules_of
    from partimento.grammar.rules.chords import infer_chords
    from partimento.grammar.rules.profiles import get_profile
    from partimento.grammar.rules.sonority import parse_score

    best = None
    for _ in range(repeats):
        acc["read"] = acc["parse"] = 0.0
        t0 = time.perf_counter()
        for s in scores:
            _ours(s)
        total = time.perf_counter() - t0
        stages = _stages(acc, total, len(scores))
        if best is None or stages["total_ms"] < best["total_ms"]:
            best = stages
    parsed = []
    for s in scores:
        try:
            parsed.append(parse_score(s))
        except Exception:  # noqa: BLE001 - instrument parts: name the voices, as _ours does
            parsed.append(parse_score(s, parts=("Soprano", "Alto", "Tenor", "Bass")))
    contexts = [replace(p.ctx, chords=infer_chords(p.sonorities, p.ctx.keys), chords_inferred=True) for p in parsed]
    per_rule: dict[str, float] = {}
    for rule in _rules_of(get_profile("strict")):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for p, ctx in zip(parsed, contexts):
                ctx.scratch = {}
                rule.check(p.sonorities, ctx)
            times.append(time.perf_counter() - t0)
        per_rule[rule.id] = min(times) / len(scores) * 1e3
    best["rules_alone_ms"] = dict(sorted(per_rule.items(), key=lambda kv: -kv[1]))
    best["bare_walk_ms"] = {name: min(_timed_walk(walk, scores) for _ in range(repeats)) / len(scores) * 1e3
                            for name, walk in (("public", _walk_public), ("private", _walk_private))}
    return best


def _timed_walk(walk, scores: list) -> float:
    t0 = time.perf_counter()
    for s in scores:
        walk(s)
    return time.perf_counter() - t0


def _walk_public(score) -> list:
    """A floor for any reader: every note's measure offset, offset, length, MIDI pitch and tie, music21's public API."""
    from music21 import note, stream

    out = []
    for part in score.parts:
        for m in part.getElementsByClass(stream.Measure):
            moff = m.offset
            for el in m.notes:
                if isinstance(el, note.Note):
                    out.append((moff + el.offset, el.duration.quarterLength, el.pitch.midi, el.tie))
    return out


def _walk_private(score) -> list:
    """The same walk through music21's private attributes (what no reader should rely on): a lower floor."""
    from music21 import note, stream

    out = []
    for part in score._elements:
        if isinstance(part, stream.Part):
            for m in part._elements:
                if isinstance(m, stream.Measure):
                    for el in m._elements:
                        if isinstance(el, note.Note):
                            out.append((el.offset, el.duration._qtrLength, el.pitch._step, el.tie))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20, help="warm passes (best kept)")
    ap.add_argument("--out", default=str(RESULTS), help="JSON to write (default: %(default)s)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--warm", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.warm)))
        return 0
    runs: dict[str, list] = {o: [] for o in ORDERS}
    warm = None
    for k in range(args.processes):
        for order in ORDERS:
            last = k == args.processes - 1 and order == ORDERS[-1]
            cmd = [sys.executable, __file__, "--worker", order, "--warm", str(args.repeats if last else 0)]
            row = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            warm = row.pop("warm", warm)
            runs[order].append(row)
            c = row["cold"]
            print(f"{order:12s} cold: reader {c['reader_ms']:.2f}  sonorities/keys {c['parse_rest_ms']:.2f}  "
                  f"chords+rules {c['chords_and_rules_ms']:.2f}  total {c['total_ms']:.2f} ms; music21 "
                  f"{row['music21_ms']:.1f} ms ({c['speedup']:.1f}x)", flush=True)
    med = {o: {k: statistics.median(r["cold"][k] for r in rows) for k in rows[0]["cold"]} for o, rows in runs.items()}
    print(f"warm (best of {args.repeats}): reader {warm['reader_ms']:.2f}  sonorities/keys {warm['parse_rest_ms']:.2f}  "
          f"chords+rules {warm['chords_and_rules_ms']:.2f}  total {warm['total_ms']:.2f} ms")
    for rule, ms in list(warm["rules_alone_ms"].items())[:5]:
        print(f"  {rule:28s} {ms:.3f} ms")
    print(f"  every rule alone, summed {sum(warm['rules_alone_ms'].values()):.2f} ms; a bare walk over the notes "
          f"(floor of any reader): public API {warm['bare_walk_ms']['public']:.2f} ms, private attributes "
          f"{warm['bare_walk_ms']['private']:.2f} ms")
    from environment import environment

    from partimento.grammar.fileio import write_text_atomic

    write_text_atomic(Path(args.out), json.dumps({"command": " ".join(["python", "benchmarks/checker_cold_stages.py",
                                                                 *sys.argv[1:]]),
                                           "environment": environment(), "cold_median": med, "cold_runs": runs,
                                           "warm_best": warm}, indent=1))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
