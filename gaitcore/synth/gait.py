"""Cyclic locomotion: walking (overground and on a treadmill) and walking in place.

How a walk is made (all vectorised over frames):

1. Stride timing. Stride durations vary from stride to stride (coefficient of variation
   ``GaitParams.stride_cv``); the left leg's phase is the continuous stride count, the right leg's is
   offset by half a cycle (plus the step-timing asymmetry).
2. Joint angles. The normative sagittal curves of :mod:`curves` are time-warped so that toe-off falls
   at the subject's stance fraction; hip and knee excursions are scaled by a gain ``k`` that is solved
   for so that the realised step length equals the target (longer steps = larger hip excursion, as in
   real gait); per-stride amplitude noise and a left/right amplitude asymmetry are applied. Pelvis
   tilt/obliquity/rotation, hip ad/abduction, trunk counter-rotation and lateral sway, arm swing (in
   antiphase to the ipsilateral leg) and elbow flexion are phase-locked sinusoids of published size.
3. Ground contact. Forward kinematics gives the skeleton relative to the pelvis. The stance foot must
   not slide: the contact point rolls from the heel to the toe during stance and the pelvis moves
   exactly opposite to the stance contact point's motion (weights blend linearly through double
   support). The pelvis's height keeps the contact point on the floor. Speed therefore *emerges* as
   step length x cadence with the physiological within-stride speed fluctuation and ~3-4 cm vertical
   pelvis excursion; on a treadmill the mean speed (the belt's) is subtracted so the pelvis stays in
   place and the stance foot moves backwards with the belt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .anthropometry import Body
from .curves import MEANS, TOE_OFF, curve, warp_phase
from .skeleton import Kinematics, Pose, forward_kinematics

D2R = np.pi / 180.0


@dataclass(frozen=True)
class GaitParams:
    """A subject's gait for one task (the generator's truth).

    cadence: steps/min; step_length: m; stance: stance fraction of the cycle (toe-off);
    step_width: m (between ankle centres); arm_swing: shoulder flexion amplitude, deg (half range);
    trunk_sway: lateral trunk sway amplitude, deg; trunk_lean: forward trunk inclination, deg;
    neck_flex: head flexion, deg; stride_cv: stride-time coefficient of variation (fraction);
    asymmetry: left/right step amplitude asymmetry (fraction, + = left longer); knee_gain: swing knee
    flexion multiplier; foot_prog: toe-out angle, deg; pelvis_tilt: mean anterior tilt, deg;
    pelvis_obliquity / pelvis_rotation: amplitudes, deg.

    Speed-independent ageing (generator 1.1, see docs/synthetic-cohort.md): thoracic_flex: forward
    flexion of the upper thorax (kyphosis beyond the reference), deg, with the neck extending by
    ``GAZE_COMPENSATION`` of it to keep the gaze level; hip_ext_loss: terminal-stance hip
    flexion offset (less peak extension), deg; pushoff_loss: toe-off ankle offset towards
    dorsiflexion (less push-off plantarflexion), deg. All 0 reproduces generator 1.0."""

    cadence: float
    step_length: float
    stance: float = 0.61
    step_width: float = 0.10
    arm_swing: float = 16.0
    trunk_sway: float = 1.5
    trunk_lean: float = 4.0
    neck_flex: float = 5.0
    stride_cv: float = 0.02
    asymmetry: float = 0.0
    knee_gain: float = 1.0
    foot_prog: float = 6.0
    pelvis_tilt: float = 10.0
    pelvis_obliquity: float = 4.0
    pelvis_rotation: float = 5.0
    thoracic_flex: float = 0.0
    hip_ext_loss: float = 0.0
    pushoff_loss: float = 0.0

    @property
    def stride_time(self) -> float:
        return 120.0 / self.cadence

    @property
    def speed(self) -> float:
        return self.step_length * self.cadence / 60.0

    @property
    def double_support(self) -> float:
        """Double-support share of the cycle (two periods of stance - 0.5 each)."""
        return 2.0 * (self.stance - 0.5)


GAZE_COMPENSATION = 0.7  # share of the upper-thorax flexion the neck takes back (forward head posture)


def _bump(template_phase: np.ndarray, centre: float, sd: float) -> np.ndarray:
    """Periodic Gaussian bump (peak 1) over the template cycle."""
    d = np.mod(template_phase - centre + 0.5, 1.0) - 0.5
    return np.exp(-0.5 * (d / sd) ** 2)


def upper_body_posture(pose: Pose, thoracic_flex: float, neck_flex: np.ndarray | float) -> None:
    """Set the upper thorax's flexion and the neck's (deg), the neck taking back part of the kyphosis."""
    pose["thoracic_flex"] = thoracic_flex * D2R
    pose["neck_flex"] = (np.asarray(neck_flex) - GAZE_COMPENSATION * thoracic_flex) * D2R


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def stance_weights(phase: np.ndarray, stance: float) -> np.ndarray:
    """Weight of one leg in carrying the body [T], given its cycle phase (0 = its initial contact).

    Ramps 0->1 over the loading double support and 1->0 over pre-swing; the two legs' weights sum to
    1 when their phases are half a cycle apart."""
    ph = np.mod(phase, 1.0)
    ds = max(stance - 0.5, 1e-3)
    return np.where(ph < ds, ph / ds, np.where(ph < stance - ds, 1.0, np.where(ph < stance, (stance - ph) / ds, 0.0)))


def heel_to_toe(template_phase: np.ndarray) -> np.ndarray:
    """Pivot of the stance foot [T]: 0 = heel (heel rocker, foot flat), 1 = toe (after heel-off at
    ~26-40 % of the template cycle)."""
    return _smoothstep((np.mod(template_phase, 1.0) - 0.26) / 0.14)


def ground_contact(kin: Kinematics, w_l: np.ndarray, roll_l: np.ndarray, w_r: np.ndarray,
                   roll_r: np.ndarray, smooth: int = 0) -> np.ndarray:
    """Pelvis trajectory [T, 3] (mm) that keeps the loaded foot still on the floor (y = 0).

    Each foot pivots about its heel (``roll`` = 0) and then about its toe (``roll`` = 1); the pivot's
    motion relative to the pelvis, weighted by how much each leg carries, is integrated (negated) into
    the pelvis's horizontal path (starting at 0). Blending the *velocities* of material points, not
    their positions, means the switch of pivot during foot-flat adds no artificial progression.
    Vertical: minus the weighted pivot height."""
    tot = np.maximum(w_l + w_r, 1e-9)
    wl, wr = w_l / tot, w_r / tot
    d = np.zeros((max(len(w_l) - 1, 0), 3))
    y = np.zeros(len(w_l))
    for w, roll, heel, toe in ((wl, roll_l, kin.heel_l, kin.toe_l), (wr, roll_r, kin.heel_r, kin.toe_r)):
        rm = (0.5 * (roll[1:] + roll[:-1]))[:, None]
        wm = (0.5 * (w[1:] + w[:-1]))[:, None]
        d += wm * ((1 - rm) * np.diff(heel, axis=0) + rm * np.diff(toe, axis=0))
        y += w * ((1 - roll) * heel[:, 1] + roll * toe[:, 1])
    if smooth > 1 and len(d) > smooth:
        # the pivot switch (heel -> toe) is not exactly at foot-flat: a short moving average of the
        # horizontal velocity removes the spike at the cost of < 1 cm of toe slip
        from scipy.ndimage import uniform_filter1d

        d[:, [0, 2]] = uniform_filter1d(d[:, [0, 2]], smooth, axis=0, mode="nearest")
    root = np.zeros((len(w_l), 3))
    root[1:] = -np.cumsum(d, axis=0)
    root[:, 1] = -y
    return root


def _stride_phase(t: np.ndarray, stride_time: float, cv: float, rng: np.random.Generator | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Continuous stride count at times ``t`` [T] (s) and per-stride amplitude factors [T]."""
    n = int(np.ceil((t[-1] - t[0]) / stride_time)) + 3 if len(t) else 3
    if rng is None:
        dur, amp, t0 = np.full(n, stride_time), np.ones(n + 1), 0.0
    else:
        dur = stride_time * np.clip(1.0 + cv * rng.standard_normal(n), 0.7, 1.3)
        amp = 1.0 + 0.7 * cv * rng.standard_normal(n + 1)
        t0 = float(rng.uniform(0, stride_time))
    bounds = np.concatenate([[t[0] - t0], t[0] - t0 + np.cumsum(dur)])
    count = np.interp(t, bounds, np.arange(n + 1))
    return count, np.interp(count, np.arange(n + 1), amp)


