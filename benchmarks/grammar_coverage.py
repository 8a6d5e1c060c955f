"""Coverage and discrimination of the ``harmony`` grammar, reported together.

Coverage: the share of phrases of music21's 20 Riemenschneider chorale analyses
(``bach/choraleAnalyses/riemenschneider001-020.rntxt``) that ``harmony`` parses, split
into the files the grammar was tuned on (001-010) and held-out files (011-020), with
every unparsed phrase listed and the reasons grouped.

Discrimination: the share of random phrases the grammar rejects. A phrase is 8 Roman
numerals, one per bar, drawn uniformly from the corpus vocabulary of its mode (the
issue's test); a harder variant draws them by corpus frequency (unigram), which keeps
out the rare chromatic figures that make uniform draws easy to reject.

    python benchmarks/grammar_coverage.py [--grammar harmony] [--random 2000] [--seed 0]

Prints the numbers and writes ``benchmarks/results/grammar_coverage.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
from collections import Counter, defaultdict
from pathlib import Path

from partimento.grammar import load
from partimento.grammar.analysis import plan_from_romantext

TUNED = range(1, 11)
HELD_OUT = range(11, 21)


def corpus_dir() -> Path:
    import music21

    return Path(os.path.dirname(music21.__file__)) / "corpus" / "bach" / "choraleAnalyses"


def reason(phrase) -> str:
    """A coarse reason for a failed phrase, for grouping."""
    tok = phrase.error.token
    if tok.startswith("(end of phrase"):
        return "ends without a cadence the grammar knows"
    if tok.startswith("@"):
        return f"modulation where the grammar allows none ({tok})"
    return f"chord {tok} not allowed there"


def coverage(grammar, numbers) -> dict:
    d = corpus_dir()
    total = ok = 0
    unparsed = []
    reasons: Counter = Counter()
    for i in numbers:
        path = d / f"riemenschneider{i:03d}.rntxt"
        result = grammar.parse(path)
        for p in result.phrases:
            total += 1
            ok += p.parsed
            if not p.parsed:
                r = reason(p)
                reasons[r.split(" (")[0] if r.startswith("modulation") else
                        ("chord not allowed there" if r.startswith("chord") else r)] += 1
                unparsed.append({"file": path.name, "measures": f"{p.start_measure}-{p.end_measure}",
                                 "tokens": " ".join(p.tokens), "error": str(p.error), "reason": r})
    return {"phrases": total, "parsed": ok, "coverage": ok / total if total else 0.0,
            "reasons": dict(reasons.most_common()), "unparsed": unparsed}


def vocabulary() -> dict[str, Counter]:
    """Figures of the whole corpus by mode, with counts."""
    vocab: dict[str, Counter] = defaultdict(Counter)
    for i in range(1, 21):
        plan = plan_from_romantext(corpus_dir() / f"riemenschneider{i:03d}.rntxt")
        for c in plan.chords:
            vocab["minor" if c.key[0].islower() else "major"][c.figure] += 1
    return vocab


def discrimination(grammar, vocab: dict[str, Counter], n: int, seed: int, weighted: bool) -> dict:
    rng = random.Random(seed)
    rejected = 0
    accepted_examples = []
    for k in range(n):
        mode = "major" if k % 2 == 0 else "minor"
        figs = list(vocab[mode])
        weights = [vocab[mode][f] for f in figs] if weighted else None
        phrase = rng.choices(figs, weights=weights, k=8)
        ok, _ = grammar._parser.parse_tokens(phrase, mode)
        rejected += not ok
        if ok and len(accepted_examples) < 10:
            accepted_examples.append(f"{mode}: {' '.join(phrase)}")
    return {"phrases": n, "rejected": rejected, "rejection_rate": rejected / n,
            "accepted_examples": accepted_examples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grammar", default="harmony")
    ap.add_argument("--random", type=int, default=2000, help="random phrases per discrimination test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/grammar_coverage.json")
    args = ap.parse_args()
    grammar = load(args.grammar)
    tuned = coverage(grammar, TUNED)
    held = coverage(grammar, HELD_OUT)
    vocab = vocabulary()
    uniform = discrimination(grammar, vocab, args.random, args.seed, weighted=False)
    unigram = discrimination(grammar, vocab, args.random, args.seed, weighted=True)
    all_ok = tuned["parsed"] + held["parsed"]
    all_n = tuned["phrases"] + held["phrases"]
    print(f"grammar {args.grammar}")
    print(f"coverage, tuned-on files 001-010:   {tuned['parsed']}/{tuned['phrases']} = {tuned['coverage']:.1%}")
    print(f"coverage, held-out files 011-020:   {held['parsed']}/{held['phrases']} = {held['coverage']:.1%}")
    print(f"coverage, all 20 files:             {all_ok}/{all_n} = {all_ok / all_n:.1%}")
    print(f"discrimination, uniform 8-chord phrases rejected:  {uniform['rejection_rate']:.1%} of {uniform['phrases']}")
    print(f"discrimination, unigram 8-chord phrases rejected:  {unigram['rejection_rate']:.1%} of {unigram['phrases']}")
    for name, part in (("tuned-on", tuned), ("held-out", held)):
        print(f"\nreasons, {name}: " + ", ".join(f"{k}: {v}" for k, v in part["reasons"].items()))
        for u in part["unparsed"]:
            print(f"  {u['file']} m{u['measures']}: {u['error']}\n      {u['tokens']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"grammar": args.grammar, "coverage_tuned_001_010": tuned,
                               "coverage_held_out_011_020": held, "coverage_all": all_ok / all_n,
                               "discrimination_uniform": uniform, "discrimination_unigram": unigram,
                               "vocabulary_size": {m: len(v) for m, v in vocab.items()}}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
