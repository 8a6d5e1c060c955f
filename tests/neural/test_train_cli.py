import json

import numpy as np
import pytest
import torch

from partimento.hybrid.cli import main
from partimento.neural import train as train_module
from partimento.neural.checkpoint import load_model, load_tensors
from partimento.neural.model import ModelConfig
from partimento.neural.schedule import learning_rate, progress
from partimento.neural.train import TrainConfig, train

TINY = dict(epochs=2, batch_size=4, warmup_steps=2, seed=0)
QUIET = dict(progress=False, log=lambda _: None)
STEP_TINY = ModelConfig(n_layer=1, n_head=2, d_model=32, d_ff=64, window_steps=32, d_voice=16, head_ff=48)


@pytest.mark.parametrize("arch", ["step", "interleaved"])
def test_tiny_training_improves_and_resumes(tmp_path, synthetic_cache, arch):
    cfg = ModelConfig(arch=arch, n_layer=1, n_head=2, d_model=32, d_ff=64, window_steps=32, d_voice=16, head_ff=48)
    out = tmp_path / "run"
    s = train(cfg, synthetic_cache, "cpu", out, tcfg=TrainConfig(**TINY, lr=5e-3, ema_decay=0.9), **QUIET)
    assert s["epochs"] == 2 and (out / "best.safetensors").is_file() and (out / "last.json").is_file()
    first, last = s["history"][0], s["history"][-1]
    assert last["valid_loss"] <= first["valid_loss"]
    assert type(load_model(out / "best.safetensors")).arch == arch and load_model(out / "best.safetensors").cfg == cfg
    resumed = train(data=synthetic_cache, device="cpu", resume=out, tcfg=TrainConfig(**{**TINY, "epochs": 3}, lr=5e-3),
                    **QUIET)
    assert resumed["epochs"] == 3 and resumed["steps"] == s["steps"] * 3 // 2
    assert len(resumed["history"]) == 3


