"""Distillation: a student trained on the true tokens and on frozen teachers' averaged prediction."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from partimento.hybrid.cli import main
from partimento.neural.checkpoint import load_tensors, read_meta
from partimento.neural.model import ModelConfig
from partimento.neural.train import TrainConfig, train

TINY = dict(epochs=2, batch_size=4, warmup_steps=2, seed=0)
QUIET = dict(progress=False, log=lambda _: None)
STEP_TINY = ModelConfig(n_layer=1, n_head=2, d_model=32, d_ff=64, window_steps=32, d_voice=16, head_ff=48)


@pytest.fixture(scope="module")
def teachers(tmp_path_factory, synthetic_cache):
    """Two tiny trained models of different seeds (each run's best weights)."""
    root = tmp_path_factory.mktemp("teachers")
    out = []
    for seed in (1, 2):
        run = root / f"t{seed}"
        train(STEP_TINY, synthetic_cache, "cpu", run, tcfg=TrainConfig(**{**TINY, "seed": seed}, lr=5e-3), **QUIET)
        out.append(str(run / "best.safetensors"))
    return out


def _weights(run):
    return load_tensors(run / "last.safetensors")


def test_with_distill_zero_the_teachers_change_nothing(tmp_path, synthetic_cache, teachers):
    """Reading the teachers draws nothing from the random stream: weight 0 gives the plain run's weights bit for bit."""
    plain = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "plain", tcfg=TrainConfig(**TINY), **QUIET)
    zero = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "zero",
                 tcfg=TrainConfig(**TINY, teachers=tuple(teachers), distill=0.0), **QUIET)
    a, b = _weights(tmp_path / "plain"), _weights(tmp_path / "zero")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["valid_loss"] for r in plain["history"]] == [r["valid_loss"] for r in zero["history"]]


def test_the_teachers_steer_the_student_and_a_stopped_run_resumes_exactly(tmp_path, synthetic_cache, teachers):
    tcfg = TrainConfig(**{**TINY, "epochs": 3}, teachers=tuple(teachers), distill=0.7)
    whole = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "whole", tcfg=tcfg, **QUIET)
    plain = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "plain",
                                      tcfg=TrainConfig(**{**TINY, "epochs": 3}), **QUIET)
    a, p = _weights(tmp_path / "whole"), _weights(tmp_path / "plain")
    assert any(not torch.equal(a[k], p[k]) for k in a)  # the second target moved the weights
    assert whole["history"][-1]["valid_loss"] < whole["history"][0]["valid_loss"]
    meta = read_meta(tmp_path / "whole" / "best.safetensors")
    assert [t["path"] for t in meta["teachers"]] == teachers and all(len(t["sha256"]) == 64 for t in meta["teachers"])
    assert meta["train_config"]["teachers"] == teachers and meta["train_config"]["distill"] == 0.7
    part = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "part",
                 tcfg=TrainConfig(**{**tcfg.__dict__, "stop_after_epochs": 1}), **QUIET)
    assert part["epochs"] == 1
    resumed = train(data=synthetic_cache, device="cpu", resume=tmp_path / "part", **QUIET)  # teachers from the run
    b = _weights(tmp_path / "part")
    assert resumed["steps"] == whole["steps"] and all(torch.equal(a[k], b[k]) for k in a)
    assert plain["epochs"] == 3


