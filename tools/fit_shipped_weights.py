"""Fit the shipped companion weights (grammar/grammars/NAME.weights.json) on the development corpus.

The corpus is the When-in-Rome Bach chorale analyses in ../shared/data/when-in-rome/ (115
files, 694 phrases); every file whose chorale is in the ``test`` split of
neural/chorale_split.json is refused, as the corpus README asks. The harmony grammar is fitted
(``partimento grammar fit`` does the same: count the alternatives of each phrase's most probable
parse, plus a smoothing pseudo-count) and the rules the form grammars share with it get the
same weights; rules above the phrase keep the w= annotations of their .lark file.

    python tools/fit_shipped_weights.py [--corpus ../shared/data/when-in-rome]
"""
import argparse
import json
from pathlib import Path

from partimento.grammar import load
from partimento.grammar.fit import fit_weights
from partimento.grammar.weights import write_weights

ROOT = Path(__file__).resolve().parent.parent
SMOOTHING = 0.1


def development_files(corpus: Path) -> list[Path]:
    """The corpus files, in manifest order, none of them a ``test`` chorale."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    files = []
    for entry in manifest["files"]:
        if entry.get("chorale_split") == "test":
            raise SystemExit(f"{entry['file']} is a test chorale: the development corpus must not hold one")
        files.append(corpus / entry["file"])
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent.parent / "shared" / "data" / "when-in-rome")
    args = ap.parse_args()
    files = development_files(args.corpus)
    harmony = load("harmony", weights=False)
    res = fit_weights(harmony, files, smoothing=SMOOTHING)
    print(f"harmony: {res.parsed}/{res.phrases} phrases of {len(files)} analyses parse")
    meta = {"fitted_on": f"When-in-Rome Bach chorale analyses, {len(files)} files (Riemenschneider 021-150 "
                         f"less the test split), {res.phrases} phrases",
            "phrases": res.phrases, "parsed": res.parsed, "smoothing": SMOOTHING,
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
