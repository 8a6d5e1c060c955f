"""How much averaging several trained models would gain: the NLL of their averaged prediction.

For every checkpoint given (default: the shipped one and the candidates kept in
``benchmarks/candidates/``), the per-token NLL on a split (nats per voice token, as
``partimento evaluate`` counts it); then, for every combination of two or more, the NLL
of the ensemble that averages their predicted probabilities of the true token
(``-log mean_k p_k``). An ensemble costs one model per member at decoding time; the
point of this figure is the target it sets for distillation (``partimento train
--teacher``), which brings such an average into one model. Develop on ``valid``: the
default, and the only split the distillation teachers were chosen on.

    python benchmarks/neural_ensemble.py [--split valid] [--checkpoint A --checkpoint B ...]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).parent
RESULTS = HERE / "results"
DEFAULT = ("shipped", *sorted(os.path.relpath(p) for p in (HERE / "candidates").glob("*.safetensors")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="valid", choices=["valid", "test"])
    ap.add_argument("--checkpoint", action="append", default=None,
                    help="a checkpoint (repeat; 'shipped' for the shipped one); default: shipped + candidates")
    ap.add_argument("--data", default=None, help="dataset cache (default: partimento's)")
    ap.add_argument("--calibrate", action="store_true",
                    help="fit each member's temperature on valid first, as `partimento calibrate` does (nothing is "
                         "written; a member already calibrated keeps its own); writes neural_ensemble_valid_calibrated.json")
    args = ap.parse_args()
    if args.calibrate and args.split != "valid":
        ap.error("--calibrate fits temperatures on valid only")
    torch.set_num_threads(1)
    from partimento.neural.checkpoint import load_model
    from partimento.neural.dataset import ensure_cache, load_cache
    from partimento.neural.evaluate import _piece_nll

    from environment import environment

    data = load_cache(ensure_cache(args.data, progress=False) if args.data is None else args.data)
    pieces = data.split(args.split)
    names = args.checkpoint or list(DEFAULT)
    nll: dict[str, np.ndarray] = {}
    temperatures: dict[str, float] = {}
    for name in names:
        model = load_model(None if name == "shipped" else name)
        if args.calibrate and model.temperature == 1.0:
            from partimento.neural.calibration import fit_model

            model.temperature = fit_model(model, pieces)["temperature"]
        nll[name] = np.concatenate([x.ravel() for x in _piece_nll(model, pieces, conditioned=True)])
        print(f"{name}: {nll[name].mean():.4f} nats/token ({model.num_params():,} params, temperature "
              f"{model.temperature:g})", flush=True)
        temperatures[name] = model.temperature
    rows = []
    for r in range(2, len(names) + 1):
        for combo in itertools.combinations(names, r):
            mean_p = np.mean([np.exp(-nll[k]) for k in combo], axis=0)
            rows.append({"members": list(combo), "nll": float(-np.log(mean_p).mean())})
            print(f"{' + '.join(Path(k).stem for k in combo)}: {rows[-1]['nll']:.4f}")
    out = {"command": " ".join(["python", "benchmarks/neural_ensemble.py", *sys.argv[1:]]), "split": args.split,
           "chorales": len(pieces), "tokens": int(len(next(iter(nll.values())))),
           "single": {k: float(v.mean()) for k, v in nll.items()}, "temperatures": temperatures, "ensembles": rows,
           "environment": environment()}
    path = RESULTS / f"neural_ensemble_{args.split}{'_calibrated' if args.calibrate else ''}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
