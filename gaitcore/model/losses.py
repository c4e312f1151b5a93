"""Pretraining loss: MPJPE + 0.1 x velocity error, over observed joints only.

pred, target [B, T, J, 3] (normalised units); weight [B, T, J] bool/float (1 = observed). The
velocity term compares frame differences where both frames of a joint are observed.

A batch run in micro-batches (gradient accumulation) passes the whole batch's
:func:`loss_denominators` to every chunk's :func:`pretrain_loss`: each chunk's terms are then its share of
the whole batch's means, and the chunks' losses (and gradients) add up to the whole batch's.
"""

from __future__ import annotations

import torch

VELOCITY_WEIGHT = 0.1


def _wmean(err: torch.Tensor, w: torch.Tensor, denom: float | None = None) -> torch.Tensor:
    total = (err * w).sum()
    return total / w.sum().clamp_min(1.0) if denom is None else total / max(float(denom), 1.0)


def _velocity_weight(weight: torch.Tensor) -> torch.Tensor:
    w = weight.float()
    return w[:, 1:] * w[:, :-1]


def loss_denominators(weight: torch.Tensor) -> tuple[float, float]:
    """Weight sums of the position and velocity terms of a whole batch (weight [B, T, J])."""
    return float(weight.float().sum()), float(_velocity_weight(weight).sum())


def mpjpe(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
          denom: float | None = None) -> torch.Tensor:
    """Mean per-joint position error (Euclidean) over weighted joints -> scalar."""
    return _wmean(torch.linalg.vector_norm(pred - target, dim=-1), weight.to(pred.dtype), denom)


def velocity_error(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                   denom: float | None = None) -> torch.Tensor:
    """Mean Euclidean error of frame-to-frame velocities over joints observed in both frames -> scalar."""
    dv = (pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])
    return _wmean(torch.linalg.vector_norm(dv, dim=-1), _velocity_weight(weight).to(pred.dtype), denom)


def pretrain_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                  denominators: tuple[float, float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss (scalar tensor) and its parts as floats; ``denominators``: see the module docstring."""
    dm, dv = denominators if denominators is not None else (None, None)
    m = mpjpe(pred, target, weight, dm)
    v = velocity_error(pred, target, weight, dv)
    loss = m + VELOCITY_WEIGHT * v
    return loss, {"mpjpe": float(m.detach()), "velocity": float(v.detach())}
