"""Gait events (heel strike, toe off) from foot kinematics.

Two methods, chosen from the data:

* ``zeni`` (walking: overground or treadmill; Zeni et al. 2008, Gait & Posture 27:710): in the body
  frame, heel strike = local maximum of the ANKLE's anterior-posterior position relative to the
  pelvis (the foot is furthest forward), toe off = local minimum of the FOOT (toe) joint's AP position
  relative to the pelvis (furthest back). Used when both ankles move >= 150 mm AP relative to the
  pelvis. Works on a treadmill (the pelvis stays put, the feet move back with the belt) and
  overground alike. The extrema are where the foot moves at walking speed, so heel strike is found
  early and toe off late (stance +4-7 points); ``_refine_contact`` moves each event to where the
  foot's relative velocity is half-way to the planted-foot velocity.
* ``vertical`` (walking in place): the ankle height crosses a threshold (30 % of its 2.5-97.5
  percentile range above its low level): upward crossing = toe off, downward crossing = heel strike.

Signals are low-passed at 6 Hz; peaks must be >= 0.4 s apart and have a prominence >= 30 % of the
signal's range; peak times are refined to sub-frame precision. Events in or next to masked stretches
(NaN) are dropped. Event times are in frames (float) from the start of the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..preprocess._fast import pct
from ..schemas import AZURE32
from .signals import find_peaks, interp_nan, lowpass, prange, refine_peak

_J = {n: i for i, n in enumerate(AZURE32.joints)}
MIN_AP_RANGE_MM = 150.0
MIN_LIFT_MM = 30.0


@dataclass
class GaitEvents:
    """Heel strikes (hs) and toe offs (to) per side, in frames (float), sorted."""

    method: str
    hs: dict[str, np.ndarray] = field(default_factory=dict)
    to: dict[str, np.ndarray] = field(default_factory=dict)
    reason: str = ""

    def count(self) -> int:
        return sum(len(v) for v in self.hs.values())


def _clean(events: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Drop events within 1 frame of missing samples."""
    if ok.all() or events.size == 0:
        return events
    bad = ~ok
    near = bad | np.r_[bad[1:], False] | np.r_[False, bad[:-1]]
    i = np.clip(np.round(events).astype(int), 0, ok.size - 1)
    return events[~near[i]]


