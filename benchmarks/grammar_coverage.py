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
  - *Fitted on half*: the shipped grammar's weights are fitted on one half with no smoothing, so
    that every alternative the half never uses is dropped (weight 0 is outside the language), and
    measured on the other half; then swapped. This measures how far the rules one half exercises
    carry to the other.
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
import json
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

from partimento.grammar import load
from partimento.grammar.analysis import plan_from_romantext
from partimento.grammar.fit import count_alternatives
from partimento.grammar.parsing import phrase_tokens

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent.parent / "shared" / "data" / "when-in-rome"
SNAPSHOT = ROOT / "benchmarks" / "grammar_heldout" / "harmony_written_on_odd_half.lark"


def riemenschneider_dir() -> Path:
    import music21

    return Path(os.path.dirname(music21.__file__)) / "corpus" / "bach" / "choraleAnalyses"


def read_corpus(files: list[Path]) -> list[dict]:
    """Phrases of every file: tokens, mode, place (reading RomanText is the slow part: once)."""
    out = []
    for f in files:
        plan = plan_from_romantext(f)
        for i in range(len(plan.phrases)):
            chords = [c for c in plan.chords if c.phrase == i]
            out.append({"file": f.name, "number": int("".join(ch for ch in f.stem if ch.isdigit()) or 0),
                        "measure": plan.metre_obj.measure_beat(chords[0].onset, plan.pickup)[0],
                        "mode": "minor" if chords[0].key[0].islower() else "major",
                        "tokens": phrase_tokens(chords)})
    return out


def development_files(corpus: Path) -> list[Path]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    files = []
    for entry in manifest["files"]:
        if entry.get("chorale_split") == "test":
            raise SystemExit(f"{entry['file']} is a test chorale: the development corpus must not hold one")
        files.append(corpus / entry["file"])
    return files


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


def fitted_without_smoothing(grammar, phrases: list[dict]):
    """The grammar with weights counted on ``phrases`` alone: unused alternatives get weight 0."""
    parser = grammar._parser
    trees = [parser.tree(p["tokens"], p["mode"]) for p in phrases if parser.parse_tokens(p["tokens"], p["mode"])[0]]
    counts = count_alternatives(grammar, trees)
    weights = {}
    for rule in grammar.rules.values():
        if any(counts.get((rule.name, a.index), 0) for a in rule.alternatives):
            w: dict[str, float] = {}
            for a in rule.alternatives:
                w[a.text] = w.get(a.text, 0.0) + counts.get((rule.name, a.index), 0)
            weights[rule.name] = w
    return grammar.with_weights(weights)


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
    dev = read_corpus(development_files(args.corpus))
    riem = read_corpus([riemenschneider_dir() / f"riemenschneider{i:03d}.rntxt" for i in range(1, 21)])
    odd = [p for p in dev if p["number"] % 2 == 1]
    even = [p for p in dev if p["number"] % 2 == 0]
    result = {"grammar": args.grammar, "corpus": str(args.corpus)}
    result["development"] = coverage(grammar, dev)
    result["development_halves"] = {"odd": coverage(grammar, odd, False), "even": coverage(grammar, even, False)}
    result["held_out_written_on_odd_measured_on_even"] = coverage(load(SNAPSHOT, weights=False), even)
    result["held_out_fitted_on_odd_measured_on_even"] = coverage(fitted_without_smoothing(grammar, odd), even)
    result["held_out_fitted_on_even_measured_on_odd"] = coverage(fitted_without_smoothing(grammar, even), odd)
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
    line("held out: fitted on odd (no smoothing), measured on even", result["held_out_fitted_on_odd_measured_on_even"])
    line("held out: fitted on even (no smoothing), measured on odd", result["held_out_fitted_on_even_measured_on_odd"])
    line("Riemenschneider 001-020 (the set its rules were first written from)",
         result["riemenschneider_rules_first_written_from"])
    for name in ("riemenschneider", "development"):
        d = result[f"discrimination_{name}_vocabulary"]
        print(f"random 8-chord phrases rejected, {name} vocabulary: uniform {d['uniform']['rejection_rate']:.1%}, "
              f"unigram {d['unigram']['rejection_rate']:.1%} (of {args.random} each)")
    print(f"\nreasons, development corpus: {result['development']['reasons']}")
    for u in result["development"]["unparsed"]:
        print(f"  {u['file']} m{u['measure']}: {u['error']}\n      {u['tokens']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"\nwrote {out} ({result['seconds']} s)")


if __name__ == "__main__":
    main()
