import json

import pytest
import torch

from partimento.grammar.errors import CheckpointError
from partimento.neural.checkpoint import SHIPPED_CHECKPOINT, load_model, read_meta, save_checkpoint
from partimento.neural.model import CONFIGS, ChoraleModel, ModelConfig


def test_round_trip(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "m.safetensors", {"note": "test"})
    assert path.is_file() and (tmp_path / "m.json").is_file()
    loaded = load_model(path)
    assert not loaded.training
    for (k, a), (_, b) in zip(tiny_model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    assert read_meta(tmp_path / "m")["note"] == "test"
    # the safetensors file holds no pickle: its header is JSON
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    json.loads(raw[8:8 + n])


def test_shipped_checkpoint_loads_offline():
    assert SHIPPED_CHECKPOINT.is_file()
    m = load_model()
    assert isinstance(m, ChoraleModel) and m.num_params() > 0


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nothing.safetensors")


def test_corrupt_weights(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "m.safetensors")
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not a header at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(path)


def test_corrupt_json(tmp_path, tiny_model):
    save_checkpoint(tiny_model, tmp_path / "m.safetensors")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_model(tmp_path / "m.safetensors")


def test_config_not_matching_weights(tmp_path, tiny_model):
    save_checkpoint(tiny_model, tmp_path / "m.safetensors")
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["config"]["d_model"] = 48
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(tmp_path / "m.safetensors")
    doc["config"]["d_model"] = 33  # not a multiple of n_head
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="invalid"):
        load_model(tmp_path / "m.safetensors")
