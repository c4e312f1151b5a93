"""Forward kinematics: joint angles over time -> positions of the 32 Azure Kinect joints.

Vectorised over frames: every angle is an array of shape ``[T]`` (radians) or a scalar, every
rotation a stack ``[T, 3, 3]``; there is no per-frame Python loop.

World/body frame: x = subject's left, y = up, z = forward (heading 0), millimetres. Angle conventions
(clinical, positive =):

============================  ===============================================================
pelvis_tilt                   anterior tilt (top of the pelvis forward)
pelvis_obliquity              left hip up / right hip down
pelvis_rotation               left side of the pelvis forward
trunk_lean / trunk_lateral    thorax inclined forward / to the left (global, from vertical)
trunk_rotation                left shoulder forward
thoracic_flex                 upper thorax (SPINE_CHEST -> NECK, shoulder girdle) flexed forward
                              relative to the trunk: thoracic kyphosis beyond the reference
neck_flex                     head flexed forward (relative to the upper thorax)
hip_flex_{l,r}                hip flexion, thigh relative to the pelvis
hip_add_{l,r}                 hip adduction
knee_{l,r}                    knee flexion
ankle_{l,r}                   ankle dorsiflexion (0 = foot flat with a vertical shank)
foot_prog_{l,r}               foot progression angle, toe out
shoulder_flex_{l,r}           shoulder flexion (arm forward), shoulder_abd abduction,
shoulder_introt_{l,r}         humeral internal rotation, elbow_{l,r} elbow flexion
============================  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..schemas import AZURE32
from .anthropometry import Body

J = {name: i for i, name in enumerate(AZURE32.joints)}
ANGLES = (
    "pelvis_tilt", "pelvis_obliquity", "pelvis_rotation", "trunk_lean", "trunk_lateral", "trunk_rotation",
    "neck_flex", "hip_flex_l", "hip_flex_r", "hip_add_l", "hip_add_r", "knee_l", "knee_r", "ankle_l",
    "ankle_r", "foot_prog_l", "foot_prog_r", "shoulder_flex_l", "shoulder_flex_r", "shoulder_abd_l",
    "shoulder_abd_r", "shoulder_introt_l", "shoulder_introt_r", "elbow_l", "elbow_r", "thoracic_flex",
)  # fmt: skip


def rx(a: np.ndarray) -> np.ndarray:
    """Rotations about x (left axis), [T, 3, 3]; positive moves +y towards +z."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def ry(a: np.ndarray) -> np.ndarray:
    """Rotations about y (vertical), [T, 3, 3]; positive moves +z towards +x."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rz(a: np.ndarray) -> np.ndarray:
    """Rotations about z (forward axis), [T, 3, 3]; positive moves +x towards +y."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _app(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Apply rotations [T,3,3] to a fixed vector [3] or per-frame vectors [T,3] -> [T,3]."""
    if v.ndim == 1:
        return r @ v
    return np.einsum("tij,tj->ti", r, v)


@dataclass
class Pose:
    """Joint angles over ``n`` frames (radians). Missing angles are 0."""

    n: int
    angles: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        v = self.angles.get(key, 0.0)
        return np.broadcast_to(np.asarray(v, dtype=np.float64), (self.n,))

    def __setitem__(self, key: str, value) -> None:
        if key not in ANGLES:
            raise KeyError(f"unknown angle {key!r}")
        self.angles[key] = np.broadcast_to(np.asarray(value, dtype=np.float64), (self.n,)).copy()


@dataclass
class Kinematics:
    """FK output: ``joints`` [T, 32, 3] mm and the feet's ground-contact points (heel, toe) [T, 3]."""

    joints: np.ndarray
    heel_l: np.ndarray
    heel_r: np.ndarray
    toe_l: np.ndarray
    toe_r: np.ndarray
    aux: tuple = ()