def walking_pose(gp: GaitParams, phase_l: np.ndarray, phase_r: np.ndarray, amp: np.ndarray,
                 gain: float, trunk_noise: np.ndarray | None = None, warp=None) -> Pose:
    """Joint angles [T] of a walk; phases are continuous stride counts (0 = that leg's contact);
    ``warp`` maps cycle phase to template phase (default: linear stance/swing warping)."""
    n = len(phase_l)
    pose = Pose(n)
    fl, fr = np.mod(phase_l, 1.0), np.mod(phase_r, 1.0)
    two_pi = 2 * np.pi
    side_amp = {"l": 1.0 + 0.5 * gp.asymmetry, "r": 1.0 - 0.5 * gp.asymmetry}
    for s, f in (("l", fl), ("r", fr)):
        tp = warp(f) if warp is not None else warp_phase(f, gp.stance)
        a = amp * side_amp[s]
        hip = MEANS["hip"] + gain * a * (curve("hip", tp) - MEANS["hip"]) + gp.hip_ext_loss * _bump(tp, 0.53, 0.07)
        kg = gp.knee_gain * (0.6 + 0.4 * gain) * a
        knee = np.maximum(0.0, MEANS["knee"] + kg * (curve("knee", tp) - MEANS["knee"]))
        pose[f"hip_flex_{s}"] = hip * D2R  # template hip angle is relative to the pelvis
        pose[f"knee_{s}"] = knee * D2R
        pose[f"ankle_{s}"] = (curve("ankle", tp) + gp.pushoff_loss * _bump(tp, 0.62, 0.05)) * D2R
        # adduction through stance (loading), abduction in swing; the static part sets the step width
        pose[f"hip_add_{s}"] = (4.0 * np.sin(two_pi * (f + 0.05))) * D2R
        pose[f"foot_prog_{s}"] = gp.foot_prog * D2R
        # arm: antiphase to the ipsilateral hip; the elbow flexes more when the arm is forward
        sw = -np.cos(two_pi * (f - 0.04))
        pose[f"shoulder_flex_{s}"] = (-3.0 + gp.arm_swing * a * sw) * D2R
        pose[f"shoulder_abd_{s}"] = 6.0 * D2R
        pose[f"elbow_{s}"] = (22.0 + 0.6 * gp.arm_swing * (1 + sw) * 0.5) * D2R
    pose["pelvis_tilt"] = (gp.pelvis_tilt + 1.5 * np.sin(2 * two_pi * (fl - 0.05))) * D2R
    pose["pelvis_obliquity"] = gp.pelvis_obliquity * np.sin(two_pi * (fl + 0.05)) * D2R
    pose["pelvis_rotation"] = gp.pelvis_rotation * gain * np.cos(two_pi * fl) * D2R
    lat = gp.trunk_sway * np.sin(two_pi * (fl - 0.2))
    if trunk_noise is not None:
        lat = lat + trunk_noise
    pose["trunk_lateral"] = lat * D2R
    pose["trunk_rotation"] = -0.6 * gp.pelvis_rotation * gain * np.cos(two_pi * fl) * D2R
    pose["trunk_lean"] = (gp.trunk_lean + 1.0 * np.sin(2 * two_pi * (fl - 0.1))) * D2R
    upper_body_posture(pose, gp.thoracic_flex, gp.neck_flex - gp.trunk_lean * 0.5 - 1.0 * np.sin(2 * two_pi * (fl - 0.1)))
    return pose


