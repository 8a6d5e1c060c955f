"""Coverage and discrimination of the ``harmony`` grammar, reported together.

Coverage is the share of phrases a grammar parses.

* **Development corpus**: the 115 When-in-Rome analyses of Bach chorales in
  ``../shared/data/when-in-rome/`` (694 phrases; no chorale of the ``test`` split), which the
  grammar was written from and its shipped weights are fitted on.
* **Held-out halves.** The corpus is split by Riemenschneider number: odd (61 files) and even
  (54 files).
  - *Written on half*: ``benchmarks/grammar_heldout/harmony_written_on_odd_half.lark`` is the
    grammar as it stood when written from the odd half alone, before any even-numbered phrase was
    read; it is measured on the even half. (The swap cannot be done honestly by one writer: once
    the even half has been read, nothing written afterwards is held out from it.)
  - *Fitted on half*: weights are fitted on one half and the other half is measured; then
    swapped. Without smoothing every alternative the half never uses gets weight 0, which is
    outside the language: this shows how far the alternatives one half exercises carry to the
    other, and the benchmark lists the unseen alternatives each failing phrase needs. With the
    smoothing chosen by cross-validation between the halves
    (:func:`partimento.grammar.fit.cross_validate_smoothing`: most held-out phrases parsed,
    then the highest held-out log probability; the shipped weights use the same choice) no
    alternative is dropped, so coverage is the grammar's own on that half, and the held-out
    log probability per chord says how well the fitted weights predict the other half.
* **Riemenschneider**: music21's 20 analyses (``bach/choraleAnalyses``), the set the grammar's
  first rules were written from.

Discrimination: the share of random 8-chord phrases the grammar rejects, each chord drawn from
the vocabulary of a corpus in the phrase's mode, uniformly or by frequency (unigram): as the
issue asks, over music21's Riemenschneider vocabulary (as this benchmark always did) and over
the development corpus's.

    python benchmarks/grammar_coverage.py [--grammar harmony] [--random 2000] [--seed 0]

Prints the numbers and writes ``benchmarks/results/grammar_coverage.json``.
"""
from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

from partimento.grammar import load
from partimento.grammar.corpus import DEVELOPMENT_CORPUS as DEV, development_files, halves, read_phrases
from partimento.grammar.fit import (count_alternatives, count_phrases, cross_validate_smoothing,
                                    heldout_log_likelihood, smoothed_weights)

from grammar_results import write_result

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "benchmarks" / "grammar_heldout" / "harmony_written_on_odd_half.lark"


def riemenschneider_dir() -> Path:
    import music21

    return Path(os.path.dirname(music21.__file__)) / "corpus" / "bach" / "choraleAnalyses"


def coverage(grammar, phrases: list[dict], list_failures: bool = True) -> dict:
    parser = grammar._parser
    ok = 0
    unparsed = []
    reasons: Counter = Counter()
    for p in phrases:
        good, err = parser.parse_tokens(p["tokens"], p["mode"])
        ok += good
        if not good:
            reason = ("ends without a cadence the grammar knows" if err.token.startswith("(end of phrase")
                      else "a key change the grammar does not allow there" if err.token.startswith("@")
                      else "a chord not allowed there")
            reasons[reason] += 1
            if list_failures:
                unparsed.append({"file": p["file"], "measure": p["measure"], "tokens": " ".join(p["tokens"]),
                                 "error": str(err)})
    return {"phrases": len(phrases), "parsed": ok, "coverage": ok / len(phrases) if phrases else 0.0,
            "reasons": dict(reasons.most_common()), **({"unparsed": unparsed} if list_failures else {})}


def held_out_fit(written, fit_on: list[dict], held: list[dict], smoothing: float, prior: str) -> dict:
    """Weights fitted on ``fit_on`` (counts plus ``smoothing``), measured on ``held``: coverage, held-out
    log probability, and for each held-out phrase that parses with the written grammar but not with
    these weights, the alternatives it needs that ``fit_on`` never uses."""
    counts, _ = count_phrases(written, fit_on)
    fitted = written.with_weights(smoothed_weights(written, counts, smoothing, prior))
    out = coverage(fitted, held, False)
    out.update(smoothing=smoothing, prior=prior, held_out=heldout_log_likelihood(fitted, held))
    parser, unseen = written._parser, []
    for p in held:
        if parser.parse_tokens(p["tokens"], p["mode"])[0] and not fitted._parser.parse_tokens(p["tokens"], p["mode"])[0]:
            used = count_alternatives(written, [parser.tree(p["tokens"], p["mode"])])
            unseen.append({"file": p["file"], "measure": p["measure"], "tokens": " ".join(p["tokens"]),
                           "unseen": sorted(f"{r}: {written.rules[r].alternatives[i].text}"
                                            for r, i in used if not counts.get((r, i), 0))})
    out["needs_unseen_alternatives"] = unseen
    return out