def _extrema(X: np.ndarray, fs: float, signs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Peaks of signs[k] * X[:, k] for each column k of X [T, K] (one batched filter call).

    Peaks are located on the 6 Hz low-passed signal, then moved to the raw signal's maximum within
    +-2 frames and refined there to sub-frame precision (low-passing an asymmetric peak shifts it).
    Returns (peaks per column, the low-passed signals [T, K] without the sign).
    """
    raw = np.empty(X.shape, dtype=np.float64)
    oks = np.isfinite(X)
    for k in range(X.shape[1]):
        raw[:, k] = interp_nan(X[:, k])[0]
    Y = lowpass(raw, fs, 6.0) * signs
    R = raw * signs
    srt = np.sort(Y, axis=0)
    n = Y.shape[0] - 1
    lo, hi = srt[int(round(0.05 * n))], srt[int(round(0.95 * n))]
    out = []
    off = np.arange(-2, 3)
    for k in range(X.shape[1]):
        pk = find_peaks(Y[:, k], distance=int(0.4 * fs), prominence=0.3 * (hi[k] - lo[k]))
        if pk.size:
            r = R[:, k]
            win = np.clip(pk[:, None] + off, 0, r.size - 1)
            pk = win[np.arange(pk.size), np.argmax(r[win], axis=1)]
            out.append(_clean(refine_peak(r, pk), oks[:, k]))
        else:
            out.append(np.empty(0))
    return out, Y * signs


def _crossings(h: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    hf, ok = interp_nan(h)
    hf = lowpass(hf, fs, 6.0)
    lo, hi = pct(hf, [2.5, 97.5])
    thr = lo + 0.3 * (hi - lo)
    above = hf > thr
    d = np.diff(above.astype(np.int8))
    # sub-frame crossing position by linear interpolation
    def at(i):
        a, b = hf[i], hf[i + 1]
        return i + np.clip((thr - a) / np.where(b != a, b - a, 1.0), 0, 1)
    up = at(np.flatnonzero(d == 1))
    down = at(np.flatnonzero(d == -1))
    # enforce a minimum distance between same-type events (debounce noise around the threshold)
    def debounce(e):
        if e.size < 2:
            return e
        keep = np.r_[True, np.diff(e) >= 0.25 * fs]
        return e[keep]
    return _clean(debounce(up), ok), _clean(debounce(down), ok)


def _refine_contact(xf: np.ndarray, events: np.ndarray, fs: float, after: bool) -> np.ndarray:
    """Move Zeni events to the instant the foot actually lands (``after`` True: heel strike) or lifts
    off (False: toe off).

    Zeni's extrema are where the foot's AP velocity relative to the pelvis is zero, i.e. where it
    moves over the ground at walking speed: a heel strike is found before the heel lands, a toe-off
    after the toe has left. A planted foot moves back relative to the pelvis at the walking (or belt)
    speed ``-v`` (the median relative velocity 0.12-0.3 s inside the stance next to the event); the
    contact instant is taken where the relative velocity crosses ``-v/2`` between the event and that
    stance stretch. Events without a clear stance velocity (< 50 mm/s) are kept as they are.
    Vectorised over events; xf: [T] low-passed pelvis-relative AP position (mm, no NaN), events: [n]
    fractional frames.
    """
    if events.size == 0:
        return events
    v = np.gradient(xf) * fs
    T = v.size
    i = np.clip(np.round(events).astype(int), 0, T - 1)
    n_near, n_far = int(0.12 * fs), int(0.3 * fs)
    sign = 1 if after else -1
    far = np.clip(i[:, None] + sign * np.arange(n_near, n_far + 1)[None, :], 0, T - 1)
    base = np.median(v[far], axis=1)
    thr = base / 2
    # frames from the event towards the stance stretch; first one at or below the threshold
    path = np.clip(i[:, None] + sign * np.arange(0, n_far + 1)[None, :], 0, T - 1)
    below = v[path] <= thr[:, None]
    has = below.any(axis=1) & (base < -50.0) & (i + sign * n_far >= 0) & (i + sign * n_far <= T - 1)
    k = np.argmax(below, axis=1)
    j1 = path[np.arange(i.size), k]  # first frame at/below the threshold
    j0 = path[np.arange(i.size), np.maximum(k - 1, 0)]  # the frame before it (on the event side)
    v0, v1 = v[j0], v[j1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(v1 != v0, (thr - v0) / (v1 - v0), 0.0)
    t = j0 + sign * np.clip(f, 0, 1) * (k > 0)
    return np.where(has, t, events)


def detect_events(pos: np.ndarray, fs: float = 30.0) -> GaitEvents:
    """Gait events from body-frame positions pos [T, 32, 3] (mm, x forward, y left, z up, NaN masked)."""
    pel = pos[:, _J["PELVIS"]]
    ap = {s: pos[:, _J[f"ANKLE_{s}"], 0] - pel[:, 0] for s in ("LEFT", "RIGHT")}
    toe = {s: pos[:, _J[f"FOOT_{s}"], 0] - pel[:, 0] for s in ("LEFT", "RIGHT")}
    if min(np.isfinite(v).sum() for v in ap.values()) < fs:
        return GaitEvents("none", reason="ankles tracked for less than 1 s")
    ranges = {s: prange(ap[s], 5, 95) for s in ap}
    if all(r >= MIN_AP_RANGE_MM for r in ranges.values()):
        ev = GaitEvents("zeni")
        cols = [ap["LEFT"], ap["RIGHT"]]
        for s in ("LEFT", "RIGHT"):
            cols.append(toe[s] if np.isfinite(toe[s]).sum() >= fs else ap[s])
        (hl, hr, tl, tr), F = _extrema(np.column_stack(cols), fs, np.array([1.0, 1.0, -1.0, -1.0]))
        ev.hs = {"LEFT": _refine_contact(F[:, 0], hl, fs, True), "RIGHT": _refine_contact(F[:, 1], hr, fs, True)}
        ev.to = {"LEFT": _refine_contact(F[:, 2], tl, fs, False), "RIGHT": _refine_contact(F[:, 3], tr, fs, False)}
        return ev
    lift = {s: pos[:, _J[f"ANKLE_{s}"], 2] for s in ("LEFT", "RIGHT")}
    if all(prange(v) >= MIN_LIFT_MM for v in lift.values()):
        ev = GaitEvents("vertical")
        for s in ("LEFT", "RIGHT"):
            ev.to[s], ev.hs[s] = _crossings(lift[s], fs)
        return ev
    return GaitEvents("none", reason=f"feet hardly move (AP range {min(ranges.values()):.0f} mm, "
                                     f"lift {min(prange(v) for v in lift.values()):.0f} mm)")
