"""``StepSession.prefill``: a stored prefix through the blocks in one batched pass gives the incremental logits."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from partimento.neural.model import ModelConfig, build_model


def _small(seed: int, **kw):
    torch.manual_seed(seed)
    return build_model(ModelConfig(arch="step", n_layer=2, n_head=2, d_model=32, d_ff=64, d_voice=16, head_ff=48,
                                   head_layers=2, **kw)).eval()


def _incremental(model, cond, tokens):
    s = model.session(cond)
    out = []
    for tok in tokens.reshape(-1).tolist():
        out.append(s.next_logits_array().copy())
        s.push(int(tok))
    return np.stack(out)  # (T·4, VOCAB)


@pytest.mark.parametrize("attention", ["full", "museformer"])
def test_prefilled_logits_equal_the_incremental_ones_at_every_kind_of_position(attention, make_piece):
    m = _small(2, attention=attention)
    tok, cond = make_piece(4, bars=3)
    inc = _incremental(m, cond, tok)
    with torch.no_grad():
        full = m(torch.as_tensor(tok)[None], torch.as_tensor(cond.values)[None], torch.tensor([True]))[0]
    flat = tok.reshape(-1)
    for pos in (0, 1, 4, 7, 37, 64, len(flat) - 1):  # the first step, inside a step, a step's soprano, the last
        s = m.session(cond)
        s.prefill(flat[:pos])
        assert s.position == divmod(pos, 4)
        got = s.next_logits_array()
        np.testing.assert_allclose(got, inc[pos], atol=1e-5, rtol=0)
        np.testing.assert_allclose(got, full.reshape(-1, full.shape[-1])[pos].numpy(), atol=1e-4, rtol=0)
        if pos < len(flat) - 8:  # decoding goes on incrementally from the prefilled cache
            for q in range(pos, pos + 8):
                np.testing.assert_allclose(s.next_logits_array(), inc[q], atol=1e-5, rtol=0)
                s.push(int(flat[q]))


def test_prefill_after_a_rewind_reuses_the_cache_and_recomputes_only_what_changed(make_piece):
    m = _small(3)
    tok, cond = make_piece(6, bars=2)
    flat = tok.reshape(-1)
    inc = _incremental(m, cond, tok)
    s = m.session(cond)
    s.prefill(flat[:80])
    assert s.computed == 21  # steps 0..20 in one pass (step 20 reads step 19's tokens)
    s.rewind(10, 0)
    s.prefill(flat[40:80])  # the same tokens again: the cached steps are reused
    assert s.computed == 21
    np.testing.assert_allclose(s.next_logits_array(), inc[80], atol=1e-5, rtol=0)
    s.rewind(10, 0)
    other = flat[40:80].copy()
    other[1] = 0 if other[1] != 0 else 2 + 60  # a different alto at step 10: steps 11.. recompute
    s.prefill(other)
    assert s.computed == 21 + 10
    ref = m.session(cond)
    for t in np.concatenate([flat[:40], other]).tolist():
        ref.push(int(t))
    np.testing.assert_allclose(s.next_logits_array(), ref.next_logits_array(), atol=1e-5, rtol=0)
