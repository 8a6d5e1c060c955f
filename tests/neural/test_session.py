import warnings

import numpy as np
import pytest
import torch

from partimento.neural.encoding import HOLD, PITCH_OFFSET, VOCAB_SIZE, sounding_pitches
from partimento.neural.model import CONFIGS, ModelConfig, build_model

ARCHS = ["step", "interleaved"]


def _small(arch: str, seed: int, **kw):
    torch.manual_seed(seed)
    extra = dict(d_voice=16, head_ff=48, head_layers=2) if arch == "step" else {}
    return build_model(ModelConfig(arch=arch, n_layer=2, n_head=2, d_model=32, d_ff=64, **extra, **kw)).eval()


@pytest.fixture(params=ARCHS)
def tiny(request):
    torch.manual_seed(0)
    return build_model(CONFIGS["tiny" if request.param == "step" else "interleaved-tiny"]).eval()


def _decode_all(session, tokens):
    out = []
    for t in range(len(tokens)):
        for v in range(4):
            assert session.position == (t, v)
            out.append(session.next_logits().clone())
            session.push(int(tokens[t, v]))
    return torch.stack(out).view(len(tokens), 4, -1)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("attention", ["full", "museformer"])
@pytest.mark.parametrize("conditioned", [True, False])
def test_incremental_logits_equal_the_batched_forward(arch, attention, conditioned, make_piece):
    m = _small(arch, 3, attention=attention)
    tok, cond = make_piece(5, bars=3)
    tok[7, 2] = 1  # a rest in the tenor
    s = m.session(cond, conditioned=conditioned)
    inc = _decode_all(s, tok)
    full = m(torch.as_tensor(tok)[None], torch.as_tensor(cond.values)[None], torch.tensor([conditioned]))[0]
    assert inc.shape == (len(tok), 4, VOCAB_SIZE) and inc.dtype == torch.float32
    assert torch.allclose(inc, full, atol=1e-4)
    assert s.done and s.position == (len(tok), 0)
    with pytest.raises(IndexError):
        s.next_logits()


def test_rewind_truncates_and_replays(tiny, make_piece):
    tok, cond = make_piece(6, bars=2)
    s = tiny.session(cond)
    full = _decode_all(s, tok)
    s.rewind(10, 2)
    assert s.position == (10, 2)
    assert (s.tokens[10, 2:] == -1).all() and (s.tokens[11:] == -1).all() and (s.tokens[10, :2] >= 0).all()
    assert torch.allclose(s.next_logits(), full[10, 2], atol=1e-5)
    # a different continuation, then rewind again and replay the original
    s.push(HOLD)
    s.push(HOLD)
    s.rewind(10, 2)
    for t in range(10, len(tok)):
        for v in range(2 if t == 10 else 0, 4):
            assert torch.allclose(s.next_logits(), full[t, v], atol=1e-5)
            s.push(int(tok[t, v]))
    assert s.current_pitches() == sounding_pitches(tok)[-1].tolist()


def test_bad_pushes_and_rewinds(tiny, make_piece):
    _, cond = make_piece(7, bars=1)
    s = tiny.session(cond)
    with pytest.raises(ValueError):
        s.push(VOCAB_SIZE)
    s.push(62)
    with pytest.raises(ValueError):
        s.rewind(3, 0)  # the future
    s.rewind(0, 0)
    assert s.position == (0, 0) and s.current_pitches() == [-1, -1, -1, -1]


def test_a_replay_after_a_rewind_reuses_the_cache_and_a_new_token_recomputes(tiny, make_piece):
    tok, cond = make_piece(8, bars=2)
    full = tiny(torch.as_tensor(tok)[None], torch.as_tensor(cond.values)[None], torch.tensor([True]))[0]
    s = tiny.session(cond)
    _decode_all(s, tok)
    computed = s.computed
    s.rewind(5, 1)
    assert s.next_logits_array().dtype == np.float32
    for t in range(5, len(tok)):  # the same tokens again: nothing to compute
        for v in range(1 if t == 5 else 0, 4):
            assert torch.allclose(s.next_logits(), full[t, v], atol=1e-5)
            s.push(int(tok[t, v]))
    assert s.computed == computed
    s.rewind(5, 1)
    other = HOLD if tok[5, 1] != HOLD else PITCH_OFFSET + 65
    s.push(other)  # a different token: every position that reads it is recomputed
    for v in range(2, 4):
        s.push(int(tok[5, v]))
    s.next_logits()  # the next step's soprano reads the new token (the per-step model runs lazily)
    s.rewind(5, 1)
    for t in range(5, len(tok)):
        for v in range(1 if t == 5 else 0, 4):
            assert torch.allclose(s.next_logits(), full[t, v], atol=1e-5)
            s.push(int(tok[t, v]))
    assert s.computed > computed + 1


@pytest.mark.parametrize("arch", ARCHS)
def test_attention_scores_too_large_for_a_bare_exp_fall_back_to_the_shifted_softmax(arch, make_piece, monkeypatch):
    from partimento.neural import numpy_blocks as session_module

    shifted = []
    real = session_module._shifted_attention
    monkeypatch.setattr(session_module, "_shifted_attention", lambda *a: shifted.append(1) or real(*a))
    tok, cond = make_piece(9, bars=2)
    for scale in (100.0, 1000.0):  # queries and keys scaled up: attention logits in the thousands
        m = _small(arch, 5)
        with torch.no_grad():
            for block in m.blocks:
                block.attn.qkv.weight[:64] *= scale
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow or nan warning escapes
            inc = _decode_all(m.session(cond), tok)
        full = m(torch.as_tensor(tok)[None], torch.as_tensor(cond.values)[None], torch.tensor([True]))[0]
        assert torch.isfinite(inc).all()
        assert torch.allclose(inc, full, atol=1e-4)
    assert shifted


def test_a_second_session_reuses_the_weight_tables_until_the_weights_change(make_piece):
    """What the weights alone decide is built once per model; a change to any parameter builds it anew."""
    m = _small("step", 5)
    tok, cond = make_piece(6, bars=2)
    first = m.session(cond)
    second = m.session(cond)
    assert second._in_rows is first._in_rows and second._stack.layers is first._stack.layers
    before = _decode_all(m.session(cond), tok)
    with torch.no_grad():
        m.head.out.bias.add_(1.0)  # shifts every logit alike: same softmax, other raw logits
        m.blocks[0].fc.weight.mul_(1.5)
    third = m.session(cond)
    assert third._out is not first._out and third._stack.layers is not first._stack.layers
    after = _decode_all(third, tok)
    with torch.no_grad():
        full = m(torch.as_tensor(tok)[None], torch.as_tensor(cond.values)[None], torch.tensor([True]))[0]
    torch.testing.assert_close(after, full, atol=1e-4, rtol=0)
    assert not torch.allclose(after, before, atol=1e-3)
