import numpy as np
import pytest
import torch

import partimento.neural.model as model_module
from partimento.neural.model import (CONFIGS, InterleavedModel, ModelConfig, build_model, model_class,
                                     museformer_allowed, sounding_pitch_tensor)
from partimento.neural.encoding import VOCAB_SIZE, sounding_pitches
from partimento.neural.step_model import StepModel

ARCHS = ["step", "interleaved"]


def _small(arch: str, seed: int, **kw):
    torch.manual_seed(seed)
    extra = dict(d_voice=16, head_ff=48) if arch == "step" else {}
    return build_model(ModelConfig(arch=arch, n_layer=2, n_head=2, d_model=32, d_ff=64, **extra, **kw)).eval()


@pytest.mark.parametrize("name", ["tiny", "interleaved-tiny"])
def test_forward_shapes_and_param_counts(name, make_piece):
    torch.manual_seed(0)
    m = build_model(CONFIGS[name])
    tok, cond = make_piece(0)
    logits = m(torch.as_tensor(tok)[None], torch.as_tensor(cond.values)[None])
    assert logits.shape == (1, len(tok), 4, VOCAB_SIZE)
    for size in ("small", "base", "interleaved-small"):
        assert 500_000 <= build_model(CONFIGS[size]).num_params() <= 5_000_000  # the budget


def test_the_config_picks_the_class():
    assert isinstance(build_model(CONFIGS["tiny"]), StepModel) and ModelConfig().arch == "step"
    assert isinstance(build_model(CONFIGS["interleaved-tiny"]), InterleavedModel)
    assert ModelConfig.from_dict({"d_model": 64}).arch == "interleaved"  # checkpoints from before the step model
    with pytest.raises(ValueError, match="unknown architecture 'gru'"):
        model_class("gru")
    with pytest.raises(ValueError, match="names architecture 'step'"):
        InterleavedModel(ModelConfig())


@pytest.mark.parametrize("arch", ARCHS)
def test_factorized_embedding_is_smaller_than_plain(arch):
    count = lambda m: sum(p.numel() for p in (m.voice_vec if arch == "step" else m.voice_emb).parameters())
    extra = dict(arch=arch)
    assert count(build_model(ModelConfig(embedding="factorized", **extra))) < count(
        build_model(ModelConfig(embedding="plain", **extra)))


def test_torch_sounding_pitch_matches_numpy(make_piece):
    tok, _ = make_piece(3)
    tok[5, 1] = 1  # a rest
    assert np.array_equal(sounding_pitch_tensor(torch.as_tensor(tok)).numpy(), sounding_pitches(tok))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("attention", ["full", "museformer"])
def test_causal_a_later_token_never_changes_earlier_logits(arch, attention, make_piece):
    m = _small(arch, 1, attention=attention)
    tok, cond = make_piece(1)
    a = torch.as_tensor(tok)[None]
    b = a.clone()
    b[0, 20, 2] = 70  # change the tenor at step 20
    c = torch.as_tensor(cond.values)[None]
    la, lb = m(a, c), m(b, c)
    assert torch.allclose(la[0, :20], lb[0, :20], atol=1e-5)
    assert torch.allclose(la[0, 20, :3], lb[0, 20, :3], atol=1e-5)  # soprano..tenor of step 20 predicted before
    assert not torch.allclose(la[0, 20, 3], lb[0, 20, 3])  # the bass sees the tenor


@pytest.mark.parametrize("arch", ARCHS)
def test_chunked_attention_equals_one_pass(arch, monkeypatch, make_piece):
    m = _small(arch, 2)
    tok, cond = make_piece(2, bars=4)
    full = m.token_nll(torch.as_tensor(tok), cond)
    monkeypatch.setattr(model_module, "ATTENTION_CHUNK", 37)
    chunked = m.token_nll(torch.as_tensor(tok), cond)
    assert torch.allclose(full, chunked, atol=1e-5)


def test_token_nll_shape_and_null_conditioning(tiny_model, make_piece):
    tok, cond = make_piece(4)
    nll = tiny_model.token_nll(torch.as_tensor(tok), cond)
    assert nll.shape == (len(tok), 4) and (nll > 0).all()
    with torch.no_grad():
        tiny_model.cond_emb.null.add_(1.0)  # make the null visibly different
    try:
        assert not torch.allclose(nll, tiny_model.token_nll(torch.as_tensor(tok), cond, conditioned=False))
    finally:
        with torch.no_grad():
            tiny_model.cond_emb.null.sub_(1.0)


def test_museformer_fine_bars():
    q = torch.tensor([10])
    k = torch.arange(11)
    assert museformer_allowed(q, k)[0].nonzero().flatten().tolist() == [2, 6, 8, 9, 10]
