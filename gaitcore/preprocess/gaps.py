"""Step 3: fill short gaps, mask long ones.

A gap is a run of consecutive invalid frames of one joint. A gap of at most ``max_gap`` frames with a
valid frame on both sides is filled by linear interpolation (and its confidence set to LOW); longer
gaps and gaps touching the start or end stay invalid (masked). Fully vectorised over frames and
joints (no Python loop over frames).
"""

from __future__ import annotations

import numpy as np

DEFAULT_MAX_GAP_FRAMES = 10  # 1/3 s at 30 Hz


def fill_gaps(positions: np.ndarray, valid: np.ndarray, max_gap: int = DEFAULT_MAX_GAP_FRAMES
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill gaps of at most ``max_gap`` frames.

    Args:
        positions: [T, J, 3] float, mm. valid: [T, J] bool.
    Returns:
        (positions [T, J, 3] with short gaps filled, valid [T, J] after filling, filled [T, J] bool:
        the frames that were filled).
    """
    T, Jn = valid.shape
    filled_all = np.zeros_like(valid)
    if T == 0:
        return positions, valid, filled_all
    # only joints with both valid and invalid samples can have fillable gaps
    n_ok = valid.sum(axis=0)
    cols_idx = np.flatnonzero((n_ok > 0) & (n_ok < T))
    if cols_idx.size == 0:
        return positions, valid, filled_all
    if cols_idx.size < Jn:
        P, v, f = fill_gaps(positions[:, cols_idx], valid[:, cols_idx], max_gap)
        if not f.any():
            return positions, valid, filled_all
        out = positions.copy()
        out[:, cols_idx] = P
        vout = valid.copy()
        vout[:, cols_idx] = v
        filled_all[:, cols_idx] = f
        return out, vout, filled_all
    idx = np.arange(T)[:, None]
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, idx, T)[::-1], axis=0)[::-1]
    fill = ~valid & (prev >= 0) & (nxt < T) & (nxt - prev - 1 <= max_gap)
    if not fill.any():
        return positions, valid, fill
    p0 = np.clip(prev, 0, T - 1)
    p1 = np.clip(nxt, 0, T - 1)
    w = np.where(fill, (idx - p0) / np.maximum(p1 - p0, 1), 0.0)[..., None]
    cols = np.arange(Jn)[None, :]
    interp = positions[p0, cols] * (1 - w) + positions[p1, cols] * w
    out = np.where(fill[..., None], interp, positions).astype(positions.dtype, copy=False)
    return out, valid | fill, fill