def _step_width_offset(body: Body, gp: GaitParams) -> float:
    """Static hip adduction (rad) that brings the ankles ``step_width`` apart."""
    leg = body.thigh + body.shank
    return float(np.arcsin(np.clip((body.hip_half_width - 500.0 * gp.step_width) / leg, -0.5, 0.5)))


STANCE_RETIMING = 1.0  # 1 = fully re-timed (no skating), 0 = linear stance timing


class StanceWarp:
    """Cycle phase -> template phase, making the stance foot's pivot travel uniformly backwards.

    Hand-digitised mean curves are not exactly consistent with a foot that stays still under a
    pelvis moving at near-constant speed. The stance phase is therefore re-timed: template phase
    ``psi(phi)`` is chosen so that the template's pivot (heel, then toe) moves backwards relative to
    the pelvis by equal amounts in equal times; with both legs re-timed alike the feet stay put
    through double support (no foot skating) and the pelvis moves at the belt/walking speed. Swing is
    mapped linearly. ``travel`` is the pivot's backward travel over stance (mm)."""

    def __init__(self, body: Body, gp: GaitParams, gain: float, samples: int = 360):
        psi = np.linspace(0.0, TOE_OFF, samples + 1)
        pose = walking_pose(gp, psi, psi + 0.5, np.ones_like(psi), gain, warp=lambda f: f)
        pose["hip_add_l"] = pose["hip_add_l"] + _step_width_offset(body, gp)
        kin = forward_kinematics(body, pose)
        roll = heel_to_toe(psi)
        rm = 0.5 * (roll[1:] + roll[:-1])
        d = (1 - rm) * np.diff(kin.heel_l[:, 2]) + rm * np.diff(kin.toe_l[:, 2])
        travel = np.maximum.accumulate(np.concatenate([[0.0], np.cumsum(-d)]))
        travel += np.linspace(0, 1e-6, len(travel))  # strictly increasing for interpolation
        self.psi, self.cum, self.travel = psi, travel, float(travel[-1])
        self.stance = gp.stance
        self.blend = STANCE_RETIMING

    def __call__(self, phase: np.ndarray) -> np.ndarray:
        f = np.mod(phase, 1.0)
        st = self.stance
        uniform = np.interp(f / st * self.travel, self.cum, self.psi)
        stance_psi = self.blend * uniform + (1 - self.blend) * TOE_OFF * f / st
        return np.where(f < st, stance_psi, TOE_OFF + (1 - TOE_OFF) * (f - st) / (1 - st))


