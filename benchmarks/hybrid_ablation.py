"""Ablation: what the constraints buy (rule violations) and what they cost (model NLL).

Violations per piece, per rule, by our checker's ``strict`` profile, for:

* Bach's originals (``--bach`` chorales of the fixed test split, checked as they are; the four
  voices named where a chorale has other parts too);
* the unconstrained model (``constraints=False``) on ``--n`` chorale-grammar plans;
* the constrained model on the same plans and seeds;
* music21's ``figuredBass`` realizer (rule based, no model) on the same plans (first
  16 chords; it finds no realization for some plans, which is counted).

And the model's mean per-token NLL (``model.token_nll``, nats) of the constrained
versus the unconstrained outputs of the same plans: what the masks cost in the model's
own judgement of naturalness.

    python benchmarks/hybrid_ablation.py --n 20 --bach 20
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hybrid_judges import checkpoint_facts, figured_bass_realization, grid_of_realization, write_result  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="grammar plans for the model and the realizer")
    ap.add_argument("--bach", type=int, default=20, help="Bach chorales from the test split")
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--grammar", default="chorale")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--profile", default="strict")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from music21 import corpus

    from partimento.grammar import load
    from partimento.grammar.errors import ScoreError, UnsatisfiableError
    from partimento.grammar.rules import check
    from partimento.hybrid import realize
    from partimento.hybrid.api import report_for
    from partimento.neural.checkpoint import load_model
    from partimento.neural.conditioning import plan_conditioning

    from hybrid_speed import _first_chords  # noqa: E402

    split = json.loads((Path(__file__).parents[1] / "neural" / "chorale_split.json").read_text())
    tables: dict[str, Counter] = {k: Counter() for k in ("bach", "unconstrained", "constrained", "figured_bass")}
    pieces = Counter()
    t0 = time.perf_counter()
    for path in split["test"][: args.bach]:
        score = corpus.parse(path)
        try:
            try:
                report = check(score, args.profile)
            except ScoreError:  # other parts too (horns, recorders): check the four voices, named
                report = check(score, args.profile, parts=("Soprano", "Alto", "Tenor", "Bass"))
        except Exception as e:  # a chorale the checker still cannot read: say so and go on
            print(f"skip {path}: {type(e).__name__}: {e}")
            continue
        tables["bach"].update(v.rule for v in report.errors)
        pieces["bach"] += 1
    print(f"bach: {pieces['bach']} chorales checked in {time.perf_counter() - t0:.0f}s", flush=True)

    model = load_model(args.checkpoint)
    grammar = load(args.grammar)
    keys = ("C", "G", "d", "F", "a", "B-", "e", "D")
    nll = {"constrained": [], "unconstrained": []}
    fb_failed = 0
    for i in range(args.n):
        draw = 0
        while True:
            plan = grammar.sample(key=keys[i % len(keys)], bars=args.bars, seed=i + 100_003 * draw)
            try:
                con = realize(plan, seed=i, model=model, profile=args.profile)
                break
            except UnsatisfiableError:
                draw += 1
        unc = realize(plan, seed=i, model=model, profile=args.profile, constraints=False)
        cond = plan_conditioning(plan)
        for name, r in (("constrained", con), ("unconstrained", unc)):
            tables[name].update(v.rule for v in r.errors)
            pieces[name] += 1
            nll[name].append(float(model.token_nll(torch.as_tensor(r.tokens), cond).mean()))
        sub = _first_chords(plan, 16)
        score, _, err = figured_bass_realization(sub, 16, seed=i)
        if score is None:
            fb_failed += 1
        else:
            pitch, attack = grid_of_realization(score, sub.steps)
            tables["figured_bass"].update(v.rule for v in report_for(pitch, attack, sub, args.profile).errors)
            pieces["figured_bass"] += 1
        print(f"plan {i}: constrained {len(con.errors)} errors, unconstrained {len(unc.errors)}, "
              f"NLL {nll['constrained'][-1]:.3f} vs {nll['unconstrained'][-1]:.3f}; "
              f"figuredBass {'ok' if score is not None else err}", flush=True)
    rules = sorted(set().union(*tables.values()))
    per_piece = {k: {r: tables[k][r] / pieces[k] for r in rules} if pieces[k] else None for k in tables}
    out = {"checkpoint_facts": checkpoint_facts(args.checkpoint), "profile": args.profile,
           "pieces": dict(pieces), "figured_bass_no_realization": fb_failed,
           "plans": args.n, "bars": args.bars, "grammar": args.grammar,
           "errors_per_piece_by_rule": per_piece,
           "errors_per_piece_total": {k: (sum(tables[k].values()) / pieces[k] if pieces[k] else None) for k in tables},
           "mean_token_nll": {k: statistics.mean(v) for k, v in nll.items() if v},
           "note": "Bach pieces are whole chorales; model and realizer pieces are the grammar's plans "
                   f"({args.bars} bars; the realizer gets their first 16 chords)."}
    print(f"{'rule':28s}" + "".join(f"{k:>15s}" for k in tables))
    for r in rules:
        print(f"{r:28s}" + "".join(f"{per_piece[k][r]:15.2f}" if per_piece[k] else f"{'-':>15s}" for k in tables))
    print(f"{'total':28s}" + "".join(f"{out['errors_per_piece_total'][k]:15.2f}" if pieces[k] else f"{'-':>15s}"
                                      for k in tables))
    print(f"pieces: {dict(pieces)}; figuredBass found no realization for {fb_failed}/{args.n} plans")
    print(f"mean token NLL: constrained {out['mean_token_nll'].get('constrained', float('nan')):.3f}, "
          f"unconstrained {out['mean_token_nll'].get('unconstrained', float('nan')):.3f} nats")
    print("wrote", write_result("hybrid_ablation", out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
