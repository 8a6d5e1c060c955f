import json

import numpy as np
import pytest

from partimento.grammar.errors import DataError
from partimento.neural.dataset import CODE_VERSION, load_cache, read_split, sample_batch, write_cache
from partimento.neural.encoding import PITCH_OFFSET, sounding_pitches


def test_split_file_is_the_fixed_split():
    split = read_split()
    assert (len(split["train"]), len(split["valid"]), len(split["test"])) == (280, 35, 35)
    assert not set(split["test"]) & (set(split["train"]) | set(split["valid"]))


def test_cache_round_trip_without_music21(synthetic_cache, synthetic_named):
    data = load_cache(synthetic_cache)
    assert [p.name for p in data.pieces] == [n for n, *_ in synthetic_named]
    for p, (_, split, tok, cond) in zip(data.pieces, synthetic_named):
        assert p.split == split and np.array_equal(p.tokens, tok) and np.array_equal(p.cond.values, cond.values)
        assert 0 in p.shifts
    assert len(data.split("train")) == 4


def test_shifts_keep_voices_in_range(synthetic_cache):
    data = load_cache(synthetic_cache)
    for p in data.pieces:
        for s in p.shifts:
            pitches = sounding_pitches(p.tokens) + s
            for v in range(4):
                sung = pitches[:, v][sounding_pitches(p.tokens)[:, v] >= 0]
                assert data.ranges[v, 0] <= sung.min() and sung.max() <= data.ranges[v, 1]


def test_sample_batch_shapes_and_transposition(synthetic_cache):
    data = load_cache(synthetic_cache)
    rng = np.random.default_rng(0)
    tok, cond, mask = sample_batch(data.split("train"), 6, 40, rng)
    assert tok.shape == (6, 40, 4) and cond.shape[:2] == (6, 40) and mask.shape == (6, 40)
    assert mask[:, 0].all()
    # every window starts with an attack or a rest in each voice, never an unresolvable HOLD
    assert (tok[:, 0] > 0).all()
    again = sample_batch(data.split("train"), 6, 40, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip((tok, cond, mask), again))


def test_missing_stale_and_empty(tmp_path, synthetic_named):
    with pytest.raises(DataError, match="not found"):
        load_cache(tmp_path / "none.npz")
    path = write_cache(synthetic_named, tmp_path / "old.npz")
    with np.load(path) as z:
        arrays = dict(z)
    meta = json.loads(str(arrays["meta"]))
    meta["code_version"] = "chorale-encoding-0"
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "stale.npz", **arrays)
    with pytest.raises(DataError, match=CODE_VERSION):
        load_cache(tmp_path / "stale.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="corrupt"):
        load_cache(tmp_path / "junk.npz")
    only_train = write_cache([x for x in synthetic_named if x[1] == "train"], tmp_path / "t.npz")
    with pytest.raises(DataError, match="empty"):
        load_cache(only_train).split("valid")


def test_cache_loads_without_music21(synthetic_cache):
    import subprocess
    import sys

    code = ("import sys; sys.modules['music21'] = None\n"
            "from partimento.neural.dataset import load_cache\n"
            f"d = load_cache({str(synthetic_cache)!r}); assert len(d.pieces) == 8\n"
            "assert 'music21' not in [m for m in sys.modules if sys.modules[m] is not None]")
    subprocess.run([sys.executable, "-c", code], check=True)
