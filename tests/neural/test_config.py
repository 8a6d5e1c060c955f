"""The commands that need no model do not import torch (it costs them more than their own work)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from partimento.neural.config import CONFIGS, ModelConfig, TrainConfig
from partimento.neural.model import CONFIGS as MODEL_CONFIGS, ModelConfig as ModelModelConfig
from partimento.neural.train import TrainConfig as TrainTrainConfig

PROBE = """
import sys
from partimento.hybrid.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("torch" in sys.modules, code)
"""


def _imports_torch(*argv: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    flag, code = out.stdout.split()[-2:]
    return flag == "True", int(code)


@pytest.mark.parametrize("argv, code", [(("--help",), 0), (("plan", "--bars", "8", "--seed", "1"), 0),
                                        (("check", "{chorale}"), 1)],  # (Bach breaks a few strict rules: exit 1)
                         ids=["help", "plan", "check"])
def test_commands_without_a_model_do_not_import_torch(argv, code):
    from music21 import corpus

    argv = tuple(a.format(chorale=corpus.getWork("bach/bwv66.6")) for a in argv)
    assert _imports_torch(*argv) == (False, code)


def test_a_command_that_trains_or_decodes_still_gets_torch(tmp_path):
    torch_loaded, code = _imports_torch("compose", "--bars", "4", "--out", str(tmp_path / "x.musicxml"))
    assert torch_loaded and code == 0


def test_the_configs_are_the_ones_model_and_train_use():
    assert CONFIGS is MODEL_CONFIGS and ModelConfig is ModelModelConfig and TrainConfig is TrainTrainConfig
    assert TrainConfig.from_dict({"teachers": ["a", "b"], "lr": 1e-3}).teachers == ("a", "b")
