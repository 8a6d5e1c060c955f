"""Train the harmonizer's melody network (hybrid/melody_net.safetensors) on the train split only.

Every chorale of the ``train`` split of neural/chorale_split.json whose soprano ``read_melody``
accepts (chorale profile) gives one sequence of slots: the features of its soprano
(``partimento.hybrid.melody_net.slot_features``, relative to the key ``read_melody`` finds) and,
per slot, Bach's bass pitch class and chord root (music21's ``root()`` of the sounding notes) at
the slot's onset, relative to that key, and the local key where a Roman-numeral analysis of the
chorale exists (tools/fit_harmony_model.py's sources and alignment; elsewhere not trained).
One tenth of the train chorales (seeded) is held out for early stopping. Valid and test
chorales are never read.

Run: python tools/train_melody_net.py [--epochs 60] [--seed 0]

The shipped network is an ensemble (:class:`partimento.hybrid.melody_net.Ensemble`): each
member trained with its own ``--seed`` (so its own held-out tenth), then put in one file:

    python tools/train_melody_net.py --seed 1 --out /tmp/s1.safetensors   # ... one run per member
    python tools/train_melody_net.py --combine /tmp/s0.safetensors /tmp/s1.safetensors ... --out hybrid/melody_net.safetensors
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from fit_harmony_model import align, analysis_events, sources, split_of  # noqa: E402

from partimento.grammar.metre import STEPS_PER_QUARTER  # noqa: E402
from partimento.grammar.theory import key_info  # noqa: E402
from partimento.hybrid.harmony_model import RELATED_KEYS, slots_of  # noqa: E402
from partimento.hybrid.melody_net import NET_PATH, NetConfig, build, config_dict, slot_features  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=65536)
def root_pc(pitches: tuple[int, ...]) -> int:
    from music21 import chord

    return chord.Chord(list(pitches)).root().pitchClass


def chorale_example(corp: str, analysis: Path | None):
    from music21 import corpus, stream

    from partimento.grammar.rules import parse_score
    from partimento.hybrid.melody import read_melody
    from partimento.hybrid.phrases import phrase_ends
    from partimento.neural.score_analysis import _satb_parts

    score = corpus.parse(corp)
    parts = _satb_parts(score)
    if parts is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mel = read_melody(parts[0], profile="chorale")
    s = parse_score(stream.Score(parts) if len(score.parts) != 4 else score).sonorities
    q = STEPS_PER_QUARTER
    T = mel.steps
    bach = np.full((T, 4), -1, np.int64)
    starts = np.round(s.offset * q).astype(int)
    end = int(round((s.offset[-1] + s.duration[-1]) * q))
    for i, a in enumerate(starts):
        b = min(starts[i + 1] if i + 1 < len(starts) else end, T)
        if a < T:
            bach[a:b] = s.pitch[i]
    if not np.array_equal(bach[:, 0], mel.pitch):
        return None  # the soprano read as a melody is not Bach's soprano on the grid (transposed, ...)
    slots = slots_of(T, mel.metre_obj, int(round(mel.pickup * q)), mel.tokens >= 2)
    starts_ = np.array([sl.start for sl in slots])
    ends = [int(np.searchsorted(starts_, e.step, side="right")) - 1 for e in phrase_ends(mel)]
    x = slot_features(mel.pitch, mel.tokens >= 2, slots, ends, mel.key)
    home = key_info(mel.key)
    y = np.full((len(slots), 3), -1, np.int64)
    for j, sl in enumerate(slots):
        row = [int(p) for p in bach[sl.start] if p >= 0]
        if bach[sl.start, 3] >= 0 and len(row) >= 3:
            y[j, 0] = (bach[sl.start, 3] - home.tonic) % 12
            y[j, 1] = (root_pc(tuple(sorted(row))) - home.tonic) % 12
    if analysis is not None:
        events = analysis_events(analysis)
        tr, shift, agree = align(events, bach)
        if agree >= 0.85:
            onsets = np.array([int(round(o * q)) + shift for o, _, _ in events])
            for j, sl in enumerate(slots):
                i = int(np.searchsorted(onsets, sl.start, side="right")) - 1
                if i < 0:
                    continue
                k = key_info(events[i][1])
                tonic = (k.tonic + tr) % 12
                rel = next((r for r, (d, m, _) in enumerate(RELATED_KEYS[home.mode])
                            if (home.tonic + d) % 12 == tonic and m == k.mode), -1)
                y[j, 2] = rel
    return x, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wir", type=Path, default=Path("/work/shared/data/when-in-rome"))
    ap.add_argument("--out", type=Path, default=NET_PATH)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/melody_net_data.npz"))
    ap.add_argument("--combine", type=Path, nargs="+", default=None,
                    help="put these trained networks (each with its JSON) into one ensemble file at --out; no training")
    args = ap.parse_args()
    if args.combine:
        combine(args.combine, args.out)
        return

    import torch
    from torch import nn

    torch.manual_seed(args.seed)
    where = split_of()
    train = sorted(p for p, s in where.items() if s == "train")
    analyses = {corp: path for _, path, corp in sources(args.wir)}
    if args.cache.is_file():
        data = dict(np.load(args.cache, allow_pickle=False))
        names = [str(n) for n in data.pop("names")]
        examples = [(n, data[f"x{i}"], data[f"y{i}"]) for i, n in enumerate(names)]
    else:
        examples = []
        for corp in train:
            try:
                ex = chorale_example(corp, analyses.get(corp))
            except Exception as e:  # a chorale the reader refuses (range, rhythm) is left out
                print(f"skip {corp}: {type(e).__name__}: {e}", file=sys.stderr)
                continue
            if ex is None:
                print(f"skip {corp}: soprano not on the grid as written", file=sys.stderr)
                continue
            examples.append((corp, *ex))
        np.savez(args.cache, names=np.array([e[0] for e in examples]),
                 **{f"x{i}": e[1] for i, e in enumerate(examples)}, **{f"y{i}": e[2] for i, e in enumerate(examples)})
    rng = random.Random(args.seed)
    order = list(range(len(examples)))
    rng.shuffle(order)
    n_hold = max(1, len(examples) // 10)
    hold = [examples[i] for i in order[:n_hold]]
    fit = [examples[i] for i in order[n_hold:]]
    cfg = NetConfig()
    net = build(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
    ce = nn.CrossEntropyLoss(ignore_index=-1)

    def batches(items, size):
        for i in range(0, len(items), size):
            chunk = items[i:i + size]
            S = max(len(x) for _, x, _ in chunk)
            X = np.zeros((len(chunk), S, cfg.features), np.float32)
            Y = np.full((len(chunk), S, 3), -1, np.int64)
            for b, (_, x, y) in enumerate(chunk):
                X[b, :len(x)] = x
                Y[b, :len(y)] = y
            yield torch.from_numpy(X), torch.from_numpy(Y)

    def loss_of(out, Y):
        return (ce(out["bass"].reshape(-1, 12), Y[..., 0].reshape(-1)) + ce(out["root"].reshape(-1, 12), Y[..., 1].reshape(-1))
                + ce(out["key"].reshape(-1, 6), Y[..., 2].reshape(-1)))

    def evaluate(items):
        net.eval()
        tot = n = 0.0
        acc = {"bass": [0, 0], "root": [0, 0], "key": [0, 0]}
        with torch.no_grad():
            for X, Y in batches(items, 32):
                out = net(X)
                tot += float(loss_of(out, Y)) * len(X)
                n += len(X)
                for h, c in (("bass", 0), ("root", 1), ("key", 2)):
                    m = Y[..., c] >= 0
                    acc[h][0] += int((out[h].argmax(-1)[m] == Y[..., c][m]).sum())
                    acc[h][1] += int(m.sum())
        net.train()
        return tot / n, {h: a / max(1, b) for h, (a, b) in acc.items()}

    best = (float("inf"), None, -1, None)
    t0 = time.time()
    for ep in range(args.epochs):
        rng.shuffle(fit)
        for X, Y in batches(fit, 8):
            loss = loss_of(net(X), Y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        hl, hacc = evaluate(hold)
        if hl < best[0]:
            best = (hl, {k: v.detach().clone() for k, v in net.state_dict().items()}, ep, hacc)
        print(f"epoch {ep}: held-out loss {hl:.3f} accuracy {hacc} ({time.time() - t0:.0f}s)", flush=True)
    from safetensors.torch import save

    from partimento.grammar.fileio import write_bytes_atomic, write_text_atomic

    net.load_state_dict(best[1])
    write_bytes_atomic(args.out, save({k: v.contiguous() for k, v in best[1].items()}))
    meta = {"format": "partimento-melody-net", "config": config_dict(cfg),
            "params": sum(p.numel() for p in net.parameters()),
            "trained_on": "train split of neural/chorale_split.json only (valid and test never read)",
            "chorales": len(examples), "held_out_chorales": [h[0] for h in hold], "best_epoch": best[2],
            "held_out_loss": round(best[0], 4), "held_out_accuracy": {k: round(v, 4) for k, v in best[3].items()},
            "command": "python tools/train_melody_net.py " + " ".join(sys.argv[1:]), "seed": args.seed}
    write_text_atomic(args.out.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    print(f"wrote {args.out}: best epoch {best[2]}, held-out {best[3]}")


def combine(paths: list[Path], out: Path) -> None:
    """One ensemble file from single networks of one config: tensors under ``m{i}.``, each member's
    provenance (seed, held-out chorales, accuracy, command) kept in the JSON's ``members``."""
    from safetensors.torch import load_file, save

    from partimento.grammar.fileio import write_bytes_atomic, write_text_atomic

    metas = [json.loads(p.with_suffix(".json").read_text()) for p in paths]
    if any("members" in m for m in metas):
        raise SystemExit("--combine takes single networks, not ensembles")
    if any(m["config"] != metas[0]["config"] for m in metas):
        raise SystemExit("--combine: the networks have different configs")
    tensors = {}
    for i, p in enumerate(paths):
        tensors.update({f"m{i}.{k}": v.contiguous() for k, v in load_file(str(p)).items()})
    write_bytes_atomic(out, save(tensors))
    keep = ("seed", "chorales", "held_out_chorales", "best_epoch", "held_out_loss", "held_out_accuracy", "command")
    meta = {"format": "partimento-melody-net", "config": metas[0]["config"],
            "params": sum(m["params"] for m in metas), "trained_on": metas[0]["trained_on"],
            "ensemble": "mean of the members' probabilities (hybrid/melody_net.py Ensemble)",
            "members": [{k: m[k] for k in keep if k in m} for m in metas],
            "command": "python tools/train_melody_net.py --combine " + " ".join(str(p) for p in paths)
                       + f" --out {out}"}
    write_text_atomic(out.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    print(f"wrote {out}: {len(paths)} members")


if __name__ == "__main__":
    main()
