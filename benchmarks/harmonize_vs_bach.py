"""Harmonize Bach's own sopranos and compare with Bach; infill spans of composed pieces.

For each chorale of a split of ``neural/chorale_split.json`` (develop on ``valid``; ``test``
is reported once), the soprano part alone is given to ``harmonize`` and the result is
set beside Bach's four voices:

* harmonized (no error raised), soprano kept exactly (tokens equal to Bach's soprano);
* per beat, agreement with Bach: bass pitch class, chord root (music21's ``root()`` of the
  sounding notes, the same function on both), pitch-class set;
* cadences: at each fermata, the key of the phrase's close (Aarden-Essen key profiles on
  all four voices over the two bars that end with the fermata chord, the same function
  on both) is the same as Bach's;
* chromatic notes in alto, tenor and bass: attacks outside the home key's scale (Bach's
  key, with the raised sixth and seventh in minor), for both;
* rule violations of the strict profile on our output, apart from those that involve
  the soprano alone (the given melody's own), and those of the profile harmonized in;
* texture beside Bach (the few numbers of issue 12): notes shorter than a quarter per
  lower voice, bass steps, root-position beats, repeated notes in the alto;
* time: the first 16 bars of each soprano harmonized on one thread, median seconds
  (model load excluded; with ``--timing``).

``--infill P`` composes P 64-bar chorales in c#, E-, f#, B- (round robin), writes each
as MusicXML and rewrites ``--spans`` random spans (1-3 bars, random voices) with
``partimento infill``'s API from the file, then re-reads the written output and checks
that everything outside the span sounds the same (spelled pitch and attack on every
sixteenth, :func:`sounding_steps`; ``outside_notation_identical`` also asks for every
note split and tie as written) and that the result re-checks with 0 strict errors.

    python benchmarks/harmonize_vs_bach.py --split valid --profile chorale
    python benchmarks/harmonize_vs_bach.py --split valid --plans-only      # harmony only, no decoding
    python benchmarks/harmonize_vs_bach.py --infill 20 --spans 50 --split none
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"


# ---------------------------------------------------------------------- Bach's chorales
def split_paths(split: str) -> list[str]:
    return json.loads((ROOT / "neural" / "chorale_split.json").read_text())[split]


def beat_steps(T: int, metre: str, pickup: float) -> list[int]:
    from partimento.grammar.metre import STEPS_PER_QUARTER as Q, parse_metre

    beat = int(parse_metre(metre).beat_quarters * Q)
    p = int(round(pickup * Q))
    return sorted({b for b in range(p % beat, T, beat)})


@lru_cache(maxsize=65536)
def root_pc(pitches: tuple[int, ...]) -> int:
    from music21 import chord

    return chord.Chord(list(pitches)).root().pitchClass


def agreement(ours: np.ndarray, bach: np.ndarray, beats: list[int]) -> dict[str, list[int]]:
    out = {"bass": [], "root": [], "pcset": []}
    for t in beats:
        if t >= len(ours) or t >= len(bach):
            continue
        a, b = [int(p) for p in ours[t] if p >= 0], [int(p) for p in bach[t] if p >= 0]
        if not a or not b or ours[t, 3] < 0 or bach[t, 3] < 0:
            continue
        out["bass"].append(int(ours[t, 3] % 12 == bach[t, 3] % 12))
        out["root"].append(int(root_pc(tuple(sorted(a))) == root_pc(tuple(sorted(b)))))
        out["pcset"].append(int({p % 12 for p in a} == {p % 12 for p in b}))
    return out


@lru_cache(maxsize=1)
def _profiles():
    from music21.analysis.discrete import AardenEssen

    a = AardenEssen()
    return {m: np.asarray(a.getWeights(m), float) for m in ("major", "minor")}


def window_key(pitch: np.ndarray, a: int, b: int) -> tuple[int, str]:
    """(tonic, mode) whose key profile best fits the notes sounding in steps [a, b) (every voice)."""
    seg = pitch[max(0, a):b]
    hist = np.bincount(seg[seg >= 0] % 12, minlength=12).astype(float)
    best, best_r = (0, "major"), -2.0
    for mode, prof in _profiles().items():
        for t in range(12):
            r = np.corrcoef(hist, np.roll(prof, t))[0, 1] if hist.std() > 0 else -1
            if r > best_r:
                best, best_r = (t, mode), r
    return best


def cadence_window(attack: np.ndarray, fermata: int, bar_steps: int) -> tuple[int, int]:
    """Steps [a, stop) that decide the key of a close: the two bars ending with the fermata chord (``a`` may be < 0)."""
    stop = fermata + 1
    while stop < attack.shape[0] and not attack[stop].any():
        stop += 1
    return stop - 2 * bar_steps, stop


def cadence_keys(pitch: np.ndarray, attack: np.ndarray, fermatas: list[int], bar_steps: int) -> list[tuple[int, str]]:
    return [window_key(pitch, *cadence_window(attack, f, bar_steps)) for f in fermatas]


def chromatic_share(pitch: np.ndarray, attack: np.ndarray, home: str) -> tuple[int, int]:
    from partimento.grammar.theory import key_info

    scale = set(key_info(home).scale)
    p = pitch[:, 1:][attack[:, 1:]]
    return int(sum(int(x) % 12 not in scale for x in p)), int(len(p))


def texture(pitch: np.ndarray, attack: np.ndarray, beats: list[int]) -> dict[str, float]:
    """Issue 12's texture numbers: short notes per lower voice, bass steps, root position, alto repeats."""
    from partimento.hybrid.result import _notes_of  # (start, end, midi) per note

    out: dict[str, float] = {}
    for v, name in ((1, "alto"), (2, "tenor"), (3, "bass")):
        notes = _notes_of(pitch, attack, v)
        out[f"short_{name}"] = float(np.mean([(e - s) < 4 for s, e, _ in notes])) if notes else 0.0
        moves = [abs(b[2] - a[2]) for a, b in zip(notes, notes[1:])]
        if name == "bass":
            out["bass_step"] = float(np.mean([0 < m <= 2 for m in moves])) if moves else 0.0
            out["bass_leap_4_5"] = float(np.mean([m in (5, 7) for m in moves])) if moves else 0.0
        if name == "alto":
            out["alto_repeated"] = float(np.mean([m == 0 for m in moves])) if moves else 0.0
    root_pos = [int(root_pc(tuple(sorted(int(p) for p in pitch[t] if p >= 0))) == pitch[t, 3] % 12)
                for t in beats if t < len(pitch) and (pitch[t] >= 0).sum() >= 3 and pitch[t, 3] >= 0]
    out["root_position"] = float(np.mean(root_pos)) if root_pos else 0.0
    return out


