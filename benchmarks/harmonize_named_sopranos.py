"""The four test sopranos issue 14 names, harmonized in the chorale profile, seeds 0 and 2.

bwv19.7 and bwv327 reach A5 (refused up front in ``strict``, with the place, exit 2);
bwv381 and bwv404 were unsatisfiable before. Prints one row per run and writes
``results/harmonize_named_test_sopranos.json``. Test split: report, do not tune on it.

    python benchmarks/harmonize_named_sopranos.py
"""
import sys, time, warnings, json
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch; torch.set_num_threads(1)
from partimento.grammar.errors import PartimentoError
from partimento.hybrid import harmonize
from partimento.hybrid.harmony_model import read_bach_chorale
from partimento.hybrid.melody import read_melody
import numpy as np
rows = []
for path in ("bach/bwv19.7", "bach/bwv327", "bach/bwv381", "bach/bwv404"):
    parts = read_bach_chorale(path).parts
    for seed in (0, 2):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                r = harmonize(parts[0], seed=seed, profile="chorale")
                mel = read_melody(parts[0], profile="chorale")
                row = dict(chorale=path, seed=seed, harmonized=True, soprano_exact=bool(np.array_equal(r.tokens[:, 0], mel.tokens)),
                           errors=len(r.errors), plan_draws=r.stats.get("plan_draws"))
            except PartimentoError as e:
                row = dict(chorale=path, seed=seed, harmonized=False, failed=f"{type(e).__name__}: {e.describe()}")
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(row, flush=True); rows.append(row)
    try:
        read_melody(parts[0], profile="strict"); print(path, "strict: read", flush=True)
    except PartimentoError as e:
        print(path, "strict:", type(e).__name__, e.describe(), flush=True)
        rows.append(dict(chorale=path, profile="strict", refused=f"{type(e).__name__}: {e.describe()}", exit_code=e.exit_code))
out = Path(__file__).parent / "results" / "harmonize_named_test_sopranos.json"
out.write_text(json.dumps({"split": "test", "profile": "chorale", "rows": rows}, indent=1))
print("wrote", out)
