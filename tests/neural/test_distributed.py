"""Data-parallel training for real: ``torchrun --nproc_per_node 2`` with the gloo backend on CPU.

Two processes split each global batch of 4 windows (2 each) and DDP averages their
gradients; each process normalizes its loss by the global token count over the world
size, so the run should follow a single process that trains on the same global batches.
Tolerance: the per-epoch train losses agree to 1e-5 (relative) and the final weights to
1e-5 (absolute) — what remains is float summation order in the all-reduce.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from partimento.neural.checkpoint import load_tensors

SCRIPT = textwrap.dedent("""
    import sys
    from partimento.neural.model import ModelConfig
    from partimento.neural.train import TrainConfig, train

    cfg = ModelConfig(n_layer=1, n_head=2, d_model=32, d_ff=64, window_steps=32, d_voice=16, head_ff=48, dropout=0.0)
    tcfg = TrainConfig(epochs=2, batch_size=4, warmup_steps=2, lr=5e-3, threads=1, ema_decay=0.9)
    train(cfg, sys.argv[2], "cpu", sys.argv[1], tcfg=tcfg, progress=False, log=lambda _: None)
""")


def _run(args, tmp_path, timeout=900):  # a hang guard, not a speed target: a loaded 2-core machine once took over 180 s
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch built without gloo")
def test_torchrun_two_processes_match_one_process_on_the_same_global_batch(tmp_path, synthetic_cache):
    script = tmp_path / "train_tiny.py"
    script.write_text(SCRIPT)
    ddp = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                str(script), str(tmp_path / "ddp"), str(synthetic_cache)], tmp_path)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = _run([sys.executable, str(script), str(tmp_path / "one"), str(synthetic_cache)], tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    s_ddp = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    s_one = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert s_ddp["world_size"] == 2 and s_one["world_size"] == 1
    digests = s_ddp["rank_weight_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]  # both ranks end with bit-identical weights
    assert s_ddp["steps"] == s_one["steps"] > 0
    for a, b in zip(s_ddp["history"], s_one["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["valid_loss"] == pytest.approx(b["valid_loss"], rel=1e-4)
    w_ddp, w_one = load_tensors(tmp_path / "ddp" / "last.safetensors"), load_tensors(tmp_path / "one" / "last.safetensors")
    for k in w_one:
        if not k.startswith("optim."):
            assert torch.allclose(w_ddp[k], w_one[k], atol=1e-5), k
