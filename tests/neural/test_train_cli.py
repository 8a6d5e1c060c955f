import json

import pytest

from partimento.hybrid.cli import main
from partimento.neural.checkpoint import load_model
from partimento.neural.model import ModelConfig
from partimento.neural.train import TrainConfig, train

TINY = dict(epochs=2, batch_size=4, warmup_steps=2, seed=0)


def test_tiny_training_improves_and_resumes(tmp_path, synthetic_cache):
    cfg = ModelConfig(n_layer=1, n_head=2, d_model=32, d_ff=64, window_steps=32)
    out = tmp_path / "run"
    s = train(cfg, synthetic_cache, "cpu", out, tcfg=TrainConfig(**TINY, lr=5e-3), progress=False, log=lambda _: None)
    assert s["epochs"] == 2 and (out / "best.safetensors").is_file() and (out / "last.json").is_file()
    first, last = s["history"][0], s["history"][-1]
    assert last["valid_loss"] <= first["valid_loss"]
    assert load_model(out / "best.safetensors").cfg == cfg
    resumed = train(data=synthetic_cache, device="cpu", resume=out, tcfg=TrainConfig(**{**TINY, "epochs": 3}, lr=5e-3),
                    progress=False, log=lambda _: None)
    assert resumed["epochs"] == 3 and resumed["steps"] == s["steps"] * 3 // 2
    assert len(resumed["history"]) == 3


def test_same_seed_same_weights(tmp_path, synthetic_cache):
    cfg = ModelConfig(n_layer=1, n_head=2, d_model=16, d_ff=32, window_steps=16)
    runs = [train(cfg, synthetic_cache, "cpu", tmp_path / f"r{i}", tcfg=TrainConfig(**{**TINY, "epochs": 1}),
                  progress=False, log=lambda _: None) for i in range(2)]
    assert runs[0]["best_valid"] == runs[1]["best_valid"]


def test_cli_train_and_evaluate_json(tmp_path, synthetic_cache, capsys):
    out = tmp_path / "cli"
    assert main(["train", "--config", "tiny", "--data", str(synthetic_cache), "--device", "cpu", "--epochs", "1",
                 "--batch-size", "2", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--split", "test", "--checkpoint", str(out / "best.safetensors"),
                 "--data", str(synthetic_cache), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"split", "chorales", "tokens", "nll_nats_per_token", "nll_by_voice", "params", "checkpoint"} <= set(doc)
    assert doc["split"] == "test" and doc["chorales"] == 2 and set(doc["nll_by_voice"]) == {"soprano", "alto", "tenor", "bass"}
    assert doc["tokens"] == 4 * (16 * 4 + 16 * 3)
    assert "unconditioned" in doc


@pytest.mark.parametrize("args", [
    ["evaluate", "--checkpoint", "/no/such/model.safetensors"],
    ["train", "--data", "/no/such/cache.npz", "--device", "cpu"],
])
def test_cli_bad_input_exits_2(args, capsys, tmp_path, synthetic_cache):
    if args[0] == "evaluate":
        args = args + ["--data", str(synthetic_cache)]
    else:
        args = args + ["--out", str(tmp_path / "x")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