def vocabulary(phrases: list[dict]) -> dict[str, Counter]:
    vocab: dict[str, Counter] = defaultdict(Counter)
    for p in phrases:
        mode = p["mode"]
        for tok in p["tokens"]:
            if tok.startswith("@"):
                mode = "minor" if tok[1:].lstrip("b#")[0].islower() else "major"
            else:
                vocab[mode][tok] += 1
    return vocab


def discrimination(grammar, vocab: dict[str, Counter], n: int, seed: int, weighted: bool) -> dict:
    rng = random.Random(seed)
    rejected = 0
    accepted_examples = []
    for k in range(n):
        mode = "major" if k % 2 == 0 else "minor"
        figs = sorted(vocab[mode])
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
    ap.add_argument("--corpus", type=Path, default=DEV, help="the When-in-Rome development corpus")
    ap.add_argument("--random", type=int, default=2000, help="random phrases per discrimination test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/grammar_coverage.json")
    args = ap.parse_args()
    t0 = time.time()
    grammar = load(args.grammar)
    written = load(args.grammar, weights=False)
    dev = read_phrases(development_files(args.corpus))
    riem = read_phrases([riemenschneider_dir() / f"riemenschneider{i:03d}.rntxt" for i in range(1, 21)])
    split = halves(dev)
    odd, even = split["odd"], split["even"]
    result = {"grammar": args.grammar, "corpus": str(args.corpus)}
    result["development"] = coverage(grammar, dev)
    result["development_halves"] = {"odd": coverage(grammar, odd, False), "even": coverage(grammar, even, False)}
    result["held_out_written_on_odd_measured_on_even"] = coverage(load(SNAPSHOT, weights=False), even)
    cv = result["smoothing_cross_validation"] = cross_validate_smoothing(written, {"odd": odd, "even": even})
    k, prior = cv["best"]["smoothing"], cv["best"]["prior"]
    for label, smoothing, pri in (("no_smoothing", 0.0, "uniform"), ("smoothed", k, prior)):
        result[f"held_out_fitted_on_odd_measured_on_even_{label}"] = held_out_fit(written, odd, even, smoothing, pri)
        result[f"held_out_fitted_on_even_measured_on_odd_{label}"] = held_out_fit(written, even, odd, smoothing, pri)
    result["riemenschneider_rules_first_written_from"] = coverage(grammar, riem)
    for name, phrases in (("riemenschneider", riem), ("development", dev)):
        vocab = vocabulary(phrases)
        result[f"discrimination_{name}_vocabulary"] = {
            "vocabulary_size": {m: len(v) for m, v in vocab.items()},
            "uniform": discrimination(grammar, vocab, args.random, args.seed, weighted=False),
            "unigram": discrimination(grammar, vocab, args.random, args.seed, weighted=True)}
    result["seconds"] = round(time.time() - t0, 1)

    def line(label: str, c: dict) -> None:
        print(f"{label:58s} {c['parsed']:4d}/{c['phrases']:<4d} = {c['coverage']:.1%}")

    print(f"grammar {args.grammar}")
    line("development corpus (written from, weights fitted on)", result["development"])
    line("  odd half", result["development_halves"]["odd"])
    line("  even half", result["development_halves"]["even"])
    line("held out: written on the odd half, measured on the even", result["held_out_written_on_odd_measured_on_even"])
    for label in ("no_smoothing", "smoothed"):
        for a, b in (("odd", "even"), ("even", "odd")):
            r = result[f"held_out_fitted_on_{a}_measured_on_{b}_{label}"]
            line(f"held out: fitted on {a} ({r['prior']} {r['smoothing']:g}), measured on {b}", r)
            print(f"{'':58s} held-out {r['held_out']['nats_per_chord']:.3f} nats/chord over the parsed phrases; "
                  f"{len(r['needs_unseen_alternatives'])} need an alternative unseen in the {a} half")
    print("smoothing by cross-validation (prior, pseudo-count: held-out phrases parsed, log probability):")
    for e in cv["table"]:
        print(f"  {e['prior']:8s} {e['smoothing']:<5g} {e['parsed']}/{e['phrases']}  {e['held_out_log_prob']:.1f}")
    print(f"  chosen: {cv['best']}")
    line("Riemenschneider 001-020 (the set its rules were first written from)",
         result["riemenschneider_rules_first_written_from"])
    for name in ("riemenschneider", "development"):
        d = result[f"discrimination_{name}_vocabulary"]
        print(f"random 8-chord phrases rejected, {name} vocabulary: uniform {d['uniform']['rejection_rate']:.1%}, "
              f"unigram {d['unigram']['rejection_rate']:.1%} (of {args.random} each)")
    print(f"\nreasons, development corpus: {result['development']['reasons']}")
    for u in result["development"]["unparsed"]:
        print(f"  {u['file']} m{u['measure']}: {u['error']}\n      {u['tokens']}")
    print()
    write_result(args.out, result, ensure_ascii=False, note=f"({result['seconds']} s)")


if __name__ == "__main__":
    main()
