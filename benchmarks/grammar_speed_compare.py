"""Grammar-layer speed before and after a change, side by side in one run.

The machine's speed drifts with its load, so a figure taken an hour ago says little about a
figure taken now. This script checks out a baseline commit's ``grammar``, ``neural`` and
``hybrid`` packages into a temporary folder (``git archive``), and then, round after round,
runs the same measurements with the baseline and with this worktree, alternating, each in a
fresh process:

* ``sample()`` and ``Plan.to_json(indent=None)``, 16-bar plans per second (chorale, harmony;
  shipped weights; warm-up of 500 plans, best of 3 runs of 500);
* end to end: ``partimento plan --grammar chorale --bars 16 --count 2001 --format jsonl``
  against ``--count 1`` (start-up excluded);
* parsing the development corpus's phrases (the first ``--phrases``): the recognizer alone and
  the full parse with its most probable tree, median per phrase.

Sampling, JSON and end-to-end figures are given in wall-clock time and in CPU time (the
process's, or the CLI child processes' user + system time), which a loaded machine
disturbs less.

    python benchmarks/grammar_speed_compare.py [--baseline 3748a42] [--rounds 2]

Prints each measurement with the load average and writes
``benchmarks/results/grammar_speed_before_after.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from partimento.grammar.corpus import DEVELOPMENT_CORPUS, development_files, read_phrases

from grammar_results import children_cpu_seconds, write_result

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = """
import json, sys, time
from partimento.grammar import load
name = sys.argv[1]
g = load(name)
for s in range(10000, 10500):
    g.sample(key="C", bars=16, seed=s).to_json(indent=None)
best_s = best_j = best_sc = best_jc = float("inf")
for _ in range(3):
    t, c = time.perf_counter(), time.process_time()
    plans = [g.sample(key="C", bars=16, seed=s) for s in range(500)]
    best_s, best_sc = min(best_s, (time.perf_counter() - t) / 500), min(best_sc, (time.process_time() - c) / 500)
    t, c = time.perf_counter(), time.process_time()
    for p in plans:
        p.to_json(indent=None)
    best_j, best_jc = min(best_j, (time.perf_counter() - t) / 500), min(best_jc, (time.process_time() - c) / 500)
print(json.dumps({"sample_per_s": 1 / best_s, "to_json_per_s": 1 / best_j, "sample_per_cpu_s": 1 / best_sc,
                  "to_json_per_cpu_s": 1 / best_jc, "chords_mean": sum(len(p.chords) for p in plans) / len(plans)}))
"""

PARSE = """
import json, statistics, sys, time
from partimento.grammar import load
phrases = json.load(open(sys.argv[1]))
parser = load("harmony")._parser
for p in phrases[:30]:  # the token match caches fill
    parser.parse_tokens(p["tokens"], p["mode"])
rec, full = [], []
for p in phrases:
    t = time.perf_counter()
    ok, _ = parser.parse_tokens(p["tokens"], p["mode"])
    rec.append(time.perf_counter() - t)
    if ok:
        parser._last_chart = None  # the full parse recognizes again
        t = time.perf_counter()
        parser.parse_tokens(p["tokens"], p["mode"])
        parser.tree(p["tokens"], p["mode"])
        full.append(time.perf_counter() - t)
print(json.dumps({"phrases": len(phrases), "trees": len(full), "recognize_ms_median": 1000 * statistics.median(rec),
                  "full_parse_with_tree_ms_median": 1000 * statistics.median(full)}))
"""

CLI = "import sys; from partimento.hybrid.cli import main; sys.exit(main())"


def baseline_tree(rev: str, where: Path) -> Path:
    """The baseline's packages importable as ``partimento``: returns the folder for PYTHONPATH."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "grammar", "neural", "hybrid"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    pkg = where / "pkg" / "partimento"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name in ("grammar", "neural", "hybrid"):
        (pkg / name).symlink_to(where / name)
    return where / "pkg"


def child(code: str, args: list[str], env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, cwd="/tmp")
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def end_to_end(env: dict, tmp: Path) -> dict:

    def run(count: int) -> tuple[float, float]:
        t, c = time.perf_counter(), children_cpu_seconds()
        subprocess.run([sys.executable, "-c", CLI, "plan", "--grammar", "chorale", "--bars", "16", "--count",
                        str(count), "--format", "jsonl", "--out", str(tmp / "plans.jsonl")],
                       env=env, check=True, cwd="/tmp")
        return time.perf_counter() - t, children_cpu_seconds() - c

    ones = [run(1) for _ in range(2)]
    one, cpu_one = min(w for w, _ in ones), min(c for _, c in ones)
    many, cpu_many = run(2001)
    return {"seconds_count_1": one, "seconds_count_2001": many, "plans_per_s": 2000 / (many - one),
            "cpu_seconds_count_1": cpu_one, "cpu_seconds_count_2001": cpu_many,
            "plans_per_cpu_s": 2000 / (cpu_many - cpu_one)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="3748a42", help="the commit to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--phrases", type=int, default=200)
    ap.add_argument("--corpus", type=Path, default=DEVELOPMENT_CORPUS)
    ap.add_argument("--out", default="benchmarks/results/grammar_speed_before_after.json")
    args = ap.parse_args()
    result: dict = {"baseline": args.baseline, "cpu_count": os.cpu_count(), "load_average_before": os.getloadavg(),
                    "rounds": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "base").mkdir()
        envs = {"before": dict(os.environ, PYTHONPATH=str(baseline_tree(args.baseline, tmp / "base"))),
                "after": dict(os.environ)}
        envs["after"].pop("PYTHONPATH", None)
        phrases = [{"tokens": p["tokens"], "mode": p["mode"]}
                   for p in read_phrases(development_files(args.corpus))[: args.phrases]]
        (tmp / "phrases.json").write_text(json.dumps(phrases))
        for rnd in range(args.rounds):
            row = {}
            for which, env in envs.items():
                r: dict = {"load_average": os.getloadavg()[0]}
                for name in ("chorale", "harmony"):
                    r[f"sample_{name}"] = child(SAMPLE, [name], env)
                r["end_to_end"] = end_to_end(env, tmp)
                r["parse_development"] = child(PARSE, [str(tmp / "phrases.json")], env)
                row[which] = r
                print(f"round {rnd} {which:6s} load {r['load_average']:.1f}: sample chorale "
                      f"{r['sample_chorale']['sample_per_s']:.0f}/s (CPU {r['sample_chorale']['sample_per_cpu_s']:.0f}), "
                      f"harmony {r['sample_harmony']['sample_per_s']:.0f}/s "
                      f"(CPU {r['sample_harmony']['sample_per_cpu_s']:.0f}); to_json chorale "
                      f"{r['sample_chorale']['to_json_per_s']:.0f}/s (CPU {r['sample_chorale']['to_json_per_cpu_s']:.0f}); "
                      f"end to end {r['end_to_end']['plans_per_s']:.0f} plans/s "
                      f"(CPU {r['end_to_end']['plans_per_cpu_s']:.0f}); parse: recognizer "
                      f"{r['parse_development']['recognize_ms_median']:.2f} ms, with tree "
                      f"{r['parse_development']['full_parse_with_tree_ms_median']:.2f} ms", flush=True)
            result["rounds"].append(row)
    result["load_average_after"] = os.getloadavg()
    write_result(args.out, result)


if __name__ == "__main__":
    main()
