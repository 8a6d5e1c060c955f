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


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_interleaved"])
def test_each_architecture_loads_into_its_class(fixture, tmp_path, request):
    model = request.getfixturevalue(fixture)
    loaded = load_model(save_checkpoint(model, tmp_path / "m.safetensors"))
    assert type(loaded) is type(model) and loaded.cfg.arch == model.cfg.arch


def test_a_config_naming_the_other_architecture_is_refused_with_the_reason(tmp_path, tiny_model, capsys):
    from partimento.hybrid.cli import main

    save_checkpoint(tiny_model, tmp_path / "m.safetensors")
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["config"]["arch"] = "interleaved"
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="names the 'interleaved' architecture but the weights are those of the 'step'"):
        load_model(tmp_path / "m.safetensors")
    doc["config"]["arch"] = "gru"
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="unknown architecture 'gru'") as e:
        load_model(tmp_path / "m.safetensors")
    assert "step" in e.value.describe() and "interleaved" in e.value.describe()
    assert main(["compose", "--bars", "2", "--checkpoint", str(tmp_path / "m.safetensors"),
                 "--out", str(tmp_path / "x.musicxml")]) == 2
    err = capsys.readouterr().err
    assert "m.json" in err and "unknown architecture" in err and "Traceback" not in err
    assert not (tmp_path / "x.musicxml").exists()


def test_a_checkpoint_without_arch_is_an_interleaved_one(tmp_path, tiny_interleaved):
    save_checkpoint(tiny_interleaved, tmp_path / "old.safetensors")
    doc = json.loads((tmp_path / "old.json").read_text())
    del doc["config"]["arch"]  # written before the per-step model existed
    (tmp_path / "old.json").write_text(json.dumps(doc))
    assert load_model(tmp_path / "old.safetensors").cfg.arch == "interleaved"
