"""The chorale dataset: a cache file built once with music21, then read with numpy alone.

``build_cache`` parses every chorale of ``chorale_split.json`` (music21 corpus), encodes
it (:mod:`.score_analysis`) and writes one ``.npz`` holding all pieces concatenated,
their split, and the transpositions each piece allows. The file is keyed by corpus and
``CODE_VERSION``: a cache written by older encoding code is refused with a
:class:`DataError` instead of being silently misread. ``load_cache`` needs only numpy,
so the file can travel to a GPU machine without music21.

Augmentation: a piece may be transposed by every shift in −6..+5 semitones that keeps
each voice inside the range Bach gives that voice across the training chorales (the
textbook ranges are narrower than Bach's own, which would exclude many originals).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from partimento.grammar.errors import DataError, Location

from .conditioning import FIELDS, Conditioning
from .encoding import N_VOICES, PITCH_OFFSET, sounding_pitches, transpose_tokens

__all__ = ["CODE_VERSION", "CORPUS", "SPLIT_PATH", "SHIFTS", "ChoraleData", "Piece", "read_split",
           "build_cache", "write_cache", "load_cache", "ensure_cache", "default_cache_path", "from_pieces", "sample_batch"]

CODE_VERSION = "chorale-encoding-1"  # bump when tokens or conditioning change meaning
CORPUS = "music21-bach-chorales"
SPLIT_PATH = Path(__file__).parent / "chorale_split.json"
SHIFTS = tuple(range(-6, 6))  # candidate transpositions in semitones
SPLITS = ("train", "valid", "test")


def default_cache_path() -> Path:
    """Where ``partimento data`` writes and ``train``/``evaluate`` look by default."""
    import os

    root = Path(os.environ.get("PARTIMENTO_CACHE", Path.home() / ".cache" / "partimento"))
    return root / f"chorales-{CODE_VERSION}.npz"


def read_split(path: str | Path = SPLIT_PATH) -> dict[str, list[str]]:
    """{"train": [...], "valid": [...], "test": [...]} of music21 corpus paths."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"cannot read the chorale split ({e})", Location(file=str(path))) from None
    return {s: list(doc.get(s, [])) for s in SPLITS}


@dataclass
class Piece:
    """One encoded chorale as stored in the cache."""

    name: str
    split: str
    tokens: np.ndarray  # (T, 4) int64
    cond: Conditioning
    shifts: tuple[int, ...]  # transpositions that keep every voice in range (includes 0)


@dataclass
class ChoraleData:
    """All pieces of a cache plus the voice ranges used for augmentation."""

    pieces: list[Piece]
    ranges: np.ndarray  # (4, 2) lowest and highest MIDI pitch per voice (training split)
    source: str = ""

    def split(self, name: str) -> list[Piece]:
        out = [p for p in self.pieces if p.split == name]
        if not out:
            raise DataError(f"the {name!r} split of {self.source or 'the dataset'} is empty",
                            hint="Rebuild the cache with `partimento data`.")
        return out


def _voice_ranges(tokens_list: Sequence[np.ndarray]) -> np.ndarray:
    lo = np.full(N_VOICES, 127)
    hi = np.zeros(N_VOICES, dtype=np.int64)
    for tok in tokens_list:
        att = tok >= PITCH_OFFSET
        for v in range(N_VOICES):
            if att[:, v].any():
                p = tok[att[:, v], v] - PITCH_OFFSET
                lo[v], hi[v] = min(lo[v], p.min()), max(hi[v], p.max())
    return np.stack([lo, hi], 1)


def _allowed_shifts(tokens: np.ndarray, ranges: np.ndarray) -> tuple[int, ...]:
    out = []
    att = tokens >= PITCH_OFFSET
    for s in SHIFTS:
        ok = True
        for v in range(N_VOICES):
            if att[:, v].any():
                p = tokens[att[:, v], v] - PITCH_OFFSET + s
                ok &= bool(p.min() >= ranges[v, 0] and p.max() <= ranges[v, 1])
        if ok:
            out.append(s)
    return tuple(out) or (0,)


