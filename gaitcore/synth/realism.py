"""Statistics that compare synthetic and real skeleton recordings, and the normative-range check.

All functions take canonical sessions (``gaitcore.sessionfile.Session``: AZURE32 joints, mm), so
synthetic Azure-like sessions and imported Kinect v2 recordings are measured the same way.

* ``bone_length_cv``: per bone, SD / mean of its length over frames (a rigid skeleton has 0; a depth
  sensor's per-frame joint estimates make bones "breathe"); median over the 8 limb bones.
* ``jitter_mm``: RMS of each joint coordinate above 8 Hz (4th-order Butterworth high-pass, zero
  phase), i.e. high-frequency power that gait itself barely has; by joint group.
* ``low_conf_share``: share of (frame, joint) samples with confidence LOW or NONE among the joints the
  sensor provides (joints NONE throughout are not provided, e.g. Kinect v2 has no ears/eyes).
* ``knee_range_deg``: 2.5-97.5 percentile range of 3D knee flexion (180 deg - hip-knee-ankle angle).
* Gait-cycle curves: heel strikes from the forward-most ankle position relative to the pelvis (Zeni,
  Richards & Higginson 2008, Gait Posture 27:710-714) in the preprocessed body frame; sagittal hip
  flexion (thigh relative to the trunk) and knee flexion resampled to 0..100 % of each cycle.
"""

from __future__ import annotations

import numpy as np

from ..schemas import AZURE32, Confidence
from ..sessionfile import Session

J = AZURE32.index
LIMB_BONES = [(f"{a}_{s}", f"{b}_{s}") for s in ("LEFT", "RIGHT")
              for a, b in (("HIP", "KNEE"), ("KNEE", "ANKLE"), ("SHOULDER", "ELBOW"), ("ELBOW", "WRIST"))]
JITTER_GROUPS = {
    "torso": ("PELVIS", "SPINE_NAVEL", "SPINE_CHEST", "NECK"),
    "head": ("HEAD",),
    "shoulders_elbows": ("SHOULDER_LEFT", "SHOULDER_RIGHT", "ELBOW_LEFT", "ELBOW_RIGHT"),
    "wrists": ("WRIST_LEFT", "WRIST_RIGHT"),
    "hips_knees": ("HIP_LEFT", "HIP_RIGHT", "KNEE_LEFT", "KNEE_RIGHT"),
    "ankles_feet": ("ANKLE_LEFT", "ANKLE_RIGHT", "FOOT_LEFT", "FOOT_RIGHT"),
}


def _valid(session: Session) -> np.ndarray:
    p = session.positions
    return (session.confidence > 0) & np.all(np.isfinite(p), -1) & (np.abs(p).max(-1) < 1e5)


def bone_length_cv(session: Session) -> float:
    """Median over limb bones of SD/mean of the bone length over frames (fraction)."""
    p, ok = session.positions.astype(np.float64), _valid(session)
    cvs = []
    for a, b in LIMB_BONES:
        m = ok[:, J(a)] & ok[:, J(b)]
        if m.sum() < 10:
            continue
        ln = np.linalg.norm(p[m, J(a)] - p[m, J(b)], axis=-1)
        cvs.append(float(np.std(ln) / np.mean(ln)))
    return float(np.median(cvs)) if cvs else float("nan")


def jitter_mm(session: Session, cutoff_hz: float = 8.0, fs: float = 30.0) -> dict[str, float]:
    """RMS (mm) of the joint coordinates' content above ``cutoff_hz``, median within joint groups."""
    from scipy.signal import butter, sosfiltfilt

    p, ok = session.positions.astype(np.float64), _valid(session)
    if len(p) < 40:
        return {g: float("nan") for g in JITTER_GROUPS}
    sos = butter(4, cutoff_hz, "highpass", fs=fs, output="sos")
    out = {}
    for g, names in JITTER_GROUPS.items():
        vals = []
        for n in names:
            j = J(n)
            if ok[:, j].mean() < 0.9:
                continue
            x = p[:, j].copy()
            bad = ~ok[:, j]
            if bad.any():
                idx = np.arange(len(x))
                for k in range(3):
                    x[bad, k] = np.interp(idx[bad], idx[~bad], x[~bad, k])
            hf = sosfiltfilt(sos, x, axis=0)[5:-5]
            vals.append(float(np.sqrt(np.mean(np.sum(hf ** 2, -1)))))
        out[g] = float(np.median(vals)) if vals else float("nan")
    return out


