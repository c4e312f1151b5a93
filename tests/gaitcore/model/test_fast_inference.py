"""The CPU inference path of GaitMAE computes the same function as the reference (autograd) path."""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

import gaitcore.model.gaitmae as gm  # noqa: E402


def _reference(model, x):
    old = gm.FAST_INFERENCE
    gm.FAST_INFERENCE = False
    try:
        with torch.no_grad():
            return model.features(x)
    finally:
        gm.FAST_INFERENCE = old


@pytest.mark.parametrize("name,frames,batch", [("tiny", 37, 3), ("paper", 50, 2), ("small", 130, 2)])
def test_fast_path_matches_reference(name, frames, batch):
    torch.manual_seed(0)
    cfg = replace(gm.get_config(name), depth=min(2, gm.get_config(name).depth))
    m = gm.GaitMAE(cfg).eval()
    x = torch.randn(batch, frames, 26, 4)
    x[:, ::5, 4:8] = 0.0
    with torch.inference_mode():
        fast = m.features(x)
        rec = m(x)
    ref = _reference(m, x)
    assert fast.shape == ref.shape
    assert (fast - ref).abs().max().item() <= 1e-5
    with torch.no_grad():  # no_grad takes the same path as inference_mode
        assert torch.equal(m.features(x), fast)
    assert rec.shape == (batch, frames, 26, 3)


def test_training_uses_the_differentiable_path():
    torch.manual_seed(0)
    m = gm.GaitMAE(gm.get_config("tiny")).train()
    x = torch.randn(2, 20, 26, 4)
    out = m(x)
    assert out.requires_grad
    out.square().mean().backward()
    assert all(p.grad is not None for p in m.parameters())
    with torch.no_grad():
        assert (m.eval()(x) - out.detach()).abs().max().item() <= 1e-5


def test_rotate_inplace_matches_apply_rotary():
    cos, sin = gm.rotary_tables(30, 16, 10000.0, "cpu", torch.float32)
    x = torch.randn(4, 30, 3, 16)  # [N, L, H, D]
    want = gm.apply_rotary(x.transpose(1, 2), cos, sin).transpose(1, 2)
    got = x.clone()
    gm.rotate_inplace(got, cos[:, None], sin[:, None])
    assert (got - want).abs().max().item() <= 1e-6


@pytest.mark.parametrize("name,frames", [("tiny", 30), ("small", 130)])
def test_grouped_batch_matches_reference(monkeypatch, name, frames):
    """Inference encodes the batch in groups of windows (here one sequence per group): same result."""
    torch.manual_seed(1)
    m = gm.GaitMAE(gm.get_config(name)).eval()
    x = torch.randn(3, frames, 26, 4)
    ref = _reference(m, x)
    monkeypatch.setattr(gm, "FAST_GROUP_TOKENS", 1)
    with torch.inference_mode():
        grouped = m.features(x)
    assert (grouped - ref).abs().max().item() <= 1e-5
