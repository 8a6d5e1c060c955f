"""Where the harmonizer's bass writes 16th notes: position in the beat, chord tone or not, the steps in and out.

Bach's basses on the chorales have about 1% 16th notes; the harmonized basses in
``style_vs_bach.py`` have about ten times as many. This script harmonizes a split's sopranos as
``style_vs_bach.py`` does (its ``harmonize_soprano``) and classifies
every bass note one sixteenth long by where it starts in the beat (0 the beat, 2 the half beat,
1 and 3 the 16th positions), whether it belongs to the plan's chord there, whether a chord onset
follows it at once, and the semitones into and out of it; the most common shapes are printed and
written to ``benchmarks/results/bass_sixteenths_<split>.json``. A development aid: it reads
``valid`` unless told otherwise.

    python benchmarks/bass_sixteenths.py --split valid
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from style_vs_bach import harmonize_soprano  # noqa: E402

BASS = 3


def classify(res) -> tuple[int, Counter]:
    """(bass notes, Counter of the 16th notes' shapes) of one harmonization."""
    pitch, attack = np.asarray(res.pitch), np.asarray(res.attack)
    steps = len(pitch)
    onsets = {int(round(c.onset * 4)) for c in res.plan.chords}
    starts = [t for t in range(steps) if attack[t, BASS]]
    shapes: Counter = Counter()
    for i, a in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else steps
        if end - a != 1:
            continue
        chord = res.plan.chord_at(a / 4)
        member = chord is not None and int(pitch[a, BASS]) % 12 in set(chord.spec.members)
        into = int(pitch[a, BASS]) - int(pitch[starts[i - 1], BASS]) if i > 0 else None
        out = int(pitch[end, BASS]) - int(pitch[a, BASS]) if end < steps and pitch[end, BASS] >= 0 else None
        shapes[(a % 4, "chord tone" if member else "non-chord tone", (a + 1) in onsets, into, out)] += 1
    return len(starts), shapes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from music21 import corpus

    from partimento.grammar.errors import PartimentoError

    split = json.loads((Path(__file__).parents[1] / "neural" / "chorale_split.json").read_text())[args.split]
    notes, shapes, failed = 0, Counter(), []
    for path in split:
        score = corpus.parse(path)
        try:
            res = harmonize_soprano(score, args.seed)
        except PartimentoError as e:
            failed.append(f"{path}: {type(e).__name__}")
            continue
        n, c = classify(res)
        notes += n
        shapes.update(c)
    total = sum(shapes.values())
    by = {name: Counter() for name in ("position", "membership", "before an onset")}
    for (pos, member, before, _, _), k in shapes.items():
        by["position"][pos] += k
        by["membership"][member] += k
        by["before an onset"][before] += k
    print(f"{args.split}: {len(split) - len(failed)} harmonized, {notes} bass notes, {total} sixteenths "
          f"({100 * total / max(notes, 1):.1f}%)")
    for name, c in by.items():
        print(f"  by {name}: " + ", ".join(f"{k}: {v}" for k, v in c.most_common()))
    print("  most common shapes (position in the beat, chord tone?, a chord onset next?, semitones in, out):")
    for shape, k in shapes.most_common(12):
        print(f"    {k:4d}  {shape}")
    out = Path(__file__).parent / "results" / f"bass_sixteenths_{args.split}.json"
    out.write_text(json.dumps({
        "split": args.split, "seed": args.seed, "bass_notes": notes, "sixteenths": total, "failed": failed,
        "by": {name: {str(k): v for k, v in c.items()} for name, c in by.items()},
        "shapes": [{"position": s[0], "membership": s[1], "onset_next": s[2], "in": s[3], "out": s[4], "count": k}
                   for s, k in shapes.most_common()],
    }, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