def from_pieces(named: Sequence[tuple[str, str, np.ndarray, Conditioning]], source: str = "") -> ChoraleData:
    """A dataset from (name, split, tokens, cond) tuples; ranges from the training split."""
    train = [t for _, s, t, _ in named if s == "train"] or [t for _, _, t, _ in named]
    ranges = _voice_ranges(train)
    pieces = [Piece(n, s, np.asarray(t, dtype=np.int64), c, _allowed_shifts(np.asarray(t), ranges))
              for n, s, t, c in named]
    return ChoraleData(pieces, ranges, source)


def build_cache(out: str | Path, split_path: str | Path = SPLIT_PATH, limit: int | None = None,
                progress: bool = True, splits: Sequence[str] = SPLITS) -> Path:
    """Parse and encode the corpus (music21), write the cache atomically; returns its path.

    ``limit`` keeps only the first N chorales of each split (tests, smoke runs).
    """
    import music21
    from music21 import corpus
    from tqdm import tqdm

    from .score_analysis import encode_score

    split = read_split(split_path)
    todo = [(s, name) for s in splits for name in split[s][:limit]]
    if not todo:
        raise DataError("the chorale split lists no chorales", Location(file=str(split_path)))
    named = []
    skipped = []
    for s, name in tqdm(todo, desc="encoding chorales", unit="chorale", disable=not progress):
        try:
            enc = encode_score(corpus.parse(name), name)
        except DataError as e:
            skipped.append(f"{name}: {e.message}")
            continue
        named.append((name, s, enc.tokens, enc.cond))
    if not named:
        raise DataError("no chorale could be encoded: " + "; ".join(skipped[:3]))
    return write_cache(named, out, {"music21": music21.__version__, "skipped": skipped})


def write_cache(named: Sequence[tuple[str, str, np.ndarray, Conditioning]], out: str | Path,
                extra_meta: dict | None = None) -> Path:
    """Write (name, split, tokens, cond) pieces as a cache file, atomically; numpy only."""
    from partimento.grammar.fileio import write_with

    data = from_pieces(named)
    lengths = np.array([len(p.tokens) for p in data.pieces], dtype=np.int64)
    shifts = np.zeros((len(data.pieces), len(SHIFTS)), dtype=bool)
    for i, p in enumerate(data.pieces):
        shifts[i, [SHIFTS.index(s) for s in p.shifts]] = True
    meta = {"code_version": CODE_VERSION, "corpus": CORPUS, "fields": list(FIELDS), **(extra_meta or {})}
    arrays = dict(
        meta=np.array(json.dumps(meta)),
        names=np.array([p.name for p in data.pieces]),
        splits=np.array([p.split for p in data.pieces]),
        lengths=lengths,
        tokens=np.concatenate([p.tokens for p in data.pieces]).astype(np.int16),
        cond=np.concatenate([p.cond.values for p in data.pieces]).astype(np.int16),
        shifts=shifts,
        ranges=data.ranges,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file handle keeps numpy from appending ".npz" to the temp name
            np.savez_compressed(fh, **arrays)

    return write_with(out, write)


def load_cache(path: str | Path | None = None) -> ChoraleData:
    """Read a cache written by :func:`build_cache` (numpy only); DataError if missing or stale."""
    path = Path(path) if path is not None else default_cache_path()
    if not path.is_file():
        raise DataError("dataset cache not found", Location(file=str(path)),
                        hint="Build it with `partimento data --out PATH` (needs music21), or pass --data PATH.")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in ("names", "splits", "lengths", "tokens", "cond", "shifts", "ranges")}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise DataError(f"dataset cache is corrupt or not a partimento cache ({e})", Location(file=str(path)),
                        hint="Rebuild it with `partimento data`.") from None
    if meta.get("code_version") != CODE_VERSION or meta.get("corpus") != CORPUS:
        raise DataError(f"dataset cache was written by {meta.get('code_version')!r}, this code reads {CODE_VERSION!r}",
                        Location(file=str(path)), hint="Rebuild it with `partimento data`; nothing was retrained.")
    if list(meta.get("fields", [])) != list(FIELDS):
        raise DataError("dataset cache has different conditioning fields", Location(file=str(path)),
                        hint="Rebuild it with `partimento data`.")
    bounds = np.concatenate([[0], np.cumsum(arrays["lengths"])])
    pieces = []
    for i, name in enumerate(arrays["names"]):
        a, b = bounds[i], bounds[i + 1]
        shifts = tuple(s for s, ok in zip(SHIFTS, arrays["shifts"][i]) if ok)
        pieces.append(Piece(str(name), str(arrays["splits"][i]), arrays["tokens"][a:b].astype(np.int64),
                            Conditioning(arrays["cond"][a:b].astype(np.int64)), shifts))
    if not pieces:
        raise DataError("dataset cache holds no chorales", Location(file=str(path)))
    return ChoraleData(pieces, arrays["ranges"].astype(np.int64), str(path))