# ---------------------------------------------------------------------- harmonize
def harmonize_one(path: str, seed: int, profile: str, plans_only: bool, time_bars: int | None) -> dict:
    from music21 import stream

    from partimento.grammar.errors import PartimentoError
    from partimento.grammar.metre import STEPS_PER_QUARTER as Q
    from partimento.grammar.theory import normalize_key
    from partimento.hybrid import harmonize
    from partimento.hybrid.api import report_for
    from partimento.hybrid.harmony import propose_plan
    from partimento.hybrid.harmony_model import read_bach_chorale
    from partimento.hybrid.melody import read_melody

    chorale = read_bach_chorale(path)
    parts, bach, battack = chorale.parts, chorale.pitch, chorale.attack
    k = stream.Score(parts).analyze("key")
    home = normalize_key(k.tonic.name + ("" if k.mode == "major" else " minor"))
    row: dict = {"chorale": path, "bach_key": home}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            mel = read_melody(parts[0], profile=profile)
            row["key"] = mel.key
            if plans_only:
                plan = propose_plan(mel, seed=seed)
                ours, oattack = _plan_grid(plan, mel, bach.shape[0])
                row["plan_seconds"] = time.perf_counter() - t0
                result = None
            else:
                result = harmonize(parts[0], seed=seed, profile=profile)
                plan = result.plan
                ours, oattack = result.pitch.astype(np.int64), result.attack
                row["seconds"] = time.perf_counter() - t0
                row["plan_draws"] = result.stats.get("plan_draws")
        except PartimentoError as e:
            row["failed"] = f"{type(e).__name__}: {e.describe()}"
            print(f"  {path}: FAILED {row['failed']}", flush=True)
            return row
    T = min(len(ours), len(bach))
    beats = beat_steps(T, mel.metre, mel.pickup)
    row["agreement"] = agreement(ours[:T], bach[:T], beats)
    row["soprano_exact"] = bool(result is not None and np.array_equal(result.tokens[:, 0], mel.tokens)
                                and np.array_equal(mel.pitch[:T], bach[:T, 0]))
    bar = plan.metre_obj.bar_steps
    bk = cadence_keys(bach, battack, mel.fermata_steps, bar)
    if result is not None:
        ok = cadence_keys(ours, oattack, mel.fermata_steps, bar)
        row["cadence_same_key"] = [int(a == b) for a, b in zip(ok, bk)]
        row["chromatic"] = chromatic_share(ours, oattack, home)
        row["bach_chromatic"] = chromatic_share(bach, battack, home)
        strict = report_for(result.pitch, result.attack, plan, "strict")
        errs = [v for v in strict.violations if v.severity.value == "error"]
        row["strict_errors"] = Counter(v.rule for v in errs if v.voices != ["soprano"])
        row["melody_errors"] = Counter(v.rule for v in errs if v.voices == ["soprano"])
        row["profile_errors"] = len(result.errors)
        row["texture"] = texture(ours, oattack, beats)
        row["bach_texture"] = texture(bach, battack, beats)
    # the plan's own cadence keys against Bach's (plans-only development figure)
    plan_keys = []
    from partimento.grammar.theory import key_info

    for f in mel.fermata_steps:
        c = plan.chord_at(f / Q)
        kk = key_info(c.key)
        plan_keys.append((kk.tonic, kk.mode))
    row["plan_cadence_same_key"] = [int(a == b) for a, b in zip(plan_keys, bk)]
    row["chords"] = len(plan.chords)
    row["modulations"] = sum(1 for a, b in zip(plan.chords, plan.chords[1:]) if a.key != b.key)
    if time_bars and result is not None:
        row["timing"] = time_16_bars(parts[0], seed, profile, time_bars)
    agree = {k: (np.mean(v) if v else float("nan")) for k, v in row["agreement"].items()}
    print(f"  {path}: key {mel.key} (Bach {home}), {len(plan.chords)} chords, {row['modulations']} key changes, "
          f"bass {agree['bass']:.2f} root {agree['root']:.2f} pcs {agree['pcset']:.2f}, "
          f"plan cadence keys {sum(row['plan_cadence_same_key'])}/{len(bk)}"
          + (f", cadence keys {sum(row['cadence_same_key'])}/{len(bk)}, strict {sum(row['strict_errors'].values())} "
             f"(+{sum(row['melody_errors'].values())} melody), {row['seconds']:.1f}s" if result is not None else ""),
          flush=True)
    return row


