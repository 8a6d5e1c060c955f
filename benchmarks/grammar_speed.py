"""Speed of the grammar layer: sampling, plan JSON, the ``plan`` command end to end, parsing.

* ``sample()``: 16-bar plans per second for each shipped grammar, in process (after a warm-up
  that fills the grammar's caches; best of ``--repeat`` runs);
* ``sample()`` and reading ``plan.chords``: a sampled plan builds its ChordEvents on first
  read (``plan._LazyChords``), so this is what a caller who reads the chords pays;
* ``Plan.to_json(indent=None)``: one JSON Lines record per plan;
* end to end: ``partimento plan --bars 16 --count 2001 --format jsonl --out FILE`` against
  ``--count 1``, each in a fresh process, so start-up cancels out: 2000 / (t2001 - t1), in
  wall-clock time and in the child processes' CPU time (user + system);
* parsing: the full parse of one phrase, recognition and the most probable tree (what
  ``fit`` and derivation paths use), and the recognizer alone (what ``parse`` and coverage need),
  median and 90th percentile, on the development corpus's phrases (when present) and on sampled
  phrases of about 16 and 50 chords.

    python benchmarks/grammar_speed.py [--plans 1000] [--phrases 200] [--repeat 5]

Times are wall-clock (time.perf_counter) on whatever else the machine is running, and the
in-process figures also in CPU time (time.process_time), which a loaded machine disturbs less:
compare runs side by side. Prints the numbers and writes ``benchmarks/results/grammar_speed.json``.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from partimento.grammar import available_grammars, load
from partimento.grammar.corpus import DEVELOPMENT_CORPUS as DEV, development_files, read_phrases
from partimento.grammar.parsing import phrase_tokens

from grammar_results import children_cpu_seconds, write_result

ROOT = Path(__file__).resolve().parent.parent


def sampling(name: str, n: int, repeat: int) -> dict:
    g = load(name)
    bars = 12 if name == "blues" else 16
    for seed in range(10_000, 10_000 + n):  # warm-up: the length tables and draw tables fill up
        g.sample(key="C", bars=bars, seed=seed)
    best = {k: float("inf") for k in ("sample", "sample_cpu", "json", "json_cpu", "read", "read_cpu")}

    def timed(name: str, work):
        gc.collect()  # each block pays for its own garbage, not for the survivors of the block before it
        t, c = time.perf_counter(), time.process_time()
        out = work()
        best[name] = min(best[name], (time.perf_counter() - t) / n)
        best[name + "_cpu"] = min(best[name + "_cpu"], (time.process_time() - c) / n)
        return out

    plans = []
    for _ in range(repeat):
        plans = timed("sample", lambda: [g.sample(key="C", bars=bars, seed=seed) for seed in range(n)])
        timed("json", lambda: [p.to_json(indent=None) for p in plans])
        timed("read", lambda: [g.sample(key="C", bars=bars, seed=seed).chords for seed in range(n)])
    return {"bars": bars, "sample_per_s": 1 / best["sample"], "sample_us": best["sample"] * 1e6,
            "sample_per_cpu_s": 1 / best["sample_cpu"],
            "sample_and_read_chords_per_s": 1 / best["read"], "sample_and_read_chords_per_cpu_s": 1 / best["read_cpu"],
            "to_json_per_s": 1 / best["json"], "to_json_us": best["json"] * 1e6, "to_json_per_cpu_s": 1 / best["json_cpu"],
            "chords_mean": statistics.mean(len(p.chords) for p in plans),
            "jsonl_bytes_mean": statistics.mean(len(p.to_json(indent=None)) for p in plans[:50])}


def end_to_end(grammar: str, count: int, repeat: int) -> dict:
    """``partimento plan ... --format jsonl`` with count plans against one plan, fresh processes."""
    cmd = [sys.executable, "-c", "import sys; from partimento.hybrid.cli import main; sys.exit(main())"]
    times: dict[int, list[float]] = {1: [], count: []}
    cpu: dict[int, list[float]] = {1: [], count: []}


    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            for k in (1, count):
                out = Path(tmp) / f"plans{k}.jsonl"
                t, c = time.perf_counter(), children_cpu_seconds()
                subprocess.run(cmd + ["plan", "--grammar", grammar, "--bars", "16", "--count", str(k), "--format",
                                      "jsonl", "--out", str(out)], check=True)
                times[k].append(time.perf_counter() - t)
                cpu[k].append(children_cpu_seconds() - c)
        lines = sum(1 for _ in open(Path(tmp) / f"plans{count}.jsonl"))
    one, many = min(times[1]), min(times[count])
    cpu_one, cpu_many = min(cpu[1]), min(cpu[count])
    return {"grammar": grammar, "count": count, "lines_written": lines, "seconds_count_1": one,
            f"seconds_count_{count}": many, "plans_per_s": (count - 1) / (many - one),
            "cpu_seconds_count_1": cpu_one, f"cpu_seconds_count_{count}": cpu_many,
            "plans_per_cpu_s": (count - 1) / (cpu_many - cpu_one),
            "command": f"partimento plan --grammar {grammar} --bars 16 --count {count} --format jsonl --out FILE"}


def parse_times(phrases: list[tuple[list[str], str]], trees: int) -> dict:
    parser = load("harmony")._parser
    rec, full = [], []
    for toks, mode in phrases:
        t = time.perf_counter()
        ok, _ = parser.parse_tokens(toks, mode)
        rec.append(time.perf_counter() - t)
        if ok and len(full) < trees:
            parser._last_chart = None  # the full parse recognizes again (the parser keeps the last chart)
            t = time.perf_counter()
            parser.parse_tokens(toks, mode)
            parser.tree(toks, mode)
            full.append(time.perf_counter() - t)

    def ms(xs: list[float], q: float) -> float:
        return 1000 * sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]

    return {"phrases": len(phrases), "chords_mean": statistics.mean(
        len([x for x in t if not x.startswith("@")]) for t, _ in phrases),
        "full_parse_with_tree_ms_median": ms(full, 0.5), "full_parse_with_tree_ms_p90": ms(full, 0.9),
        "recognize_ms_median": ms(rec, 0.5), "recognize_ms_p90": ms(rec, 0.9), "trees": len(full)}


def sampled_phrases(n: int, bars: int) -> list[tuple[list[str], str]]:
    g = load("harmony")
    out = []
    for seed in range(n):
        plan = g.sample(key="C" if seed % 2 else "a", bars=bars, seed=seed, phrase_bars=bars)
        out.append((phrase_tokens(plan.chords), "minor" if plan.key.islower() else "major"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plans", type=int, default=1000)
    ap.add_argument("--phrases", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--count", type=int, default=2001)
    ap.add_argument("--out", default="benchmarks/results/grammar_speed.json")
    args = ap.parse_args()
    result: dict = {"cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    result["sampling"] = {}
    for name in available_grammars():
        r = result["sampling"][name] = sampling(name, args.plans, args.repeat)
        print(f"sample {name:9s} {r['sample_per_s']:7.0f} plans/s (CPU time {r['sample_per_cpu_s']:.0f}/s; "
              f"{r['bars']} bars, {r['chords_mean']:.0f} chords), with the chords read {r['sample_and_read_chords_per_s']:.0f}/s; "
              f"to_json {r['to_json_per_s']:7.0f}/s (CPU {r['to_json_per_cpu_s']:.0f}/s, {r['jsonl_bytes_mean'] / 1000:.1f} kB)",
              flush=True)
    result["end_to_end"] = e2e = end_to_end("chorale", args.count, max(2, args.repeat // 2))
    print(f"end to end: {e2e['command']}: {e2e['plans_per_s']:.0f} plans/s, {e2e['plans_per_cpu_s']:.0f} per CPU second "
          f"({e2e['seconds_count_1']:.2f} s for 1 plan, {e2e[f'seconds_count_{args.count}']:.2f} s for {args.count})",
          flush=True)
    parse = {}
    if (DEV / "manifest.json").is_file():
        dev = read_phrases(development_files(DEV))
        parse["development_corpus"] = parse_times([(p["tokens"], p["mode"]) for p in dev], args.phrases)
    parse["sampled_4_bars"] = parse_times(sampled_phrases(args.phrases, 4), args.phrases)
    parse["sampled_16_bars"] = parse_times(sampled_phrases(args.phrases, 16), max(20, args.phrases // 5))
    result["parse"] = parse
    for label, d in parse.items():
        print(f"parse {label}: {d['chords_mean']:.1f} chords; full parse with tree median "
              f"{d['full_parse_with_tree_ms_median']:.1f} ms (p90 {d['full_parse_with_tree_ms_p90']:.1f}); "
              f"recognizer alone {d['recognize_ms_median']:.2f} ms (p90 {d['recognize_ms_p90']:.2f})")
    result["load_average_after"] = os.getloadavg()
    write_result(args.out, result)


if __name__ == "__main__":
    main()
