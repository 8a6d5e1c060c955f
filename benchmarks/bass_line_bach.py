"""The bass-line planner: Bach's bass statistics behind its weights, and what it does to plans.

1. **Bach** (When-in-Rome analyses of the train and valid chorales, aligned to the corpus
   scores as in ``nct_bach.py``): at every change of analysed chord, the kind of the bass's
   move given how it arrived (same, a step or a leap on or back), the size of its leaps,
   the inversion of the new chord and the soprano-bass motion. These are the frequencies
   whose ``-ln`` the planner uses as costs (``hybrid/bass_line.py``: ``BACH_CONTINUATION``,
   ``BACH_SIZES``, ``BACH_INVERSIONS``, ``BACH_MOTION``); the script prints both.
2. **Plans with open chords**: ``--plans`` plans per shipped grammar (16 bars; blues 12),
   every chord opened (``inversion_open``), measured three ways: the grammar's own sampled
   inversions, every open chord left in root position (no planner), and the planner's
   choice. Per way: root-position share of the chords and the share of stepwise bass
   moves at chord changes (of the line the planner lays through those inversions).
3. **Realized** (``--realize`` plans per grammar, the shipped model, seed 0): the same three
   ways decoded, with the bass's stepwise share over all its notes and the root-position
   share on the beats (``style_vs_bach`` measures), and how many plans could not be realized.
4. **Harmonized** (``--melodies`` sopranos of the valid chorales, seed 0): the harmonizer's
   proposed plan as it is, and the same plan with every chord opened, so that the planner
   chooses the inversions under the known soprano; decoded with the soprano forced.

    python benchmarks/bass_line_bach.py [--plans 20] [--realize 3] [--melodies 10]
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from nct_bach import aligned_to_analysis  # noqa: E402
from style_vs_bach import piece_of_result, root_position_share, voice_statistics  # noqa: E402

from partimento.grammar.fileio import write_text_atomic  # noqa: E402
from partimento.grammar.rules import REST  # noqa: E402
from partimento.hybrid.bass_line import (BACH_CONTINUATION, BACH_INVERSIONS, BACH_MOTION, BACH_SIZES,  # noqa: E402
                                         _interval_class, bass_line, plan_bass_line)

RESULTS = Path(__file__).parent / "results" / "bass_line_bach.json"
GRAMMARS = ("chorale", "harmony", "period", "sentence", "binary", "ternary", "blues")
KEYS = ("C", "G", "d", "F", "a", "B-", "e", "D")


def bach_statistics(analyses: Path, min_fit: float = 0.85) -> dict:
    """The bass's moves, leaps, inversions and soprano-bass motion at Bach's chord changes."""
    files = [f for f in json.loads((analyses / "manifest.json").read_text())["files"]
             if f["chorale_split"] in ("train", "valid")]
    continuation = {k: Counter() for k in ("start", "same", "step", "leap")}
    leaps, inversions, motion, direction = Counter(), Counter(), Counter(), Counter()
    sizes = {k: Counter() for k in ("step up", "step down", "leap up", "leap down")}  # size given kind and direction
    used = changes = 0
    for f in files:
        try:
            s, ctx, _, fit = aligned_to_analysis(f["music21_corpus"][0], analyses / f["file"])
        except Exception:  # unreadable: counted by nct_bach.py
            continue
        if fit < min_fit:
            continue
        used += 1
        ch = ctx.chords
        onsets = [0] + [i for i in range(1, len(s)) if ch[i] is not ch[i - 1]]
        prev_d = None  # the move into the previous chord (None: none known)
        for j, i in enumerate(onsets):
            if ch[i] is not None:
                inversions[min(ch[i].inversion, 3)] += 1
            if j == 0:
                continue
            i0 = onsets[j - 1]
            b0, b1 = int(s.pitch[i0, 3]), int(s.pitch[i, 3])
            if REST in (b0, b1):
                prev_d = None
                continue
            d = b1 - b0
            changes += 1
            kind = "same" if d == 0 else "step" if abs(d) <= 2 else "leap"
            if abs(d) > 2:
                leaps[_interval_class(d)] += 1
            direction[kind if d == 0 else f"{kind} {'up' if d > 0 else 'down'}"] += 1
            if d:
                sizes[f"{kind} {'up' if d > 0 else 'down'}"][abs(d) if abs(d) <= 2 else _interval_class(d)] += 1
            continuation["start"][kind] += 1  # the first move of a line: unconditioned, over every change
            if prev_d is None:
                pass
            elif prev_d == 0:
                continuation["same"][kind] += 1
            else:
                rel = kind if d == 0 else f"{kind} {'on' if d * prev_d > 0 else 'back'}"
                continuation["step" if abs(prev_d) <= 2 else "leap"][rel] += 1
            prev_d = d
            s0, s1 = int(s.pitch[i - 1, 0]), int(s.pitch[i, 0])
            if REST in (s0, s1):
                continue
            ds = s1 - s0
            motion["oblique" if ds == 0 or d == 0 else "contrary" if ds * d < 0 else "similar"] += 1

    def share(c: Counter) -> dict:
        n = sum(c.values())
        return {str(k): round(v / n, 3) for k, v in sorted(c.items(), key=lambda kv: -kv[1])}

    return {"chorales": used, "changes": changes, "continuation": {k: share(c) for k, c in continuation.items()},
            "leaps": share(leaps), "inversions": share(inversions), "motion": share(motion),
            "direction": share(direction), "sizes": {k: share(c) for k, c in sizes.items()},
            "planner_constants": {"continuation": BACH_CONTINUATION, "sizes": {k: {str(s): p for s, p in v.items()} for k, v in BACH_SIZES.items()},
                                  "inversions": list(BACH_INVERSIONS), "motion": BACH_MOTION}}


def _opened(plan):
    out = copy.copy(plan)
    out.chords = [replace(c, inversion_open=True) for c in plan.chords]
    return out


def _root(plan):
    out = copy.copy(plan)
    out.chords = [c.with_inversion(0) if c.inversion_open else c for c in plan.chords]
    return out


def _line_stats(plan) -> tuple[int, int, int, int]:
    """(root-position chords, chords, stepwise changes, changes) of the line the planner lays under ``plan``."""
    _, pitches, _ = bass_line(plan)
    d = np.abs(np.diff(pitches))
    roots = sum(c.spec.inversion == 0 for c in plan.chords)
    return roots, len(plan.chords), int(((d >= 1) & (d <= 2)).sum()), int((d > 0).sum())


def harmonized(n: int) -> dict:
    """The harmonizer's plans for ``n`` valid sopranos, as proposed and with every chord opened, decoded."""
    from music21 import corpus

    from partimento.grammar.errors import PartimentoError
    from partimento.hybrid.api import _run, _split_sampling
    from partimento.hybrid.harmony import propose_plan
    from partimento.hybrid.melody import read_melody
    from partimento.hybrid.result import Result
    from style_vs_bach import _chorale_key

    paths = json.loads((Path(__file__).parents[1] / "neural" / "chorale_split.json").read_text())["valid"][:n]
    counts = {w: Counter() for w in ("as proposed", "opened, planner")}
    for path in paths:
        score = corpus.parse(path)
        try:
            mel = read_melody(score.parts[0], _chorale_key(score))
        except PartimentoError:
            continue
        plan = propose_plan(mel, seed=0)
        forced = np.full((plan.steps, 4), -1, np.int64)
        forced[:, 0] = mel.tokens
        for w, p in (("as proposed", plan), ("opened, planner", _opened(plan))):
            try:
                dec, report, used, _ = _run(p, 0, _split_sampling({}), forced=forced)
            except PartimentoError:
                counts[w]["unrealized"] += 1
                continue
            piece = piece_of_result(path, Result(used, dec.tokens, dec.pitch, dec.attack, report, {}), soprano_given=True)
            vs = voice_statistics(piece.s)["bass"]
            moves = vs["notes"] - 1
            root, total = root_position_share(piece.s, piece.plan)
            errors = [v for v in report.violations if v.severity.value == "error" and v.voices != ["soprano"]]
            counts[w].update(pieces=1, bass_moves=moves, bass_steps=round(vs["step"] * moves), root_beats=root,
                             beats=total, errors=len(errors))
    return {w: {"pieces": c["pieces"], "unrealized": c["unrealized"],
                "bass_step": round(c["bass_steps"] / max(c["bass_moves"], 1), 4),
                "root_position_on_beats": round(c["root_beats"] / max(c["beats"], 1), 4),
                "strict_errors": c["errors"]} for w, c in counts.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--analyses", default="/work/shared/data/when-in-rome")
    ap.add_argument("--plans", type=int, default=20)
    ap.add_argument("--realize", type=int, default=3)
    ap.add_argument("--melodies", type=int, default=10)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from partimento.grammar import load
    from partimento.grammar.errors import PartimentoError
    from partimento.hybrid import realize

    t0 = time.time()
    out: dict = {"machine": platform.processor() or platform.machine()}
    analyses = Path(args.analyses)
    out["bach"] = bach_statistics(analyses) if (analyses / "manifest.json").is_file() else {"skipped": str(analyses)}

    ways = ("sampled", "open, root position", "open, planner")
    plans: dict[str, Counter] = {w: Counter() for w in ways}
    real: dict[str, Counter] = {w: Counter() for w in ways}
    planner_s = []
    for g in GRAMMARS:
        grammar = load(g)
        for seed in range(args.plans):
            plan = grammar.sample(key=KEYS[seed % len(KEYS)], bars=12 if g == "blues" else 16, seed=seed)
            t1 = time.perf_counter()
            planned = plan_bass_line(_opened(plan))
            planner_s.append(time.perf_counter() - t1)
            versions = {"sampled": plan, "open, root position": _root(_opened(plan)), "open, planner": planned}
            for w, p in versions.items():
                r, n, st, ch = _line_stats(p)
                plans[w].update(root=r, chords=n, step=st, changes=ch)
                if seed < args.realize:
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            res = realize(p, seed=0)
                    except PartimentoError:
                        real[w]["unrealized"] += 1
                        continue
                    piece = piece_of_result(f"{g} {seed}", res)
                    vs = voice_statistics(piece.s)["bass"]
                    moves = vs["notes"] - 1
                    root, total = root_position_share(piece.s, piece.plan)
                    real[w].update(pieces=1, bass_moves=moves, bass_steps=round(vs["step"] * moves),
                                   root_beats=root, beats=total, errors=len(res.errors))
    out["plans"] = {w: {"plans": args.plans * len(GRAMMARS),
                        "root_position": round(c["root"] / max(c["chords"], 1), 4),
                        "bass_step_at_changes": round(c["step"] / max(c["changes"], 1), 4)} for w, c in plans.items()}
    out["realized"] = {w: {"pieces": c["pieces"], "unrealized": c["unrealized"],
                           "bass_step": round(c["bass_steps"] / max(c["bass_moves"], 1), 4),
                           "root_position_on_beats": round(c["root_beats"] / max(c["beats"], 1), 4),
                           "strict_errors": c["errors"]} for w, c in real.items()}
    out["harmonized"] = harmonized(args.melodies) if args.melodies else {}
    out["planner_ms_median"] = round(1000 * float(np.median(planner_s)), 2)
    out["seconds"] = round(time.time() - t0, 1)
    if "skipped" not in out["bach"]:
        b = out["bach"]
        print(f"Bach ({b['chorales']} chorales, {b['changes']} chord changes): the bass's next move by how it came:")
        for k, v in b["continuation"].items():
            print(f"  after {k:6s} {v}   (planner: {BACH_CONTINUATION[k]})")
        print(f"  leaps {b['leaps']}")
        print(f"  sizes by kind and direction {b['sizes']}   (planner: {BACH_SIZES})")
        print(f"  inversions {b['inversions']}   (planner: {list(BACH_INVERSIONS)})")
        print(f"  soprano-bass motion {b['motion']}   (planner: {BACH_MOTION})")
    print(f"\n{'plans with every chord open':32s}{'root position':>16s}{'bass steps at changes':>24s}")
    for w, r in out["plans"].items():
        print(f"{w:32s}{r['root_position']:>16.1%}{r['bass_step_at_changes']:>24.1%}")
    print(f"\n{'realized (shipped model)':32s}{'root pos. (beats)':>18s}{'bass steps (notes)':>20s}{'unrealized':>12s}"
          f"{'errors':>8s}")
    for w, r in out["realized"].items():
        print(f"{w:32s}{r['root_position_on_beats']:>18.1%}{r['bass_step']:>20.1%}{r['unrealized']:>12d}"
              f"{r['strict_errors']:>8d}")
    for w, r in out["harmonized"].items():
        print(f"{'harmonized: ' + w:32s}{r['root_position_on_beats']:>18.1%}{r['bass_step']:>20.1%}"
              f"{r['unrealized']:>12d}{r['strict_errors']:>8d}")
    print(f"planner: {out['planner_ms_median']} ms median per 16-bar plan")
    write_text_atomic(RESULTS, json.dumps(out, indent=1))
    print(f"wrote {RESULTS} ({out['seconds']} s)")


if __name__ == "__main__":
    main()