def _plan_grid(plan, mel, T: int):
    """A stand-in grid for a plan alone: the soprano, and the chord's bass, root and third (plans-only mode)."""
    from partimento.grammar.metre import STEPS_PER_QUARTER as Q

    pitch = np.full((T, 4), -1, np.int64)
    attack = np.zeros((T, 4), bool)
    pitch[:, 0] = mel.pitch[:T]
    attack[:, 0] = mel.tokens[:T] >= 2
    for c in plan.chords:
        a, b = int(round(c.onset * Q)), min(int(round(c.end * Q)), T)
        spec = c.spec
        pitch[a:b, 3] = 48 + spec.bass
        pitch[a:b, 2] = 60 + spec.root
        pitch[a:b, 1] = 60 + (spec.third if spec.third is not None else spec.root)
        attack[a, 1:] = True
    return pitch, attack


def time_16_bars(part, seed: int, profile: str, bars: int) -> float:
    """Seconds to harmonize the first ``bars`` bars of ``part`` (one thread, model already loaded)."""
    from music21 import stream

    from partimento.hybrid import harmonize

    cut = stream.Part()
    for m in part.getElementsByClass(stream.Measure):
        if m.number <= bars:
            cut.append(m)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        harmonize(cut, seed=seed, profile=profile)
    return time.perf_counter() - t0