def ensure_cache(path: str | Path | None = None, progress: bool = True) -> Path:
    """The cache at ``path`` (default :func:`default_cache_path`), built first when it is missing.

    Building parses the corpus with music21 (a few minutes, with a progress bar). A path
    whose folder does not exist is refused (DataError) unless it is the default one, so a
    mistyped ``--data`` fails at once instead of starting a build somewhere unexpected.
    """
    target = Path(path) if path is not None else default_cache_path()
    if target.is_file():
        return target
    if target != default_cache_path() and not target.parent.is_dir():
        raise DataError("dataset cache not found, and its folder does not exist to build it in",
                        Location(file=str(target)),
                        hint="Pass an existing cache as --data, or a path in an existing folder to build one there.")
    if progress:
        import sys

        print(f"dataset cache {target} not found: building it from music21's Bach chorales (a few minutes)",
              file=sys.stderr, flush=True)
    return build_cache(target, progress=progress)


def sample_batch(pieces: Sequence[Piece], batch: int, window: int, rng: np.random.Generator,
                 augment: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A training batch of random windows: tokens (B, W, 4), cond (B, W, F), loss mask (B, W).

    Pieces are drawn in proportion to their length; each window gets one random allowed
    transposition. A window that starts after a piece's first step begins with HOLD
    tokens whose pitch the model cannot see, so the first step of such a window is
    re-encoded as attacks of the sounding pitches.
    """
    lengths = np.array([len(p.tokens) for p in pieces], dtype=float)
    idx = rng.choice(len(pieces), size=batch, p=lengths / lengths.sum())
    tok = np.zeros((batch, window, N_VOICES), dtype=np.int64)
    cond = np.zeros((batch, window, len(FIELDS)), dtype=np.int64)
    mask = np.zeros((batch, window), dtype=bool)
    for b, i in enumerate(idx):
        p = pieces[i]
        T = len(p.tokens)
        start = int(rng.integers(0, max(T - window, 0) + 1))
        stop = min(start + window, T)
        t = p.tokens[start:stop]
        if start > 0:
            t = t.copy()
            sounding = sounding_pitches(p.tokens[:start + 1])[-1]
            held = t[0] == 0
            t[0, held & (sounding >= 0)] = PITCH_OFFSET + sounding[held & (sounding >= 0)]
        c = p.cond.values[start:stop]
        if augment:
            s = int(rng.choice(p.shifts))
            t = transpose_tokens(t, s)
            c = c.copy()
            c[:, 0] = (c[:, 0] + s) % 12
        tok[b, :stop - start] = t
        cond[b, :stop - start] = c
        cond[b, stop - start:] = c[-1]
        mask[b, :stop - start] = True
    return tok, cond, mask

