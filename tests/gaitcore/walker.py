"""A small kinematic test walker with KNOWN gait parameters (test helper, not a test module).

The walker is built in a body/world frame with x forward, y left, z up (millimetres, z = 0 the floor),
then transformed into whichever sensor frame a test wants (y-up camera, y-down Azure camera, z-up
floor frame, a camera panning with the walker). Its feet have real heel-strike / toe-off geometry:
the heel (ANKLE joint) lands first with the toe up, the foot is flat in mid-stance, the heel rises
about the toe before toe-off, and the swing foot clears the floor. Hip/knee positions come from
two-link inverse kinematics so that bone lengths stay constant.

Known truth for a walk: cadence = 120 / stride_time (steps/min); step length = speed * stride_time / 2
(m); stride length = speed * stride_time; step width = hip width (m); stance fraction as given.
"""

from __future__ import annotations

import numpy as np

from gaitcore.schemas import AZURE32
from gaitcore.sessionfile import Session, TaskSegment

J = {n: i for i, n in enumerate(AZURE32.joints)}
FS = 30.0

THIGH, SHANK = 450.0, 440.0
ANKLE_H = 80.0  # ankle joint height above the floor with the foot flat (mm)
FOOT_LEN = 150.0  # ankle -> FOOT (toe) joint, mm
HIP_HALF = 90.0  # half the hip width (mm)


def _minjerk(s: np.ndarray) -> np.ndarray:
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def _foot(phase: np.ndarray, speed: float, stride_t: float, stance: float):
    """Ankle x (relative to the pelvis), ankle z and toe x, z for a foot at gait ``phase`` in [0, 1).

    Phase 0 is heel strike, ``stance`` is toe-off. Returns arrays [T] in mm (x relative to pelvis).
    """
    half = speed * stride_t * stance / 2.0  # AP excursion of the foot relative to the pelvis during stance
    x = np.empty_like(phase)
    pitch = np.zeros_like(phase)  # foot pitch, radians, positive = toe up
    st = phase < stance
    s = phase[st] / stance
    x[st] = half - 2 * half * s
    # heel rocker (toe up 15 deg -> flat over the first 12 % of stance), heel rise over the last 35 %
    p = np.zeros_like(s)
    early = s < 0.12
    p[early] = np.deg2rad(15) * (1 - s[early] / 0.12)
    late = s > 0.65
    p[late] = -np.deg2rad(35) * ((s[late] - 0.65) / 0.35) ** 1.5
    pitch[st] = p
    sw = ~st
    u = (phase[sw] - stance) / (1 - stance)
    x[sw] = -half + 2 * half * _minjerk(u)
    pitch[sw] = -np.deg2rad(35) + np.deg2rad(50) * _minjerk(np.clip(u / 0.9, 0, 1))
    clearance = np.zeros_like(phase)
    clearance[sw] = 60.0 * np.sin(np.pi * u) ** 1.2
    # geometry: in stance with toe up the heel is on the floor; with heel up the toe is on the floor
    ankle_z = np.full_like(phase, ANKLE_H)
    toe_x = x + FOOT_LEN * np.cos(pitch)
    toe_z = ankle_z + FOOT_LEN * np.sin(pitch) - 50.0  # toe joint sits lower than the ankle when flat
    heel_up = pitch < 0
    ankle_z[heel_up] += -FOOT_LEN * np.sin(pitch[heel_up])
    toe_z[heel_up] = ANKLE_H - 50.0
    x_out = x.copy()
    # pivoting about the toe moves the ankle back a little; keep the toe fixed
    x_out[heel_up] = toe_x[heel_up] - FOOT_LEN * np.cos(pitch[heel_up])
    ankle_z += clearance
    toe_z += clearance
    return x_out, ankle_z, toe_x, toe_z


