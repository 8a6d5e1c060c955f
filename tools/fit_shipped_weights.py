"""Fit the shipped companion weights (grammar/grammars/NAME.weights.json) on the development corpus.

The corpus is the When-in-Rome Bach chorale analyses in ../shared/data/when-in-rome/ (115
files, 694 phrases); a manifest that lists a chorale of the ``test`` split is refused
(:func:`partimento.grammar.corpus.development_files`), as the corpus README asks. The smoothing
(pseudo-count per alternative and its prior) is chosen by cross-validation between the odd and
even halves of the corpus (:func:`partimento.grammar.fit.cross_validate_smoothing`), then the
harmony grammar is fitted on the whole corpus with it (``partimento grammar fit`` does the same
counting: each phrase's most probable parse) and the rules the form grammars share with it get
the same weights; rules above the phrase keep the w= annotations of their .lark file.

    python tools/fit_shipped_weights.py [--corpus ../shared/data/when-in-rome]
"""
import argparse
from pathlib import Path

from partimento.grammar import load
from partimento.grammar.corpus import DEVELOPMENT_CORPUS, development_files, halves, read_phrases
from partimento.grammar.fit import cross_validate_smoothing, fit_weights
from partimento.grammar.weights import write_weights

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEVELOPMENT_CORPUS)
    args = ap.parse_args()
    files = development_files(args.corpus)
    harmony = load("harmony", weights=False)
    cv = cross_validate_smoothing(harmony, halves(read_phrases(files)))
    smoothing, prior = cv["best"]["smoothing"], cv["best"]["prior"]
    print(f"smoothing chosen by cross-validation between the odd and even halves: {prior} {smoothing:g}")
    res = fit_weights(harmony, files, smoothing=smoothing, prior=prior)
    print(f"harmony: {res.parsed}/{res.phrases} phrases of {len(files)} analyses parse")
    meta = {"fitted_on": f"When-in-Rome Bach chorale analyses, {len(files)} files (Riemenschneider 021-150 "
                         f"less the test split), {res.phrases} phrases",
            "phrases": res.phrases, "parsed": res.parsed, "smoothing": smoothing, "prior": prior,
            "smoothing_chosen_by": "two-fold cross-validation between the odd and even halves of the corpus: "
                                   + cv["criterion"],
            "note": "fitted by tools/fit_shipped_weights.py (partimento grammar fit harmony CORPUS) on the "
                    "harmony grammar; rules above the phrase keep the w= annotations of the .lark file"}
    gdir = ROOT / "grammar" / "grammars"
    for name in ["harmony", "chorale", "period", "sentence", "binary", "ternary"]:
        target = load(name, weights=False)
        shared = {}
        for rule, alts in res.weights.items():
            r = target.rules.get(rule)
            if r is not None and {a.text for a in r.alternatives} == set(alts):
                shared[rule] = alts
        write_weights(gdir / f"{name}.weights.json", name, shared,
                      dict(meta, counts={k: res.counts[k] for k in shared}))
        print(f"{name}: weights for {len(shared)} rules")


if __name__ == "__main__":
    main()
