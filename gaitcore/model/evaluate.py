"""Masked-joint reconstruction error in millimetres.

For every window: draw the pretraining masks with a fixed seed (jitter off), reconstruct, and measure
the Euclidean error of each observed joint, converted to mm with the window's per-frame scale
(error_mm = error_normalised x scale_mm[t], undoing preprocessing's per-frame scaling). Reported over
the masked joints only and over all observed joints, overall and per body-part group.
Windows are trimmed to their valid frames (so short recordings are not padded to 900 frames).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .data import WindowSet
from .embedding import length_batches
from .masking import GROUP_NAMES, JOINT_GROUP, MaskingConfig, corrupt, make_masks


class ErrorAccumulator:
    """Sums of mm errors and counts, overall and per group, for masked and all joints."""

    def __init__(self) -> None:
        n = len(GROUP_NAMES)
        self.sum = {"masked": np.zeros(n), "all": np.zeros(n)}
        self.cnt = {"masked": np.zeros(n), "all": np.zeros(n)}
        self.norm_sum = {"masked": 0.0, "all": 0.0}

    def add(self, err_norm: torch.Tensor, scale_mm: torch.Tensor, masked: torch.Tensor, observed: torch.Tensor) -> None:
        """err_norm [B, T, J], scale_mm [B, T], masked / observed [B, T, J] bool."""
        mm = (err_norm * scale_mm[..., None]).double()
        for key, sel in (("masked", masked & observed), ("all", observed)):
            w = sel.double()
            self.norm_sum[key] += float((err_norm.double() * w).sum())
            for g in range(len(GROUP_NAMES)):
                jg = JOINT_GROUP == g
                self.sum[key][g] += float((mm[..., jg] * w[..., jg]).sum())
                self.cnt[key][g] += float(w[..., jg].sum())

    def result(self) -> dict:
        out: dict = {}
        for key in ("masked", "all"):
            tot = self.cnt[key].sum()
            out[f"{key}_joints_mm"] = round(float(self.sum[key].sum() / tot), 2) if tot else None
            out[f"{key}_joints_normalised"] = round(self.norm_sum[key] / tot, 5) if tot else None
            out[f"{key}_joints_count"] = int(tot)
            out[f"{key}_per_group_mm"] = {
                name: (round(float(self.sum[key][g] / self.cnt[key][g]), 2) if self.cnt[key][g] else None)
                for g, name in enumerate(GROUP_NAMES)
            }
        return out


@torch.inference_mode()
def reconstruction_error(model: torch.nn.Module, ws: WindowSet, *, masking: MaskingConfig | None = None,
                         seed: int = 0, batch_size: int = 8, device: str = "cpu", trim: bool = True) -> dict:
    """Masked-joint and all-joint reconstruction error of ``model`` on the windows ``ws`` (JSON-able dict)."""
    model.eval()
    cfg = replace(masking or MaskingConfig(), jitter_prob=0.0)
    gen = torch.Generator().manual_seed(seed)
    acc = ErrorAccumulator()
    lengths = ws.n_valid if trim else np.full(len(ws), ws.x.shape[1])
    for idx in length_batches(lengths, batch_size):
        L = int(max(lengths[idx[0]], 1))
        x = torch.from_numpy(ws.x[idx, :L]).to(device)
        obs = torch.from_numpy(ws.observed[idx, :L]).to(device)
        scale = torch.from_numpy(ws.scale_mm[idx, :L]).to(device)
        masks = make_masks(obs, cfg, gen)
        pred = model(corrupt(x, masks, cfg, gen))
        err = torch.linalg.vector_norm(pred.float() - x[..., :3], dim=-1)  # [B, T, J]
        acc.add(err.cpu(), scale.cpu(), masks.masked.cpu(), obs.cpu())
    res = acc.result()
    res["windows"] = len(ws)
    res["frames"] = int(ws.n_valid.sum())
    res["masking"] = cfg.to_dict()
    res["seed"] = seed
    return res