def forward_kinematics(body: Body, pose: Pose, heading: np.ndarray | float = 0.0,
                       root: np.ndarray | None = None) -> Kinematics:
    """Positions of the 32 joints [T, 32, 3] (mm) for ``pose``.

    ``root`` [T, 3] is the PELVIS joint's position (default: origin), ``heading`` [T] the walking
    direction (radians about the vertical, 0 = +z)."""
    n = pose.n
    out = np.zeros((n, 32, 3))
    p = pose.__getitem__
    rh = ry(np.broadcast_to(np.asarray(heading, dtype=np.float64), (n,)))
    pelvis = np.zeros((n, 3)) if root is None else np.asarray(root, dtype=np.float64)
    r_pel = rh @ ry(-p("pelvis_rotation")) @ rz(p("pelvis_obliquity")) @ rx(p("pelvis_tilt"))
    r_trunk = rh @ ry(p("trunk_rotation")) @ rz(-p("trunk_lateral")) @ rx(p("trunk_lean"))
    r_low = rh @ ry(0.5 * (p("trunk_rotation") - p("pelvis_rotation"))) @ rz(
        0.5 * (p("pelvis_obliquity") - p("trunk_lateral"))) @ rx(0.5 * p("trunk_lean") + 0.3 * p("pelvis_tilt"))
    out[:, J["PELVIS"]] = pelvis
    out[:, J["SPINE_NAVEL"]] = pelvis + _app(r_low, np.array([0.0, body.spine[0], body.belly]))
    out[:, J["SPINE_CHEST"]] = out[:, J["SPINE_NAVEL"]] + _app(r_trunk, np.array([0.0, body.spine[1], 0.0]))
    # the upper thorax bends forward about SPINE_CHEST (kyphosis): neck and shoulder girdle follow it
    r_upper = r_trunk @ rx(p("thoracic_flex"))
    out[:, J["NECK"]] = out[:, J["SPINE_CHEST"]] + _app(r_upper, np.array([0.0, body.spine[2], -0.5 * body.belly]))
    r_head = r_upper @ rx(p("neck_flex"))
    head = out[:, J["NECK"]] + _app(r_head, np.array([0.0, body.neck_head, 0.12 * body.neck_head]))
    out[:, J["HEAD"]] = head
    out[:, J["NOSE"]] = head + _app(r_head, body.face["NOSE"])
    for side, sgn in (("LEFT", 1.0), ("RIGHT", -1.0)):
        m = np.array([sgn, 1.0, 1.0])
        out[:, J[f"EYE_{side}"]] = head + _app(r_head, body.face["EYE_LEFT"] * m)
        out[:, J[f"EAR_{side}"]] = head + _app(r_head, body.face["EAR_LEFT"] * m)

    res = {}
    for side, s, sgn in (("LEFT", "l", 1.0), ("RIGHT", "r", -1.0)):
        m = np.array([sgn, 1.0, 1.0])
        # arm
        clav = out[:, J["SPINE_CHEST"]] + _app(r_upper, body.clavicle * m)
        sho = clav + _app(r_upper, body.shoulder * m)  # the arms hang from the trunk's frame
        r_ua = r_trunk @ rx(-p(f"shoulder_flex_{s}")) @ rz(sgn * p(f"shoulder_abd_{s}")) @ ry(
            -sgn * p(f"shoulder_introt_{s}"))
        r_fa = r_ua @ rx(-p(f"elbow_{s}"))
        elb = sho + _app(r_ua, np.array([0.0, -body.upper_arm, 0.0]))
        wri = elb + _app(r_fa, np.array([0.0, -body.forearm, 0.0]))
        hand = wri + _app(r_fa, np.array([0.0, -body.hand, 0.0]))
        out[:, J[f"CLAVICLE_{side}"]] = clav
        out[:, J[f"SHOULDER_{side}"]] = sho
        out[:, J[f"ELBOW_{side}"]] = elb
        out[:, J[f"WRIST_{side}"]] = wri
        out[:, J[f"HAND_{side}"]] = hand
        out[:, J[f"HANDTIP_{side}"]] = hand + _app(r_fa, np.array([0.0, -body.handtip, 0.1 * body.handtip]))
        out[:, J[f"THUMB_{side}"]] = wri + _app(r_fa, np.array([-sgn * 0.2, -0.6, 0.75]) * body.thumb)
        # leg
        hip = pelvis + _app(r_pel, np.array([sgn * body.hip_half_width, -body.hip_drop, 0.0]))
        r_th = r_pel @ rx(-p(f"hip_flex_{s}")) @ rz(-sgn * p(f"hip_add_{s}"))
        r_sh = r_th @ rx(p(f"knee_{s}"))
        knee = hip + _app(r_th, np.array([0.0, -body.thigh, 0.0]))
        ankle = knee + _app(r_sh, np.array([0.0, -body.shank, 0.0]))
        r_ft = r_sh @ ry(sgn * p(f"foot_prog_{s}")) @ rx(-p(f"ankle_{s}"))
        out[:, J[f"HIP_{side}"]] = hip
        out[:, J[f"KNEE_{side}"]] = knee
        out[:, J[f"ANKLE_{side}"]] = ankle
        out[:, J[f"FOOT_{side}"]] = ankle + _app(r_ft, body.foot)
        res[f"heel_{s}"] = ankle + _app(r_ft, body.heel)
        res[f"toe_{s}"] = ankle + _app(r_ft, body.toe)
    return Kinematics(out, res["heel_l"], res["heel_r"], res["toe_l"], res["toe_r"])


def joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at ``b`` between b->a and b->c, degrees, [T] for inputs [T, 3]."""
    u, v = a - b, c - b
    cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
