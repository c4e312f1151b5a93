"""Non-cyclic tasks: sit-to-stand from a chair and quiet standing (Romberg, eyes closed).

Sit-to-stand (30-s chair stand test, arms crossed on the chest): the feet stay flat on the floor; the
pelvis follows a smooth path from the seat (hip joints ~1 thigh length behind the ankles, at seat
height + 8 cm) to upright standing above the feet; the trunk flexes forward up to ~35-45 deg during
the momentum-transfer phase (Schenkman et al. 1990); the legs are solved by two-link inverse
kinematics in the sagittal plane (knee in front), the ankle keeps the foot flat. Repetitions in 30 s
follow the 30-s chair-stand norms (Rikli & Jones 1999: ~12-19 for ages 60-64, fewer with age), lowered
by BMI, frailty and sarcopenia.

Romberg eyes closed: feet together, arms at the sides; the body sways as an inverted pendulum about the
ankles (plus a small hip strategy and breathing). AP and ML sway angles are low-pass noise (0.05-1 Hz);
the RMS at the pelvis is ~4-6 mm (AP) for young adults with eyes closed and grows with age, poor
balance (frailty) and sleep debt (Prieto et al. 1996; Era et al. 2006).
"""

from __future__ import annotations

import numpy as np

from .anthropometry import Body
from .gait import D2R, _smooth_noise, ground_contact, upper_body_posture
from .skeleton import Pose, forward_kinematics


def _crossed_arms(pose: Pose) -> None:
    for s in ("l", "r"):
        pose[f"shoulder_flex_{s}"] = 35.0 * D2R
        pose[f"shoulder_abd_{s}"] = 10.0 * D2R
        pose[f"shoulder_introt_{s}"] = 70.0 * D2R
        pose[f"elbow_{s}"] = 115.0 * D2R


