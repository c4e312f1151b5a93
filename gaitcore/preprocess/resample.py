"""Step 1: resample a recording to a regular frame rate from its timestamps.

Positions are interpolated linearly between the two neighbouring source frames; the confidence of a
resampled frame is the lower of its two neighbours' (so an interpolated point is never more trusted
than its sources). A grid point that falls inside a timestamp gap longer than ``max_bridge_s`` is
marked invalid (confidence NONE) instead of being bridged: the gap step decides whether to fill it.
"""

from __future__ import annotations

import numpy as np


def is_regular(timestamps_us: np.ndarray, rate_hz: float, tol: float = 0.1) -> bool:
    """True if consecutive timestamps are all within ``tol`` (fraction of a period) of 1/rate."""
    if timestamps_us.size < 2:
        return True
    dt = np.diff(timestamps_us).astype(np.float64)
    period = 1e6 / rate_hz
    return bool(np.all(np.abs(dt - period) <= tol * period))


def resample(
    positions: np.ndarray,
    valid: np.ndarray,
    confidence: np.ndarray,
    timestamps_us: np.ndarray,
    rate_hz: float = 30.0,
    max_bridge_s: float = 2.5 / 30.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Resample to ``rate_hz``.

    Args:
        positions: [T, J, 3] float, mm (any value where ``valid`` is False).
        valid: [T, J] bool.
        confidence: [T, J] uint8.
        timestamps_us: [T] int64, strictly increasing.
    Returns:
        positions [T', J, 3] float32, valid [T', J], confidence [T', J] uint8, timestamps_us [T'] int64,
        source_index [T'] int (nearest source frame of each output frame, to remap task segments),
        and a record dict (``resampled``, source/target frame counts, source median rate).
    """
    T = positions.shape[0]
    ts = np.asarray(timestamps_us, dtype=np.int64)
    rec: dict = {"resampled": False, "frames_in": int(T)}
    if T >= 2:
        rec["source_rate_hz"] = round(1e6 / float(np.median(np.diff(ts))), 3)
    if T < 2 or is_regular(ts, rate_hz):
        rec["frames_out"] = int(T)
        return (positions.astype(np.float32, copy=False), valid, confidence, ts, np.arange(T), rec)
    period = 1e6 / rate_hz
    n = int(np.floor((ts[-1] - ts[0]) / period)) + 1
    grid = ts[0] + np.round(np.arange(n) * period).astype(np.int64)
    i0 = np.clip(np.searchsorted(ts, grid, side="right") - 1, 0, T - 2)
    i1 = i0 + 1
    span = (ts[i1] - ts[i0]).astype(np.float64)
    w = np.clip((grid - ts[i0]) / span, 0.0, 1.0)
    w3 = w[:, None, None]
    p0 = np.where(valid[i0][..., None], positions[i0], 0.0)
    p1 = np.where(valid[i1][..., None], positions[i1], 0.0)
    # where one neighbour is invalid, take the other one only when it is (almost) the same instant
    out = (p0 * (1 - w3) + p1 * w3).astype(np.float32)
    v = valid[i0] & valid[i1]
    only0 = valid[i0] & ~valid[i1] & (w[:, None] < 0.25)
    only1 = valid[i1] & ~valid[i0] & (w[:, None] > 0.75)
    out = np.where(only0[..., None], positions[i0], out)
    out = np.where(only1[..., None], positions[i1], out)
    v = v | only0 | only1
    gap = span > max_bridge_s * 1e6
    exact = (w < 1e-6) | (w > 1 - 1e-6)
    v &= ~(gap & ~exact)[:, None]
    conf = np.minimum(confidence[i0], confidence[i1])
    conf = np.where(v, np.maximum(conf, 1), 0).astype(np.uint8)
    src = np.where(w < 0.5, i0, i1)
    rec.update(resampled=True, frames_out=int(n), gap_frames=int(np.count_nonzero(gap & ~exact)))
    return out, v, conf, grid, src, rec
