"""Fermatas where the harmonizer's plan is in Bach's key but its realized notes read another key.

``harmonize_vs_bach.py`` finds the key of each phrase's close by key profiles over the last
two bars of the four voices (``cadence_keys``), for Bach's setting and for ours, and, apart,
compares the plan's own key at the fermata with Bach's. Where the plan agrees with Bach and
the realized notes do not, the notes the model and the decoder wrote pulled the key away.
This lists those fermatas on a split (``valid`` while developing) with the plan's last
chords, the key ours reads as, and how much of the window (share of sounding voice-steps)
each side gives the key's third (minor and major), its sixth (lowered and natural) and its
leading tone: what separates a minor close that reads minor from one that reads major.

    python benchmarks/harmonize_cadence_misses.py --split valid

Prints a line per fermata and writes ``benchmarks/results/harmonize_cadence_misses_<split>.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from environment import environment  # noqa: E402
from harmonize_vs_bach import cadence_keys, cadence_window  # noqa: E402
from hybrid_judges import write_result  # noqa: E402

SPLIT = Path(__file__).parents[1] / "neural" / "chorale_split.json"
NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
DEGREES = (("minor_third", 3), ("major_third", 4), ("lowered_sixth", 8), ("natural_sixth", 9), ("leading_tone", 11))


def _key_name(tonic: int, mode: str) -> str:
    return NAMES[tonic] if mode == "major" else NAMES[tonic].lower()


def degree_shares(pitch: np.ndarray, tonic: int) -> dict[str, float]:
    """Share of the sounding voice-steps of ``pitch`` (steps, voices) on each degree of ``DEGREES`` above ``tonic``."""
    sounding = pitch >= 0
    total = max(1, int(sounding.sum()))
    return {name: round(float((sounding & (pitch % 12 == (tonic + d) % 12)).sum()) / total, 3) for name, d in DEGREES}


def misses(path: str, seed: int, profile: str) -> list[dict]:
    from partimento.grammar.errors import PartimentoError
    from partimento.grammar.metre import STEPS_PER_QUARTER as Q
    from partimento.grammar.theory import key_info
    from partimento.hybrid import harmonize
    from partimento.hybrid.harmony_model import read_bach_chorale
    from partimento.hybrid.melody import read_melody

    chorale = read_bach_chorale(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            mel = read_melody(chorale.parts[0], profile=profile)
            result = harmonize(chorale.parts[0], seed=seed, profile=profile)
        except PartimentoError:
            return []
    ours = result.pitch.astype(np.int64)
    bar = result.plan.metre_obj.bar_steps
    theirs = cadence_keys(chorale.pitch, chorale.attack, mel.fermata_steps, bar)
    read = cadence_keys(ours, result.attack, mel.fermata_steps, bar)
    out = []
    for f, a, b in zip(mel.fermata_steps, read, theirs):
        chord = result.plan.chord_at(f / Q)
        k = key_info(chord.key)
        if (k.tonic, k.mode) != b or a == b:
            continue
        lo, stop = cadence_window(result.attack, f, bar)
        lo = max(0, lo)
        last = [f"{c.figure} in {c.key}" for c in result.plan.chords if lo / Q <= c.onset <= f / Q][-4:]
        out.append({"chorale": path, "measure": f // bar + 1, "plan_key": _key_name(*b), "ours_reads": _key_name(*a),
                    "parallel": a[0] == b[0] and a[1] != b[1], "last_chords": last,
                    "ours": degree_shares(ours[lo:stop], k.tonic),
                    "bach": degree_shares(chorale.pitch[lo:stop].astype(np.int64), k.tonic)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="chorale")
    args = ap.parse_args()
    rows = []
    for path in json.loads(SPLIT.read_text())[args.split]:
        for r in misses(path, args.seed, args.profile):
            rows.append(r)
            o, b = r["ours"], r["bach"]
            print(f"{r['chorale']} m{r['measure']}: plan {r['plan_key']}, ours reads {r['ours_reads']}; third m/M "
                  f"{o['minor_third']:.2f}/{o['major_third']:.2f} (Bach {b['minor_third']:.2f}/{b['major_third']:.2f}); "
                  f"{' '.join(r['last_chords'])}", flush=True)
    minor = [r for r in rows if r["plan_key"].islower()]
    summary = {"misses": len(rows), "in_minor": len(minor), "minor_read_as_parallel_major": sum(r["parallel"] for r in minor),
               "minor_with_less_minor_third_than_bach": sum(r["ours"]["minor_third"] < r["bach"]["minor_third"]
                                                            for r in minor),
               "read_as": dict(Counter(("parallel" if r["parallel"] else "other") for r in rows))}
    print(json.dumps(summary))
    out = {"command": "python benchmarks/harmonize_cadence_misses.py " + " ".join(sys.argv[1:]), "split": args.split,
           "seed": args.seed, "profile": args.profile, "summary": summary, "rows": rows, "environment": environment()}
    print("wrote", write_result(f"harmonize_cadence_misses_{args.split}", out))


if __name__ == "__main__":
    main()
