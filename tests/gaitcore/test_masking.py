"""Masking: fractions match the configuration; hidden inputs zeroed; missing joints always masked."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from gaitcore.model.losses import pretrain_loss  # noqa: E402
from gaitcore.model.masking import GROUP_NAMES, JOINT_GROUP, MaskingConfig, corrupt, make_masks  # noqa: E402


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_span_masking_masks_4_of_6_groups_per_16_frame_block():
    obs = torch.ones(32, 160, 26, dtype=torch.bool)
    cfg = MaskingConfig(frame_prob=0.0, joint_prob=0.0)
    m = make_masks(obs, cfg, _gen())
    # per frame, exactly 4 groups are masked (and every joint of a group together)
    per_group = torch.stack([m.masked[..., JOINT_GROUP == g].float().mean(-1) for g in range(6)], -1)
    assert set(per_group.unique().tolist()) <= {0.0, 1.0}
    assert (per_group.sum(-1) == 4).all()
    # the pattern changes only at block boundaries (random phase): at most ceil(160/16)+1 distinct runs
    for b in range(4):
        changes = (per_group[b, 1:] != per_group[b, :-1]).any(-1).nonzero().flatten() + 1
        assert len(changes) <= 160 // 16 + 1
        if len(changes) > 1:
            assert ((changes[1:] - changes[:-1]) % 16 == 0).all()
    phases = {int(((per_group[b, 1:] != per_group[b, :-1]).any(-1).nonzero().flatten() + 1)[0] % 16)
              for b in range(32) if (per_group[b, 1:] != per_group[b, :-1]).any()}
    assert len(phases) > 3  # random phase
    # each group masked with probability 4/6
    assert abs(per_group.mean().item() - 4 / 6) < 0.03
    assert len(GROUP_NAMES) == 6


def test_frame_and_joint_masking_rates():
    obs = torch.ones(64, 500, 26, dtype=torch.bool)
    cfg = MaskingConfig(span_prob=0.0, frame_prob=0.04, joint_prob=0.1, jitter_prob=0.5)
    m = make_masks(obs, cfg, _gen(1))
    whole = m.masked.all(-1).float().mean().item()
    assert abs(whole - 0.04) < 0.01
    assert abs(m.masked.float().mean().item() - (0.04 + 0.96 * 0.1)) < 0.01
    assert abs(m.jittered.float().mean().item() - 0.5) < 0.2


def test_hidden_inputs_are_zeroed_including_confidence_and_jitter_only_on_chosen_samples():
    x = torch.rand(8, 48, 26, 4) + 0.5
    obs = torch.ones(8, 48, 26, dtype=torch.bool)
    cfg = MaskingConfig(jitter_prob=0.5)
    m = make_masks(obs, cfg, _gen(2))
    inp = corrupt(x, m, cfg, _gen(3))
    assert (inp[m.hidden] == 0).all()
    vis = ~m.hidden
    assert (inp[..., 3][vis] == x[..., 3][vis]).all()  # confidence untouched where visible
    for b in range(8):
        moved = (inp[b, ..., :3] - x[b, ..., :3])[vis[b]].abs().max().item()
        assert (moved > 0) == bool(m.jittered[b])
        if m.jittered[b]:
            assert 0.02 < (inp[b, ..., :3] - x[b, ..., :3])[vis[b]].std().item() < 0.08


def test_missing_joints_always_hidden_and_excluded_from_loss():
    obs = torch.ones(4, 32, 26, dtype=torch.bool)
    obs[:, :, [3, 20, 21]] = False  # joints the sensor lacked
    obs[1, 10:20] = False  # a gap
    m = make_masks(obs, MaskingConfig(span_prob=0.0, frame_prob=0.0), _gen())
    assert m.hidden[~obs].all()
    assert not m.loss_weight[~obs].any()
    assert not m.masked[~obs].any()
    target = torch.randn(4, 32, 26, 3)
    pred = target.clone()
    pred[~obs] += 100.0  # errors on unobserved joints must not count
    loss, parts = pretrain_loss(pred, target, m.loss_weight)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_whole_body_time_span_masks_every_joint_of_consecutive_frames_on_the_chosen_share():
    obs = torch.ones(400, 120, 26, dtype=torch.bool)
    cfg = MaskingConfig(span_prob=0.0, frame_prob=0.0, time_span_prob=0.5, time_span_frames=30)
    m = make_masks(obs, cfg, _gen(4))
    whole = m.masked.all(-1)  # [B, T] frames with every joint masked
    assert (m.masked.any(-1) == whole).all()  # only whole frames are masked
    counts = whole.sum(-1)
    assert set(counts.unique().tolist()) == {0, 30}
    assert abs((counts > 0).float().mean().item() - 0.5) < 0.08
    for b in (counts > 0).nonzero().flatten().tolist():
        idx = whole[b].nonzero().flatten()
        assert idx[-1] - idx[0] == 29  # one contiguous span
    starts = {int(whole[b].nonzero()[0]) for b in (counts > 0).nonzero().flatten().tolist()}
    assert min(starts) < 10 and max(starts) > 80  # start spread over the crop, the span always inside it


def test_time_span_off_by_default_leaves_the_papers_masks_unchanged():
    obs = torch.ones(16, 96, 26, dtype=torch.bool)
    a = make_masks(obs, MaskingConfig(), _gen(5))
    b = make_masks(obs, MaskingConfig(time_span_prob=0.0, time_span_frames=60), _gen(5))
    assert torch.equal(a.hidden, b.hidden) and torch.equal(a.jittered, b.jittered)
    assert MaskingConfig().time_span_prob == 0.0


@pytest.mark.parametrize("kw", [{"time_span_prob": 1.5}, {"frame_prob": -0.1}, {"time_span_frames": 0}])
def test_masking_config_refuses_impossible_values(kw):
    with pytest.raises(ValueError, match="masking: "):
        MaskingConfig(**kw)
