import numpy as np
import pytest
import torch

import partimento.neural.model as model_module
from partimento.neural.model import CONFIGS, ChoraleModel, ModelConfig, museformer_allowed, sounding_pitch_tensor
from partimento.neural.encoding import VOCAB_SIZE, sounding_pitches


def test_forward_shapes_and_param_counts(make_piece):
    torch.manual_seed(0)
    m = ChoraleModel(CONFIGS["tiny"])
    tok, cond = make_piece(0)
    logits = m(torch.as_tensor(tok)[None], torch.as_tensor(cond.values)[None])
    assert logits.shape == (1, len(tok), 4, VOCAB_SIZE)
    assert 500_000 <= ChoraleModel(CONFIGS["small"]).num_params() <= 5_000_000  # small enough for fast CPU decoding


def test_factorized_embedding_is_smaller_than_plain():
    fac = ChoraleModel(ModelConfig(embedding="factorized")).voice_emb
    plain = ChoraleModel(ModelConfig(embedding="plain")).voice_emb
    count = lambda mod: sum(p.numel() for p in mod.parameters())
    assert count(fac) < count(plain)


def test_torch_sounding_pitch_matches_numpy(make_piece):
    tok, _ = make_piece(3)
    tok[5, 1] = 1  # a rest
    assert np.array_equal(sounding_pitch_tensor(torch.as_tensor(tok)).numpy(), sounding_pitches(tok))


@pytest.mark.parametrize("attention", ["full", "museformer"])
def test_causal_a_later_token_never_changes_earlier_logits(attention, make_piece):
    torch.manual_seed(1)
    m = ChoraleModel(ModelConfig(n_layer=2, n_head=2, d_model=32, d_ff=64, attention=attention)).eval()
    tok, cond = make_piece(1)
    a = torch.as_tensor(tok)[None]
    b = a.clone()
    b[0, 20, 2] = 70  # change the tenor at step 20
    c = torch.as_tensor(cond.values)[None]
    la, lb = m(a, c), m(b, c)
    assert torch.allclose(la[0, :20], lb[0, :20], atol=1e-5)
    assert torch.allclose(la[0, 20, :3], lb[0, 20, :3], atol=1e-5)  # soprano..tenor of step 20 predicted before
    assert not torch.allclose(la[0, 20, 3], lb[0, 20, 3])  # the bass sees the tenor


def test_chunked_attention_equals_one_pass(monkeypatch, make_piece):
    torch.manual_seed(2)
    m = ChoraleModel(ModelConfig(n_layer=2, n_head=2, d_model=32, d_ff=64)).eval()
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