def sit_to_stand(body: Body, t: np.ndarray, reps_per_30s: float, rng: np.random.Generator | None,
                 thoracic_flex: float = 0.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Positions [T, 32, 3] (mm, floor y = 0, facing +z), a seated mask [T] and truth.

    One repetition = stand up, (brief) stand, sit down, (brief) sit; ``reps_per_30s`` sets the cycle.
    ``thoracic_flex``: the subject's upper-thorax flexion (kyphosis, deg; see gait.GaitParams)."""
    n = len(t)
    cycle = 30.0 / max(reps_per_30s, 1.0)
    t0 = 0.6 if rng is None else float(rng.uniform(0.3, 1.0))  # seated at the start
    u = np.clip((t - t[0] - t0) / cycle, 0, None)
    f = u - np.floor(u)
    # within a cycle: 0-0.42 rise, 0.42-0.5 stand, 0.5-0.92 sit down, 0.92-1 seated
    rise = np.where(f < 0.42, f / 0.42, np.where(f < 0.5, 1.0, np.where(f < 0.92, 1 - (f - 0.5) / 0.42, 0.0)))
    rise = np.where(t - t[0] < t0, 0.0, rise)
    s = rise * rise * (3 - 2 * rise)  # 0 seated .. 1 standing
    lean = np.sin(np.pi * np.clip(rise * 1.15, 0, 1)) ** 1.5  # forward trunk flexion peaks mid-rise
    lean_peak = 40.0 if rng is None else float(rng.uniform(32, 46))
    ankle_h = body.ankle_height
    seat = 0.25 * body.height_mm + 20.0  # seat top height ~ 0.25 H (standard 43-46 cm chair)
    # pelvis target in the sagittal plane (z forward from the ankles, y up)
    leg = body.thigh + body.shank
    seat_z = -0.92 * body.thigh
    seat_y = seat + 0.6 * body.hip_drop + 80.0
    stand_y = ankle_h + 0.995 * leg + body.hip_drop
    pz = (1 - s) * seat_z + s * (-0.02 * leg) + 60.0 * lean * (1 - s) * 1.5
    py = (1 - s) * seat_y + s * stand_y
    pose = Pose(n)
    trunk = (8.0 * (1 - s) + 3.0 * s + lean_peak * lean) * D2R
    pose["trunk_lean"] = trunk
    pose["pelvis_tilt"] = (trunk / D2R * 0.5 - 5.0 * (1 - s) + 8.0 * s) * D2R
    upper_body_posture(pose, thoracic_flex, -0.4 * trunk / D2R + 5.0)
    _crossed_arms(pose)
    hip_z = pz  # hip joint centres lie at the pelvis z (small tilt effect ignored)
    hip_y = py - body.hip_drop
    dz, dy = 0.0 - hip_z, ankle_h - hip_y  # ankle relative to hip (ankles at z = 0)
    d = np.sqrt(dz * dz + dy * dy)
    d = np.minimum(d, 0.999 * leg)
    l1, l2 = body.thigh, body.shank
    cosk = np.clip((d * d - l1 * l1 - l2 * l2) / (2 * l1 * l2), -1, 1)
    knee = np.arccos(np.clip(cosk, -1, 1))
    base = np.arctan2(dz, -dy)  # direction hip->ankle from straight down, forward +
    th = base + np.arcsin(np.clip(l2 * np.sin(knee) / np.maximum(d, 1e-6), -1, 1))  # thigh from vertical
    for sd in ("l", "r"):
        pose[f"hip_flex_{sd}"] = th + pose["pelvis_tilt"]
        pose[f"knee_{sd}"] = knee
        pose[f"ankle_{sd}"] = -(th - knee)  # keep the foot flat
        pose[f"hip_add_{sd}"] = -3.0 * D2R
        pose[f"foot_prog_{sd}"] = 8.0 * D2R
    root = np.stack([np.zeros(n), py, pz], -1)
    if rng is not None:
        root[:, 0] += _smooth_noise(rng, n, 4.0, 30)
    kin = forward_kinematics(body, pose, root=root)
    seated = s < 0.15
    truth = {"reps_per_30s": round(float(reps_per_30s), 3), "cycle_s": round(cycle, 3),
             "completed_reps": int(np.sum(np.diff(np.concatenate([[0.0], (s > 0.95).astype(float)])) > 0)),
             "seat_height_mm": round(seat, 1), "trunk_lean_peak_deg": round(lean_peak, 2)}
    return kin.joints, seated, truth


def romberg(body: Body, t: np.ndarray, sway_rms_mm: float, rng: np.random.Generator | None,
            thoracic_flex: float = 0.0, pelvis_tilt: float = 10.0) -> tuple[np.ndarray, dict]:
    """Quiet standing, feet together, eyes closed. ``sway_rms_mm``: AP RMS sway at the pelvis (mm);
    ML sway is 0.7 x AP. ``thoracic_flex`` / ``pelvis_tilt``: the subject's upper-thorax flexion and
    anterior pelvic tilt (deg). Returns positions [T, 32, 3] (mm) and truth."""
    n = len(t)
    fs = (n - 1) / max(t[-1] - t[0], 1e-9) if n > 1 else 30.0
    hip_h = body.thigh + body.shank
    if rng is not None:
        ap = _smooth_noise(rng, n, 1.0, int(fs * 1.2)) + 0.4 * _smooth_noise(rng, n, 1.0, int(fs * 0.4))
        ml = _smooth_noise(rng, n, 1.0, int(fs * 1.2)) + 0.4 * _smooth_noise(rng, n, 1.0, int(fs * 0.4))
        hipstr = _smooth_noise(rng, n, 0.3, int(fs * 0.5))
    else:
        ap = np.sin(2 * np.pi * 0.3 * t)
        ml = np.cos(2 * np.pi * 0.25 * t)
        hipstr = np.zeros(n)
    ap = ap / (np.std(ap) + 1e-12) * sway_rms_mm / hip_h  # angle (rad) at the ankle
    ml = ml / (np.std(ml) + 1e-12) * 0.7 * sway_rms_mm / hip_h
    ap += 1.5 * D2R  # slight forward lean about the ankles, as in quiet stance
    pose = Pose(n)
    tilt = pelvis_tilt * D2R
    pose["pelvis_tilt"] = tilt
    breath = 0.5 * D2R * np.sin(2 * np.pi * 0.25 * (t - t[0]))
    pose["trunk_lean"] = ap + hipstr * D2R + breath
    pose["trunk_lateral"] = -ml
    upper_body_posture(pose, thoracic_flex, 4.0)
    add = np.arcsin(np.clip((body.hip_half_width - 45.0) / hip_h, -0.5, 0.5))
    for s in ("l", "r"):
        pose[f"hip_flex_{s}"] = tilt - ap + hipstr * D2R  # thigh leans forward with the body
        pose[f"knee_{s}"] = 2.0 * D2R
        pose[f"ankle_{s}"] = ap - 2.0 * D2R + 2.0 * D2R
        pose[f"shoulder_abd_{s}"] = 4.0 * D2R
        pose[f"elbow_{s}"] = 10.0 * D2R
        pose[f"foot_prog_{s}"] = 4.0 * D2R
    pose["hip_add_l"] = add - ml
    pose["hip_add_r"] = add + ml
    kin = forward_kinematics(body, pose)
    w = np.full(n, 0.5)
    root = ground_contact(kin, w, np.zeros(n), w, np.zeros(n))
    root[:, [0, 2]] -= root[0, [0, 2]]
    pos = kin.joints + root[:, None, :]
    truth = {"sway_rms_ap_mm": round(float(np.std(pos[:, 0, 2])), 3),
             "sway_rms_ml_mm": round(float(np.std(pos[:, 0, 0])), 3), "sway_target_ap_mm": round(sway_rms_mm, 3)}
    return pos, truth
