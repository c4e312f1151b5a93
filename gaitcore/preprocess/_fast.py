"""Tiny, low-overhead numeric helpers (numpy's general versions cost ~20-50 us per call, which
dominates on short clips)."""

from __future__ import annotations

import numpy as np


def pct(x: np.ndarray, q) -> np.ndarray | float:
    """Percentile(s) ``q`` (0-100) of the finite values of 1-D ``x``, linear interpolation as numpy's
    default. NaN when no finite value."""
    x = x[np.isfinite(x)]
    scalar = np.ndim(q) == 0
    qa = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if x.size == 0:
        out = np.full(qa.shape, np.nan)
    else:
        s = np.sort(x)
        pos = qa / 100.0 * (s.size - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, s.size - 1)
        w = pos - lo
        out = s[lo] * (1 - w) + s[hi] * w
    return float(out[0]) if scalar else out


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (length 3), broadcasting."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def sqnorm3(x: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm over a last axis of length 3 ([..., 3] -> [...]).

    Written out per component: numpy's reductions over a tiny last axis are several times slower.
    """
    a, b, c = x[..., 0], x[..., 1], x[..., 2]
    return a * a + b * b + c * c


def norm3(x: np.ndarray) -> np.ndarray:
    """Euclidean norm over a last axis of length 3."""
    return np.sqrt(sqnorm3(x))
