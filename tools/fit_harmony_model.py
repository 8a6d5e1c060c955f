"""Fit the harmonizer's statistics (hybrid/harmony_model.json) on Bach chorales of the ``train`` split only.

Sources: the When-in-Rome analyses in /work/shared/data/when-in-rome (their manifest names each
chorale's split; only ``train`` ones are used) and music21's Riemenschneider analyses 001-020
(their BWV header mapped to a music21 corpus chorale, kept only when that chorale is in ``train``).
Each analysis is aligned with its chorale's four voices (the transposition and shift that make the
analysis's bass agree with Bach's bass; an analysis agreeing on fewer than 85% of chords is left out).
Valid and test chorales are never read.

Run: python tools/fit_harmony_model.py [--wir /work/shared/data/when-in-rome] [--out hybrid/harmony_model.json]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from partimento.grammar.analysis import normalize_figure
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.theory import key_info
from partimento.hybrid.harmony_model import (MIN_CHORD_COUNT, MODES, RELATED_KEYS, SLOT_KINDS, read_bach_chorale,
                                             signature, slots_of)

ROOT = Path(__file__).resolve().parent.parent
MIN_AGREEMENT = 0.85


def split_of() -> dict[str, str]:
    d = json.loads((ROOT / "neural" / "chorale_split.json").read_text())
    return {p: s for s in ("train", "valid", "test") for p in d[s]}


def sources(wir: Path) -> list[tuple[str, Path, str]]:
    """(label, analysis path, corpus path) of every analysis whose chorale is in ``train``."""
    import music21

    where = split_of()
    out = []
    manifest = json.loads((wir / "manifest.json").read_text())
    for f in manifest["files"]:
        corp = f["music21_corpus"]
        if f["chorale_split"] == "train" and len(corp) == 1 and where.get(corp[0]) == "train":
            out.append((f"when-in-rome {f['file']}", wir / f["file"], corp[0]))
    d = Path(music21.__file__).parent / "corpus" / "bach" / "choraleAnalyses"
    for i in range(1, 21):
        path = d / f"riemenschneider{i:03d}.rntxt"
        m = re.search(r"BWV:\s*([0-9.]+)\s", path.read_text())
        corp = f"bach/bwv{m.group(1)}" if m else None
        if corp and where.get(corp) == "train":
            out.append((f"music21 {path.name}", path, corp))
    return out


def four_voices(corpus_path: str):
    """(pitch (T, 4), attack (T, 4), fermata steps, metre, pickup steps) of a chorale on the grid; None off it."""
    ch = read_bach_chorale(corpus_path)
    if ch is None or not ch.on_grid:
        return None
    return ch.pitch, ch.attack, ch.fermatas, ch.metre, ch.pickup


def analysis_events(path: Path):
    """[(offset, key name, figure)] of an analysis, in order."""
    from music21 import converter, roman

    an = converter.parse(str(path), format="romanText")
    out = []
    for rn in an.recurse().getElementsByClass(roman.RomanNumeral):
        if rn.key is None:
            continue
        out.append((float(rn.getOffsetInHierarchy(an)), rn.key.tonicPitchNameWithCase, normalize_figure(rn.figure)))
    return out


def align(events, pitch):
    """(transposition, shift in steps, agreement): the one under which the analysis's bass is Bach's."""
    q = STEPS_PER_QUARTER
    T = pitch.shape[0]
    offs, basses = [], []
    for off, key, fig in events:
        sig = signature(fig, key)
        if sig is not None:
            offs.append(int(round(off * q)))
            basses.append((sig[2] + key_info(key).tonic) % 12)
    offs, basses = np.asarray(offs), np.asarray(basses)
    best = (0, 0, 0.0)
    for shift in sorted(range(-4 * q, 4 * q + 1, q // 2), key=abs):  # the smallest shift wins a tie
        t = offs + shift
        ok = (t >= 0) & (t < T)
        bach = pitch[np.clip(t, 0, T - 1), 3]
        ok &= bach >= 0
        if not ok.any():
            continue
        for tr in range(12):
            agree = float(np.mean(bach[ok] % 12 == (basses[ok] + tr) % 12))
            if agree > best[2]:
                best = (tr, shift, agree)
    return best


def scale_of(tonic: int, mode: str) -> set[int]:
    steps = (0, 2, 3, 5, 7, 8, 9, 10, 11) if mode == "minor" else (0, 2, 4, 5, 7, 9, 11)
    return {(tonic + s) % 12 for s in steps}


def examples(wir: Path):
    """Per aligned chorale: its slots with (key tonic, mode, key relation, signature) and the voices."""
    for label, path, corp in sources(wir):
        voices = four_voices(corp)
        if voices is None:
            print(f"skip {label}: rhythm off the sixteenth grid", file=sys.stderr)
            continue
        pitch, attack, fermatas, metre, pickup = voices
        events = analysis_events(path)
        tr, shift, agree = align(events, pitch)
        if agree < MIN_AGREEMENT:
            print(f"skip {label} ({corp}): the analysis agrees with Bach's bass on {agree:.0%} of chords",
                  file=sys.stderr)
            continue
        q = STEPS_PER_QUARTER
        T = pitch.shape[0]
        onsets = np.array([int(round(o * q)) + shift for o, _, _ in events])
        home_key = events[0][1]
        home = ((key_info(home_key).tonic + tr) % 12, key_info(home_key).mode)
        slots = slots_of(T, metre, pickup, attack[:, 0])
        rows = []
        for sl in slots:
            i = int(np.searchsorted(onsets, sl.start, side="right")) - 1
            if i < 0:
                rows.append(None)
                continue
            _, key, fig = events[i]
            k = key_info(key)
            tonic = (k.tonic + tr) % 12
            rel = next((j for j, (d, m, _) in enumerate(RELATED_KEYS[home[1]])
                        if (home[0] + d) % 12 == tonic and m == k.mode), None)
            sig = signature(fig, key)
            rows.append(None if rel is None or sig is None else (tonic, k.mode, rel, sig, fig, i))
        yield label, corp, pitch, attack, fermatas, slots, rows, home, agree


def fit(wir: Path) -> dict:
    chorales = list(examples(wir))
    sig_count: dict[str, Counter] = {m: Counter() for m in MODES}
    sig_names: dict[tuple, Counter] = defaultdict(Counter)
    for *_, rows, home, _ in [(c[5], c[6], c[7], c[8]) for c in chorales]:
        for r in rows:
            if r is not None:
                sig_count[r[1]][r[3]] += 1
                sig_names[r[3]][r[4]] += 1
    vocab = {m: [s for s, n in sorted(sig_count[m].items(), key=lambda x: -x[1]) if n >= MIN_CHORD_COUNT]
             for m in MODES}
    index = {m: {s: j for j, s in enumerate(vocab[m])} for m in MODES}
    names = {m: [sig_names[s].most_common(1)[0][0] for s in vocab[m]] for m in MODES}
    F = {m: len(vocab[m]) for m in MODES}
    c = {m: {"unigram": np.zeros(F[m]), "change": np.zeros((F[m], F[m])), "cadence": np.zeros((F[m], F[m])),
             "fermata": np.zeros(F[m]), "start": np.zeros(F[m]), "final": np.zeros(F[m]), "entry": np.zeros(F[m]),
             "onset": np.zeros((4, F[m], 12)), "inner": np.zeros((4, F[m], 12)),
             "next": np.zeros((F[m], 12)), "prev": np.zeros((F[m], 12)), "kind": np.zeros((len(SLOT_KINDS), F[m]))}
         for m in MODES}
    stay = {k: [0, 0] for k in SLOT_KINDS}
    key_change = {"phrase_start": [0, 0], "inside": [0, 0]}
    pivot = {"phrase_start": [0, 0], "inside": [0, 0]}
    relation = {m: np.zeros(len(RELATED_KEYS[m])) for m in MODES}
    used = []
    for label, corp, pitch, attack, fermatas, slots, rows, home, agree in chorales:
        used.append({"source": label, "chorale": corp, "bass_agreement": round(agree, 3)})
        T = pitch.shape[0]
        ferm_slot = np.zeros(len(slots), bool)
        held = np.zeros(len(slots), bool)  # inside a held fermata note, or after the last note
        starts = np.array([s.start for s in slots])
        for f in fermatas:
            j = int(np.searchsorted(starts, f, side="right")) - 1
            ferm_slot[j] = True
            end = f + 1
            while end < T and not attack[end, 0] and pitch[end, 0] == pitch[f, 0]:
                end += 1
            held |= (starts > f) & (starts < end)
        last_attack = int(np.flatnonzero(attack[:, 0])[-1])
        held |= starts > last_attack
        # phrase starts: the first slot not held after a fermata slot
        phrase_start = np.zeros(len(slots), bool)
        pending = False
        for j in range(len(slots)):
            if ferm_slot[j]:
                pending = True
                continue
            if pending and not held[j]:
                phrase_start[j] = True
                pending = False
        first = True
        final_j = int(np.searchsorted(starts, last_attack, side="right")) - 1
        prev = None
        for j, (sl, r) in enumerate(zip(slots, rows)):
            if r is None:
                prev = None
                continue
            tonic, mode, rel, sig, fig, ev = r
            f = index[mode].get(sig)
            if f is None:
                prev = None
                continue
            cm = c[mode]
            cm["unigram"][f] += 1
            cm["kind"][sl.kind, f] += 1
            for d, table in ((1, "next"), (-1, "prev")):  # the soprano at the neighbouring slots' onsets
                if 0 <= j + d < len(slots) and pitch[slots[j + d].start, 0] >= 0:
                    cm[table][f, (pitch[slots[j + d].start, 0] - tonic) % 12] += 1
            if first:
                cm["start"][f] += 1
                first = False
            if ferm_slot[j]:
                cm["fermata"][f] += 1
            if j == final_j:
                cm["final"][f] += 1
            for v in range(4):
                p = pitch[sl.start, v]
                if p >= 0:
                    cm["onset"][v, f, (p - tonic) % 12] += 1
                for t in range(sl.start + 1, sl.stop):
                    if attack[t, v] and pitch[t, v] >= 0:
                        cm["inner"][v, f, (pitch[t, v] - tonic) % 12] += 1
            if prev is not None and not held[j]:
                ptonic, pmode, prel, pf, pev = prev
                ctx = "phrase_start" if phrase_start[j] else "inside"
                if prel == rel:
                    key_change[ctx][1] += 1
                    if pev == ev or pf == f:
                        stay[SLOT_KINDS[sl.kind]][0] += 1
                    else:
                        stay[SLOT_KINDS[sl.kind]][1] += 1
                        (cm["cadence"] if ferm_slot[j] else cm["change"])[pf, f] += 1
                else:
                    key_change[ctx][0] += 1
                    relation[home[1]][rel] += 1
                    cm["entry"][f] += 1
                    old = {(pc + ptonic) % 12 for pc in vocab[pmode][pf][1]}
                    pivot[ctx][0 if old <= scale_of(tonic, mode) else 1] += 1
            prev = (tonic, mode, rel, f, ev)
    return {
        "about": ("Counts of Bach's harmony in the train split of neural/chorale_split.json (never valid or test): "
                  "When-in-Rome and music21 Riemenschneider Roman-numeral analyses aligned with the chorales' "
                  "voices; fitted by tools/fit_harmony_model.py. See partimento.hybrid.harmony_model."),
        "fitted_on": used,
        "min_chord_count": MIN_CHORD_COUNT,
        "vocab": names,
        "counts": {**{m: {k: v.astype(int).tolist() for k, v in c[m].items()} for m in MODES},
                   "stay": stay, "key_change": key_change, "pivot": pivot,
                   "key_relation": {m: relation[m].astype(int).tolist() for m in MODES}},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wir", type=Path, default=Path("/work/shared/data/when-in-rome"))
    ap.add_argument("--out", type=Path, default=ROOT / "hybrid" / "harmony_model.json")
    args = ap.parse_args()
    data = fit(args.wir)
    from partimento.grammar.fileio import write_text_atomic

    write_text_atomic(args.out, json.dumps(data, separators=(",", ":")))
    print(f"wrote {args.out}: {len(data['fitted_on'])} chorales, vocabulary "
          f"{ {m: len(v) for m, v in data['vocab'].items()} }")


if __name__ == "__main__":
    main()
