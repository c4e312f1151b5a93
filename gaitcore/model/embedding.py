"""The paper's embedding pooling: GaitMAE tokens -> one vector per window.

tokens [B, T, J, C] (after the final LayerNorm) -> average the joints inside the 4 regions (legs,
arms, torso, head) -> [B, T, 4, C] -> over the window's valid frames take the mean and the 99th
percentile -> [B, 4, 2, C] -> flattened region-major: (legs mean, legs p99, arms mean, arms p99,
torso mean, torso p99, head mean, head p99), each C values: 4 x 2 x C = 1,024 for C = 128.
Column names: ``<region>_<stat>_<c>`` (see :func:`embedding_columns`).
"""

from __future__ import annotations

import torch

from ..schemas import EMBEDDING_REGIONS, MODEL26, group_indices

REGIONS: tuple[str, ...] = tuple(EMBEDDING_REGIONS)  # legs, arms, torso, head
STATS: tuple[str, ...] = ("mean", "p99")
_REGION_IDX = group_indices(EMBEDDING_REGIONS, MODEL26)


def region_matrix(n_joints: int = MODEL26.size) -> torch.Tensor:
    """[4, J] averaging weights (each row sums to 1 over the region's joints)."""
    m = torch.zeros(len(REGIONS), n_joints)
    for r, name in enumerate(REGIONS):
        idx = _REGION_IDX[name]
        m[r, idx] = 1.0 / len(idx)
    return m


def pool(tokens: torch.Tensor, frame_valid: torch.Tensor | None = None, q: float = 0.99) -> torch.Tensor:
    """tokens [B, T, J, C], frame_valid [B, T] bool (frames to pool; all when None) -> [B, 4 * 2 * C].

    A window without any valid frame pools over all its frames (its embedding is then not meaningful).
    """
    B, T, J, C = tokens.shape
    reg = torch.einsum("rj,btjc->btrc", region_matrix(J).to(tokens), tokens)  # [B, T, 4, C]
    if frame_valid is None:
        frame_valid = torch.ones(B, T, dtype=torch.bool, device=tokens.device)
    fv = frame_valid.clone()
    fv[~fv.any(dim=1)] = True
    w = fv.to(tokens.dtype)[:, :, None, None]  # [B, T, 1, 1]
    mean = (reg * w).sum(1) / w.sum(1)  # [B, 4, C]
    nan = torch.full_like(reg, float("nan"))
    p99 = torch.nanquantile(torch.where(w > 0, reg, nan), q, dim=1)  # [B, 4, C]
    return torch.stack((mean, p99), dim=2).reshape(B, -1)  # [B, 4, 2, C] -> [B, 8C]


def embedding_columns(dim: int) -> list[str]:
    """Names of the 4 x 2 x dim embedding columns, in :func:`pool` order."""
    return [f"{r}_{s}_{c:03d}" for r in REGIONS for s in STATS for c in range(dim)]
