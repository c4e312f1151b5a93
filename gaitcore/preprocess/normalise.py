"""Step 6: the paper's normalisation into model input.

Per frame: centre on the pelvis, divide by the distance of the furthest (valid) joint from the
pelvis (so the skeleton fits the unit sphere), and divide the confidence by its per-frame maximum.
Input positions are the metric body-frame positions (x forward, y left, z up, mm), so every sensor
frame gives the same model input; ``scale_mm`` keeps the per-frame scale so that an error in
normalised units can be reported in millimetres (error_mm = error_norm * scale_mm[t]).
Joints that are masked, and every joint of a frame whose pelvis is masked, are all zero (position and
confidence), as the paper does for masked tokens.
"""

from __future__ import annotations

import numpy as np

from ..schemas import MODEL26_FROM_AZURE
from ._fast import norm3

MODEL_IDX = np.array(MODEL26_FROM_AZURE)


def normalise(positions: np.ndarray, valid: np.ndarray, confidence: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model input from metric positions.

    Args:
        positions: [T, 32, 3] mm (NaN where masked). valid: [T, 32] bool. confidence: [T, 32] uint8.
    Returns:
        x [T, 26, 4] float32 (x, y, z, confidence) in MODEL26 order, mask [T, 26] bool (True = real
        data), scale_mm [T] float32 (0 where the frame is unusable).
    """
    P = positions[:, MODEL_IDX]
    v = valid[:, MODEL_IDX] & valid[:, :1]  # no pelvis -> no frame
    pel = positions[:, :1]
    rel = np.where(v[..., None], P - pel, 0.0)
    d = norm3(rel)
    scale = d.max(axis=1)
    good = scale > 1e-6
    inv = np.where(good, 1.0 / np.where(good, scale, 1.0), 0.0)
    x = np.empty(P.shape[:2] + (4,), dtype=np.float32)
    x[..., :3] = rel * inv[:, None, None]
    c = np.where(v, confidence[:, MODEL_IDX], 0).astype(np.float32)
    cmax = c.max(axis=1, keepdims=True)
    x[..., 3] = np.where(cmax > 0, c / np.maximum(cmax, 1), 0.0)
    v &= good[:, None]
    x[~v] = 0.0
    return x, v, np.where(good, scale, 0.0).astype(np.float32)


def denormalise_error(err_norm: np.ndarray, scale_mm: np.ndarray) -> np.ndarray:
    """Convert per-frame errors in normalised units [T, ...] to millimetres."""
    s = scale_mm.reshape(scale_mm.shape + (1,) * (err_norm.ndim - 1))
    return err_norm * s