def _simulate(body: Body, gp: GaitParams, phase_l, phase_r, amp, gain, trunk_noise=None, warp=None):
    warp = warp or StanceWarp(body, gp, gain)
    pose = walking_pose(gp, phase_l, phase_r, amp, gain, trunk_noise, warp=warp)
    add0 = _step_width_offset(body, gp)
    pose["hip_add_l"] = pose["hip_add_l"] + add0
    pose["hip_add_r"] = pose["hip_add_r"] + add0
    kin = forward_kinematics(body, pose)
    wl, wr = stance_weights(phase_l, gp.stance), stance_weights(phase_r, gp.stance)
    rl, rr = heel_to_toe(warp(phase_l)), heel_to_toe(warp(phase_r))
    per_stride = len(phase_l) / max(float(phase_l[-1] - phase_l[0]), 1e-9)
    root = ground_contact(kin, wl, rl, wr, rr, smooth=int(round(0.1 * per_stride)))
    kin.aux = ((wl, wr), (rl, rr), (phase_l, phase_r))
    return kin, root


def solve_gain(body: Body, gp: GaitParams) -> tuple[float, StanceWarp]:
    """Hip-excursion gain whose stance travel gives a stride of 2 x ``gp.step_length`` (secant).

    A foot stays on the floor for ``stance`` of the cycle while the body passes over it at constant
    speed, so the pivot's backward travel over stance = stride length x stance fraction."""
    target = 2000.0 * gp.step_length * gp.stance
    g0, g1 = 0.8, 1.2
    s0, s1 = StanceWarp(body, gp, g0).travel, StanceWarp(body, gp, g1).travel
    for _ in range(8):
        if abs(s1 - s0) < 1e-9:
            break
        g2 = float(np.clip(g1 + (target - s1) * (g1 - g0) / (s1 - s0), 0.2, 2.5))
        g0, s0 = g1, s1
        g1, s1 = g2, StanceWarp(body, gp, g2).travel
        if abs(s1 - target) < 0.5:
            break
    return g1, StanceWarp(body, gp, g1)


