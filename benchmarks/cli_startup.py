"""How long a ``partimento`` command takes from the shell: start-up, imports and the work, in fresh processes.

A teacher grading a folder of exercises runs ``partimento check`` once per file, so what a
fresh process pays before the first note is read counts more there than the check itself
(about 3 ms a chorale, ``checker_speed.py``). Each command runs ``--runs`` times in fresh
processes, alternating with the same command in a process that imports torch first (what
every command paid while the parser's construction imported the neural layer's model
module): the side-by-side shows what not importing torch saves. Median wall seconds.

    python benchmarks/cli_startup.py [--runs 7]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "cli_startup.json"
RUN = "import sys; from partimento.hybrid.cli import main; sys.exit(main(sys.argv[1:]))"
WITH_TORCH = "import torch; " + RUN


def _time(code: str, argv: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1):  # (check exits 1 when it finds errors)
        raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    from music21 import corpus

    from environment import environment

    tmp = Path(tempfile.mkdtemp())
    chorale = str(corpus.getWork("bach/bwv66.6"))
    commands = {
        "--help": ["--help"],
        "check (a Bach chorale, .mxl)": ["check", chorale],
        "plan (16 bars, chorale grammar)": ["plan", "--bars", "16", "--seed", "1"],
        "compose (8 bars, shipped model)": ["compose", "--bars", "8", "--seed", "1", "--out", str(tmp / "c.musicxml")],
    }
    out: dict[str, dict] = {}
    for name, argv in commands.items():
        now, torch_first = [], []
        for _ in range(args.runs):
            now.append(_time(RUN, argv))
            torch_first.append(_time(WITH_TORCH, argv))
        out[name] = {"argv": argv, "seconds": statistics.median(now), "seconds_with_torch_imported_first":
                     statistics.median(torch_first), "runs": now, "runs_with_torch_imported_first": torch_first}
        print(f"{name:34s} {out[name]['seconds']:.2f} s   (importing torch first: "
              f"{out[name]['seconds_with_torch_imported_first']:.2f} s)", flush=True)
    RESULTS.write_text(json.dumps({"command": " ".join(["python", "benchmarks/cli_startup.py", *sys.argv[1:]]),
                                   "environment": environment(), "commands": out}, indent=1) + "\n")
    print("wrote", RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