def test_a_stopped_run_resumes_exactly(tmp_path, synthetic_cache):
    """Stop after one epoch, resume: weights, averaged weights, optimizer and curve equal an unbroken run's."""
    tcfg = TrainConfig(**{**TINY, "epochs": 3}, lr=5e-3, ema_decay=0.9)  # dropout 0.1, conditioning dropout 0.05
    whole = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "whole", tcfg=tcfg, **QUIET)
    part = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "part", tcfg=TrainConfig(**{**tcfg.__dict__,
                                                                                          "stop_after_epochs": 1}),
                 **QUIET)
    assert part["epochs"] == 1
    resumed = train(data=synthetic_cache, device="cpu", resume=tmp_path / "part", **QUIET)  # the run's own config
    assert resumed["epochs"] == 3 and resumed["steps"] == whole["steps"]
    a, b = load_tensors(tmp_path / "whole" / "last.safetensors"), load_tensors(tmp_path / "part" / "last.safetensors")
    assert set(a) == set(b) and any(k.startswith("ema.") for k in a) and any(k.startswith("optim.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    key = lambda h: [(r["train_loss"], r["valid_loss"], r["lr"]) for r in h]
    assert key(resumed["history"]) == key(whole["history"])


def test_the_schedule_warms_up_and_ends_at_its_floor():
    assert learning_rate(0, 0.0, 1.0, 10, 0.02) == pytest.approx(0.1)
    assert learning_rate(9, 0.0, 1.0, 10, 0.02) == pytest.approx(1.0)
    assert learning_rate(500, 1.0, 1.0, 10, 0.02) == pytest.approx(0.02)
    assert learning_rate(500, 0.5, 1.0, 10, 0.02) == pytest.approx(0.51)
    assert progress(50, 100) == 0.5 and progress(10, 100, elapsed_s=90, budget_s=100) == 0.9
    assert progress(200, 100) == 1.0


def test_a_time_boxed_run_ends_at_the_floor_of_its_schedule(tmp_path, synthetic_cache, monkeypatch):
    clock = iter(np.arange(1e6, 2e6, 0.25))  # a fake wall clock: a quarter second per reading
    monkeypatch.setattr(train_module.time, "time", lambda: float(next(clock)))
    s = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "boxed",
              tcfg=TrainConfig(epochs=10_000, batch_size=1, warmup_steps=2, lr=1e-2, lr_floor=0.05, max_minutes=0.5,
                               eval_max_pieces=1),
              **QUIET)
    last = s["history"][-1]
    assert s["epochs"] < 10_000 and last["progress"] > 0.9  # the last step began within a step of the end
    assert last["lr"] <= 1e-2 * 0.08  # near the floor (0.05), not at the top of a cosine sized for 10,000 epochs


def test_same_seed_same_weights(tmp_path, synthetic_cache):
    cfg = ModelConfig(n_layer=1, n_head=2, d_model=16, d_ff=32, window_steps=16, d_voice=8, head_ff=16)
    runs = [train(cfg, synthetic_cache, "cpu", tmp_path / f"r{i}", tcfg=TrainConfig(**{**TINY, "epochs": 1}), **QUIET)
            for i in range(2)]
    assert runs[0]["best_valid"] == runs[1]["best_valid"]


def test_bf16_autocast_trains_on_cpu(tmp_path, synthetic_cache):
    """The bf16 path (autocast) runs on CPU, and its loss follows the fp32 loss."""
    runs = {p: train(STEP_TINY, synthetic_cache, "cpu", tmp_path / p, tcfg=TrainConfig(**TINY, precision=p), **QUIET)
            for p in ("fp32", "bf16")}
    for a, b in zip(runs["fp32"]["history"], runs["bf16"]["history"]):
        assert np.isfinite(b["train_loss"]) and abs(a["train_loss"] - b["train_loss"]) < 0.05 * a["train_loss"]
    assert json.loads((tmp_path / "bf16" / "last.json").read_text())["train_config"]["precision"] == "bf16"


def test_cli_train_and_evaluate_json(tmp_path, synthetic_cache, capsys):
    out = tmp_path / "cli"
    assert main(["train", "--config", "tiny", "--data", str(synthetic_cache), "--device", "cpu", "--epochs", "1",
                 "--batch-size", "2", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    meta = json.loads((out / "last.json").read_text())
    assert meta["provenance"]["arguments"]["config"] == "tiny" and meta["provenance"]["arguments"]["epochs"] == 1
    assert meta["hardware"]["cpu_cores"] >= 1 and meta["code_version"] and len(meta["data_sha256"]) == 64
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


@pytest.fixture
def stopped_run(tmp_path, synthetic_cache):
    out = tmp_path / "stopped"
    train(STEP_TINY, synthetic_cache, "cpu", out, tcfg=TrainConfig(**TINY, stop_after_epochs=1), **QUIET)
    return out


def test_resume_on_a_different_cache_exits_2(stopped_run, tmp_path, synthetic_named, capsys):
    from partimento.neural.dataset import write_cache

    other = write_cache(synthetic_named[1:], tmp_path / "other.npz")
    assert main(["train", "--resume", str(stopped_run), "--data", str(other), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "different cache" in err and "last.safetensors" in err and "Traceback" not in err


def test_resume_with_another_code_version_exits_2(stopped_run, synthetic_cache, capsys):
    meta_path = stopped_run / "last.json"
    meta = json.loads(meta_path.read_text())
    meta["code_version"] = "chorale-encoding-0"
    meta_path.write_text(json.dumps(meta))
    assert main(["train", "--resume", str(stopped_run), "--data", str(synthetic_cache), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "'chorale-encoding-0'" in err and "Traceback" not in err


def test_a_world_size_that_does_not_divide_the_batch_is_refused_before_training(tmp_path, synthetic_cache,
                                                                               monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    assert main(["train", "--config", "tiny", "--data", str(synthetic_cache), "--device", "cpu", "--batch-size", "4",
                 "--out", str(tmp_path / "ddp"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "4 windows cannot be split evenly over 3 processes" in err
    assert not (tmp_path / "ddp").exists()  # refused before anything was written


def test_evaluate_builds_a_missing_cache_first(tmp_path, synthetic_named, monkeypatch, capsys):
    """Without a cache, evaluate builds it (music21; replaced here by the synthetic pieces) instead of failing."""
    from partimento.neural import dataset
    from partimento.neural.checkpoint import save_checkpoint
    from partimento.neural.model import CONFIGS, build_model

    built = []

    def fake_build(out, progress=True, **kw):
        built.append(out)
        return dataset.write_cache(synthetic_named, out)

    monkeypatch.setattr(dataset, "build_cache", fake_build)
    ckpt = save_checkpoint(build_model(CONFIGS["tiny"]), tmp_path / "m.safetensors")
    target = tmp_path / "fresh.npz"
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(target), "--split", "valid"]) == 0
    out, err = capsys.readouterr()
    assert built == [target] and target.is_file() and "not found: building it" in err
    assert "valid: 2 chorales" in out and "unseen tunes:" in out and "onset at chord change" in out