def walk(body: Body, gp: GaitParams, t: np.ndarray, rng: np.random.Generator | None, *,
         treadmill: bool) -> tuple[np.ndarray, dict]:
    """Positions [T, 32, 3] (mm, world frame, floor y = 0, walking along +z) at times ``t`` [T] (s).

    Overground: the pelvis starts at z = 0 and advances. Treadmill: the pelvis stays near z = 0 and
    the feet move back with the belt at the mean speed. Returns (positions, realised truth)."""
    gain, warp = solve_gain(body, gp)
    count, amp = _stride_phase(t, gp.stride_time, gp.stride_cv, rng)
    asym_t = 0.01 * gp.asymmetry
    trunk_noise = _smooth_noise(rng, len(t), 0.6 * gp.trunk_sway, 15) if rng is not None else None
    kin, root = _simulate(body, gp, count, count + 0.5 + asym_t, amp, gain, trunk_noise, warp)
    strides = count[-1] - count[0]
    dist = root[-1, 2] - root[0, 2]
    dur = t[-1] - t[0]
    speed = dist / dur / 1000.0 if dur > 0 else 0.0
    if treadmill and dur > 0:
        root[:, 2] -= np.polyval(np.polyfit(t, root[:, 2], 1), t)
        # a walker on a belt corrects drift: remove the random walk of stride-to-stride variation
        from scipy.ndimage import uniform_filter1d

        root[:, 2] -= uniform_filter1d(root[:, 2], max(3, int(3.0 * len(t) / dur)), mode="nearest")
        if rng is not None:
            root[:, 2] += _smooth_noise(rng, len(t), 20.0, 90)  # slow fore-aft drift on the belt
            root[:, 0] += _smooth_noise(rng, len(t), 12.0, 90)
        root[:, 0] -= np.mean(root[:, 0])
    else:
        root[:, 0] -= root[0, 0]
    (wl, wr), (rl, rr), phases = kin.aux
    pos = settle_feet(body, kin.joints + root[:, None, :], (kin.heel_l + root, kin.heel_r + root),
                      (kin.toe_l + root, kin.toe_r + root), (wl, wr), (rl, rr), phases)
    truth = {
        "cadence_spm": round(float(2 * strides / dur * 60.0), 3) if dur > 0 else gp.cadence,
        "step_length_m": round(float(dist / (2 * strides) / 1000.0), 4) if strides > 0 else gp.step_length,
        "speed_mps": round(float(speed), 4),
        "stance_fraction": round(gp.stance, 4),
        "double_support_fraction": round(gp.double_support, 4),
        "step_width_m": round(gp.step_width, 4),
        "arm_swing_deg": round(gp.arm_swing, 3),
        "stride_cv": round(gp.stride_cv, 4),
        "hip_gain": round(gain, 4),
        "pelvis_tilt_deg": round(gp.pelvis_tilt, 3),
        "thoracic_flex_deg": round(gp.thoracic_flex, 3),
        "hip_ext_loss_deg": round(gp.hip_ext_loss, 3),
        "pushoff_loss_deg": round(gp.pushoff_loss, 3),
    }
    if treadmill:
        truth["belt_speed_mps"] = round(float(speed), 4)
    return pos, truth


