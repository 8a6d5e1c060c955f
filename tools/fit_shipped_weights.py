"""One-off: fit the shipped companion weights on Riemenschneider 001-010 (the tuned-on half)."""
import json, os
from pathlib import Path
import music21
from partimento.grammar import load
from partimento.grammar.fit import fit_weights
from partimento.grammar.weights import write_weights
d = Path(os.path.dirname(music21.__file__)) / "corpus/bach/choraleAnalyses"
files = [d / f"riemenschneider{i:03d}.rntxt" for i in range(1, 11)]
g = load("harmony", weights=False)
res = fit_weights(g, files, smoothing=0.1)
meta = {"fitted_on": [f.name for f in files], "phrases": res.phrases, "parsed": res.parsed, "smoothing": 0.1,
        "note": "fitted with 'partimento grammar fit harmony riemenschneider001-010.rntxt' on the harmony grammar; "
                "rules above the phrase keep the w= annotations of the .lark file"}
gdir = Path("grammar/grammars")
for name in ["harmony", "chorale", "period", "sentence", "binary", "ternary"]:
    target = load(name, weights=False)
    shared = {}
    for rule, alts in res.weights.items():
        r = target.rules.get(rule)
        if r is not None and {a.text for a in r.alternatives} == set(alts):
            shared[rule] = alts
    write_weights(gdir / f"{name}.weights.json", name, shared, dict(meta, counts={k: res.counts[k] for k in shared}))
    print(name, len(shared), "rules")
