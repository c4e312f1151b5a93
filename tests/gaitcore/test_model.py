"""GaitMAE network: shapes, sizes, rotary positions, chunked temporal context."""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from gaitcore.model.gaitmae import (  # noqa: E402
    CONFIGS,
    GaitMAE,
    GaitMAEConfig,
    apply_rotary,
    flops_estimate,
    rotary_tables,
)


def test_tiny_output_shapes():
    torch.manual_seed(0)
    m = GaitMAE(CONFIGS["tiny"]).eval()
    x = torch.randn(2, 37, 26, 4)
    with torch.no_grad():
        assert m(x).shape == (2, 37, 26, 3)
        assert m.features(x).shape == (2, 37, 26, CONFIGS["tiny"].dim)


def test_rejects_wrong_joint_count():
    m = GaitMAE(CONFIGS["tiny"])
    with pytest.raises(ValueError, match="26"):
        m(torch.zeros(1, 10, 25, 4))


def test_paper_size_matches_the_paper():
    m = GaitMAE(CONFIGS["paper"])
    assert 4.2e6 < m.num_params() < 4.3e6  # the paper: about 4.25 M
    assert 360e9 < flops_estimate(CONFIGS["paper"]) < 390e9  # the paper: about 374 GFLOP per window
    assert CONFIGS["paper"].embedding_dim == 1024
    assert CONFIGS["small"].embedding_dim == 1024


def test_rotary_is_relative():
    """q.k after rotary depends only on the position difference."""
    D = 8
    cos, sin = rotary_tables(20, D, 10000.0, "cpu", torch.float32)
    q, k = torch.randn(D), torch.randn(D)
    Q = apply_rotary(q.expand(20, D), cos, sin)
    K = apply_rotary(k.expand(20, D), cos, sin)
    assert torch.allclose(Q[3] @ K[1], Q[12] @ K[10], atol=1e-5)
    assert torch.allclose(Q[0] @ K[0], q @ k, atol=1e-5)


def test_chunked_context_encodes_chunks_independently():
    torch.manual_seed(0)
    cfg = replace(CONFIGS["tiny"], context_frames=10)
    m = GaitMAE(cfg).eval()
    x = torch.randn(1, 25, 26, 4)
    with torch.no_grad():
        out = m(x)
        first = m(x[:, :10])  # chunk [0, 10)
        last = m(x[:, 15:])  # last chunk is aligned to the end: [15, 25)
    assert out.shape == (1, 25, 26, 3)
    assert torch.allclose(out[:, :10], first, atol=1e-5)
    assert torch.allclose(out[:, 20:], last[:, 5:], atol=1e-5)


def test_config_round_trip_and_unknown_fields():
    cfg = CONFIGS["small"]
    assert GaitMAEConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        GaitMAEConfig.from_dict({**cfg.to_dict(), "bogus": 1})
