"""A checkpoint's temperature (neural/calibration.py): fitted on valid only, read back on load, applied by
``token_nll`` and ``evaluate``, and never by decoding."""
import json
import math

import numpy as np
import pytest
import torch

from partimento.grammar.errors import CheckpointError
from partimento.hybrid.cli import main
from partimento.neural.calibration import fit_temperature
from partimento.neural.checkpoint import load_model, save_checkpoint
from partimento.neural.dataset import load_cache


def test_the_fitted_temperature_undoes_a_known_sharpening():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20000, 12, generator=g)  # the true log-odds
    y = torch.multinomial(torch.softmax(z, -1), 1, generator=g)[:, 0]
    t, before, after = fit_temperature(2.0 * z, y)  # a model twice as sure as it should be
    assert t == pytest.approx(2.0, rel=0.05)
    assert after < before
    t1, b1, a1 = fit_temperature(z, y)  # a calibrated model keeps ~1
    assert t1 == pytest.approx(1.0, rel=0.05) and a1 <= b1


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        fit_temperature(torch.zeros(3, 5), torch.zeros(4, dtype=torch.long))


@pytest.fixture
def checkpoint(tmp_path, tiny_model):
    return save_checkpoint(tiny_model, tmp_path / "m.safetensors", {"note": "test"})


def test_calibrate_writes_the_temperature_and_evaluate_applies_it(checkpoint, synthetic_cache, capsys):
    assert load_model(checkpoint).temperature == 1.0  # no calibration: the raw logits
    mode = checkpoint.with_suffix(".json").stat().st_mode
    assert main(["calibrate", str(checkpoint), "--data", str(synthetic_cache)]) == 0
    assert "fitted on valid" in capsys.readouterr().out
    doc = json.loads(checkpoint.with_suffix(".json").read_text())
    cal = doc["calibration"]
    assert cal["split"] == "valid" and cal["chorales"] == 2 and cal["nll_after"] <= cal["nll_before"]
    assert doc["note"] == "test" and checkpoint.with_suffix(".json").stat().st_mode == mode  # the rest kept
    model = load_model(checkpoint)
    assert model.temperature == cal["temperature"] != 1.0

    piece = load_cache(synthetic_cache).split("test")[0]
    tokens = torch.as_tensor(piece.tokens)
    raw = model.token_nll(tokens, piece.cond, calibrated=False)
    cooled = model.token_nll(tokens, piece.cond)
    assert not torch.allclose(raw, cooled)
    assert main(["evaluate", "--split", "test", "--checkpoint", str(checkpoint), "--data", str(synthetic_cache),
                 "--format", "json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["calibration"]["temperature"] == cal["temperature"]
    pieces = load_cache(synthetic_cache).split("test")
    expect = np.concatenate([model.token_nll(torch.as_tensor(p.tokens), p.cond).double().numpy() for p in pieces])
    expect_raw = np.concatenate([model.token_nll(torch.as_tensor(p.tokens), p.cond, calibrated=False).double().numpy()
                                 for p in pieces])
    assert ev["nll_nats_per_token"] == pytest.approx(expect.mean(), rel=1e-9)
    assert ev["calibration"]["uncalibrated_nll_nats_per_token"] == pytest.approx(expect_raw.mean(), rel=1e-9)


def test_decoding_reads_the_raw_logits(checkpoint, synthetic_cache):
    """A calibration changes what evaluate reports, never what compose writes."""
    piece = load_cache(synthetic_cache).split("valid")[0]
    raw = load_model(checkpoint)
    assert main(["calibrate", str(checkpoint), "--data", str(synthetic_cache)]) == 0
    cal = load_model(checkpoint)
    assert cal.temperature != 1.0
    a, b = raw.session(piece.cond), cal.session(piece.cond)
    for tok in piece.tokens[:8].reshape(-1).tolist():
        assert np.array_equal(a.next_logits_array(), b.next_logits_array())
        a.push(tok)
        b.push(tok)


@pytest.mark.parametrize("bad", [0.0, -1.0, 1e9, "warm", float("nan"), True, None])
def test_a_bad_temperature_is_a_located_checkpoint_error(checkpoint, bad):
    path = checkpoint.with_suffix(".json")
    doc = json.loads(path.read_text())
    doc["calibration"] = {"temperature": bad}
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError) as e:
        load_model(checkpoint)
    assert str(path) in str(e.value) and "calibrate" in str(e.value)


def test_calibrate_without_a_checkpoint_exits_2(tmp_path, synthetic_cache, capsys):
    assert main(["calibrate", str(tmp_path / "none.safetensors"), "--data", str(synthetic_cache)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_the_shipped_checkpoint_is_calibrated_on_valid():
    from partimento.neural.checkpoint import SHIPPED_CHECKPOINT, read_meta

    cal = read_meta(SHIPPED_CHECKPOINT)["calibration"]
    assert cal["split"] == "valid" and 1.0 < cal["temperature"] < 2.0
    assert cal["nll_after"] < cal["nll_before"] and not math.isnan(cal["nll_after"])