def summarize(rows: list[dict], plans_only: bool) -> dict:
    ok = [r for r in rows if "failed" not in r]
    agree = {k: float(np.mean([x for r in ok for x in r["agreement"][k]])) for k in ("bass", "root", "pcset")}
    out = {"chorales": len(rows), "harmonized": len(ok), "failed": [r["chorale"] + ": " + r["failed"] for r in rows
                                                                   if "failed" in r],
           "per_beat_agreement": agree,
           "plan_cadence_same_key": _share([x for r in ok for x in r["plan_cadence_same_key"]]),
           "key_same_as_bach": _share([int(r["key"] == r["bach_key"]) for r in ok]),
           "modulations_per_chorale": float(np.mean([r["modulations"] for r in ok])) if ok else None}
    if not plans_only:
        chrom = np.sum([r["chromatic"] for r in ok], axis=0)
        bchrom = np.sum([r["bach_chromatic"] for r in ok], axis=0)
        strict = Counter()
        melody = Counter()
        for r in ok:
            strict.update(r["strict_errors"])
            melody.update(r["melody_errors"])
        out.update({
            "soprano_exact": sum(r["soprano_exact"] for r in ok),
            "cadence_same_key": _share([x for r in ok for x in r["cadence_same_key"]]),
            "chromatic_lower_voices": float(chrom[0] / chrom[1]), "bach_chromatic_lower_voices": float(bchrom[0] / bchrom[1]),
            "strict_errors_beyond_melody": sum(strict.values()), "strict_errors_by_rule": dict(strict),
            "melody_own_errors_by_rule": dict(melody),
            "profile_errors": sum(r["profile_errors"] for r in ok),
            "texture": {k: float(np.mean([r["texture"][k] for r in ok])) for k in ok[0]["texture"]} if ok else {},
            "bach_texture": {k: float(np.mean([r["bach_texture"][k] for r in ok])) for k in ok[0]["bach_texture"]}
            if ok else {},
            "seconds_median": statistics.median(r["seconds"] for r in ok) if ok else None,
        })
        timings = [r["timing"] for r in ok if "timing" in r]
        if timings:
            out["seconds_16_bars_median"] = statistics.median(timings)
            out["seconds_16_bars"] = timings
    return out


def _share(xs: list[int]) -> float | None:
    return float(np.mean(xs)) if xs else None


# ---------------------------------------------------------------------- infill
INFILL_KEYS = ("c#", "E-", "f#", "B-")


def note_tuples(path: Path, skip: dict[int, tuple[float, float]]) -> list[tuple]:
    """(part, onset, duration, spelled pitch, tie) of every note, leaving out notes of part v overlapping skip[v]."""
    from music21 import converter

    out = []
    for v, part in enumerate(converter.parse(str(path)).parts):
        for n in part.flatten().notes:
            on, dur = float(n.offset), float(n.quarterLength)
            if v in skip and on < skip[v][1] and on + dur > skip[v][0]:
                continue
            out.append((v, on, dur, n.pitch.nameWithOctave, n.tie.type if n.tie else None))
    return out


def sounding_steps(path: Path, skip: dict[int, tuple[float, float]]) -> dict[tuple[int, int], tuple[str, bool]]:
    """(part, sixteenth step) -> (spelled pitch, struck there) for every step that part v sounds outside skip[v].

    What a listener and a reader of the pitches get, independent of notation: a half note
    and two tied quarters are the same, since the writer splits notes at the plan's chord
    changes and an infilled file's plan is read from its notes. The first step after a span
    may change from held (tied in from the span) to struck: the note before it is new.
    """
    from music21 import converter

    q = 4
    out: dict[tuple[int, int], tuple[str, bool]] = {}
    for v, part in enumerate(converter.parse(str(path)).parts):
        lo, hi = (round(skip[v][0] * q), round(skip[v][1] * q)) if v in skip else (0, 0)
        for n in part.flatten().notes:
            start, stop = round(float(n.offset) * q), round(float(n.offset + n.quarterLength) * q)
            struck = not (n.tie is not None and n.tie.type in ("stop", "continue"))
            for t in range(start, stop):
                if lo <= t < hi:
                    continue
                out[(v, t)] = (n.pitch.nameWithOctave, struck and t == start and t != hi)
    return out