def _leg_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """New knee positions [T, 3] for hips and (moved) ankles [T, 3], keeping each knee in the plane
    of its old position (two-link inverse kinematics, thigh ``l1``, shank ``l2``, mm)."""
    v = ankle - hip
    d = np.clip(np.linalg.norm(v, axis=-1), abs(l1 - l2) + 1.0, l1 + l2 - 0.5)
    u = v / np.maximum(np.linalg.norm(v, axis=-1), 1e-9)[:, None]
    a = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
    h = np.sqrt(np.maximum(l1 * l1 - a * a, 0.0))
    pole = knee - hip
    pole = pole - np.sum(pole * u, -1)[:, None] * u
    pole /= np.maximum(np.linalg.norm(pole, axis=-1), 1e-9)[:, None]
    return hip + a[:, None] * u + h[:, None] * pole


def settle_feet(body: Body, joints: np.ndarray, heels: tuple, toes: tuple, loads: tuple, rolls: tuple,
                phases: tuple, clearance: float = 8.0) -> np.ndarray:
    """Make foot-floor contact exact (world frame, floor y = 0, joints [T, 32, 3] mm, modified copy).

    1. The pelvis (and the whole body) is lowered wherever a loaded foot's pivot would hover (the
       template's legs are slightly too short for each other in double support).
    2. Each leg is then re-solved by two-link IK so that its loaded pivot is exactly on the floor
       and its swinging foot clears the floor by at least ``clearance`` mm (extra knee flexion)."""
    from scipy.ndimage import uniform_filter1d

    from .skeleton import J

    out = joints.copy()
    n = len(out)
    piv, hov = [], []
    for heel, toe, w, roll in zip(heels, toes, loads, rolls, strict=True):
        c = (1 - roll) * heel[:, 1] + roll * toe[:, 1]
        piv.append(c)
        hov.append(np.where(w > 0.3, c, 0.0))  # a foot bearing little weight may lift
    lower = np.maximum(0.0, np.maximum(hov[0], hov[1]))
    k = max(1, int(round(n / max(float(np.ptp(phases[0])), 1e-9) * 0.06)))
    lower = np.maximum(uniform_filter1d(lower, k, mode="nearest"), lower)
    out[..., 1] -= lower[:, None]
    for side, heel, toe, w, c in zip(("LEFT", "RIGHT"), heels, toes, loads, piv, strict=True):
        c = c - lower
        low_pt = np.minimum(heel[:, 1], toe[:, 1]) - lower
        raise_by = np.where(w > 0.3, -c, np.maximum(0.0, np.minimum(clearance, 0.0 + clearance * (w <= 0)) - low_pt))
        raise_by = np.maximum(raise_by, 0.0)  # hover was removed above; only penetration remains
        if not np.any(raise_by > 0.1):
            continue
        raise_by = uniform_filter1d(raise_by, 3, mode="nearest")
        hi, ki, ai, fi = (J[f"{j}_{side}"] for j in ("HIP", "KNEE", "ANKLE", "FOOT"))
        out[:, ai, 1] += raise_by
        out[:, fi, 1] += raise_by
        out[:, ki] = _leg_ik(out[:, hi], out[:, ki], out[:, ai], body.thigh, body.shank)
    return out


