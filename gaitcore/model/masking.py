"""Pretraining masks and input corruption for GaitMAE (the paper's masking recipe).

Given a batch of model input ``x`` [B, T, J, 4] and ``observed`` [B, T, J] (True where the sensor
had data; joints the sensor lacked, gaps and padding frames are False), :func:`make_masks` draws

* body-part span masking: time is cut into ``block``-frame blocks (16) with a random phase per
  sample; in every block ``groups_masked`` (4) of the 6 body-part groups are masked;
* whole-frame masking: every frame is masked with probability ``frame_prob``;
* random-joint masking (optional): every joint sample with probability ``joint_prob``;
* whole-body time spans (optional, not in the paper's recipe): on a share ``time_span_prob`` of the
  samples, every joint of ``time_span_frames`` consecutive frames (about one stride) at a random start;

and :func:`corrupt` builds the encoder input: masked and unobserved inputs are zeroed, all four
channels (confidence too); Gaussian jitter (``jitter_sigma`` 0.05 normalised units) is added to the
positions of the visible joints of a share ``jitter_prob`` of the samples.

Unobserved joints are always masked inputs and never count in the loss (``loss_weight``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..schemas import MASKING_GROUPS, MODEL26, group_indices

GROUP_NAMES: tuple[str, ...] = tuple(MASKING_GROUPS)
_GROUP_IDX = group_indices(MASKING_GROUPS, MODEL26)
JOINT_GROUP = torch.empty(MODEL26.size, dtype=torch.long)  # [26] group index of each joint
for _g, _name in enumerate(GROUP_NAMES):
    JOINT_GROUP[_GROUP_IDX[_name]] = _g
assert sorted(sum(_GROUP_IDX.values(), [])) == list(range(MODEL26.size)), "groups must cover the 26 joints"


@dataclass(frozen=True)
class MaskingConfig:
    """The paper's defaults: span masking on every sample, frame masking 2 %, jitter on half the samples."""

    block: int = 16
    groups_masked: int = 4
    span_prob: float = 1.0  # share of samples that get body-part span masking
    frame_prob: float = 0.02
    joint_prob: float = 0.0
    time_span_prob: float = 0.0  # share of samples with one whole-body time span (0: the paper's recipe)
    time_span_frames: int = 30  # its length in frames (30 = 1 s, about one stride)
    jitter_prob: float = 0.5
    jitter_sigma: float = 0.05

    def __post_init__(self) -> None:
        for name in ("span_prob", "frame_prob", "joint_prob", "time_span_prob", "jitter_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"masking: {name} must be between 0 and 1, got {getattr(self, name)}")
        if self.time_span_frames < 1:
            raise ValueError(f"masking: time_span_frames must be at least 1, got {self.time_span_frames}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Masks:
    """``hidden`` [B, T, J]: inputs the encoder does not see (zeroed). ``loss_weight`` [B, T, J]:
    joints scored by the loss (observed ones). ``masked`` [B, T, J]: drawn masks on observed joints
    (the "masked joints" of the evaluation). ``jittered`` [B]: samples that got jitter."""

    hidden: torch.Tensor
    masked: torch.Tensor
    loss_weight: torch.Tensor
    jittered: torch.Tensor


def make_masks(observed: torch.Tensor, cfg: MaskingConfig = MaskingConfig(),
               generator: torch.Generator | None = None) -> Masks:
    """Draw the masks for a batch. observed [B, T, J] bool -> :class:`Masks` (same device)."""
    B, T, J = observed.shape
    dev = observed.device
    g = generator

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g, device="cpu").to(dev)

    drawn = torch.zeros(B, T, J, dtype=torch.bool, device=dev)
    n_groups = len(GROUP_NAMES)
    if cfg.span_prob > 0 and cfg.groups_masked > 0:
        phase = (rand(B) * cfg.block).long()  # [B] random phase in [0, block)
        n_blocks = (T + cfg.block - 1) // cfg.block + 1
        scores = rand(B, n_blocks, n_groups)
        chosen = scores.argsort(dim=-1)[..., : cfg.groups_masked]  # [B, nb, k] groups masked per block
        group_masked = torch.zeros(B, n_blocks, n_groups, dtype=torch.bool, device=dev)
        group_masked.scatter_(-1, chosen, True)
        blk = (torch.arange(T, device=dev)[None, :] + phase[:, None]) // cfg.block  # [B, T]
        per_frame = torch.gather(group_masked, 1, blk[..., None].expand(B, T, n_groups))  # [B, T, 6]
        span = per_frame[..., JOINT_GROUP.to(dev)]  # [B, T, J]
        span &= (rand(B) < cfg.span_prob).view(B, 1, 1)
        drawn |= span
    if cfg.frame_prob > 0:
        drawn |= (rand(B, T) < cfg.frame_prob)[..., None]
    if cfg.joint_prob > 0:
        drawn |= rand(B, T, J) < cfg.joint_prob
    if cfg.time_span_prob > 0:  # time_span_frames >= 1 (checked by the config)
        length = min(int(cfg.time_span_frames), T)
        start = (rand(B) * (T - length + 1)).long().clamp(max=T - length)  # [B]
        t = torch.arange(T, device=dev)[None, :]  # [1, T]
        in_span = (t >= start[:, None]) & (t < start[:, None] + length)  # [B, T]
        in_span &= (rand(B) < cfg.time_span_prob).view(B, 1)
        drawn |= in_span[..., None]
    jittered = rand(B) < cfg.jitter_prob
    return Masks(hidden=drawn | ~observed, masked=drawn & observed, loss_weight=observed.clone(),
                 jittered=jittered)


def corrupt(x: torch.Tensor, masks: Masks, cfg: MaskingConfig = MaskingConfig(),
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Encoder input from x [B, T, J, 4]: jitter on the chosen samples, hidden inputs zeroed (all 4 channels)."""
    out = x.clone()
    if cfg.jitter_sigma > 0 and bool(masks.jittered.any()):
        noise = torch.randn(x.shape[:-1] + (3,), generator=generator, device="cpu").to(x.device)
        out[..., :3] += noise * cfg.jitter_sigma * masks.jittered.view(-1, 1, 1, 1).to(x.dtype)
    return out * (~masks.hidden)[..., None].to(x.dtype)


def hide_unobserved(x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Inference input: zero the inputs of joints the sensor lacked (x [B, T, J, 4], observed [B, T, J])."""
    return x * observed[..., None].to(x.dtype)