def infill_run(pieces: int, spans: int, seed: int, workdir: Path) -> dict:
    from partimento.grammar.errors import PartimentoError
    from partimento.grammar.metre import STEPS_PER_QUARTER as Q
    from partimento.hybrid import compose, infill
    from partimento.hybrid.commands import parse_voices

    rng = np.random.default_rng(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(pieces):
        key = INFILL_KEYS[i % len(INFILL_KEYS)]
        t0 = time.perf_counter()
        r = compose("chorale", key=key, bars=64, seed=seed + i)
        path = workdir / f"piece{i:02d}_{key.replace('#', 's').replace('-', 'b')}.musicxml"
        r.write(path)
        files.append((path, r))
        print(f"  composed {path.name}: {len(r.errors)} errors, {time.perf_counter() - t0:.1f}s", flush=True)
    rows = []
    for j in range(spans):
        path, orig = files[j % len(files)]
        first = int(rng.integers(1, 63))
        last = min(64, first + int(rng.integers(0, 3)))
        voices = tuple(v for v in ("soprano", "alto", "tenor", "bass") if rng.random() < 0.5) or ("alto", "tenor")
        out = workdir / f"span{j:02d}.musicxml"
        t0 = time.perf_counter()
        row = {"piece": path.name, "measures": [first, last], "voices": list(voices)}
        try:
            new = infill(path, measures=(first, last), voices=voices, seed=seed + j)
        except PartimentoError as e:
            row["failed"] = f"{type(e).__name__}: {e.describe()}"
            rows.append(row)
            print(f"  span {j}: {path.name} m{first}-{last} {voices}: FAILED {row['failed']}", flush=True)
            continue
        new.write(out)
        metre = orig.plan.metre_obj
        a = float(metre.offset(first, 1.0, orig.plan.pickup))
        b = float(metre.offset(last + 1, 1.0, orig.plan.pickup))
        skip = {("soprano", "alto", "tenor", "bass").index(v): (a, b) for v in voices}
        before, after = note_tuples(path, skip), note_tuples(out, skip)
        row["outside_identical"] = sounding_steps(path, skip) == sounding_steps(out, skip)
        row["outside_notation_identical"] = before == after  # also every tie and note split as written
        row["outside_notes"] = len(before)
        row["errors"] = len(new.errors)
        row["search_restarts"] = int(new.stats.get("search_restarts", 0))  # fresh starts from derived seeds
        from partimento.grammar.rules import check

        row["recheck_errors"] = len(check(out, profile="strict").errors)
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(f"  span {j}: {path.name} m{first}-{last} {','.join(voices)}: outside identical "
              f"{row['outside_identical']}, errors {row['errors']}, re-check {row['recheck_errors']}, "
              f"{row['seconds']:.1f}s", flush=True)
    done = [r for r in rows if "failed" not in r]
    return {"pieces": pieces, "bars": 64, "keys": list(INFILL_KEYS), "spans": spans, "done": len(done),
            "failed": [r for r in rows if "failed" in r],
            "outside_identical": sum(r["outside_identical"] for r in done),
            "outside_notation_identical": sum(r["outside_notation_identical"] for r in done),
            "with_errors": sum(r["errors"] > 0 for r in done),
            "recheck_with_errors": sum(r["recheck_errors"] > 0 for r in done),
            "needed_search_restarts": sum(r.get("search_restarts", 0) > 0 for r in done),
            "seconds_median": statistics.median(r["seconds"] for r in done) if done else None, "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="valid", help="valid, test, or none (infill only)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N chorales of the split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="chorale")
    ap.add_argument("--plans-only", action="store_true", help="compare the proposed plans only (no decoding)")
    ap.add_argument("--timing", type=int, default=0, help="also time the first N bars of each soprano (e.g. 16)")
    ap.add_argument("--infill", type=int, default=0, help="compose this many 64-bar pieces for the infill check")
    ap.add_argument("--spans", type=int, default=50)
    ap.add_argument("--name", default=None, help="result file name (default harmonize_vs_bach_<split>)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from partimento.hybrid.api import load_default_model

    load_default_model()
    out: dict = {"split": args.split, "seed": args.seed, "profile": args.profile, "plans_only": args.plans_only}
    if args.split != "none":
        paths = split_paths(args.split)[: args.limit]
        rows = [harmonize_one(p, args.seed, args.profile, args.plans_only, args.timing) for p in paths]
        out["summary"] = summarize(rows, args.plans_only)
        out["rows"] = rows
        print(json.dumps(out["summary"], indent=1, default=str))
    if args.infill:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            out["infill"] = infill_run(args.infill, args.spans, args.seed, Path(d))
        print(json.dumps({k: v for k, v in out["infill"].items() if k != "rows"}, indent=1, default=str))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.name or f"harmonize_vs_bach_{args.split}" + ("_plans" if args.plans_only else "")
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