def _smooth_noise(rng: np.random.Generator, n: int, sd: float, width: int) -> np.ndarray:
    """Gaussian noise low-passed by a moving average of ``width`` samples, scaled to SD ``sd``."""
    if n == 0:
        return np.zeros(0)
    x = rng.standard_normal(n + width)
    k = np.hanning(width + 2)[1:-1]
    y = np.convolve(x, k / k.sum(), mode="same")[width // 2: width // 2 + n]
    s = y.std()
    return y * (sd / s) if s > 0 else y


def walk_in_place(body: Body, gp: GaitParams, t: np.ndarray, rng: np.random.Generator | None
                  ) -> tuple[np.ndarray, dict]:
    """Marching on the spot: each leg alternately lifted (hip flexion ~35-45 deg, knee ~60-70 deg,
    foot plantarflexed), stance leg straight, arms swinging, pelvis in place with lateral weight shift."""
    count, amp = _stride_phase(t, gp.stride_time, gp.stride_cv, rng)
    n = len(t)
    pose = Pose(n)
    stance = 0.55
    lift = 40.0 * gp.knee_gain
    for s, ph in (("l", count), ("r", count + 0.5)):
        f = np.mod(ph, 1.0)
        u = np.clip((f - stance) / (1 - stance), 0, 1)
        bump = np.sin(np.pi * u) ** 2
        pose[f"hip_flex_{s}"] = (gp.pelvis_tilt + lift * amp * bump) * D2R
        pose[f"knee_{s}"] = (4.0 + 1.6 * lift * amp * np.sin(np.pi * u ** 0.8) ** 2) * D2R
        pose[f"ankle_{s}"] = (-12.0 * bump) * D2R
        pose[f"hip_add_{s}"] = (2.0 * np.sin(2 * np.pi * (f + 0.1)) + 1.0) * D2R
        pose[f"foot_prog_{s}"] = gp.foot_prog * D2R
        sw = -np.cos(2 * np.pi * (f - 0.25))
        pose[f"shoulder_flex_{s}"] = (0.8 * gp.arm_swing * amp * sw) * D2R
        pose[f"shoulder_abd_{s}"] = 6.0 * D2R
        pose[f"elbow_{s}"] = (30.0 + 0.8 * gp.arm_swing * (1 + sw) * 0.5) * D2R
    fl = np.mod(count, 1.0)
    pose["pelvis_tilt"] = gp.pelvis_tilt * D2R
    pose["pelvis_obliquity"] = 3.0 * np.sin(2 * np.pi * (fl + 0.05)) * D2R
    pose["trunk_lateral"] = gp.trunk_sway * np.sin(2 * np.pi * (fl - 0.2)) * D2R
    pose["trunk_lean"] = gp.trunk_lean * 0.5 * D2R
    upper_body_posture(pose, gp.thoracic_flex, gp.neck_flex)
    kin = forward_kinematics(body, pose)
    wl = np.clip(1.0 - np.clip((np.mod(count, 1.0) - stance + 0.05) / 0.05, 0, 1), 0, 1)
    wl = np.where(np.mod(count, 1.0) < 0.05, np.mod(count, 1.0) / 0.05, wl)
    fr = np.mod(count + 0.5, 1.0)
    wr = np.clip(1.0 - np.clip((fr - stance + 0.05) / 0.05, 0, 1), 0, 1)
    wr = np.where(fr < 0.05, fr / 0.05, wr)
    roll = np.full(n, 0.3)
    root = ground_contact(kin, wl, roll, wr, roll)
    root[:, 2] -= np.mean(root[:, 2])
    root[:, 0] -= np.mean(root[:, 0])
    joints = settle_feet(body, kin.joints + root[:, None, :], (kin.heel_l + root, kin.heel_r + root),
                         (kin.toe_l + root, kin.toe_r + root), (wl, wr), (roll, roll), (count, count + 0.5))
    truth = {"cadence_spm": round(float(2 * (count[-1] - count[0]) / max(t[-1] - t[0], 1e-9) * 60), 3),
             "step_length_m": 0.0, "speed_mps": 0.0, "peak_hip_flexion_deg": round(gp.pelvis_tilt + lift, 2)}
    return joints, truth
