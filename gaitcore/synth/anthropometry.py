"""Body geometry of a synthetic subject: Azure Kinect joint offsets from height, sex and BMI.

Segment lengths follow Winter's anthropometric proportions (Drillis & Contini, as tabulated in
D. A. Winter, *Biomechanics and Motor Control of Human Movement*, 4th ed., 2009, fig. 4.1): thigh
0.245 H, shank 0.246 H, upper arm 0.186 H, forearm 0.146 H, hand 0.108 H, foot length 0.152 H, ankle
height 0.039 H, hip (greater trochanter) height 0.530 H, shoulder height 0.818 H. Kinect joints are not
anatomical landmarks: the body tracker puts the hip joints inside the pelvis and the shoulders inside
the acromia, so the widths are narrower than Winter's bony breadths (hip joint centres ~0.10 H apart,
shoulder joints ~0.20 H apart). Women get a relatively wider pelvis (+6 %) and narrower shoulders
(-5 %). BMI widens the trunk and pelvis (soft tissue: the tracker fits joints inside a wider surface)
by about 1 % per kg/m^2 above 22 and moves the spine joints forward by 1.5 mm per kg/m^2 (abdomen).

Every length is in millimetres. ``Body`` holds local offset vectors in a segment frame whose axes are
x = subject's left, y = up, z = forward (right-handed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Body:
    """Segment lengths and local joint offsets of one subject (all mm)."""

    height_mm: float
    male: bool
    bmi: float
    thigh: float
    shank: float
    upper_arm: float
    forearm: float
    hand: float  # wrist -> HAND joint
    handtip: float  # HAND -> HANDTIP
    thumb: float  # wrist -> THUMB
    hip_half_width: float  # PELVIS -> HIP_x, lateral
    hip_drop: float  # PELVIS -> HIP_x, downward
    spine: tuple[float, float, float]  # PELVIS->SPINE_NAVEL, NAVEL->CHEST, CHEST->NECK
    neck_head: float  # NECK -> HEAD
    clavicle: np.ndarray = field(repr=False)  # CHEST -> CLAVICLE_LEFT local offset [3]
    shoulder: np.ndarray = field(repr=False)  # CLAVICLE_LEFT -> SHOULDER_LEFT local offset [3]
    foot: np.ndarray = field(repr=False)  # ANKLE -> FOOT (forefoot) in foot frame [3]
    heel: np.ndarray = field(repr=False)  # ANKLE -> heel contact point [3]
    toe: np.ndarray = field(repr=False)  # ANKLE -> toe contact point [3]
    face: dict = field(repr=False)  # HEAD -> NOSE/EYE_LEFT/EAR_LEFT local offsets [3] each
    belly: float = 0.0  # forward offset of spine joints from soft tissue, mm

    @property
    def leg_length(self) -> float:
        """Hip joint to floor when standing straight, mm."""
        return self.thigh + self.shank + self.ankle_height

    @property
    def ankle_height(self) -> float:
        return float(-self.heel[1])


# Winter (2009) proportions of stature
WINTER = {
    "thigh": 0.245, "shank": 0.246, "upper_arm": 0.186, "forearm": 0.146, "hand": 0.108,
    "foot_length": 0.152, "ankle_height": 0.039, "hip_height": 0.530, "shoulder_height": 0.818,
}  # fmt: skip


def make_body(height_m: float, male: bool, bmi: float, rng: np.random.Generator | None = None,
              individual_sd: float = 0.025) -> Body:
    """Build a subject's body. ``individual_sd`` is the relative SD of each segment around Winter's
    proportion (people differ: ~2-3 % per segment), drawn from ``rng`` when given."""
    h = float(height_m) * 1000.0
    r = (lambda: 1.0 + individual_sd * float(rng.standard_normal())) if rng is not None else (lambda: 1.0)
    soft = 1.0 + 0.01 * (float(bmi) - 22.0)
    sex_pelvis = 1.0 if male else 1.06
    sex_shoulder = 1.0 if male else 0.95
    ankle_h = WINTER["ankle_height"] * h
    foot_len = WINTER["foot_length"] * h * r()
    hand = WINTER["hand"] * h * r()
    scale = h / 1750.0
    belly = 1.5 * max(0.0, float(bmi) - 22.0)
    return Body(
        height_mm=h,
        male=bool(male),
        bmi=float(bmi),
        thigh=WINTER["thigh"] * h * r(),
        shank=(WINTER["shank"] * h) * r(),
        upper_arm=WINTER["upper_arm"] * h * r(),
        forearm=WINTER["forearm"] * h * r(),
        hand=0.40 * hand,
        handtip=0.55 * hand,
        thumb=0.33 * hand,
        hip_half_width=0.050 * h * sex_pelvis * soft ** 0.8 * r(),
        hip_drop=0.012 * h,
        spine=(0.085 * h * r(), 0.095 * h * r(), 0.110 * h * r()),
        neck_head=0.075 * h * r(),
        clavicle=np.array([0.022 * h, 0.075 * h, -0.01 * h]) * np.array([soft ** 0.5, 1, 1]),
        shoulder=np.array([0.078 * h * sex_shoulder * soft ** 0.5 * r(), -0.012 * h, -0.005 * h]),
        foot=np.array([0.0, -(ankle_h - 0.014 * h), 0.62 * foot_len]),
        heel=np.array([0.0, -ankle_h, -0.20 * foot_len]),
        toe=np.array([0.0, -ankle_h, 0.52 * foot_len]),  # metatarsal heads (forefoot rocker)
        face={
            "NOSE": np.array([0.0, -12.0, 95.0]) * scale,
            "EYE_LEFT": np.array([32.0, 25.0, 80.0]) * scale,
            "EAR_LEFT": np.array([72.0, 10.0, -5.0]) * scale,
        },
        belly=belly,
    )


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """Lengths of the 31 AZURE32 bones, [..., 31] in the units of ``positions`` [..., 32, 3]."""
    from ..schemas import AZURE32

    child = np.array([j for j, p in enumerate(AZURE32.parents) if p >= 0])
    parent = np.array([AZURE32.parents[j] for j in child])
    return np.linalg.norm(positions[..., child, :] - positions[..., parent, :], axis=-1)