def test_resume_with_changed_teachers_exits_2(tmp_path, synthetic_cache, teachers, capsys):
    mine = [str(tmp_path / "teacher.safetensors")]
    shutil.copy(teachers[0], mine[0])
    shutil.copy(teachers[0].replace(".safetensors", ".json"), tmp_path / "teacher.json")
    run = tmp_path / "run"
    train(STEP_TINY, synthetic_cache, "cpu", run, tcfg=TrainConfig(**TINY, teachers=tuple(mine), stop_after_epochs=1),
          **QUIET)
    shutil.copy(teachers[1], mine[0])  # the same path, other weights
    assert main(["train", "--resume", str(run), "--data", str(synthetic_cache), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume: the run was trained with the teachers" in err and "Traceback" not in err


def test_cli_distils_and_refuses_a_bad_weight_or_a_missing_teacher(tmp_path, synthetic_cache, teachers, capsys):
    out = tmp_path / "cli"
    assert main(["train", "--config", "tiny", "--data", str(synthetic_cache), "--device", "cpu", "--epochs", "1",
                 "--batch-size", "4", "--teacher", teachers[0], "--teacher", teachers[1], "--distill", "0.5",
                 "--out", str(out), "--no-progress"]) == 0
    saved = json.loads((out / "last.json").read_text())
    assert saved["train_config"]["teachers"] == teachers and saved["train_config"]["distill"] == 0.5
    capsys.readouterr()
    assert main(["train", "--config", "tiny", "--data", str(synthetic_cache), "--teacher", teachers[0],
                 "--distill", "1.5", "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "--distill 1.5 is out of range" in capsys.readouterr().err
    assert main(["train", "--config", "tiny", "--data", str(synthetic_cache), "--teacher",
                 str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "bad2"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "nope.json: checkpoint config not found" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad2").exists()  # refused before writing anything


def test_a_teacher_of_another_encoding_is_refused(tmp_path, synthetic_cache, teachers, capsys):
    old = tmp_path / "old.safetensors"
    shutil.copy(teachers[0], old)
    meta = json.loads(open(teachers[0].replace(".safetensors", ".json")).read())
    (tmp_path / "old.json").write_text(json.dumps({**meta, "code_version": "chorale-encoding-0"}))
    assert main(["train", "--config", "tiny", "--data", str(synthetic_cache), "--teacher", str(old),
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "teacher was trained with encoding 'chorale-encoding-0'" in err and "old.safetensors" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_teacher_of_the_other_architecture_teaches_too(tmp_path, synthetic_cache, teachers):
    """The interleaved model predicts the same tokens: it can teach a per-step student (and be averaged with one)."""
    inter = ModelConfig(arch="interleaved", n_layer=1, n_head=2, d_model=32, d_ff=64, window_steps=32)
    train(inter, synthetic_cache, "cpu", tmp_path / "inter", tcfg=TrainConfig(**{**TINY, "epochs": 1}), **QUIET)
    both = (str(tmp_path / "inter" / "best.safetensors"), teachers[0])
    s = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "student", tcfg=TrainConfig(**TINY, teachers=both),
              **QUIET)
    assert s["epochs"] == 2 and s["history"][-1]["valid_loss"] < s["history"][0]["valid_loss"]


def test_a_calibrated_teacher_teaches_its_calibrated_distribution_and_is_part_of_the_fingerprint(
        tmp_path, synthetic_cache, teachers, capsys):
    """A teacher's temperature (``partimento calibrate``) softens its target; calibrating it after a run was
    stopped makes the run refuse to resume with it."""
    mine = tmp_path / "teacher.safetensors"
    shutil.copy(teachers[0], mine)
    shutil.copy(teachers[0].replace(".safetensors", ".json"), tmp_path / "teacher.json")
    tcfg = TrainConfig(**TINY, teachers=(str(mine),), distill=0.9)
    train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "raw", tcfg=tcfg, **QUIET)
    stopped = tmp_path / "stopped"
    train(STEP_TINY, synthetic_cache, "cpu", stopped, tcfg=TrainConfig(**{**tcfg.__dict__, "stop_after_epochs": 1}),
          **QUIET)
    doc = json.loads((tmp_path / "teacher.json").read_text())
    doc["calibration"] = {"temperature": 2.0}
    (tmp_path / "teacher.json").write_text(json.dumps(doc))
    train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "cal", tcfg=tcfg, **QUIET)
    a, b = _weights(tmp_path / "raw"), _weights(tmp_path / "cal")
    assert any(not torch.equal(a[k], b[k]) for k in a)  # a softer target, other weights
    assert read_meta(tmp_path / "cal" / "best.safetensors")["teachers"][0]["temperature"] == 2.0
    assert main(["train", "--resume", str(stopped), "--data", str(synthetic_cache), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "temperature 1" in err and "temperature 2" in err and "Traceback" not in err


def test_a_warm_start_begins_from_the_checkpoint_and_records_it(tmp_path, synthetic_cache, teachers):
    """init: the run starts from the checkpoint's weights (a learning rate of ~0 leaves them where they were),
    with a new schedule; its sha256 is recorded; a resume of a warm-started run keeps its own weights."""
    start = load_tensors(teachers[0])
    still = dict(TINY, epochs=1, lr=1e-12, ema_decay=0.0)
    train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "still", tcfg=TrainConfig(**still, init=teachers[0]), **QUIET)
    kept = _weights(tmp_path / "still")
    assert all(torch.allclose(kept[k], start[k], atol=1e-6) for k in start)
    fresh = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "fresh", tcfg=TrainConfig(**TINY), **QUIET)
    warm = train(STEP_TINY, synthetic_cache, "cpu", tmp_path / "warm",
                 tcfg=TrainConfig(**{**TINY, "stop_after_epochs": 1}, init=teachers[0], teachers=(teachers[1],)),
                 **QUIET)
    assert warm["history"][0]["valid_loss"] < fresh["history"][0]["valid_loss"]  # it starts where the checkpoint was
    meta = read_meta(tmp_path / "warm" / "last.safetensors")
    assert meta["init"]["path"] == teachers[0] and len(meta["init"]["sha256"]) == 64
    assert meta["train_config"]["init"] == teachers[0]
    resumed = train(data=synthetic_cache, device="cpu", resume=tmp_path / "warm", **QUIET)
    assert resumed["epochs"] == 2 and read_meta(tmp_path / "warm" / "last.safetensors")["init"] == meta["init"]


def test_cli_warm_start_takes_the_checkpoints_model_and_refuses_another(tmp_path, synthetic_cache, teachers, capsys):
    args = ["train", "--data", str(synthetic_cache), "--device", "cpu", "--epochs", "1", "--batch-size", "4",
            "--no-progress"]
    assert main(args + ["--init", teachers[0], "--dropout", "0.1", "--out", str(tmp_path / "ok")]) == 0
    saved = json.loads((tmp_path / "ok" / "last.json").read_text())
    assert saved["config"]["d_model"] == STEP_TINY.d_model and saved["config"]["dropout"] == 0.1
    capsys.readouterr()
    assert main(args + ["--init", teachers[0], "--config", "compact", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--init takes the model from" in err and "--config" in err and "Traceback" not in err
    assert main(args + ["--init", str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "bad2")]) == 2
    err = capsys.readouterr().err
    assert "nope.json: checkpoint config not found" in err and "Traceback" not in err
    old = tmp_path / "old.safetensors"
    shutil.copy(teachers[0], old)
    meta = json.loads(open(teachers[0].replace(".safetensors", ".json")).read())
    (tmp_path / "old.json").write_text(json.dumps({**meta, "code_version": "chorale-encoding-0"}))
    assert main(args + ["--init", str(old), "--out", str(tmp_path / "bad3")]) == 2
    assert "--init checkpoint was trained with encoding 'chorale-encoding-0'" in capsys.readouterr().err
    assert not any((tmp_path / d).exists() for d in ("bad", "bad2", "bad3"))  # refused before writing anything
