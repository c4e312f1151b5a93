"""Pretraining loss: MPJPE + 0.1 x velocity error, over observed joints only.

pred, target [B, T, J, 3] (normalised units); weight [B, T, J] bool/float (1 = observed). The
velocity term compares frame differences where both frames of a joint are observed.
"""

from __future__ import annotations

import torch

VELOCITY_WEIGHT = 0.1


def _wmean(err: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (err * w).sum() / w.sum().clamp_min(1.0)


def mpjpe(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error (Euclidean) over weighted joints -> scalar."""
    return _wmean(torch.linalg.vector_norm(pred - target, dim=-1), weight.to(pred.dtype))


def velocity_error(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean error of frame-to-frame velocities over joints observed in both frames -> scalar."""
    w = weight.to(pred.dtype)
    wv = w[:, 1:] * w[:, :-1]
    dv = (pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])
    return _wmean(torch.linalg.vector_norm(dv, dim=-1), wv)


def pretrain_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
                  ) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss (scalar tensor) and its parts as floats."""
    m = mpjpe(pred, target, weight)
    v = velocity_error(pred, target, weight)
    loss = m + VELOCITY_WEIGHT * v
    return loss, {"mpjpe": float(m.detach()), "velocity": float(v.detach())}
