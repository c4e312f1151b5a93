"""Small signal helpers shared by the feature modules (1-D arrays over frames, NaN = missing)."""

from __future__ import annotations

import numpy as np
from scipy import signal as _sig

from ..preprocess._fast import pct


def interp_nan(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate NaNs of x [T] (edges held). Returns (filled, finite mask of the input)."""
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x.astype(np.float64), ok
    idx = np.arange(x.size)
    return np.interp(idx, idx[ok], x[ok]), ok


def lowpass(x: np.ndarray, fs: float, cutoff: float, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth low-pass of x [T] or [T, K] along axis 0 (no NaN allowed).

    Same result as ``scipy.signal.sosfiltfilt`` (odd padding), written out because its per-call
    overhead dominates on short clips.
    """
    if x.shape[0] < 3 * (order + 1) * 2 or cutoff >= fs / 2:
        return x
    sos, zi = _sos(fs, cutoff, order)
    pad = min(x.shape[0] - 1, 3 * (2 * len(sos) + 1))
    ext = np.concatenate([2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2:-pad - 2:-1]])
    zshape = (zi.shape[0], 2) + (1,) * (x.ndim - 1)
    z = zi.reshape(zshape)
    y, _ = _sig.sosfilt(sos, ext, axis=0, zi=z * ext[0])
    y = y[::-1]
    y, _ = _sig.sosfilt(sos, y, axis=0, zi=z * y[0])
    return y[::-1][pad:-pad]


_SOS_CACHE: dict = {}


def _sos(fs: float, cutoff: float, order: int):
    key = (fs, cutoff, order)
    if key not in _SOS_CACHE:
        sos = _sig.butter(order, cutoff, fs=fs, output="sos")
        _SOS_CACHE[key] = (sos, _sig.sosfilt_zi(sos))
    return _SOS_CACHE[key]


def moving_average(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over ``n`` frames of x [T, ...], NaN-aware, shrinking at the edges."""
    ok = np.isfinite(x)
    v = np.where(ok, x, 0.0)
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(v, axis=0)])
    k = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(ok, axis=0)])
    T = x.shape[0]
    lo = np.clip(np.arange(T) - n // 2, 0, T)
    hi = np.clip(np.arange(T) + n // 2 + 1, 0, T)
    cnt = k[hi] - k[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (c[hi] - c[lo]) / cnt
    return np.where(ok, out, np.nan)


def prange(x: np.ndarray, lo: float = 2.5, hi: float = 97.5) -> float:
    """Percentile range of the finite values of x (NaN if fewer than 10)."""
    if np.count_nonzero(np.isfinite(x)) < 10:
        return float("nan")
    a, b = pct(x, [lo, hi])
    return float(b - a)


def find_peaks(x: np.ndarray, distance: int, prominence: float) -> np.ndarray:
    """Indices of local maxima (scipy.signal.find_peaks)."""
    return _sig.find_peaks(x, distance=max(int(distance), 1), prominence=prominence)[0]


def refine_peak(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Sub-frame peak positions by parabolic interpolation around integer peaks ``idx``."""
    idx = idx[(idx > 0) & (idx < x.size - 1)]
    a, b, c = x[idx - 1], x[idx], x[idx + 1]
    den = a - 2 * b + c
    with np.errstate(invalid="ignore", divide="ignore"):
        off = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / den, 0.0)
    return idx + np.clip(off, -0.5, 0.5)
