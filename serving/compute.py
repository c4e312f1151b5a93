"""The one inference computation shared by the TorchServe handler and the in-process client.

``infer(model, x, observed)``: windows of equal length -> per-window embedding (the paper's 4 x 2 x dim
pooling, exactly as ``gaitcore.model.embedding.embed_windows``) and reconstruction error (mean Euclidean
distance, in normalised units, between the model's reconstruction of the unmasked input and the input
positions, over observed joints). Both backends call this function, so for the same input they give the
same outputs up to float rounding of different batch compositions.

This module imports torch: only the workers and the TorchServe handler use it, never the API process.
"""

from __future__ import annotations

import numpy as np
import torch

from gaitcore.model.embedding import pool
from gaitcore.model.masking import hide_unobserved


@torch.inference_mode()
def infer(model: torch.nn.Module, x: np.ndarray, observed: np.ndarray, batch_size: int = 8
          ) -> tuple[np.ndarray, np.ndarray]:
    """x [W, T, 26, 4] float32, observed [W, T, 26] bool -> (embeddings [W, D] float32, error [W] float32)."""
    model.eval()
    device = next(model.parameters()).device  # the TorchServe handler puts the model on its worker's GPU
    n = x.shape[0]
    emb = np.zeros((n, model.cfg.embedding_dim), np.float32)
    err = np.zeros(n, np.float32)
    for s in range(0, n, batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(x[s:s + batch_size], dtype=np.float32)).to(device)
        ob = torch.from_numpy(np.ascontiguousarray(observed[s:s + batch_size], dtype=bool)).to(device)
        tokens = model.features(hide_unobserved(xb, ob))
        emb[s:s + batch_size] = pool(tokens, ob.any(dim=-1)).float().cpu().numpy()
        recon = model.head(tokens)
        dist = torch.linalg.vector_norm(recon - xb[..., :3], dim=-1)  # [B, T, J]
        w = ob.to(dist.dtype)
        err[s:s + batch_size] = ((dist * w).sum(dim=(1, 2)) / w.sum(dim=(1, 2)).clamp_min(1.0)).cpu().numpy()
    return emb, err


def infer_many(model: torch.nn.Module, windows: list[np.ndarray], observed: list[np.ndarray], batch_size: int = 8
               ) -> tuple[np.ndarray, np.ndarray]:
    """Windows of any lengths: grouped by length (each group batched), results in input order."""
    n = len(windows)
    dim = model.cfg.embedding_dim
    emb = np.zeros((n, dim), np.float32)
    err = np.zeros(n, np.float32)
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_len.setdefault(int(w.shape[0]), []).append(i)
    for _, idx in sorted(by_len.items(), reverse=True):
        e, r = infer(model, np.stack([windows[i] for i in idx]), np.stack([observed[i] for i in idx]), batch_size)
        emb[idx], err[idx] = e, r
    return emb, err