def _ik_knee(hip: np.ndarray, ankle: np.ndarray) -> np.ndarray:
    """Knee position [T, 3] for a leg from hip to ankle, bending forward (+x)."""
    d = ankle - hip
    L = np.linalg.norm(d, axis=1)
    L = np.minimum(L, THIGH + SHANK - 1e-3)
    a = (THIGH**2 - SHANK**2 + L**2) / (2 * L)
    h = np.sqrt(np.maximum(THIGH**2 - a**2, 0))
    u = d / np.linalg.norm(d, axis=1, keepdims=True)
    fwd = np.array([1.0, 0, 0])
    perp = fwd - (u @ fwd)[:, None] * u
    perp /= np.linalg.norm(perp, axis=1, keepdims=True)
    return hip + a[:, None] * u + h[:, None] * perp


def walk_body(
    duration_s: float = 20.0,
    cadence: float = 110.0,
    step_length_m: float = 0.65,
    stance: float = 0.62,
    treadmill: bool = True,
    step_width_m: float = 2 * HIP_HALF / 1000,
    arm_swing_deg: tuple[float, float] = (20.0, 20.0),
    in_place: bool = False,
    right_step_delay: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """Positions [T, 32, 3] mm in the body/world frame (x forward, y left, z up, z = 0 floor).

    ``treadmill``: pelvis stays put, the feet move back with the belt. Otherwise the pelvis travels
    forward at speed = step length x cadence. ``in_place``: walking in place (no AP foot motion, high
    knee lift). ``right_step_delay``: phase of the right heel strike after the left one (0.5 = symmetric).
    """
    rng = np.random.default_rng(seed)
    T = int(round(duration_s * FS))
    t = np.arange(T) / FS
    stride_t = 120.0 / cadence
    speed = 0.0 if in_place else step_length_m * 1000 * 2 / stride_t  # mm/s
    ph_l = (t / stride_t + 0.05) % 1.0
    ph_r = (ph_l - right_step_delay) % 1.0
    lx, lz, ltx, ltz = _foot(ph_l, speed, stride_t, stance)
    rx, rz, rtx, rtz = _foot(ph_r, speed, stride_t, stance)
    if in_place:
        for ph, z, tz in ((ph_l, lz, ltz), (ph_r, rz, rtz)):
            sw = ph >= stance
            u = (ph[sw] - stance) / (1 - stance)
            z[sw] += 100 * np.sin(np.pi * u)
            tz[sw] += 100 * np.sin(np.pi * u)
    half_w = step_width_m * 1000 / 2
    P = np.zeros((T, 32, 3))
    pel_x = speed * t if not treadmill else np.zeros(T)
    pel_y = 20.0 * np.sin(2 * np.pi * (ph_l - 0.1))  # ML sway at stride frequency (towards stance leg)
    ankle_l = np.stack([pel_x + lx, pel_y * 0 + half_w, lz], 1)
    ankle_r = np.stack([pel_x + rx, pel_y * 0 - half_w, rz], 1)
    toe_l = np.stack([pel_x + ltx, np.full(T, half_w + 10), ltz], 1)
    toe_r = np.stack([pel_x + rtx, np.full(T, -half_w - 10), rtz], 1)
    # pelvis height: as high as both legs allow, with the usual double-bump vertical oscillation
    hip_off = np.array([0.0, HIP_HALF, -60.0])
    hz = 870 + 12 * np.cos(4 * np.pi * ph_l)
    for ank, side in ((ankle_l, 1), (ankle_r, -1)):
        dx = ank[:, 0] - pel_x
        dy = ank[:, 1] - (pel_y + side * HIP_HALF)
        reach = np.sqrt(np.maximum((THIGH + SHANK - 15) ** 2 - dx**2 - dy**2, 0))
        hz = np.minimum(hz, ank[:, 2] + reach + 60.0)
    pelvis = np.stack([pel_x, pel_y, hz], 1)
    P[:, J["PELVIS"]] = pelvis
    hip_l = pelvis + hip_off
    hip_r = pelvis + hip_off * [1, -1, 1]
    P[:, J["HIP_LEFT"]], P[:, J["HIP_RIGHT"]] = hip_l, hip_r
    P[:, J["ANKLE_LEFT"]], P[:, J["ANKLE_RIGHT"]] = ankle_l, ankle_r
    P[:, J["FOOT_LEFT"]], P[:, J["FOOT_RIGHT"]] = toe_l, toe_r
    P[:, J["KNEE_LEFT"]] = _ik_knee(hip_l, ankle_l)
    P[:, J["KNEE_RIGHT"]] = _ik_knee(hip_r, ankle_r)
    lean = 10.0 * np.sin(4 * np.pi * ph_l)  # small AP trunk oscillation (mm)
    for name, h in (("SPINE_NAVEL", 200), ("SPINE_CHEST", 380), ("NECK", 560)):
        P[:, J[name]] = pelvis + np.stack([lean * h / 560, pel_y * 0.3 * h / 560, np.full(T, h)], 1)
    neck = P[:, J["NECK"]]
    P[:, J["HEAD"]] = neck + [20, 0, 130]
    P[:, J["NOSE"]] = P[:, J["HEAD"]] + [100, 0, -20]
    P[:, J["EYE_LEFT"]] = P[:, J["HEAD"]] + [80, 35, 10]
    P[:, J["EYE_RIGHT"]] = P[:, J["HEAD"]] + [80, -35, 10]
    P[:, J["EAR_LEFT"]] = P[:, J["HEAD"]] + [0, 75, 0]
    P[:, J["EAR_RIGHT"]] = P[:, J["HEAD"]] + [0, -75, 0]
    chest = P[:, J["SPINE_CHEST"]]
    for side, s, ph, amp in (("LEFT", 1, ph_r, arm_swing_deg[0]), ("RIGHT", -1, ph_l, arm_swing_deg[1])):
        # each arm swings with the contralateral leg: forward when the other foot is forward
        ang = np.deg2rad(amp) * np.cos(2 * np.pi * ph)
        clav = chest + [0, s * 40, 120]
        sho = chest + [0, s * 180, 130]
        elb = sho + np.stack([280 * np.sin(ang), np.zeros(T), -280 * np.cos(ang)], 1)
        ang2 = ang * 1.3 + np.deg2rad(10)
        wri = elb + np.stack([250 * np.sin(ang2), np.zeros(T), -250 * np.cos(ang2)], 1)
        hand = wri + np.stack([60 * np.sin(ang2), np.zeros(T), -60 * np.cos(ang2)], 1)
        P[:, J[f"CLAVICLE_{side}"]] = clav
        P[:, J[f"SHOULDER_{side}"]] = sho
        P[:, J[f"ELBOW_{side}"]] = elb
        P[:, J[f"WRIST_{side}"]] = wri
        P[:, J[f"HAND_{side}"]] = hand
        P[:, J[f"HANDTIP_{side}"]] = hand + np.stack([40 * np.sin(ang2), np.zeros(T), -40 * np.cos(ang2)], 1)
        P[:, J[f"THUMB_{side}"]] = hand + [30, 0, 0]
    P += rng.normal(0, 1.0, P.shape)  # 1 mm tracking noise
    return P


def stand_body(duration_s: float = 30.0, sway_ml_mm: float = 15.0, sway_ap_mm: float = 10.0,
               seed: int = 0) -> np.ndarray:
    """Quiet standing (Romberg) with body sway about the ankles: [T, 32, 3] mm, body frame."""
    P = walk_body(duration_s=duration_s, in_place=True, seed=seed, arm_swing_deg=(0.0, 0.0))
    T = P.shape[0]
    t = np.arange(T) / FS
    # stand still: freeze legs into a quiet stance pose, then sway everything above the ankles
    base = walk_body(duration_s=1 / FS, in_place=True, seed=seed, arm_swing_deg=(0.0, 0.0), stance=0.99)[0]
    P[:] = base
    P[:, J["ANKLE_LEFT"], 0] = P[:, J["ANKLE_RIGHT"], 0] = 0.0
    ml = sway_ml_mm * np.sin(2 * np.pi * 0.3 * t)
    ap = sway_ap_mm * np.sin(2 * np.pi * 0.2 * t + 1.0)
    above = [j for j in range(32) if j not in (J["ANKLE_LEFT"], J["ANKLE_RIGHT"], J["FOOT_LEFT"], J["FOOT_RIGHT"])]
    h = P[:, above, 2] / 900.0  # sway grows with height (inverted pendulum)
    P[:, above, 0] += ap[:, None] * h
    P[:, above, 1] += ml[:, None] * h
    P += np.random.default_rng(seed + 1).normal(0, 0.5, P.shape)
    return P


def sit_to_stand_body(duration_s: float = 30.0, reps: int = 10, seed: int = 0) -> np.ndarray:
    """Repeated sit-to-stand: ``reps`` full cycles (sit -> stand -> sit) evenly spread. [T, 32, 3] mm."""
    base = stand_body(duration_s, 0.0, 0.0, seed)
    T = base.shape[0]
    t = np.arange(T) / FS
    period = duration_s / reps
    # standing fraction s(t) in [0, 1]: 0 seated, 1 standing; one smooth bump per period
    s = 0.5 - 0.5 * np.cos(2 * np.pi * (t % period) / period)
    P = base.copy()
    drop = 420.0 * (1 - s)  # seated pelvis is 420 mm lower
    back = 250.0 * (1 - s)  # and 250 mm further back
    upper = [j for j in range(32) if AZURE32.joints[j] not in
             ("KNEE_LEFT", "KNEE_RIGHT", "ANKLE_LEFT", "ANKLE_RIGHT", "FOOT_LEFT", "FOOT_RIGHT")]
    P[:, upper, 2] -= drop[:, None]
    P[:, upper, 0] -= back[:, None]
    for side in ("LEFT", "RIGHT"):
        P[:, J[f"KNEE_{side}"]] = _ik_knee(P[:, J[f"HIP_{side}"]], P[:, J[f"ANKLE_{side}"]])
    return P


# --- sensor frames ---------------------------------------------------------------------------------
def _rot_z(a: np.ndarray | float) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def to_frame(P: np.ndarray, kind: str, yaw_deg: float = 30.0, distance_mm: float = 3000.0) -> np.ndarray:
    """Express body/world positions [T, 32, 3] in a sensor frame.

    kinds: ``floor_z_up`` (z up, walking direction rotated by ``yaw_deg`` about z),
    ``camera_y_up`` (Kinect v2 style: x left-ish, y up, z away from the camera),
    ``camera_y_down`` (Azure depth camera: x right, y down, z forward), ``panning`` (y-down camera that
    yaws to keep the walker in the centre of view, plus a 10 deg downward tilt).
    """
    if kind == "floor_z_up":
        return P @ _rot_z(np.deg2rad(yaw_deg)).T + [500.0, -200.0, 0.0]
    # world (x fwd, y left, z up) with the walker in front of the camera, then camera axes
    Q = P @ _rot_z(np.deg2rad(yaw_deg)).T + [distance_mm, 0.0, -1000.0]  # camera at 1 m height
    if kind == "panning":
        # camera yaws to follow the pelvis: rotate each frame by -atan2(y, x) of the pelvis
        pel = Q[:, 0]
        ang = -np.arctan2(pel[:, 1], pel[:, 0])
        Q = np.einsum("tij,tkj->tki", _rot_z(ang), Q)
        kind = "camera_y_down"
        tilt = np.deg2rad(10)
        c, s = np.cos(tilt), np.sin(tilt)
        Q = Q @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]).T
    # camera looks along world +x (depth); world y left, z up
    if kind == "camera_y_down":  # x right = -y_world, y down = -z_world, z forward = x_world
        return np.stack([-Q[..., 1], -Q[..., 2], Q[..., 0]], -1)
    if kind == "camera_y_up":  # Kinect v2 camera space: x to the sensor's left, y up, z forward
        return np.stack([Q[..., 1], Q[..., 2], Q[..., 0]], -1)
    raise ValueError(kind)


def make_session(P: np.ndarray, task: str = "treadmill_3kmh", metadata: dict | None = None,
                 session_id: str = "walker", conf: int = 2) -> Session:
    T = P.shape[0]
    ts = np.round(np.arange(T) * 1e6 / FS).astype(np.int64)
    return Session(P.astype(np.float32), np.full((T, 32), conf, np.uint8), ts, "subj01", "synthetic",
                   [TaskSegment(task, 0, T)], dict(metadata or {}), session_id)
