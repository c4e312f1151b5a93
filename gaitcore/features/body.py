"""Upper-body, joint-angle, balance (Romberg) and sit-to-stand features.

Inputs are body-frame positions pos [T, 32, 3] (mm; x forward, y left, z up; NaN masked) at ``fs`` Hz.
Each function fills ``values`` / ``missing`` and never writes a placeholder value.
"""

from __future__ import annotations

import numpy as np

from ..preprocess._fast import pct
from ..schemas import AZURE32
from .signals import interp_nan, lowpass, moving_average, prange

_J = {n: i for i, n in enumerate(AZURE32.joints)}
MIN_FRAMES = 30  # 1 s of tracked data for any sway/range feature
CHI2_95_2DOF = 5.991464547107979


def _enough(x: np.ndarray) -> bool:
    return int(np.isfinite(x).sum()) >= MIN_FRAMES


def _detrended(x: np.ndarray, fs: float) -> np.ndarray:
    """x minus its 2 s centred moving average (removes progression and slow drift); frames without a
    full window are dropped (NaN). Recordings shorter than 6 s: x minus its least-squares line."""
    n = int(2 * fs) | 1
    T = x.shape[0]
    if T >= 3 * n:
        out = x - moving_average(x, n)
        out[: n // 2] = np.nan
        out[T - n // 2:] = np.nan
        return out
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return x
    t = np.arange(T)
    c = np.polyfit(t[ok], x[ok], 1)
    return x - np.polyval(c, t)


def upper_body(pos: np.ndarray, fs: float, tasks_for: dict, values: dict, missing: dict) -> None:
    pel = pos[:, _J["PELVIS"]]
    want = tasks_for
    if want.get("arm_swing_left_mm"):
        amp = {}
        for side in ("LEFT", "RIGHT"):
            x = pos[:, _J[f"WRIST_{side}"], 0] - pel[:, 0]
            name = f"arm_swing_{side.lower()}_mm"
            if _enough(x):
                amp[side] = prange(x)
                values[name] = amp[side]
            else:
                missing[name] = f"{side.lower()} wrist or pelvis tracked for < 1 s"
        if len(amp) == 2 and amp["LEFT"] + amp["RIGHT"] > 0:
            values["arm_swing_asymmetry_pct"] = float(
                abs(amp["LEFT"] - amp["RIGHT"]) / ((amp["LEFT"] + amp["RIGHT"]) / 2) * 100)
        else:
            missing["arm_swing_asymmetry_pct"] = "needs the arm swing of both arms"
    if want.get("trunk_sway_ml_mm"):
        chest = pos[:, _J["SPINE_CHEST"]]
        if not _enough(chest[:, 0]):
            chest = pos[:, _J["NECK"]]
        for name, ax in (("trunk_sway_ml_mm", 1), ("trunk_sway_ap_mm", 0)):
            if _enough(chest[:, ax]):
                values[name] = prange(_detrended(chest[:, ax].astype(np.float64), fs))
            else:
                missing[name] = "upper trunk (SPINE_CHEST/NECK) tracked for < 1 s"
    if want.get("head_vertical_sway_mm"):
        z = pos[:, _J["HEAD"], 2]
        if _enough(z):
            values["head_vertical_sway_mm"] = prange(_detrended(z.astype(np.float64), fs))
        else:
            missing["head_vertical_sway_mm"] = "HEAD tracked for < 1 s"
    if want.get("wrist_sway_mm"):
        rms = []
        for side in ("LEFT", "RIGHT"):
            r = (pos[:, _J[f"WRIST_{side}"]] - pel).astype(np.float64)
            ok = np.isfinite(r).all(axis=1)
            if ok.sum() >= MIN_FRAMES:
                d = r[ok] - r[ok].mean(axis=0)
                rms.append(float(np.sqrt((d * d).sum(axis=1).mean())))
        if rms:
            values["wrist_sway_mm"] = float(np.mean(rms))
        else:
            missing["wrist_sway_mm"] = "wrists or pelvis tracked for < 1 s"


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors u, v [T, k]."""
    nu = np.linalg.norm(u, axis=1)
    nv = np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.einsum("ij,ij->i", u, v) / (nu * nv)
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


def joint_rom(pos: np.ndarray, values: dict, missing: dict) -> None:
    """Hip (sagittal, trunk vs thigh) and knee (3-D flexion) range of motion in degrees."""
    trunk = (pos[:, _J["SPINE_CHEST"]] - pos[:, _J["PELVIS"]])[:, [0, 2]].astype(np.float64)
    for side in ("LEFT", "RIGHT"):
        hip, knee, ank = (pos[:, _J[f"{j}_{side}"]].astype(np.float64) for j in ("HIP", "KNEE", "ANKLE"))
        thigh = (knee - hip)[:, [0, 2]]
        # signed sagittal angle: flexion positive (thigh forward of the downward trunk line)
        a_t = np.arctan2(trunk[:, 0], trunk[:, 1])
        a_th = np.arctan2(thigh[:, 0], -thigh[:, 1])
        hip_angle = np.degrees(a_th + a_t)
        name = f"hip_rom_{side.lower()}_deg"
        if _enough(hip_angle):
            values[name] = prange(hip_angle)
        else:
            missing[name] = f"{side.lower()} hip/knee or trunk tracked for < 1 s"
        knee_angle = 180.0 - _angle(hip - knee, ank - knee)
        name = f"knee_rom_{side.lower()}_deg"
        if _enough(knee_angle):
            values[name] = prange(knee_angle)
        else:
            missing[name] = f"{side.lower()} hip, knee or ankle tracked for < 1 s"


def romberg(pos: np.ndarray, fs: float, values: dict, missing: dict) -> None:
    """Sway path length, velocity and 95 % ellipse area of the horizontal centre-of-mass proxy."""
    pair = pos[:, [_J["PELVIS"], _J["SPINE_NAVEL"]], :2].astype(np.float64)
    okp = np.isfinite(pair).all(axis=2)
    n = okp.sum(axis=1)
    com = np.where(okp[..., None], pair, 0.0).sum(axis=1) / np.maximum(n, 1)[:, None]
    com[n == 0] = np.nan
    ok = np.isfinite(com).all(axis=1)
    names = ("romberg_sway_path_mm", "romberg_sway_velocity_mm_s", "romberg_sway_area_mm2")
    if ok.sum() < 5 * fs:
        for n in names:
            missing[n] = f"pelvis tracked for {ok.sum() / fs:.1f} s (< 5 s)"
        return
    # longest run of tracked frames (gaps > 1/3 s were left masked by preprocessing)
    c = np.column_stack([interp_nan(com[:, 0])[0], interp_nan(com[:, 1])[0]])
    c = lowpass(c, fs, 5.0)
    c = c[ok]
    path = float(np.linalg.norm(np.diff(c, axis=0), axis=1).sum())
    values["romberg_sway_path_mm"] = path
    values["romberg_sway_velocity_mm_s"] = path / (ok.sum() / fs)
    cov = np.cov(c.T)
    ev = np.clip(np.linalg.eigvalsh(cov), 0, None)
    values["romberg_sway_area_mm2"] = float(np.pi * CHI2_95_2DOF * np.sqrt(ev[0] * ev[1]))


def sit_to_stand(pos: np.ndarray, fs: float, values: dict, missing: dict) -> None:
    """Repetitions (upward crossings of the pelvis-height mid-level) and mean time between stand-ups."""
    z = pos[:, _J["PELVIS"], 2].astype(np.float64)
    if not _enough(z):
        for n in ("sts_repetitions", "sts_time_per_rep_s"):
            missing[n] = "pelvis tracked for < 1 s"
        return
    zf, ok = interp_nan(z)
    zf = lowpass(zf, fs, 2.0)
    lo, hi = pct(zf[ok], [5, 95])
    if hi - lo < 150.0:
        for n in ("sts_repetitions", "sts_time_per_rep_s"):
            missing[n] = f"no sit-to-stand movement (pelvis vertical range {hi - lo:.0f} mm < 150 mm)"
        return
    mid = (lo + hi) / 2
    band = 0.15 * (hi - lo)  # hysteresis: must go below mid - band before counting the next stand-up
    state = np.where(zf > mid + band, 1, np.where(zf < mid - band, -1, 0))
    nz = np.flatnonzero(state != 0)
    s = state[nz]
    ups = nz[1:][(s[1:] == 1) & (s[:-1] == -1)]
    values["sts_repetitions"] = float(ups.size)
    if ups.size >= 2:
        values["sts_time_per_rep_s"] = float(np.diff(ups).mean() / fs)
    else:
        missing["sts_time_per_rep_s"] = f"needs >= 2 repetitions, have {ups.size}"


# --- body size: segment lengths from the skeleton itself ------------------------------------------------
# (joint a, joint b) per segment; bilateral segments are the mean of the left and right medians.
SEGMENTS = {
    "thigh_length_mm": ("HIP", "KNEE"), "shank_length_mm": ("KNEE", "ANKLE"),
    "upper_arm_length_mm": ("SHOULDER", "ELBOW"), "forearm_length_mm": ("ELBOW", "WRIST"),
}
_TRUNK_CHAIN = ("PELVIS", "SPINE_NAVEL", "SPINE_CHEST", "NECK", "HEAD")


def _median_distance(pos: np.ndarray, a: str, b: str) -> float | None:
    d = np.linalg.norm(pos[:, _J[a]].astype(np.float64) - pos[:, _J[b]].astype(np.float64), axis=1)
    return float(np.nanmedian(d)) if _enough(d) else None


def body_size(pos: np.ndarray, values: dict, missing: dict) -> None:
    """Segment lengths (median over frames of the joint-to-joint distance; the skeleton's bones are rigid,
    so the median rejects tracking glitches), leg length (hip -> knee -> ankle) and an estimated stature:
    the joint chain ankle -> knee -> hip -> pelvis -> spine -> neck -> head, which leaves out the foot
    height and the crown above the HEAD joint (a proxy, proportional to stature, not a measurement of it)."""
    seg = {}
    for name, (a, b) in SEGMENTS.items():
        sides = [v for side in ("LEFT", "RIGHT") if (v := _median_distance(pos, f"{a}_{side}", f"{b}_{side}")) is not None]
        if sides:
            seg[name] = values[name] = float(np.mean(sides))
        else:
            missing[name] = f"{a.lower()} or {b.lower()} tracked for < 1 s on both sides"
    if "thigh_length_mm" in seg and "shank_length_mm" in seg:
        values["leg_length_mm"] = seg["thigh_length_mm"] + seg["shank_length_mm"]
    else:
        missing["leg_length_mm"] = "needs thigh and shank lengths"
    pelvis_hip = [v for side in ("LEFT", "RIGHT") if (v := _median_distance(pos, "PELVIS", f"HIP_{side}")) is not None]
    trunk = [_median_distance(pos, a, b) for a, b in zip(_TRUNK_CHAIN[:-1], _TRUNK_CHAIN[1:], strict=True)]
    if "leg_length_mm" in values and pelvis_hip and all(t is not None for t in trunk):
        values["estimated_stature_mm"] = values["leg_length_mm"] + float(np.mean(pelvis_hip)) + float(sum(trunk))
    else:
        missing["estimated_stature_mm"] = "needs the legs, hips and the pelvis-to-head chain tracked for >= 1 s"