def low_conf_share(session: Session) -> float:
    """Share of LOW/NONE samples among the joints the sensor provides."""
    c = session.confidence
    provided = (c > 0).any(0)
    if not provided.any():
        return float("nan")
    return float(np.mean(c[:, provided] <= Confidence.LOW))


def knee_flexion(pos: np.ndarray, side: str) -> np.ndarray:
    """3D knee flexion (deg) [T] from positions [T, 32, 3]."""
    h, k, a = pos[:, J(f"HIP_{side}")], pos[:, J(f"KNEE_{side}")], pos[:, J(f"ANKLE_{side}")]
    u, v = h - k, a - k
    cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-9)
    return 180.0 - np.degrees(np.arccos(np.clip(cos, -1, 1)))


def knee_range_deg(session: Session) -> float:
    p, ok = session.positions.astype(np.float64), _valid(session)
    rng = []
    for s in ("LEFT", "RIGHT"):
        m = ok[:, J(f"HIP_{s}")] & ok[:, J(f"KNEE_{s}")] & ok[:, J(f"ANKLE_{s}")]
        if m.sum() < 20:
            continue
        k = knee_flexion(p[m], s)
        rng.append(float(np.percentile(k, 97.5) - np.percentile(k, 2.5)))
    return float(np.mean(rng)) if rng else float("nan")


def hip_flexion_body(pos: np.ndarray, side: str) -> np.ndarray:
    """Sagittal hip flexion (deg) [T]: thigh relative to the trunk, in a body frame (x forward, z up)."""
    th = pos[:, J(f"KNEE_{side}")] - pos[:, J(f"HIP_{side}")]
    tr = pos[:, J("SPINE_CHEST")] - pos[:, J("PELVIS")]
    return np.degrees(np.arctan2(th[:, 0], -th[:, 2]) + np.arctan2(tr[:, 0], tr[:, 2]))


def gait_cycles(pos: np.ndarray, fs: float = 30.0, n: int = 101) -> dict[str, np.ndarray]:
    """Hip and knee flexion curves per gait cycle, [cycles, n] each, from body-frame positions
    [T, 32, 3] (x forward, z up; NaN where missing). Cycles start at heel strike (Zeni et al. 2008)."""
    from scipy.signal import find_peaks

    out = {"hip": [], "knee": []}
    for s in ("LEFT", "RIGHT"):
        rel = pos[:, J(f"ANKLE_{s}"), 0] - pos[:, J("PELVIS"), 0]
        if np.isnan(rel).mean() > 0.2 or len(rel) < fs:
            continue
        idx = np.arange(len(rel))
        good = ~np.isnan(rel)
        rel = np.interp(idx, idx[good], rel[good])
        hs, _ = find_peaks(rel, distance=int(0.7 * fs), prominence=150.0)
        hip = hip_flexion_body(pos, s)
        knee = knee_flexion(pos, s)
        for a, b in zip(hs[:-1], hs[1:], strict=False):
            if not (0.7 * fs <= b - a <= 1.8 * fs):
                continue
            seg_h, seg_k = hip[a:b + 1], knee[a:b + 1]
            if np.isnan(seg_h).any() or np.isnan(seg_k).any():
                continue
            x = np.linspace(0, 1, b - a + 1)
            g = np.linspace(0, 1, n)
            out["hip"].append(np.interp(g, x, seg_h))
            out["knee"].append(np.interp(g, x, seg_k))
    return {k: np.array(v).reshape(-1, n) for k, v in out.items()}


def walk_stats(session: Session) -> dict[str, float]:
    """All realism statistics of one walk (raw, unprocessed session)."""
    d = {"bone_length_cv": bone_length_cv(session), "low_conf_share": low_conf_share(session),
         "knee_range_deg": knee_range_deg(session), "frames": session.n_frames}
    d.update({f"jitter_{k}_mm": v for k, v in jitter_mm(session).items()})
    return d
