import numpy as np
import pytest
import torch

from partimento.neural.encoding import HOLD, VOCAB_SIZE, sounding_pitches
from partimento.neural.model import ChoraleModel, ModelConfig


def _decode_all(session, tokens):
    out = []
    for t in range(len(tokens)):
        for v in range(4):
            assert session.position == (t, v)
            out.append(session.next_logits().clone())
            session.push(int(tokens[t, v]))
    return torch.stack(out).view(len(tokens), 4, -1)


@pytest.mark.parametrize("attention", ["full", "museformer"])
@pytest.mark.parametrize("conditioned", [True, False])
def test_incremental_logits_equal_the_batched_forward(attention, conditioned, make_piece):
    torch.manual_seed(3)
    m = ChoraleModel(ModelConfig(n_layer=2, n_head=2, d_model=32, d_ff=64, attention=attention)).eval()
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


def test_rewind_truncates_and_replays(tiny_model, make_piece):
    tok, cond = make_piece(6, bars=2)
    s = tiny_model.session(cond)
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


def test_bad_pushes_and_rewinds(tiny_model, make_piece):
    _, cond = make_piece(7, bars=1)
    s = tiny_model.session(cond)
    with pytest.raises(ValueError):
        s.push(VOCAB_SIZE)
    s.push(62)
    with pytest.raises(ValueError):
        s.rewind(3, 0)  # the future
    s.rewind(0, 0)
    assert s.position == (0, 0) and s.current_pitches() == [-1, -1, -1, -1]
